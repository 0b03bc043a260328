"""Lightning's early stop when `min_epochs` / `min_steps` defer it.

`EarlyStopping` only sets `trainer.should_stop` (callbacks/early_stopping.py L239: it stays set).
The loops honour it once `_FitLoop._can_stop_early` (loops/fit_loop.py L161): epochs processed
>= min_epochs and global_step >= min_steps (`_parse_loop_limits`: min_steps alone means
min_epochs=1). Until then training goes on as scheduled, and the callback keeps checking.
The stop then happens at the first moment both minimums hold:
- at an epoch end, when the epoch's end makes `processed` reach min_epochs
  (`_FitLoop.done`, L173, before the next epoch starts);
- mid-epoch, after the batch whose optimizer step reaches min_steps in an epoch that already
  meets min_epochs (`_TrainingEpochLoop.done`, training_epoch_loop.py L130); that batch gets a
  validation of its own when the epoch validates (`_should_check_val_fx`, L540).
"""

from __future__ import annotations

import numpy as np

from ...setup import Setup
from ..base import Events, Schedule
from ..moments import Stopped, cut_at
from . import checks_on_epoch_end, limits


def early_stop(setup: Setup, sched: Schedule, rule) -> Stopped | None:
    """None when no minimum is set: the plain cut at the first firing check applies."""
    min_epochs, min_steps = limits.loop_minimums(setup)
    if not min_epochs and not min_steps:
        return None
    checks, metrics = sched.checks, setup.metrics
    best, fired = None, None
    for c in range(len(checks)):
        i = int(checks.metric_index[c])
        if i >= len(metrics):
            return Stopped(sched.batches, sched.steps, sched.evaluations, Events.empty(), best, i)
        stop, new_best = rule.update(float(metrics[i]), int(checks.epoch[c]))
        best = i if new_best else best
        if stop:
            fired = c
            break
    if fired is None:
        return Stopped(sched.batches, sched.steps, sched.evaluations, Events.empty(), best, None)
    at_epoch_end = checks_on_epoch_end(setup)
    e, g = int(checks.epoch[fired]), int(checks.global_step[fired])
    processed = e + 1 if at_epoch_end else e
    if processed >= min_epochs and g >= min_steps:
        batches, steps, evaluations = cut_at(sched, checks.take([fired]))
        return Stopped(batches, steps, evaluations, checks.take([fired]), best, None)

    ends = np.cumsum(sched.steps, dtype=np.int64)
    starts = ends - sched.steps
    stop = None  # (epoch, batches done, global step, a validation of its own)
    first = max(e + 1 if at_epoch_end else e, min_epochs - 1)
    later = np.nonzero(ends[first:] >= min_steps)[0] if first < len(ends) else []
    if len(later):
        a = first + int(later[0])
        stop = (a, int(sched.batches[a]), int(ends[a]), False)
    if g < min_steps <= int(ends[-1]):
        b = int(np.searchsorted(ends, min_steps, side="left"))
        if b >= min_epochs:
            done = int(min(sched.batches[b], (min_steps - starts[b]) * sched.grad_accum))
            if stop is None or (b, done) <= stop[:2]:
                stop = (b, done, min_steps, _validates(setup, b))
    if stop is None:  # the schedule ends first
        return _keep_checking(rule, setup.metrics, checks.take([fired]), best, checks, fired, sched.batches, sched.steps, sched.evaluations)

    se, sd, sg, own = stop
    batches = sched.batches[: se + 1].copy()
    steps = sched.steps[: se + 1].copy()
    batches[se], steps[se] = sd, sg - int(starts[se])
    ev = sched.evaluations
    kept = ev.take((ev.epoch < se) | ((ev.epoch == se) & (ev.batches_done <= sd)))
    if own and not np.any((kept.epoch == se) & (kept.batches_done == sd)):
        kept = Events.of(np.append(kept.global_step, sg), np.append(kept.epoch, se), np.append(kept.batches_done, sd))
    if at_epoch_end:  # on_train_epoch_end checks; the cut epoch's own one at the stop reads the latest validation
        before = checks.take(checks.epoch < se)
        latest = int(np.searchsorted(kept.epoch, se, side="right")) - 1
        ran = Events.of(
            np.append(before.global_step, sg), np.append(before.epoch, se),
            np.append(before.batches_done, sd), np.append(before.metric_index, latest),
        )
    else:
        ran = kept
    return _keep_checking(rule, setup.metrics, checks.take([fired]), best, ran, fired, batches, steps, kept)


def _validates(setup: Setup, epoch: int) -> bool:
    """`_should_check_val_epoch` (training_epoch_loop.py L523)."""
    every = setup.check_val_every_n_epoch
    return every is None or (epoch + 1) % every == 0


def _keep_checking(rule, metrics, fired: Events, best, ran: Events, after: int, batches, steps, evaluations) -> Stopped:
    """The callback keeps checking after it fired, so the best value can still move."""
    for c in range(after + 1, len(ran)):
        i = int(ran.metric_index[c])
        if i >= len(metrics):
            return Stopped(batches, steps, evaluations, fired, best, i)
        _, new_best = rule.update(float(metrics[i]), int(ran.epoch[c]))
        best = i if new_best else best
    return Stopped(batches, steps, evaluations, fired, best, None)
