"""When Lightning 2.6 writes checkpoints and logs the training loss.

Checkpoints: the `ModelCheckpoint` the Trainer adds by default (`enable_checkpointing=True`,
`_configure_checkpoint_callbacks`: `ModelCheckpoint()`), or the one the flags configure
(callbacks/model_checkpoint.py):
- `__init_triggers` (L711): with neither trigger set, every_n_epochs=1; otherwise unset ones are 0.
  `__validate_init_configuration` (L666) refuses two triggers, or save_top_k outside -1/0/1
  without a monitor.
- `_should_save_on_train_epoch_end` (L642): with val_check_interval == 1.0 and
  check_val_every_n_epoch == 1 the epoch trigger runs in `on_train_epoch_end` (L488), otherwise
  in `on_validation_end` (L501), after every validation.
- `on_train_batch_end` (L340): after every batch (optimizer step or not) whose global_step is a
  multiple of every_n_train_steps. With a monitor it defers the save to the next validation end
  when the metric does not exist yet, or on an epoch's last batch when a validation follows in
  that epoch (validation-end mode only).
- `_should_skip_saving_checkpoint` (L624): never twice at one global_step, never at step 0.
- `_save_topk_checkpoint` / `check_monitor_top_k` (L735): without a monitor every trigger saves;
  with one, a value enters when fewer than k are kept, k is -1, or it is strictly better
  (float32) than the worst kept; NaN is kept as inf. `_save_last_checkpoint` writes last.ckpt on
  every batch trigger, after a top-k save elsewhere, and in `on_train_end` (L535) if nothing was
  written at all.

Logs: `self.log("train_loss", loss)` in training_step is written by
`_LoggerConnector.update_train_step_metrics` only after an optimizer step, when
`should_update_logs` (logger_connector.py L51): (global_step) % log_every_n_steps == 0 (it
reads `_batches_that_stepped + 1` before the counter moves), or once `trainer.should_stop` is
set (early stopping deferred by min_epochs / min_steps logs every step); 0 turns logging off.
"""

from __future__ import annotations

import bisect

import numpy as np

from ...setup import Setup, SetupError
from ..base import Schedule, refuse
from ..moments import MarkBuilder, Run, Saving, metric_values, refuse_foreign, step_locator
from . import checks_on_epoch_end

NAME = "Lightning Trainer"
KNOBS = frozenset({"every_n_train_steps", "every_n_epochs", "save_last", "save_top_k", "monitor", "log_every_n_steps", "min_epochs", "min_steps", "limit_train_batches"})
LOG_EVERY_N_STEPS = 50  # Trainer default
MAX_REPLAYED = 2_000_000  # top-k decisions replayed one by one (the rest are counted in bulk)


def triggers(setup: Setup) -> tuple[int, int]:
    """`ModelCheckpoint.__init_triggers`: (every_n_train_steps, every_n_epochs)."""
    if setup.every_n_train_steps is None and setup.every_n_epochs is None:
        return 0, 1
    return setup.every_n_train_steps or 0, setup.every_n_epochs or 0


def validate(setup: Setup) -> None:
    steps, epochs = triggers(setup)
    if steps >= 1 and epochs >= 1:
        raise refuse(
            setup, "every_n_epochs",
            f"Lightning refuses: combination of parameters every_n_train_steps={steps}, every_n_epochs={epochs} and train_time_interval=None should be mutually exclusive",
        )
    k = 1 if setup.save_top_k is None else setup.save_top_k
    if setup.monitor is None and k not in (-1, 0, 1):
        raise refuse(setup, "save_top_k", f"Lightning refuses: ModelCheckpoint(save_top_k={k}, monitor=None) is not a valid configuration. No quantity for top_k to track")


