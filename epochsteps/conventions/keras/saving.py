"""When Keras 3 writes checkpoints and what counts as its training-loss log.

- `ModelCheckpoint` (callbacks/model_checkpoint.py; no checkpoint callback unless one is given,
  so without save_freq or save_best_only there are none): `save_freq="epoch"` saves in
  `on_epoch_end`; an int N saves in `on_train_batch_end` every N batches (`_should_save_on_batch`:
  `_batches_seen_since_last_saving` counts micro-batches across epochs and restarts at each save,
  whatever the optimizer's gradient accumulation), so with accumulation two saves can share one
  optimizer step count (`optimizer.iterations`).
- `save_best_only` (`_should_save_model`): saves when the monitored value (val_loss; its values
  are --metrics) improves on the best (`MonitorCallback._is_improvement`, `ops.less`: float32,
  strict, the first value always); when the value is absent (a batch end, or an epoch that did
  not validate) it warns and saves anyway.
- The training-loss log is the `History` record `fit` keeps once per epoch
  (`History.on_epoch_end`); the per-batch progress bar is not a log.
"""

from __future__ import annotations

import numpy as np

from ...setup import Setup
from ..base import Schedule
from ..moments import MarkBuilder, Marks, Run, Saving, metric_values, refuse_foreign

NAME = "Keras fit"
KNOBS = frozenset({"save_freq", "save_best_only"})


def saving(setup: Setup, sched: Schedule, run: Run) -> Saving:
    refuse_foreign(setup, NAME, KNOBS)
    micro_end = np.cumsum(run.batches, dtype=np.int64)
    micro_start = micro_end - run.batches
    epochs = np.arange(len(run.batches), dtype=np.int64)
    ends = micro_end // sched.grad_accum  # optimizer.iterations at each epoch end

    def at_micro(m):  # moments after the m-th micro-batch of the run
        m = np.asarray(m, dtype=np.int64)
        e = np.minimum(np.searchsorted(micro_end, m, side="left"), len(micro_end) - 1)
        return e, m - micro_start[e]

    short = None
    freq = setup.save_freq if setup.save_freq is not None else ("epoch" if setup.save_best_only else None)
    if freq == "epoch":
        keep = np.ones(len(epochs), dtype=bool)
        if setup.save_best_only:
            keep, short = _improvements(run, epochs, setup.mode == "max")
        ck = MarkBuilder(None)
        ck.at(ends[keep], epochs[keep], run.batches[keep], "best" if setup.save_best_only else "epoch_end")
        checkpoints = ck.build()
    elif freq is not None:
        every = max(int(freq), 1)  # the counter is always >= 0: save_freq=0 saves after every batch
        micro = MarkBuilder(at_micro)  # counted in micro-batches, then turned into optimizer steps
        micro.every(every, every, int(micro_end[-1]) if len(micro_end) else 0, "periodic")
        checkpoints = _micro_to_steps(micro.build(), sched.grad_accum)
    else:
        checkpoints = Marks.empty()
    logs = MarkBuilder(None)
    logs.at(ends, epochs, run.batches, "epoch_end")
    return Saving(checkpoints, logs.build(), metrics_ran_out_at=short)


def _micro_to_steps(marks, grad_accum: int):
    """Batch-level moments counted in micro-batches -> the optimizer steps taken at them."""
    last = None if marks.last_global_step is None else marks.last_global_step // grad_accum
    return Marks(marks.global_step // grad_accum, marks.epoch, marks.batches_done, marks.reason, marks.count, last)


def _improvements(run: Run, epochs: np.ndarray, maximize: bool) -> tuple[np.ndarray, int | None]:
    """Per epoch: does `save_best_only` save (an improvement, or no validation value at all)?"""
    keep = np.ones(len(epochs), dtype=bool)
    ev = run.evaluations
    values, short = metric_values(run, ev.metric_index)
    best, sign = None, np.float32(-1 if maximize else 1)  # ops.greater in mode max
    for e, v in zip(ev.epoch, values, strict=True):
        if v is None:
            break
        better = best is None or bool(sign * np.float32(v) < sign * np.float32(best))
        keep[e] = better
        best = v if better else best
    return keep, short
