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
from ...text import fmt, plural, tex_ceil, tex_floor
from ..base import Events, Schedule, epoch_end_events, epoch_windows, foreign_knobs, refuse, step_events
from ..convention import LOADER, SHARED, Cadence, Convention, Note, Term, adopt_cadence_in_steps
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
            "check_val_every_n_epoch": "check_val_every_n_epoch is Lightning's; the Trainer evaluates with eval_strategy='epoch' (this plan's default) or 'steps' (use eval_every_steps)",
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
    return Schedule.of(
        setup,
        load,
        batches,
        steps,
        evaluations,
        lr_horizon=total,
        steps_per_full_epoch=per_epoch if load.batches else 0,
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


from .saving import KNOBS as SAVING_KNOBS  # noqa: E402 - after the rules saving.py imports


class HFTrainer(Convention):
    name, label, title = "hf", "HF Trainer", "the Hugging Face Trainer"
    default_epochs = DEFAULT_EPOCHS
    default_lr = 5e-5  # TrainingArguments.learning_rate
    owns = SHARED | LOADER | {"eval_every_steps"} | SAVING_KNOBS
    epochs_arg = "num_train_epochs"
    fractional_epochs = True
    max_steps_overrides = True
    warmup_ratio = True
    divides_loss_by_window = True  # `_run_epoch`: current_gradient_accumulation_steps = len(batch_samples)
    patience_rule = "compares each value with the best so far and needs more than the threshold"
    no_batches = "the Trainer runs one empty epoch and takes no optimizer step"
    argument_labels = {
        "eval_every_steps": "eval_steps with eval_strategy='steps' (below 1: a ratio of the run; empty: every epoch)",
        "warmup_steps": "Warmup steps (below 1: a ratio of the run)",
    }
    argument_placeholders = {
        "eval_every_steps": "every epoch",
        "eval_strategy": "epoch, or steps with eval_steps (the Trainer's own default: no)",
        "save_strategy": "steps (default)",
        "save_steps": "500 (default)",
        "logging_strategy": "steps (default)",
        "logging_steps": "500 (default)",
    }
    early_stopping = EarlyStopping
    reads_logs = True
    no_checkpoint = "save_strategy='no' writes none"

    def schedule(self, setup: Setup) -> Schedule:
        return schedule(setup)

    def lr_per_update(self, setup: Setup, sched: Schedule, updates: np.ndarray) -> np.ndarray:
        return lr_per_update(setup, sched, updates)

    def warmup_updates(self, setup: Setup, sched: Schedule) -> int:
        return schedules.hf_warmup_steps(setup.warmup_steps, sched.lr_horizon)


    def fix_values(self, values: dict, notices: list[str]) -> None:
        every = values.get("eval_every_steps")
        if every is not None and every > 1 and not float(every).is_integer():
            notices.append(f"eval_every_steps={fmt(every)}: the HF Trainer needs a whole number above 1 (or a ratio below 1): using {round(every)}")
            values["eval_every_steps"] = float(round(every))
        super().fix_values(values, notices)

    # -- words: accelerate deals whole batches to the devices ----------------------------------
    def batch_terms(self, plan) -> list[Term]:
        s = plan.setup
        if s.devices == 1:
            return super().batch_terms(plan)
        rounding = tex_floor if s.drop_last else tex_ceil
        global_batches = loading.torch_dataloader(s.dataset_size, s.batch_size, s.drop_last).batches
        remark = "Whole batches are dealt to the devices" + (
            "; the leftover ones are dropped." if s.drop_last else "; the last round is topped up from the start of the data."
        )
        return [
            Term("global_batches", "global batches", rounding(s.dataset_size, s.batch_size), global_batches,
                 "The Trainer (accelerate) cuts the data into batches first."),
            Term("batches_per_epoch", "batches per device", rounding(global_batches, s.devices), plan.batches_per_epoch_full, remark),
        ]  # fmt: skip

    def batches_help(self, plan) -> str:
        s = plan.setup
        if s.devices == 1:
            return super().batches_help(plan)
        global_batches = loading.torch_dataloader(s.dataset_size, s.batch_size, s.drop_last).batches
        return (
            f"len(dataloader) per device: accelerate cuts the {plural(s.dataset_size, 'sample')} into "
            f"{plural(global_batches, 'batch', 'batches')} of {fmt(s.batch_size)} and deals them to the {fmt(s.devices)} devices in turn."
        )

    def last_batch_help(self, plan) -> str:
        s = plan.setup
        if s.devices > 1 and not s.drop_last:
            return "accelerate tops the last round of batches up from the start of the data, so every batch is full."
        return super().last_batch_help(plan)

    def empty_sentence(self, plan) -> str:
        s = plan.setup
        if s.devices == 1:
            return super().empty_sentence(plan)
        global_batches = loading.torch_dataloader(s.dataset_size, s.batch_size, s.drop_last).batches
        return (
            f"{plural(s.dataset_size, 'sample')} make {plural(global_batches, 'full batch', 'full batches')} of {fmt(s.batch_size)} "
            f"with drop_last on, fewer than one for each of the {fmt(s.devices)} devices: the Trainer runs one empty epoch and takes no optimizer step."
        )

    def device_share(self, plan) -> str:
        s = plan.setup
        global_batches = loading.torch_dataloader(s.dataset_size, s.batch_size, s.drop_last).batches
        per_device = int(plan.samples_per_epoch[0]) // s.devices if plan.epochs_started else 0
        return (
            f"With {fmt(s.devices)} devices the Trainer (accelerate) cuts the data into {plural(global_batches, 'batch', 'batches')} "
            f"of {fmt(s.batch_size)} and deals them to the devices in turn, so each device runs "
            f"{plural(plan.batches_per_epoch_full, 'batch', 'batches')} ({plural(per_device, 'sample')}) per epoch; "
            f"one optimizer step uses {fmt(s.batch_size)} x {fmt(s.devices)} x {fmt(s.grad_accum)} = {fmt(plan.effective_batch_size)} samples."
        )

    def cadence_words(self, setup: Setup) -> str:
        v = setup.eval_every_steps
        if v is None:
            return 'an evaluation at the end of every epoch (eval_strategy="epoch")'
        if v < 1:
            return f'eval_strategy="steps" with eval_steps={fmt(v)}, a ratio of the run\'s optimizer steps'
        return f"an evaluation every {plural(int(v), 'optimizer step')}"

    def default_cadence_note(self, setup: Setup) -> str | None:
        if setup.eval_every_steps is None:
            return 'eval_strategy="epoch" assumed; the Trainer\'s own default, "no", never evaluates'
        return None

    def sharding_reason(self, setup: Setup) -> tuple[str, str]:
        phrase = "accelerate deals whole global batches to the devices" + ("" if setup.drop_last else " and tops up the last round")
        return phrase, "the HF Trainer's " + phrase

    def steps_reason(self, plan) -> tuple[str, str] | None:
        s = plan.setup
        if s.max_steps is not None and s.epochs is not None:
            return "max_steps overrides num_train_epochs", "the HF Trainer's max_steps overrides num_train_epochs"
        return None

    def evaluation_reasons(self, plan) -> list[tuple[str, str]]:
        s, sched = plan.setup, plan.schedule
        out = []
        if s.eval_every_steps is None and len(sched.batches) and sched.batches[-1] < sched.nominal_batches[-1]:
            out.append(("it also evaluates at the end of the cut last epoch", "the HF Trainer also evaluates at the end of the cut last epoch"))
        if s.eval_every_steps is not None and len(sched.evaluations) and plan.planned_optimizer_steps % eval_steps(s.eval_every_steps, sched.lr_horizon):
            out.append(("it also evaluates at the final step", "the HF Trainer also evaluates at the final step"))
        return out

    # -- translation -----------------------------------------------------------------------
    def cadence(self, setup: Setup, plan) -> Cadence:
        v = setup.eval_every_steps
        if v is None:
            return ("epoch", 1)
        if v < 1:
            return None if plan is None else ("steps", eval_steps(v, plan.schedule.lr_horizon))
        return ("steps", int(v))

    def adopt_cadence(self, values: dict, cadence: Cadence, notes: list[Note]) -> None:
        adopt_cadence_in_steps(self, values, cadence, notes, epoch_native=True)


CONVENTION = HFTrainer()