class _TopK:
    """`check_monitor_top_k` and `_update_best_and_save` on the kept values, negated in mode max."""

    def __init__(self, k: int, monitored: bool, maximize: bool = False):
        self.k, self.monitored, self.kept = k, monitored, []
        self.sign = np.float32(-1 if maximize else 1)

    def offer(self, value: float | None) -> bool:
        if self.k == 0:
            return False
        if not self.monitored:
            return True
        if value is None:  # the monitored key is not logged yet
            return False
        if self.k == -1:
            return True
        v = self.sign * np.float32(value)
        if len(self.kept) == self.k:
            if not v < self.kept[-1]:  # torch.lt: strict, NaN never
                return False
            self.kept.pop()
        bisect.insort(self.kept, np.float32(np.inf) if np.isnan(v) else v)  # NaN is kept as the worst value
        return True


def saving(setup: Setup, sched: Schedule, run: Run) -> Saving:
    refuse_foreign(setup, NAME, KNOBS)
    validate(setup)
    locate = step_locator(run.ends, run.batches, sched.grad_accum)
    if setup.monitor is not None:
        values, short = metric_values(run, run.evaluations.metric_index)
        checkpoints = _Replay(setup, sched, run, locate, values).replay()
    else:
        short = None
        checkpoints = _unmonitored(setup, run, locate)
    return Saving(checkpoints, _logs(setup, run, locate), metrics_ran_out_at=short)


def _unmonitored(setup: Setup, run: Run, locate):
    """Without a monitor every trigger saves (unless save_top_k=0 and no save_last): no replay needed."""
    every_steps, every_epochs = triggers(setup)
    k = 1 if setup.save_top_k is None else setup.save_top_k
    marks = MarkBuilder(locate)
    if every_steps >= 1:
        if k != 0 or setup.save_last:
            marks.every(every_steps, every_steps, run.total, "periodic")
    elif every_epochs >= 1 and k != 0:
        if checks_on_epoch_end(setup):
            epochs = np.arange(len(run.batches), dtype=np.int64)
            at, reason = (run.ends, epochs, run.batches), "epoch_end"
        else:
            ev = run.evaluations
            at, reason = (ev.global_step, ev.epoch, ev.batches_done), "validation"
        gs, ep, done = at
        due = (ep + 1) % every_epochs == 0
        gs, ep, done = gs[due], ep[due], done[due]
        keep = gs > np.concatenate(([0], np.maximum.accumulate(gs)[:-1])) if len(gs) else np.zeros(0, bool)
        marks.at(gs[keep], ep[keep], done[keep], reason)
    built = marks.build()
    if setup.save_last and not built.count and len(run.batches):
        return _last_only(run)
    return built


def _last_only(run: Run):
    """`on_train_end`: last.ckpt when nothing else was written."""
    e = len(run.batches) - 1
    marks = MarkBuilder(None)
    marks.at([run.total], [e], [run.batches[e]], "last")
    return marks.build()


