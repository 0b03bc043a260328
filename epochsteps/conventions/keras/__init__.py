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
from ...setup import MAX_BATCH_SIZE, Setup, SetupError
from ...text import fmt, ordinal, plural, tex, tex_ceil, tex_floor
from ..base import MAX_EVALUATIONS, Events, Schedule, foreign_knobs, refuse, whole_epochs
from ..convention import SHARED, Cadence, Convention, Note, Term

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
    return Schedule.of(
        setup,
        load,
        batches,
        steps,
        evaluations,
        nominal_batches=batches,
        ends_pass=ends_pass,
        checks=checks,
        lr_horizon=lr_horizon,
        steps_per_full_epoch=None,
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


from .saving import KNOBS as SAVING_KNOBS  # noqa: E402 - after the rules saving.py imports


class KerasFit(Convention):
    name, label, title = "keras", "Keras fit", "Keras"
    default_epochs = DEFAULT_EPOCHS
    owns = SHARED | {"validation_freq", "steps_per_epoch", "start_from_epoch"} | SAVING_KNOBS
    warmup_in_batches = True  # schedules read the raw micro-batch counter
    lr_schedules = ("constant", "cosine")
    patience_rule = "counts validated epochs in float32 and never stops at the first"
    argument_labels = {
        "validation_freq": "validation_freq: validate every this many epochs",
        "steps_per_epoch": "steps_per_epoch (empty: the whole dataset)",
    }
    argument_placeholders = {"steps_per_epoch": "whole dataset", "save_freq": "none: no ModelCheckpoint"}
    early_stopping = EarlyStopping
    reads_logs = True
    log_unit = "epochs (History records the loss at each epoch end)"
    no_checkpoint = "Keras writes checkpoints only with a ModelCheckpoint callback: set save_freq or save_best_only"

    def schedule(self, setup: Setup) -> Schedule:
        return schedule(setup)

    def lr_per_update(self, setup: Setup, sched: Schedule, updates: np.ndarray) -> np.ndarray:
        return lr_per_update(setup, sched, updates)

    def warmup_updates(self, setup: Setup, sched: Schedule) -> int:
        """Update k reads the micro-batch counter at k * A - 1: warmup ends at update ceil((w + 1) / A)."""
        return -(-(int(setup.warmup_steps) + 1) // sched.grad_accum) - 1


    # -- words: ceil(N / B) batches, windows across epochs ---------------------------------
    def batch_terms(self, plan) -> list[Term]:
        s, sched = plan.setup, plan.schedule
        remark = "Keras keeps the last, short batch."
        if s.steps_per_epoch is not None and s.steps_per_epoch < sched.batches_per_pass:
            return [Term("batches_per_pass", "batches per pass", tex_ceil(s.dataset_size, s.batch_size), sched.batches_per_pass, remark)]
        return [Term("batches_per_epoch", "batches per epoch", tex_ceil(s.dataset_size, s.batch_size), plan.batches_per_epoch_full, remark)]

    def step_terms(self, plan) -> list[Term]:
        s, batches = plan.setup, plan.schedule.batches
        values, counts = np.unique(batches, return_counts=True)
        expression = " + ".join(rf"{tex(int(counts[i]))} \times {tex(int(values[i]))}" for i in np.argsort(-values))
        micro = int(batches.sum())
        remark = plural(len(batches), "epoch") + (" (the default)" if s.epochs is None else "")
        if s.steps_per_epoch:
            remark += "; the data iterator is not restarted between epochs, so an epoch takes at most steps_per_epoch batches"
        total = plan.planned_optimizer_steps
        if s.grad_accum == 1:
            return [Term("total_steps", "total steps", expression, total, remark + "; one optimizer step per batch.")]
        return [
            Term("batches_in_run", "batches in the run", expression, micro, remark + "."),
            Term("total_steps", "total steps", tex_floor(micro, s.grad_accum), total,
                 "Accumulation windows run across epoch ends; a leftover at the very end is never applied."),
        ]  # fmt: skip

    def batches_help(self, plan) -> str:
        s, nominal = plan.setup, plan.schedule.nominal_batches
        if len(nominal) and nominal.min() != nominal.max():
            return (
                f"steps_per_epoch={fmt(s.steps_per_epoch)} batches, except where the data runs out: "
                "Keras does not restart the iterator between epochs."
            )
        return f"{plural(s.dataset_size, 'sample')} in batches of {fmt(s.batch_size)}; Keras keeps the last, short batch."

    def leftover(self, plan) -> str | None:
        s, sched = plan.setup, plan.schedule
        A, tail, steps = s.grad_accum, int(sched.batches.sum()) % s.grad_accum, sched.steps
        sentence = "Keras' accumulation windows run across epoch ends"
        if steps.min() != steps.max():
            sentence += f", so the steps per epoch vary ({fmt(int(steps.min()))}-{fmt(int(steps.max()))})"
        if tail == 1:
            return sentence + f"; the run's last batch never completes a window of {fmt(A)}, so its gradient is never applied."
        if tail:
            return sentence + f"; the run's last {fmt(tail)} batches never complete a window of {fmt(A)}, so their gradients are never applied."
        return sentence + "; every window completes."

    def cadence_words(self, setup: Setup) -> str:
        v = setup.validation_freq
        if isinstance(v, tuple):
            return f"a validation after epochs {', '.join(fmt(e) for e in v)} (validation_freq={list(v)})"
        return "a validation at the end of every epoch" if v == 1 else f"a validation at the end of every {ordinal(v)} epoch (validation_freq={v})"

    def steps_reason(self, plan) -> tuple[str, str] | None:
        s, L = plan.setup, plan.batches_per_epoch_full
        if s.grad_accum > 1 and L % s.grad_accum:
            return "its accumulation windows run across epoch ends", "Keras' accumulation windows run across epoch ends"
        return None

    # -- translation -----------------------------------------------------------------------
    def cadence(self, setup: Setup, plan) -> Cadence:
        v = setup.validation_freq
        if isinstance(v, tuple):
            return ("epoch_list", v)
        per_pass = loading.keras_arrays(setup.dataset_size, setup.batch_size).batches
        if setup.steps_per_epoch is not None and setup.steps_per_epoch < per_pass:
            return ("batches", v * setup.steps_per_epoch, False)  # a Keras "epoch" here is steps_per_epoch batches
        return ("epoch", v)

    def export_values(self, setup: Setup, plan, values: dict, notes: list[Note]) -> None:
        if setup.steps_per_epoch is not None and plan is not None:
            sched = plan.schedule
            batches = int(sched.batches.sum())
            if batches < sched.batches_per_pass * len(sched.batches):
                values["max_steps"], values["epochs"] = max(1, -(-batches // setup.grad_accum)), None
                notes.append(Note("steps_per_epoch",
                                  f"steps_per_epoch={fmt(setup.steps_per_epoch)} over {plural(len(sched.batches), 'epoch')} = {fmt(batches)} batches: max_steps={fmt(values['max_steps'])}."))  # fmt: skip
        if setup.start_from_epoch:
            notes.append(Note("start_from_epoch", "start_from_epoch is Keras-only: early stopping checks from the first evaluation."))

    def import_values(self, values: dict, notes: list[Note]) -> str | None:
        counts = ("planned steps", "batches per epoch", "samples dropped")
        if values["devices"] > 1:
            global_batch = values["batch_size"] * values["devices"]
            if global_batch > MAX_BATCH_SIZE:
                return f"a global batch of {fmt(global_batch)} is more than {fmt(MAX_BATCH_SIZE)}"
            notes.append(Note("global_batch", f"global batch_size = {fmt(values['batch_size'])} x {fmt(values['devices'])} devices = {fmt(global_batch)}.",
                              (f"it takes the global batch of {fmt(global_batch)}", f"Keras takes the global batch of {fmt(global_batch)}"), counts[:2]))  # fmt: skip
            values["batch_size"], values["devices"] = global_batch, 1
        if values["drop_last"]:
            notes.append(Note("no_drop_last", "no drop_last: the last, short batch is kept.", ("it has no drop_last", "Keras has no drop_last"), counts))
            values["drop_last"] = False
        if values["max_steps"] is not None:
            per_pass = loading.keras_arrays(values["dataset_size"], values["batch_size"]).batches
            needed = max(1, -(-values["max_steps"] * values["grad_accum"] // per_pass))
            reason = ("it has no max_steps", "Keras has no max_steps"), ("planned steps", "evaluations")
            if values["epochs"] is None or needed < values["epochs"]:
                values["epochs"] = needed
                notes.append(Note("no_max_steps", f"no max_steps: {plural(needed, 'whole epoch')} instead of max_steps={fmt(values['max_steps'])}.", *reason))
            else:
                notes.append(Note("no_max_steps", f"no max_steps (max_steps={fmt(values['max_steps'])} would not cut {plural(int(values['epochs']), 'epoch')}).", *reason))
            values["max_steps"] = None
        return super().import_values(values, notes)

    def adopt_cadence(self, values: dict, cadence: Cadence, notes: list[Note]) -> None:
        if cadence is None:
            return
        if cadence[0] in ("epoch", "epoch_list"):
            values["validation_freq"] = cadence[1]
            return
        notes.append(Note("epoch_only_eval", "Keras validates only at epoch ends: once per epoch.",
                          ("it validates only at epoch ends", "Keras validates only at epoch ends"), ("evaluations",)))  # fmt: skip


CONVENTION = KerasFit()
