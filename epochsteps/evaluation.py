"""Early stopping replayed on metric values, one per evaluation.

The rule itself (how a value counts as an improvement, when patience runs out) belongs
to each framework's module; this module walks the checks in order and records where the
rule fires, which evaluation was best, and where the values ran out. It also makes the
illustrative validation curve the page uses when the learner pastes nothing.
"""

from __future__ import annotations

import math
import re
from dataclasses import asdict, dataclass

import numpy as np

from .conventions import Events


@dataclass(frozen=True)
class EarlyStop:
    stopped: bool  # the callback fired
    stop_global_step: int  # where training really ended, fired or not
    stop_epoch: int  # 1-based number of the epoch in which training ended
    evaluations_done: int
    best_eval_index: int | None  # the framework's own notion of best, from 0
    metrics_ran_out_at: int | None = None  # evaluation index that had no value

    def to_dict(self) -> dict:
        out = asdict(self)
        if out["metrics_ran_out_at"] is None:
            del out["metrics_ran_out_at"]
        return out


@dataclass(frozen=True)
class Replay:
    stop_check: int | None
    best_metric_index: int | None
    ran_out_metric_index: int | None


def replay(rule, checks: Events, metrics: tuple[float, ...]) -> Replay:
    best = None
    for c in range(len(checks)):
        index = int(checks.metric_index[c])
        if index >= len(metrics):
            return Replay(None, best, index)
        stop, new_best = rule.update(float(metrics[index]), int(checks.epoch[c]))
        if new_best:
            best = index
        if stop:
            return Replay(c, best, None)
    return Replay(None, best, None)


def illustrative_curve(n: int, seed: int = 0, noise: float = 0.02, overfit_at: float = 0.6) -> tuple[float, ...]:
    """A validation loss that falls, flattens, then rises after `overfit_at` (a fraction
    of the evaluations), with seeded Gaussian noise; rounded to 4 decimals."""
    if n <= 0:
        return ()
    t = np.linspace(0.0, 1.0, n)
    base = 0.35 + 0.9 * np.exp(-5.0 * t)
    rise = 0.6 * np.clip(t - overfit_at, 0.0, None) ** 2 * 4
    rng = np.random.default_rng(seed)
    values = base + rise + rng.normal(0.0, noise, n)
    return tuple(float(v) for v in np.round(values, 4))


_TOKEN = re.compile(r"[,;\s]+")


def parse_metrics(text: str, limit: int = 100_000) -> tuple[tuple[float, ...], list[str]]:
    """Numbers separated by commas, semicolons, spaces or new lines.

    Returns the values and the tokens that are not numbers (reported, never dropped
    silently). nan and inf are accepted: a diverged run logs them.
    """
    values, bad = [], []
    for token in _TOKEN.split(text.strip()):
        if not token:
            continue
        try:
            value = float(token)
        except ValueError:
            bad.append(token if len(token) <= 20 else token[:17] + "...")
            continue
        if math.isinf(value) and "inf" not in token.lower():
            bad.append(token[:20])  # 1e400 overflows: a typo, not a diverged run
            continue
        values.append(value)
        if len(values) > limit:
            bad.append(f"(more than {limit:,} values)")
            break
    return tuple(values[:limit]), bad
