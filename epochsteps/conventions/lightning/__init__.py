"""PyTorch Lightning 2.x `Trainer.fit` (framework-semantics.md section 3, 9.4-9.9).

- batches per rank: `DistributedSampler(drop_last=False)` then the loader's drop_last;
- `_parse_loop_limits`: no max_epochs means 1000 (or unbounded when max_steps is set);
  `_FitLoop.done` / `_is_training_done`: whichever of max_steps and max_epochs comes first;
- `_should_accumulate`: windows restart every epoch and the last batch always steps,
  so U = ceil(L / A);
- `_should_check_val_fx`: validate after batch b when (b + 1) % val_check_batch == 0
  (b counts across epochs when check_val_every_n_epoch is None), only in epochs where
  (epoch + 1) % check_val_every_n_epoch == 0; no validation is added when max_steps ends;
- `EarlyStopping` (float32, strict min_delta, patience in checks; with val_check_interval
  == 1.0 and check_val_every_n_epoch == 1 it checks in `on_train_epoch_end`).
"""

from __future__ import annotations

import math

import numpy as np

from ... import loading, schedules
from ...setup import Setup, SetupError
from ...text import fmt, ordinal, plural
from ..base import MAX_EVALUATIONS, Events, Schedule, epoch_windows, foreign_knobs, refuse, whole_epochs
from ..convention import LOADER, SHARED, Cadence, Convention, Note
from . import limits

NAME = "Lightning Trainer"
DEFAULT_MAX_EPOCHS = 1000


