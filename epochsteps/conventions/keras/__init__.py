"""Keras 3 `Model.fit` on arrays (framework-semantics.md section 4, 9.2).

- `ArrayDataAdapter`: ceil(N / B) batches, the last one short, no drop_last; the batch
  size is global, so there is no per-device split to plan;
- `EpochIterator._enumerate_iterator`: with `steps_per_epoch` the iterator is not
  restarted between epochs; an epoch takes min(S, L - p) batches from position p;
- `BaseOptimizer._backend_apply_gradients`: with `gradient_accumulation_steps=A` an update
  happens when the raw micro-batch counter reaches a multiple of A, across epoch ends;
- `Trainer._should_eval`: validation after 1-indexed epochs divisible by validation_freq;
- `EarlyStopping.on_epoch_end`: patience in (validated) epochs, wait += 1 before the
  comparison, never stops at epoch 0, ignores epochs before `start_from_epoch`;
- learning-rate schedules see the raw micro-batch counter: update k uses schedule(k*A - 1).
"""

from __future__ import annotations

import numpy as np

from ... import loading, schedules
from ...setup import Setup, SetupError
from ..base import MAX_EVALUATIONS, Events, Schedule, foreign_knobs, refuse, whole_epochs

NAME = "Keras fit"
DEFAULT_EPOCHS = 1


def validate(setup: Setup) -> None:
    foreign_knobs(
        setup,
        NAME,
        {
            "eval_every_steps": "Keras validates at epoch ends only (use validation_freq)",
            "val_check_interval": "use validation_freq",
            "check_val_every_n_epoch": "use validation_freq",
        },
    )
    if setup.drop_last:
        raise refuse(setup, "drop_last", "Keras fit on arrays has no drop_last: the last batch is always kept")
    if setup.devices != 1:
        raise refuse(setup, "devices", "Keras fit takes the global batch size (split across replicas by tf.distribute): plan it with devices=1 and the global batch")
    if setup.max_steps is not None:
        raise refuse(setup, "max_steps", "Keras fit has no max_steps; use steps_per_epoch and epochs")
    if setup.lr_schedule in ("linear", "constant_with_warmup"):
        raise refuse(setup, "lr_schedule", "Keras has no built-in schedule of this form; use cosine (CosineDecay with warmup) or constant")
    if setup.warmup_steps and setup.warmup_steps != int(setup.warmup_steps):
        raise refuse(setup, "warmup_steps", "Keras counts warmup in whole micro-batch steps (a ratio below 1 is an HF notion)")


def updates(micro_batches, grad_accum: int):
    """Optimizer updates after `micro_batches` batches: one per full window of A, counted
    across epochs (`BaseOptimizer._backend_apply_gradients`); works on ints and arrays."""
    return micro_batches // grad_accum


def epoch_lengths(batches: int, steps_per_epoch: int | None, n_epochs: int) -> tuple[np.ndarray, np.ndarray]:
    """Batches per epoch and whether each epoch ends at the end of a pass over the data."""
    if steps_per_epoch is None or steps_per_epoch >= batches:
        return np.full(n_epochs, batches, dtype=np.int64), np.ones(n_epochs, dtype=bool)
    full, rest = divmod(batches, steps_per_epoch)
    period = full + (1 if rest else 0)  # epochs per pass over the data
    place = np.arange(n_epochs, dtype=np.int64) % period
    lengths = np.where(place < full, steps_per_epoch, rest).astype(np.int64)
    return lengths, place == period - 1


def schedule(setup: Setup) -> Schedule:
    validate(setup)
    load = loading.keras_arrays(setup.dataset_size, setup.batch_size)
    epochs = whole_epochs(setup, NAME)
    n_epochs = DEFAULT_EPOCHS if epochs is None else epochs
    batches, ends_pass = epoch_lengths(load.batches, setup.steps_per_epoch, n_epochs)
    micro_end = np.cumsum(batches)
    updates_end = updates(micro_end, setup.grad_accum)
    steps = np.diff(np.concatenate(([0], updates_end)))
    numbers = np.arange(1, n_epochs + 1, dtype=np.int64)
    if isinstance(setup.validation_freq, tuple):
        validated = np.isin(numbers, np.array(setup.validation_freq, dtype=np.int64))
    else:
        validated = numbers % setup.validation_freq == 0
    val_epochs = numbers[validated] - 1
    if len(val_epochs) > MAX_EVALUATIONS:
        raise SetupError("validation_freq", setup.validation_freq, f"would validate {len(val_epochs):,} times; at most {MAX_EVALUATIONS:,}")
    evaluations = Events.of(updates_end[val_epochs], val_epochs, batches[val_epochs])
    checks = evaluations.take(evaluations.epoch >= setup.start_from_epoch)
    notes = []
    leftover = int(micro_end[-1]) % setup.grad_accum
    if leftover:
        notes.append(f"The last {leftover} micro-batch(es) never complete a window of {setup.grad_accum}: their gradients are never applied.")
    per_fit = setup.steps_per_epoch or load.batches
    lr_horizon = per_fit * n_epochs  # Keras' own params["steps"] * epochs, in micro-batches
    if setup.lr_schedule == "cosine" and lr_horizon - int(setup.warmup_steps) <= 0:
        raise refuse(setup, "warmup_steps", f"CosineDecay refuses decay_steps <= 0 ({lr_horizon:,} micro-batches minus warmup {int(setup.warmup_steps):,})")
    return Schedule(
        nominal_batches=batches,
        batches=batches,
        steps=steps,
        ends_pass=ends_pass,
        last_batch_size=load.last_batch_size,
        batch_size=setup.batch_size,
        devices=1,
        dataset_size=setup.dataset_size,
        grad_accum=setup.grad_accum,
        evaluations=evaluations,
        checks=checks,
        lr_horizon=lr_horizon,
        windows_cross_epochs=True,
        drops_remainder=False,
        notes=tuple(notes),
    )


class EarlyStopping:
    """`EarlyStopping.on_epoch_end` with `MonitorCallback._is_improvement`:
    `ops.less(value - min_delta, best)` compares float32 tensors."""

    def __init__(self, setup: Setup):
        self.patience = setup.patience
        self.maximize = setup.mode == "max"
        self.min_delta = abs(setup.min_delta) * (1 if self.maximize else -1)
        self.best: float | None = None
        self.wait = 0

    def _improves(self, value: float) -> bool:
        if self.best is None:
            return True
        a, b = np.float32(value - self.min_delta), np.float32(self.best)
        return bool(a > b) if self.maximize else bool(a < b)

    def update(self, value: float, epoch: int) -> tuple[bool, bool]:
        self.wait += 1
        if self._improves(value):
            self.best = value
            self.wait = 0
            return False, True
        return self.wait >= self.patience and epoch > 0, False


def lr_per_update(setup: Setup, sched: Schedule, updates: np.ndarray) -> np.ndarray:
    lr = schedules.base_lr(setup)
    micro = np.asarray(updates, dtype=np.int64) * setup.grad_accum - 1
    if setup.lr_schedule == "cosine":
        warmup = int(setup.warmup_steps)
        rates = schedules.keras_cosine_decay(micro, lr, warmup, sched.lr_horizon - warmup)
    else:
        rates = np.full(len(micro), np.float32(lr), dtype=np.float32)
    return rates.astype(np.float64)