class _Replay:
    """A monitored ModelCheckpoint, moment by moment: batch triggers between validations
    and epoch ends, in bulk once the top-k state can no longer change."""

    def __init__(self, setup: Setup, sched: Schedule, run: Run, locate, values):
        self.setup, self.run, self.locate, self.values = setup, run, locate, values
        self.every_steps, self.every_epochs = triggers(setup)
        self.topk = _TopK(1 if setup.save_top_k is None else setup.save_top_k, True, setup.mode == "max")
        self.at_epoch_end = checks_on_epoch_end(setup)
        self.grad_accum = sched.grad_accum
        self.nominal = sched.nominal_batches
        self.marks = MarkBuilder(locate)
        self.last_saved, self.defer, self.any, self.value, self.replayed = 0, False, False, None, 0

    def replay(self):
        run, ev = self.run, self.run.evaluations
        ends = run.ends
        starts = ends - run.steps
        for e in range(len(run.batches)):
            here = np.nonzero(ev.epoch == e)[0]
            j = 0
            for v in here:
                done = int(ev.batches_done[v])
                self._batches(e, int(starts[e]), j, done)
                self._validation_end(e, done, int(ev.global_step[v]), self.values[v])
                j = done
            self._batches(e, int(starts[e]), j, int(run.batches[e]))
            self._epoch_end(e, int(run.batches[e]), int(ends[e]))
        if self.setup.save_last and not self.any and len(run.batches):
            e = len(run.batches) - 1
            self._write(run.total, e, int(run.batches[e]), "last")
        return self.marks.build()

    # -- moments ---------------------------------------------------------------
    def _write(self, gs, epoch, done, reason):
        self.last_saved, self.any = gs, True
        self.marks.at([gs], [epoch], [done], reason)

    def _gs_after(self, e: int, start: int, j: int) -> int:
        a, nominal = self.grad_accum, int(self.nominal[e])
        return start + j // a + int(j == nominal and nominal % a > 0)

    def _steps(self, e: int, j: int) -> bool:
        return j % self.grad_accum == 0 or j == int(self.nominal[e])

    def _batches(self, e: int, start: int, ja: int, jb: int) -> None:
        """`on_train_batch_end` triggers for batches ja+1 .. jb of epoch e."""
        n = self.every_steps
        if n < 1 or jb <= ja:
            return
        ga, gb = self._gs_after(e, start, ja), self._gs_after(e, start, jb)
        if not self._steps(e, ja + 1) and ga % n == 0:  # the batch after a validation re-reads the metric
            self._trigger(ga, e, ja + 1)
        first, last = (ga // n + 1) * n, (gb // n) * n
        if first > last:
            return
        natural_last = jb == int(self.nominal[e]) and last == gb
        deferred = natural_last and not self.at_epoch_end and _validates(self.setup, e)
        top = last - n if deferred else last
        m = first
        while m <= top:
            if self.value is None:  # before the first validation every trigger defers
                self.defer = True
                break
            if self.topk.k == -1 or (self.setup.save_last and self._stable()):  # every remaining trigger writes
                self.marks.every(m, n, top, "periodic")
                self.last_saved, self.any = top, True
                break
            if self._offer(self.value) or self.setup.save_last:
                epoch, done = self.locate(np.array([m]))
                self._write(m, int(epoch[0]), int(done[0]), "periodic")
            else:  # refused: the same value is refused until the next validation
                break
            m += n
        if deferred:
            self.defer = True

    def _trigger(self, gs: int, e: int, j: int) -> None:
        if self.value is None:
            self.defer = True
        elif gs != self.last_saved and (self._offer(self.value) or self.setup.save_last):
            self._write(gs, e, j, "periodic")

    def _validation_end(self, e: int, done: int, gs: int, value) -> None:
        self.value = value
        if self.at_epoch_end or gs == self.last_saved:
            return
        if self.defer:
            self.defer = False
            if self._offer(value) or self.setup.save_last:
                self._write(gs, e, done, "periodic")
        elif self.every_epochs >= 1 and (e + 1) % self.every_epochs == 0 and self._offer(value):
            self._write(gs, e, done, "best")

    def _epoch_end(self, e: int, done: int, gs: int) -> None:
        if not self.at_epoch_end or gs == self.last_saved:
            return
        if self.every_epochs >= 1 and (e + 1) % self.every_epochs == 0 and self._offer(self.value):
            self._write(gs, e, done, "best")

    def _offer(self, value) -> bool:
        self.replayed += 1
        if self.replayed > MAX_REPLAYED:
            raise SetupError("save_top_k", self.setup.save_top_k, f"would replay more than {MAX_REPLAYED:,} checkpoint decisions; plan a shorter run")
        return self.topk.offer(value)

    def _stable(self) -> bool:
        """Offering the same value again would change nothing (it was just refused, or k is full of it)."""
        k, kept = self.topk.k, self.topk.kept
        if k == 0:
            return True
        v = None if self.value is None else self.topk.sign * np.float32(self.value)
        return v is not None and len(kept) == k and not v < kept[-1]


def _validates(setup: Setup, epoch: int) -> bool:
    every = setup.check_val_every_n_epoch
    return every is None or (epoch + 1) % every == 0


def _logs(setup: Setup, run: Run, locate):
    every = LOG_EVERY_N_STEPS if setup.log_every_n_steps is None else setup.log_every_n_steps
    logs = MarkBuilder(locate)
    if every == 0:
        return logs.build()
    total = run.total
    stop_asked = int(run.fired.global_step[0]) if len(run.fired) else total
    logs.every(every, every, min(stop_asked, total), "periodic")
    logs.every(stop_asked + 1, 1, total, "stopping")
    return logs.build()
