"""Hugging Face Transformers `Trainer`, 4.52 to 5.x (framework-semantics.md section 2).

- batches per process: one global DataLoader sharded by accelerate (`BatchSamplerShard`);
- `Trainer.set_initial_training_values`: U = max(ceil(L / A), 1); T = ceil(epochs * U)
  (float64), or `max_steps`, which overrides epochs; epochs iterated = ceil(T / U);
- `Trainer._run_epoch`: a step on `(s + 1) % A == 0 or s + 1 == L`, so every epoch ends
  with a step; `DefaultFlowCallback.on_step_end` stops at once when global_step >= T;
- evaluation: `eval_strategy="epoch"` at every epoch end (a cut last epoch too), or
  "steps" every `eval_steps` (a value below 1 is ceil(T * ratio), `TrainerState.compute_steps`)
  plus the final step (5.4+);
- `EarlyStoppingCallback`: patience in evaluations, threshold against `state.best_metric`,
  which `_determine_best_metric` moves on every strict improvement after the callback ran.
"""

from __future__ import annotations

import math

import numpy as np

from ... import loading, schedules
from ...setup import Setup
from ..base import Events, Schedule, epoch_end_events, epoch_windows, foreign_knobs, refuse, step_events
from . import args

NAME = "HF Trainer"
DEFAULT_EPOCHS = 3.0


def steps_per_epoch(batches: int, grad_accum: int) -> int:
    """`num_update_steps_per_epoch = max(L // A + int(L % A > 0), 1)`."""
    return max(batches // grad_accum + int(batches % grad_accum > 0), 1)


def eval_steps(value: float, total: int) -> int:
    """`TrainerState.compute_steps`: a value below 1 is a ratio of max_steps."""
    return math.ceil(total * value) if value < 1 else int(value)


def validate(setup: Setup) -> None:
    foreign_knobs(
        setup,
        NAME,
        {
            "val_check_interval": "use eval_every_steps (eval_strategy='steps')",
            "check_val_every_n_epoch": "the Trainer evaluates every epoch by default; use eval_every_steps otherwise",
            "validation_freq": "use eval_every_steps (eval_strategy='steps')",
            "steps_per_epoch": "use max_steps",
            "start_from_epoch": "start_from_epoch is a Keras EarlyStopping argument",
        },
    )
    args.check(setup)


def schedule(setup: Setup) -> Schedule:
    validate(setup)
    load = loading.accelerate_shard(setup.dataset_size, setup.batch_size, setup.devices, setup.drop_last)
    epochs = DEFAULT_EPOCHS if setup.epochs is None else float(setup.epochs)
    notes = []
    if load.batches == 0:
        if setup.max_steps is None:
            raise refuse(setup, "drop_last", "HF Trainer refuses: args.max_steps must be set to a positive value if dataloader does not have a length (0 batches per epoch)")
        notes.append("Not a single sample reaches a process: the Trainer runs one empty epoch and stops.")
        total, per_epoch, n_epochs = setup.max_steps, 1, 1
        batches = steps = np.zeros(1, dtype=np.int64)
    else:
        per_epoch = steps_per_epoch(load.batches, setup.grad_accum)
        if setup.max_steps is not None:
            total = setup.max_steps
            if setup.epochs is not None:
                notes.append(f"max_steps={setup.max_steps:,} overrides num_train_epochs={epochs:g}.")
        else:
            total = math.ceil(epochs * per_epoch)
        n_epochs = -(-total // per_epoch)
        if n_epochs > 10**6:
            raise refuse(setup, "max_steps", f"would run {n_epochs:,} epochs; at most 1,000,000")
        batches, steps = epoch_windows(load.batches, per_epoch, setup.grad_accum, n_epochs, total)
    ends = np.cumsum(steps)
    reached = int(ends[-1])
    strategy = args.eval_strategy(setup)
    if strategy == "no":
        evaluations = Events.empty()
    elif strategy == "epoch":
        evaluations = epoch_end_events(np.arange(n_epochs), ends, batches)
    else:
        every = eval_steps(args.eval_steps(setup), total)
        evaluations = step_events(every, reached, ends, batches, setup.grad_accum, extra_final=reached >= total)
    return Schedule(
        nominal_batches=np.full(n_epochs, load.batches, dtype=np.int64),
        batches=batches,
        steps=steps,
        ends_pass=np.ones(n_epochs, dtype=bool),
        last_batch_size=load.last_batch_size or 0,
        batch_size=setup.batch_size,
        devices=setup.devices,
        dataset_size=setup.dataset_size,
        grad_accum=setup.grad_accum,
        evaluations=evaluations,
        checks=evaluations,
        lr_horizon=total,
        notes=tuple(notes),
    )


class EarlyStopping:
    """`EarlyStoppingCallback.check_metric_value` / `on_evaluate`, then
    `Trainer._determine_best_metric` (float64, as Python floats)."""

    def __init__(self, setup: Setup):
        self.patience = setup.patience
        self.threshold = setup.min_delta
        self.greater = setup.mode == "max"
        self.best: float | None = None
        self.counter = 0

    def _better(self, a: float, b: float) -> bool:
        return a > b if self.greater else a < b

    def update(self, value: float, epoch: int) -> tuple[bool, bool]:
        if self.best is None or (self._better(value, self.best) and abs(value - self.best) > self.threshold):
            self.counter = 0
        else:
            self.counter += 1
        stop = self.counter >= self.patience
        reference = self.best if self.best is not None else (-math.inf if self.greater else math.inf)
        new_best = self._better(value, reference)
        self.best = value if new_best else reference
        return stop, new_best


def lr_per_update(setup: Setup, sched: Schedule, updates: np.ndarray) -> np.ndarray:
    warmup = schedules.hf_warmup_steps(setup.warmup_steps, sched.lr_horizon)
    return schedules.lambda_lr(setup, warmup, sched.lr_horizon, updates)
