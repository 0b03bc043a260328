"""Checkpoints and training-loss logs: moments of a run, listed up to a cap and counted in full.

A run that logs every step for 10^9 steps must stay cheap, so the rules hand over their
moments as blocks in run order (an arithmetic progression of global steps, or an array
of O(epochs + evaluations) moments); `MarkBuilder` counts them all and materialises only
the first `MAX_MARKS_LISTED`, each with the epoch and the batches done in it, so a
timeline can place it, and the reason it happened.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..setup import Setup, SetupError
from .base import Events, refuse

MAX_MARKS_LISTED = 10_000

# Why a moment happened. Checkpoints: a periodic rule (every N steps or batches), an epoch end,
# after a validation, a new best metric, a `last` file written because nothing else was, the
# final step (HF forces a save there). Logs: the first step, periodic, epoch end, and every
# step once Lightning's early stopping asked to stop (it logs while min_epochs/min_steps defer it).
REASONS = ("periodic", "epoch_end", "validation", "best", "last", "final_step", "first_step", "stopping")


@dataclass(frozen=True)
class Marks:
    """Moments in run order: the first `MAX_MARKS_LISTED` of them, and how many there are."""

    global_step: np.ndarray  # optimizer steps taken at the moment
    epoch: np.ndarray  # 0-based epoch of the moment
    batches_done: np.ndarray  # batches of that epoch run at the moment
    reason: tuple[str, ...]
    count: int
    last_global_step: int | None  # of the last moment, listed or not

    @property
    def truncated(self) -> bool:
        return self.count > len(self.global_step)

    @classmethod
    def empty(cls) -> Marks:
        z = np.zeros(0, dtype=np.int64)
        return cls(z, z, z, (), 0, None)


@dataclass(frozen=True)
class Run:
    """The run as it really went (after early stopping), which the saving rules read."""

    batches: np.ndarray  # per epoch that started
    steps: np.ndarray
    evaluations: Events  # metric_index: the --metrics value each one reads
    fired: Events  # the early-stopping check that fired (empty if none); may precede the stop
    metrics: tuple[float, ...]

    @property
    def ends(self) -> np.ndarray:
        return np.cumsum(self.steps, dtype=np.int64)

    @property
    def total(self) -> int:
        return int(self.steps.sum())


@dataclass(frozen=True)
class Stopped:
    """Where early stopping leaves the run."""

    batches: np.ndarray
    steps: np.ndarray
    evaluations: Events
    fired: Events  # the check that fired (empty if none)
    best_metric_index: int | None
    ran_out_metric_index: int | None


def cut_at(sched, check: Events):
    """The run cut right after `check` (one event): batches, steps and evaluations up to it."""
    e, done, g = int(check.epoch[0]), int(check.batches_done[0]), int(check.global_step[0])
    batches = sched.batches[: e + 1].copy()
    steps = sched.steps[: e + 1].copy()
    batches[e] = done
    steps[e] = g - int(steps[:e].sum())
    ev = sched.evaluations
    return batches, steps, ev.take((ev.epoch < e) | ((ev.epoch == e) & (ev.batches_done <= done)))


@dataclass(frozen=True)
class Saving:
    checkpoints: Marks
    logs: Marks
    loads_best: bool = False  # the framework loads a best checkpoint at the end (HF load_best_model_at_end)
    best_checkpoint_global_step: int | None = None
    metrics_ran_out_at: int | None = None  # evaluation index a best-checkpoint rule needed a value for
    notes: tuple[str, ...] = field(default=())


class MarkBuilder:
    """Collects blocks of moments in run order."""

    def __init__(self, locate):
        self._locate = locate  # global steps (array) -> (epoch, batches_done) of the step-end moments
        self._blocks: list = []

    def every(self, start: int, step: int, stop: int, reason: str) -> None:
        """Step-end moments at global steps start, start + step, ... <= stop."""
        if step <= 0 or start > stop:
            return
        self._blocks.append(("ap", int(start), int(step), (int(stop) - int(start)) // int(step) + 1, reason))

    def steps(self, gs, reason: str) -> None:
        """Step-end moments at the given global steps."""
        gs = np.asarray(gs, dtype=np.int64).reshape(-1)
        if len(gs):
            epoch, done = self._locate(gs)
            self.at(gs, epoch, done, reason)

    def at(self, gs, epoch, done, reason) -> None:
        """Moments whose position is known; `reason` is one string or one per moment."""
        gs = np.asarray(gs, dtype=np.int64).reshape(-1)
        if not len(gs):
            return
        reasons = (reason,) * len(gs) if isinstance(reason, str) else tuple(reason)
        self._blocks.append(("at", gs, np.asarray(epoch, dtype=np.int64).reshape(-1), np.asarray(done, dtype=np.int64).reshape(-1), reasons))

    def build(self) -> Marks:
        gs, ep, dn, why = [], [], [], []
        room, count, last = MAX_MARKS_LISTED, 0, None
        for block in self._blocks:
            if block[0] == "ap":
                _, start, step, n, reason = block
                count += n
                last = start + (n - 1) * step
                if room > 0:
                    g = start + step * np.arange(min(n, room), dtype=np.int64)
                    e, d = self._locate(g)
                    gs.append(g), ep.append(e), dn.append(d), why.append((reason,) * len(g))
                    room -= len(g)
            else:
                _, g, e, d, reasons = block
                count += len(g)
                last = int(g[-1])
                if room > 0:
                    k = min(len(g), room)
                    gs.append(g[:k]), ep.append(e[:k]), dn.append(d[:k]), why.append(reasons[:k])
                    room -= k
        if not count:
            return Marks.empty()
        return Marks(_joined(gs), _joined(ep), _joined(dn), tuple(r for part in why for r in part), count, last)


def _joined(parts) -> np.ndarray:
    return np.concatenate(parts).astype(np.int64) if parts else np.zeros(0, dtype=np.int64)


def step_locator(ends: np.ndarray, batches: np.ndarray, grad_accum: int):
    """Where step g ends when accumulation windows restart every epoch (the last one may be short)."""
    starts = np.concatenate(([0], ends))

    def locate(gs):
        gs = np.asarray(gs, dtype=np.int64)
        epoch = np.minimum(np.searchsorted(ends, gs, side="left"), max(len(ends) - 1, 0))
        done = np.minimum(batches[epoch], (gs - starts[epoch]) * grad_accum)
        return epoch, done

    return locate


def metric_values(run: Run, indices) -> tuple[list[float | None], int | None]:
    """The --metrics value of each evaluation index, and the first index that has none."""
    values, short = [], None
    for i in indices:
        i = int(i)
        if i < len(run.metrics):
            values.append(float(run.metrics[i]))
        else:
            values.append(None)
            short = i if short is None else short
    return values, short


# The checkpoint and log knobs: whose argument each is, and its default (for refusals).
KNOB_OWNERS = {
    "eval_strategy": ("an HF TrainingArguments argument", None),
    "save_strategy": ("an HF TrainingArguments argument", None),
    "save_steps": ("an HF TrainingArguments argument", None),
    "logging_strategy": ("an HF TrainingArguments argument", None),
    "logging_steps": ("an HF TrainingArguments argument", None),
    "logging_first_step": ("an HF TrainingArguments argument", False),
    "load_best_model_at_end": ("an HF TrainingArguments argument", False),
    "every_n_train_steps": ("a Lightning ModelCheckpoint argument", None),
    "every_n_epochs": ("a Lightning ModelCheckpoint argument", None),
    "save_last": ("a Lightning ModelCheckpoint argument", False),
    "save_top_k": ("a Lightning ModelCheckpoint argument", None),
    "monitor": ("a Lightning ModelCheckpoint argument", None),
    "log_every_n_steps": ("a Lightning Trainer argument", None),
    "min_epochs": ("a Lightning Trainer argument", None),
    "min_steps": ("a Lightning Trainer argument", None),
    "limit_train_batches": ("a Lightning Trainer argument", None),
    "save_freq": ("a Keras ModelCheckpoint argument", None),
    "save_best_only": ("a Keras ModelCheckpoint argument", False),
    "save_every_steps": ("the hand-written loop's checkpoint cadence", None),
}


def refuse_foreign(setup: Setup, owner: str, owns: frozenset[str]) -> None:
    """Refuse a checkpoint or log knob moved from its default that `owner` has no argument for."""
    for name, (whose, default) in KNOB_OWNERS.items():
        if name not in owns and getattr(setup, name) != default:
            raise refuse(setup, name, f"{owner} has no such argument: {name} is {whose}")


def require(setup: Setup, name: str, ok: bool, reason: str) -> None:
    if not ok:
        raise SetupError(name, getattr(setup, name), reason)