def steps_per_epoch(batches: int, grad_accum: int) -> int:
    """The last batch of an epoch always steps: ceil(L / A)."""
    return -(-batches // grad_accum)


def steps_in_epoch(run: int, batches: int, grad_accum: int) -> int:
    """Steps of an epoch that ran `run` of its `batches` batches: `_should_accumulate` steps
    every A batches and on the epoch's last batch."""
    return steps_per_epoch(batches, grad_accum) if run >= batches else run // grad_accum


def val_check_batch(setup: Setup, batches: int) -> int:
    """`_FitLoop.setup_data`: an int counts batches; a float is floored to int(L * f), at least 1."""
    interval = 1.0 if setup.val_check_interval is None else setup.val_check_interval
    if isinstance(interval, int):
        return interval
    return max(1, int(batches * interval))


def checks_on_epoch_end(setup: Setup) -> bool:
    """`EarlyStopping.setup`: check in on_train_epoch_end iff vci == 1.0 and every epoch validates."""
    interval = 1.0 if setup.val_check_interval is None else setup.val_check_interval
    return interval == 1.0 and setup.check_val_every_n_epoch == 1


def validate(setup: Setup) -> None:
    foreign_knobs(
        setup,
        NAME,
        {
            "eval_every_steps": "use val_check_interval (an int counts training batches)",
            "validation_freq": "use check_val_every_n_epoch",
            "steps_per_epoch": "use max_steps (or limit_train_batches)",
            "start_from_epoch": "start_from_epoch is a Keras EarlyStopping argument",
        },
    )
    interval = setup.val_check_interval
    if isinstance(interval, float):
        if setup.check_val_every_n_epoch is None:
            raise refuse(setup, "val_check_interval", "Lightning refuses a float val_check_interval when check_val_every_n_epoch=None (use an int)")
        if interval > 1 and interval != int(interval):
            raise refuse(setup, "val_check_interval", f"invalid value {interval} for val_check_interval, it has to be in [0.0, 1.0] or an int")
    schedules.check_torch_warmup(setup)


def _normalise(setup: Setup) -> Setup:
    """`_determine_batch_limits`: an integral float above 1 becomes an int."""
    v = setup.val_check_interval
    if isinstance(v, float) and v > 1:
        return setup.replace(val_check_interval=int(v))
    return setup


def schedule(setup: Setup) -> Schedule:
    validate(setup)
    setup = _normalise(setup)
    load = loading.distributed_sampler(setup.dataset_size, setup.batch_size, setup.devices, setup.drop_last)
    full_length = load.batches
    length = limits.train_batches(setup, load.batches)
    if length != load.batches:  # the limited epoch runs length batches, all full ones
        load = load._replace(batches=length)
    max_epochs = whole_epochs(setup, NAME)
    if max_epochs is None:
        max_epochs = DEFAULT_MAX_EPOCHS if setup.max_steps is None else -1
    per_epoch = steps_per_epoch(load.batches, setup.grad_accum)
    if max_epochs == -1:
        horizon = setup.max_steps
    else:
        horizon = per_epoch * max(max_epochs, 1)
        if setup.max_steps is not None:
            horizon = min(horizon, setup.max_steps)
    notes = []
    if load.batches == 0:
        # `_FitLoop.done`: "No training batches" -- no epoch starts (`_FitLoop.skip` with limit_train_batches=0).
        notes.append("No training batches: Trainer.fit stops before the first epoch.")
        n_epochs = 0
    elif max_epochs == -1:
        n_epochs = math.ceil(setup.max_steps / per_epoch)
    elif setup.max_steps is not None:
        n_epochs = min(max_epochs, math.ceil(setup.max_steps / per_epoch))
    else:
        n_epochs = max_epochs
    if n_epochs > 10**6:
        raise refuse(setup, "max_steps", f"would run {n_epochs:,} epochs; at most 1,000,000")
    if (
        isinstance(setup.val_check_interval, int)
        and setup.check_val_every_n_epoch is not None
        and load.batches
        and setup.val_check_interval > load.batches
    ):
        raise refuse(
            setup,
            "val_check_interval",
            f"Lightning refuses: val_check_interval ({setup.val_check_interval}) must be less than or equal to the number of the training batches ({load.batches}); set check_val_every_n_epoch=None to count across epochs",
        )
    batches, steps = epoch_windows(load.batches, per_epoch, setup.grad_accum, n_epochs, setup.max_steps)
    ends = np.cumsum(steps)
    evaluations = _validations(setup, load.batches, per_epoch, batches, ends) if n_epochs else Events.empty()
    checks = evaluations
    if setup.patience is not None and checks_on_epoch_end(setup) and n_epochs:
        checks = _epoch_end_checks(setup, evaluations, batches, ends)
    return Schedule.of(
        setup,
        load,
        batches,
        steps,
        evaluations,
        checks=checks,
        ends_pass=np.full(n_epochs, length == full_length, dtype=bool),
        lr_horizon=horizon,
        steps_per_full_epoch=per_epoch,
        notes=tuple(notes),
    )


def _validations(setup: Setup, load_batches: int, per_epoch: int, batches: np.ndarray, ends: np.ndarray) -> Events:
    every = val_check_batch(setup, load_batches)
    n_epochs = len(batches)
    epochs = np.arange(n_epochs, dtype=np.int64)
    starts = np.concatenate(([0], ends[:-1]))
    if setup.check_val_every_n_epoch is None:
        # count batches across epochs (total_batch_idx)
        batch_ends = np.cumsum(batches)
        count = int(batch_ends[-1]) // every
        _cap(setup, count)
        total_idx = np.arange(1, count + 1, dtype=np.int64) * every
        epoch = np.searchsorted(batch_ends, total_idx, side="left")
        done = total_idx - (batch_ends - batches)[epoch]
    else:
        active = epochs[(epochs + 1) % setup.check_val_every_n_epoch == 0]
        per = batches[active] // every
        _cap(setup, int(per.sum()))
        epoch = np.repeat(active, per)
        first = np.cumsum(per) - per
        done = (np.arange(len(epoch), dtype=np.int64) - np.repeat(first, per) + 1) * every
    step_in_epoch = np.where(done == load_batches, per_epoch, done // setup.grad_accum)
    return Events.of(starts[epoch] + step_in_epoch, epoch, done)


def _cap(setup: Setup, count: int) -> None:
    if count > MAX_EVALUATIONS:
        raise SetupError("val_check_interval", setup.val_check_interval, f"would validate {count:,} times; at most {MAX_EVALUATIONS:,}")


def _epoch_end_checks(setup: Setup, evaluations: Events, batches: np.ndarray, ends: np.ndarray) -> Events:
    """Checks in `on_train_epoch_end` read the latest validation, stale or not."""
    epochs = np.arange(len(batches), dtype=np.int64)
    latest = np.searchsorted(evaluations.epoch, epochs, side="right") - 1
    if latest[0] < 0:
        raise refuse(setup, "patience", "Lightning's EarlyStopping raises: the monitored metric is not available at the end of epoch 1 (no validation ran in it)")
    return Events.of(ends, epochs, batches, latest)


class EarlyStopping:
    """`EarlyStopping._evaluate_stopping_criteria`: values are float32 tensors
    (`self.log`); non-finite stops; improvement is strict by more than min_delta."""

    def __init__(self, setup: Setup):
        self.patience = setup.patience
        self.maximize = setup.mode == "max"
        self.min_delta = np.float32(abs(setup.min_delta))
        self.best = np.float32(-np.inf if self.maximize else np.inf)
        self.wait = 0

    def update(self, value: float, epoch: int) -> tuple[bool, bool]:
        current = np.float32(value)
        if not np.isfinite(current):
            return True, False
        if self.maximize:
            improved = np.float32(current - self.min_delta) > self.best
        else:
            improved = np.float32(current + self.min_delta) < self.best
        if improved:
            self.best = current
            self.wait = 0
            return False, True
        self.wait += 1
        return self.wait >= self.patience, False


def lr_per_update(setup: Setup, sched: Schedule, updates: np.ndarray) -> np.ndarray:
    """A `LambdaLR` on interval "step" over `estimated_stepping_batches`."""
    return schedules.lambda_lr(setup, int(setup.warmup_steps), sched.lr_horizon, updates)


from .saving import KNOBS as SAVING_KNOBS  # noqa: E402 - after the rules saving.py imports


class LightningTrainer(Convention):
    name, label, title = "lightning", "Lightning", "Lightning"
    default_epochs = DEFAULT_MAX_EPOCHS
    owns = SHARED | LOADER | {"val_check_interval", "check_val_every_n_epoch"} | SAVING_KNOBS
    epochs_arg = "max_epochs"
    patience_rule = "compares in float32 and needs more than min_delta"
    no_batches = "Lightning finds no training batches and starts no epoch"
    argument_labels = {
        "val_check_interval": "val_check_interval (1.0: once per epoch; 0.25: four times per epoch; 50: every 50 training batches)",
        "check_val_every_n_epoch": "check_val_every_n_epoch (empty: None, count batches across epochs)",
    }
    argument_placeholders = {
        "val_check_interval": "1.0",
        "check_val_every_n_epoch": "None",
        "every_n_epochs": "1 (default)",
        "save_top_k": "1 (default)",
        "monitor": "none: keep the latest (default)",
        "log_every_n_steps": "50 (default)",
        "min_epochs": "none",
        "min_steps": "none",
        "limit_train_batches": "1.0",
    }
    early_stopping = EarlyStopping
    reads_logs = True
    no_checkpoint = "ModelCheckpoint writes none here: save_top_k is 0, or no trigger fires"

    def schedule(self, setup: Setup) -> Schedule:
        return schedule(setup)

    def lr_per_update(self, setup: Setup, sched: Schedule, updates: np.ndarray) -> np.ndarray:
        return lr_per_update(setup, sched, updates)


    def stop(self, setup: Setup, sched: Schedule, rule):
        """min_epochs and min_steps defer the stop (`lightning/stopping.py`)."""
        return self._part("stopping").early_stop(setup, sched, rule)

    def cadence_words(self, setup: Setup) -> str:
        v, n = setup.val_check_interval, setup.check_val_every_n_epoch
        every_n = "" if n in (None, 1) else f" in every {ordinal(n)} epoch"
        if v is None or (isinstance(v, float) and v == 1.0):
            return "a validation at the end of every epoch" if n == 1 else f"a validation at the end of every {ordinal(n)} epoch"
        if isinstance(v, float) and v < 1:
            return f"val_check_interval={v!r}: a validation after every {v!r} of an epoch's batches{every_n}"
        counted = ", counted across epochs (check_val_every_n_epoch=None)" if n is None else every_n
        return f"a validation every {plural(int(v), 'training batch', 'training batches')}{counted}"

    # -- translation -----------------------------------------------------------------------
    def cadence(self, setup: Setup, plan) -> Cadence:
        vci, n = setup.val_check_interval, setup.check_val_every_n_epoch
        if vci is None or (isinstance(vci, float) and vci == 1.0):
            return ("epoch", n or 1)
        if isinstance(vci, int) or vci > 1:
            return ("batches", int(vci), n is not None)
        return ("fraction", float(vci), n or 1)

    def adopt_cadence(self, values: dict, cadence: Cadence, notes: list[Note]) -> None:
        if cadence is None:
            return
        kind = cadence[0]
        if kind == "epoch_list":
            notes.append(Note("eval_list", f"validation_freq={list(cadence[1])} has no counterpart: validating once per epoch."))
        elif kind == "epoch":
            values["check_val_every_n_epoch"] = cadence[1]
        elif kind == "steps":
            k, A = cadence[1], values["grad_accum"]
            values["val_check_interval"], values["check_val_every_n_epoch"] = k * A, None
            notes.append(
                Note("val_batches",
                     f"val_check_interval counts batches: {fmt(k)} steps x {fmt(A)} = {fmt(k * A)}, counted across epochs (check_val_every_n_epoch=None).",
                     ("its val_check_interval counts batches, not steps", "Lightning's val_check_interval counts batches, not steps"), ("evaluations",))
            )  # fmt: skip
        elif kind == "batches":
            values["val_check_interval"], values["check_val_every_n_epoch"] = cadence[1], (1 if cadence[2] else None)
        else:
            values["val_check_interval"], values["check_val_every_n_epoch"] = cadence[1], cadence[2]


CONVENTION = LightningTrainer()
