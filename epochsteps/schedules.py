"""Learning-rate schedules as functions of the step (framework-semantics.md section 5).

HF's formulas (transformers/optimization.py) are `LambdaLR` multipliers of s, the
number of completed optimizer steps; stepped once per update, update k uses s = k - 1.
Keras' `CosineDecay` runs in float32 on the raw micro-batch counter.
"""

from __future__ import annotations

import math

import numpy as np

from .setup import Setup, SetupError


def base_lr(setup: Setup) -> float:
    from .conventions import CONVENTIONS  # the conventions import this module

    return setup.lr if setup.lr is not None else CONVENTIONS[setup.framework].default_lr


def hf_warmup_steps(warmup_steps: float, total_steps: int) -> int:
    """`TrainingArguments.get_warmup_steps` (v5): int() of a value >= 1, else ceil(T * ratio)."""
    if warmup_steps >= 1:
        return int(warmup_steps)
    return math.ceil(total_steps * warmup_steps)


def check_torch_warmup(setup: Setup) -> None:
    """A `LambdaLR` warmup counts whole scheduler steps; a ratio below 1 is an HF notion."""
    if setup.warmup_steps and setup.warmup_steps != int(setup.warmup_steps):
        raise SetupError("warmup_steps", setup.warmup_steps, "must be a whole number of steps here (a ratio below 1 is an HF TrainingArguments notion)")


def hf_multiplier(kind: str, s: np.ndarray, warmup: int, total: int) -> np.ndarray:
    """HF's lambda for s completed steps (float64, as the Python originals)."""
    s = np.asarray(s, dtype=np.float64)
    warm = s / max(1.0, float(warmup))
    if kind == "constant":
        return np.ones_like(s)
    if kind == "constant_with_warmup":
        after = np.ones_like(s)
    elif kind == "linear":
        after = np.maximum(0.0, (total - s) / max(1.0, float(total - warmup)))
    elif kind == "cosine":
        progress = (s - warmup) / max(1.0, float(total - warmup))
        after = np.maximum(0.0, 0.5 * (1.0 + np.cos(math.pi * 0.5 * 2.0 * progress)))
    else:  # pragma: no cover - Setup validates the name
        raise ValueError(kind)
    return np.where(s < warmup, warm, after)


def lambda_lr(setup: Setup, warmup: int, total: int, updates: np.ndarray) -> np.ndarray:
    """The rate optimizer update k (1-based) uses under a per-step LambdaLR."""
    return base_lr(setup) * hf_multiplier(setup.lr_schedule, np.asarray(updates) - 1, warmup, total)


def keras_cosine_decay(step: np.ndarray, lr: float, warmup: int, decay_steps: int) -> np.ndarray:
    """`CosineDecay(0.0, decay_steps, warmup_target=lr, warmup_steps=warmup)` in float32
    (keras/src/optimizers/schedules/learning_rate_schedule.py `CosineDecay.__call__`)."""
    f = np.float32
    step = np.asarray(step).astype(f)
    decay = f(decay_steps)
    warm = f(warmup)
    target = f(lr)
    step = np.minimum(step, decay + warm)
    with np.errstate(divide="ignore", invalid="ignore"):
        warming = (target - f(0.0)) * (step / warm) + f(0.0)
    fraction = (step - warm) / decay
    cosine = f(0.5) * (f(1.0) + np.cos(f(math.pi) * fraction, dtype=f))
    decayed = (f(1.0) - f(0.0)) * cosine + f(0.0)
    return np.where(step < warm, warming, target * decayed).astype(f)
