"""The plan: what one setup does under one convention, epoch by epoch and in total.

`make_plan(setup)` asks the framework's module for its schedule, replays early stopping
on the metric values (`evaluation.replay`), cuts the run where it stops, and counts the
samples. It costs O(epochs + evaluations); anything per step is computed on demand.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np

from .conventions import CONVENTIONS, Events, Schedule
from .evaluation import EarlyStop, replay
from .setup import Setup


@dataclass(frozen=True)
class Plan:
    setup: Setup
    schedule: Schedule  # the run as the framework schedules it, before early stopping
    batches: np.ndarray  # per epoch that started, batches run per device
    steps: np.ndarray  # per epoch, optimizer steps
    evaluations: Events
    early_stop: EarlyStop | None

    # -- per epoch ---------------------------------------------------------------
    @property
    def epochs_started(self) -> int:
        return len(self.batches)

    @property
    def epochs_run(self) -> float:
        """Epochs the run went through, the last one as the share of its batches that ran."""
        if not self.epochs_started:
            return 0.0
        return self.epochs_started - 1 + int(self.batches[-1]) / max(int(self.nominal_batches[-1]), 1)

    @cached_property
    def epoch_end_global_steps(self) -> np.ndarray:
        return np.cumsum(self.steps, dtype=np.int64)

    @cached_property
    def epoch_start_global_steps(self) -> np.ndarray:
        return self.epoch_end_global_steps - self.steps

    @property
    def nominal_batches(self) -> np.ndarray:
        """Batches each epoch has in full (`len(dataloader)` per device)."""
        return self.schedule.nominal_batches[: self.epochs_started]

    @cached_property
    def completed(self) -> np.ndarray:
        """The epoch ran to the end of its batches (an epoch of zero batches included)."""
        return self.batches == self.nominal_batches

    @cached_property
    def _natural_end(self) -> np.ndarray:
        return self.completed & self.schedule.ends_pass[: self.epochs_started] & (self.batches > 0)

    @cached_property
    def last_batch_sizes(self) -> np.ndarray:
        """Size of the last batch run in each epoch; -1 when the epoch ran none."""
        s = self.schedule
        sizes = np.where(self._natural_end, s.last_batch_size, s.batch_size)
        return np.where(self.batches > 0, sizes, -1).astype(np.int64)

    @cached_property
    def samples_per_epoch(self) -> np.ndarray:
        """Samples run in each epoch by all devices together (padding duplicates included)."""
        s = self.schedule
        short = np.where(self._natural_end, s.batch_size - s.last_batch_size, 0)
        return (self.batches * s.batch_size - short) * s.devices

    @cached_property
    def duplicated_per_epoch(self) -> np.ndarray:
        n = self.schedule.dataset_size
        return np.maximum(0, self.samples_per_epoch - n)

    @cached_property
    def dropped_per_epoch(self) -> np.ndarray:
        """Samples a completed epoch never used (drop_last remainders, sharding)."""
        n = self.schedule.dataset_size
        unused = n - np.minimum(self.samples_per_epoch, n)
        if not self.schedule.drops_remainder:
            return np.zeros_like(unused)
        return np.where(self.completed, unused, 0)

    # -- totals ------------------------------------------------------------------
    @property
    def total_optimizer_steps(self) -> int:
        return int(self.epoch_end_global_steps[-1]) if self.epochs_started else 0

    @property
    def planned_optimizer_steps(self) -> int:
        """Steps the framework schedules before early stopping."""
        return int(self.schedule.steps.sum())

    @property
    def effective_batch_size(self) -> int:
        return self.setup.effective_batch_size

    @property
    def samples_seen(self) -> int:
        return int(self.samples_per_epoch.sum())

    @property
    def samples_dropped(self) -> int:
        return int(self.dropped_per_epoch.sum())

    @property
    def samples_duplicated(self) -> int:
        return int(self.duplicated_per_epoch.sum())

    @property
    def batches_per_epoch_full(self) -> int:
        """`len(dataloader)` per device for a full epoch (first epoch)."""
        return int(self.schedule.nominal_batches[0]) if len(self.schedule.nominal_batches) else 0

    @property
    def notes(self) -> tuple[str, ...]:
        if self.setup.lr_schedule == "constant" and self.setup.warmup_steps:
            return (*self.schedule.notes, "The constant schedule has no warmup: warmup_steps is ignored, as the frameworks do.")
        return self.schedule.notes

    # -- per step, on demand -----------------------------------------------------
    def epoch_at(self, global_step) -> np.ndarray:
        """Fractional epoch at the moment of each optimizer step (0 before the first)."""
        g = np.asarray(global_step, dtype=np.int64)
        if not self.epochs_started:
            return np.zeros(g.shape)
        ends = self.epoch_end_global_steps
        e = np.minimum(np.searchsorted(ends, g, side="left"), self.epochs_started - 1)
        nominal = np.maximum(self.nominal_batches[e], 1)
        a = self.schedule.grad_accum
        if self.schedule.windows_cross_epochs:
            micro_start = np.concatenate(([0], np.cumsum(self.batches)))[e]
            done = g * a - micro_start
        else:
            done = np.minimum(self.nominal_batches[e], (g - self.epoch_start_global_steps[e]) * a)
        return e + done / nominal

    def lr_at(self, updates) -> np.ndarray:
        """The learning rate optimizer update k (1-based) uses."""
        if self.setup.lr_schedule is None:
            raise ValueError("lr_schedule is not set")
        return CONVENTIONS[self.setup.framework].lr_per_update(self.setup, self.schedule, np.asarray(updates, dtype=np.int64))

    # -- output ------------------------------------------------------------------
    def to_dict(self, include_lr: bool = True) -> dict:
        """The JSON contract of DESIGN.md (plus a few explanatory extras)."""
        out = {
            "framework": self.setup.framework,
            "batches_per_epoch": self.batches.tolist(),
            "last_batch_size": [None if v < 0 else int(v) for v in self.last_batch_sizes],
            "optimizer_steps_per_epoch": self.steps.tolist(),
            "total_optimizer_steps": self.total_optimizer_steps,
            "epoch_end_global_steps": self.epoch_end_global_steps.tolist(),
            "eval_global_steps": self.evaluations.global_step.tolist(),
            "effective_batch_size": self.effective_batch_size,
            "samples_seen": self.samples_seen,
            "samples_dropped": self.samples_dropped,
            "samples_duplicated": self.samples_duplicated,
            "planned_optimizer_steps": self.planned_optimizer_steps,
            "early_stop": None if self.early_stop is None else self.early_stop.to_dict(),
            "notes": list(self.notes),
        }
        if include_lr and self.setup.lr_schedule is not None:
            updates = np.arange(1, self.total_optimizer_steps + 1)
            out["lr_per_step"] = [float(v) for v in self.lr_at(updates)]
        return out


def make_plan(setup: Setup) -> Plan:
    """Count `setup` the way its framework does. Raises SetupError for what the framework refuses."""
    convention = CONVENTIONS[setup.framework]
    sched = convention.schedule(setup)
    batches, steps, evaluations = sched.batches, sched.steps, sched.evaluations
    early_stop = None
    if setup.patience is not None:
        outcome = replay(convention.early_stopping(setup), sched.checks, setup.metrics)
        if outcome.stop_check is not None:
            c = outcome.stop_check
            e, done, g = int(sched.checks.epoch[c]), int(sched.checks.batches_done[c]), int(sched.checks.global_step[c])
            batches = batches[: e + 1].copy()
            steps = steps[: e + 1].copy()
            batches[e] = done
            steps[e] = g - int(steps[:e].sum())
            ev = sched.evaluations
            evaluations = ev.take((ev.epoch < e) | ((ev.epoch == e) & (ev.batches_done <= done)))
        n_epochs = len(batches)
        early_stop = EarlyStop(
            stopped=outcome.stop_check is not None,
            stop_global_step=int(steps.sum()),
            stop_epoch=n_epochs,
            evaluations_done=len(evaluations),
            best_eval_index=outcome.best_metric_index,
            metrics_ran_out_at=outcome.ran_out_metric_index,
        )
    return Plan(setup, sched, batches, steps, evaluations, early_stop)
