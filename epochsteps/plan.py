"""The plan: what one setup does under one convention, epoch by epoch and in total.

`make_plan(setup)` asks the framework's module for its schedule, replays early stopping
on the metric values (`evaluation.replay`), cuts the run where it stops, and counts the
samples. It costs O(epochs + evaluations); anything per step is computed on demand.

With token data (`setup.tokens`) the plan counts tokens too; with a throughput
(`setup.seconds_per_step` or `setup.samples_per_second`) it gives wall-clock times.
Time model: training time is the time of the batches run, all devices in parallel, and it
is proportional to the samples they hold (padding duplicates included). A full batch on
every device takes batch x devices / samples_per_second, or seconds_per_step / grad_accum
(so a full optimizer step takes seconds_per_step); a short last batch takes proportionally
less. Evaluation, checkpointing and anything else between batches take no time.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np

from .conventions import CONVENTIONS, Events, Schedule
from .conventions.moments import Marks, Run, Saving, Stopped, cut_at
from .evaluation import EarlyStop, replay
from .setup import Setup
from .text import fmt, plural
from .tokens import steps_for_tokens

TIME_NOTE = (
    "Times count the training batches only, each taking time in proportion to its samples:"
    " evaluation, checkpointing and data loading between batches are not modelled."
)


@dataclass(frozen=True)
class Plan:
    setup: Setup
    schedule: Schedule  # the run as the framework schedules it, before early stopping
    batches: np.ndarray  # per epoch that started, batches run per device
    steps: np.ndarray  # per epoch, optimizer steps
    evaluations: Events
    early_stop: EarlyStop | None
    saving: Saving  # checkpoints and training-loss logs of the run as it went

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
        notes = [*self.schedule.notes, *self.saving.notes]
        if self.setup.lr_schedule == "constant" and self.setup.warmup_steps:
            notes.append("The constant schedule has no warmup: warmup_steps is ignored, as the frameworks do.")
        if self.setup.tokens is not None:
            notes += self.setup.tokens.notes
            if self.max_steps_for_token_budget is not None:
                notes.append(self._budget_note())
        if self.setup.timed:
            notes.append(TIME_NOTE)
        return tuple(notes)

    # -- tokens (setup.tokens) ------------------------------------------------------
    def _tokens(self):
        if self.setup.tokens is None:
            raise ValueError("the setup has no token data")
        return self.setup.tokens

    @property
    def tokens_per_optimizer_step(self) -> int:
        """Token positions in one full optimizer step: effective batch x seq_len (padding included)."""
        return self.effective_batch_size * self._tokens().seq_len

    @property
    def real_tokens_per_optimizer_step(self) -> int:
        """Real (not padding) tokens in one full optimizer step: effective batch x real tokens per sample."""
        return self.effective_batch_size * self._tokens().tokens_per_sample

    @cached_property
    def tokens_per_epoch(self) -> np.ndarray:
        """Real tokens trained in each epoch, all devices together (padding duplicates included)."""
        return self.samples_per_epoch * self._tokens().tokens_per_sample

    @property
    def tokens_trained(self) -> int:
        """Real tokens in every sample run over the run: samples_seen x real tokens per sample."""
        return self.samples_seen * self._tokens().tokens_per_sample

    @property
    def max_steps_for_token_budget(self) -> int | None:
        """The max_steps that trains the token budget: ceil(budget / real tokens per optimizer step),
        the fewest full optimizer steps whose real tokens reach the budget (None without a budget).

        Every step counts as a full effective batch; where steps are short (a partial last batch,
        a leftover accumulation window) a run with this max_steps trains a little less."""
        budget = self._tokens().token_budget
        return None if budget is None else steps_for_tokens(budget, self.real_tokens_per_optimizer_step)

    def _budget_note(self) -> str:
        t = self._tokens()
        k = self.max_steps_for_token_budget
        note = (
            f"A budget of {plural(t.token_budget, 'token')} takes {plural(k, 'optimizer step')}: the budget divided by the"
            f" {fmt(self.real_tokens_per_optimizer_step)} real tokens of a full step (effective batch {fmt(self.effective_batch_size)}"
            f" x {plural(t.tokens_per_sample, 'token')} per sample), rounded up."
        )
        convention = CONVENTIONS[self.setup.framework]
        if "max_steps" not in convention.owns:
            note += f" {convention.title} has no max_steps: that is {plural(k * self.setup.grad_accum, 'batch', 'batches')}."
        return note

    # -- wall-clock time (setup.seconds_per_step or setup.samples_per_second) -------
    def seconds_for(self, samples) -> np.ndarray:
        """Training time of `samples` samples run by all devices together."""
        s = self.setup
        n = np.asarray(samples, dtype=np.float64)
        if s.seconds_per_step is not None:
            return n * s.seconds_per_step / self.effective_batch_size
        if s.samples_per_second is not None:
            return n / s.samples_per_second
        raise ValueError("no throughput: set seconds_per_step or samples_per_second")

    def samples_at(self, epoch, batches_done) -> np.ndarray:
        """Samples all devices have run when `batches_done` batches of `epoch` (0-based) are done."""
        e = np.asarray(epoch, dtype=np.int64)
        done = np.asarray(batches_done, dtype=np.int64)
        if not self.epochs_started:
            return np.zeros(np.broadcast(e, done).shape, dtype=np.int64)
        s = self.schedule
        before = np.concatenate(([0], np.cumsum(self.samples_per_epoch)))[e]
        short = np.where(self._natural_end[e] & (done == self.batches[e]), s.batch_size - s.last_batch_size, 0)
        return before + (done * s.batch_size - short) * s.devices

    def seconds_at(self, epoch, batches_done) -> np.ndarray:
        """The moment (seconds from the start) when `batches_done` batches of `epoch` are done:
        for any event with an epoch and batches_done (evaluations, checkpoints)."""
        return self.seconds_for(self.samples_at(epoch, batches_done))

    def _step_position(self, global_step) -> tuple[np.ndarray, np.ndarray]:
        """(epoch, batches done in it) right after optimizer step `global_step` (0: the start).
        Steps past the end map to the end of the run."""
        g = np.asarray(global_step, dtype=np.int64)
        if not self.epochs_started:
            return np.zeros(g.shape, dtype=np.int64), np.zeros(g.shape, dtype=np.int64)
        e = np.minimum(np.searchsorted(self.epoch_end_global_steps, g, side="left"), self.epochs_started - 1)
        a = self.schedule.grad_accum
        if self.schedule.windows_cross_epochs:
            done = g * a - np.concatenate(([0], np.cumsum(self.batches)))[e]
        else:
            done = (g - self.epoch_start_global_steps[e]) * a
        return e, np.clip(done, 0, self.batches[e])

    def samples_at_step(self, global_step) -> np.ndarray:
        """Samples all devices have run when optimizer step `global_step` is made."""
        return self.samples_at(*self._step_position(global_step))

    def tokens_at_step(self, global_step) -> np.ndarray:
        """Real tokens trained when optimizer step `global_step` is made."""
        return self.samples_at_step(global_step) * self._tokens().tokens_per_sample

    def seconds_at_step(self, global_step) -> np.ndarray:
        """The moment (seconds from the start) optimizer step `global_step` is made: a time axis
        for the timeline, the moment of a checkpoint saved at a step."""
        return self.seconds_for(self.samples_at_step(global_step))

    @cached_property
    def seconds_per_epoch(self) -> np.ndarray:
        """Training time of each epoch that started."""
        return self.seconds_for(self.samples_per_epoch)

    @cached_property
    def epoch_end_seconds(self) -> np.ndarray:
        """The moment each epoch ends."""
        return self.seconds_for(np.cumsum(self.samples_per_epoch))

    @property
    def seconds_total(self) -> float:
        return float(self.seconds_for(self.samples_seen))

    @cached_property
    def eval_seconds(self) -> np.ndarray:
        """The moment of each evaluation."""
        ev = self.evaluations
        return self.seconds_at(ev.epoch, ev.batches_done)

    @property
    def checkpoint_seconds(self) -> np.ndarray:
        """The moment of each listed checkpoint write."""
        c = self.checkpoints
        return self.seconds_at(c.epoch, c.batches_done)

    @property
    def stop_seconds(self) -> float | None:
        """The moment early stopping ends the run; None when it does not fire."""
        return self.seconds_total if self.early_stop is not None and self.early_stop.stopped else None

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

    # -- checkpoints and logs ------------------------------------------------------
    @property
    def checkpoints(self) -> Marks:
        return self.saving.checkpoints

    @property
    def logs(self) -> Marks:
        return self.saving.logs

    @property
    def steps_after_last_checkpoint(self) -> int:
        """Optimizer steps a crash at the very end would lose: all of them without a checkpoint."""
        last = self.checkpoints.last_global_step
        return self.total_optimizer_steps - (0 if last is None else last)

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
            # checkpoints and training-loss logs: the first MAX_MARKS_LISTED moments, and how many there are
            "checkpoint_global_steps": self.checkpoints.global_step.tolist(),
            "checkpoint_reasons": list(self.checkpoints.reason),
            "checkpoint_count": self.checkpoints.count,
            "steps_after_last_checkpoint": self.steps_after_last_checkpoint,
            "log_global_steps": self.logs.global_step.tolist(),
            "log_count": self.logs.count,
        }
        if self.setup.tokens is not None:
            t = self.setup.tokens
            out.update(
                samples_from_tokens=t.samples,
                tokens_per_optimizer_step=self.tokens_per_optimizer_step,
                tokens_trained=self.tokens_trained,
                tokens_dropped=t.tokens_dropped,
                tokens_padded=t.tokens_padded,
                max_steps_for_token_budget=self.max_steps_for_token_budget,
            )
        if self.setup.timed:
            out.update(
                seconds_per_epoch=self.seconds_per_epoch.tolist(),
                seconds_total=self.seconds_total,
                eval_seconds=self.eval_seconds.tolist(),
                checkpoint_seconds=self.checkpoint_seconds.tolist(),
                stop_seconds=self.stop_seconds,
            )
        if self.saving.loads_best:
            out["best_checkpoint_global_step"] = self.saving.best_checkpoint_global_step
        if include_lr and self.setup.lr_schedule is not None:
            updates = np.arange(1, self.total_optimizer_steps + 1)
            out["lr_per_step"] = [float(v) for v in self.lr_at(updates)]
        return out


def make_plan(setup: Setup, *, saving: bool = True) -> Plan:
    """Count `setup` the way its framework does. Raises SetupError for what the framework refuses.
    saving=False: checkpoints and training-loss logs are not worked out (nor their refusals checked),
    for a what-if that only asks for step counts; the plan then lists none."""
    convention = CONVENTIONS[setup.framework]
    sched = convention.schedule(setup)
    batches, steps, evaluations = sched.batches, sched.steps, sched.evaluations
    fired = Events.empty()
    early_stop = None
    if setup.patience is not None:
        rule = convention.early_stopping(setup)
        stopped = convention.stop(setup, sched, rule)
        if stopped is None:
            stopped = first_stop(sched, rule, setup.metrics)
        batches, steps, evaluations, fired = stopped.batches, stopped.steps, stopped.evaluations, stopped.fired
        early_stop = EarlyStop(
            stopped=len(fired) > 0,
            stop_global_step=int(steps.sum()),
            stop_epoch=len(batches),
            evaluations_done=len(evaluations),
            best_eval_index=stopped.best_metric_index,
            metrics_ran_out_at=stopped.ran_out_metric_index,
        )
    run = Run(batches, steps, evaluations, fired, setup.metrics)
    marks = convention.saving(setup, sched, run) if saving else Saving(Marks.empty(), Marks.empty())
    return Plan(setup, sched, batches, steps, evaluations, early_stop, marks)


def first_stop(sched: Schedule, rule, metrics: tuple[float, ...]) -> Stopped:
    """Replay early stopping on the checks; training ends right after the first one that fires."""
    outcome = replay(rule, sched.checks, metrics)
    if outcome.stop_check is None:
        return Stopped(sched.batches, sched.steps, sched.evaluations, Events.empty(), outcome.best_metric_index, outcome.ran_out_metric_index)
    check = sched.checks.take([outcome.stop_check])
    batches, steps, evaluations = cut_at(sched, check)
    return Stopped(batches, steps, evaluations, check, outcome.best_metric_index, None)
