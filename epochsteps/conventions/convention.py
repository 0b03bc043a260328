"""A framework convention: its facts, its counting rules and the words that explain them.

`Convention` is the interface the plan, the text, the quiz, the page and the training lab
use to ask about a framework; nothing outside `epochsteps.conventions` compares framework
names. The methods here are the words of the PyTorch DataLoader family (a loader per
device, fed by `DistributedSampler` when there are several devices, whose accumulation
windows restart every epoch); each framework's package subclasses it and overrides what it
does differently. A sentence phrases the plan's numbers (or a what-if plan's) and never
re-derives a count.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar

import numpy as np

from .. import loading
from ..setup import LR_SCHEDULES, Setup, SetupError
from ..text import fmt, plural, tex, tex_ceil, tex_floor
from .codegen import epochs_of

if TYPE_CHECKING:  # the plan module imports the conventions
    from ..plan import Plan
    from .base import Schedule

UNIVERSAL = (
    "dataset_size",
    "batch_size",
    "epochs",
    "max_steps",
    "grad_accum",
    "devices",
    "drop_last",
    "patience",
    "min_delta",
    "mode",
    "metrics",
    "tokens",
    "seconds_per_step",
    "samples_per_second",
)  # the inputs every convention has a word for (translation keeps them)
SHARED = frozenset(("dataset_size", "batch_size", "epochs", "grad_accum", "patience", "min_delta", "mode", "metrics", "lr_schedule", "lr", "warmup_steps"))
LOADER = frozenset(("max_steps", "devices", "drop_last"))  # a DataLoader per device, and a step budget


@dataclass(frozen=True)
class Term:
    """One line of the formula: `label = expression = value`."""

    key: str  # samples_per_device | global_batches | batches_per_epoch | batches_per_pass | steps_per_epoch | batches_in_run | total_steps | stop_step
    label: str
    expression: str  # LaTeX with the user's numbers; "" when the value stands alone
    value: int
    remark: str = ""  # plain text explaining the line (a caption under the formula)


@dataclass(frozen=True)
class Note:
    """One adaptation made when a setup is written in another framework's terms.

    `reason` is how a comparison explains the numbers it changes (in `columns`): a phrase about
    "it" and the same naming the framework."""

    kind: str
    text: str
    reason: tuple[str, str] | None = None
    columns: tuple[str, ...] = ()


# An evaluation cadence in neutral terms, for translating between frameworks:
# ("epoch", n), ("steps", k), ("batches", k, per_epoch), ("fraction", f, n), ("epoch_list", epochs) or None.
Cadence = tuple | None


class Convention:
    """The PyTorch DataLoader family's facts and words; a framework's package overrides what differs."""

    name: str = ""
    label: str = ""  # short, for tables and tabs
    title: str = ""  # the framework's full name, for sentences
    default_epochs: float = 1
    default_lr: float = 1e-3  # the learning rate its code uses when none is given
    owns: frozenset[str] = SHARED | LOADER  # the Setup fields this framework has an argument for
    epochs_arg: str = "epochs"  # its own name for the epoch count
    fractional_epochs: bool = False  # accepts 2.5 epochs
    max_steps_overrides: bool = False  # max_steps replaces the epoch count (else whichever comes first ends the run)
    warmup_ratio: bool = False  # a warmup below 1 is a ratio of the run
    warmup_in_batches: bool = False  # warmup counts micro-batches, not optimizer steps
    lr_schedules: tuple[str, ...] = LR_SCHEDULES
    divides_loss_by_window: bool = False  # a short window's loss is divided by its real size (else by the accumulation)
    writes_the_loop: bool = False  # the user calls scheduler.step() where they like (the StepLR-per-batch bug)
    variant_of: str | None = None  # a convention that differs from another only with accumulation
    patience_rule: str = "needs more than min_delta"  # how its early stopping compares, as a phrase
    no_batches: str = "the loop body never runs and no optimizer step is taken"  # what happens when no batch reaches a device
    no_checkpoint: str = "a hand-written loop saves only where it calls torch.save; save_every_steps models a save every K steps"
    log_unit: str = "optimizer steps"  # what its training-loss log interval counts
    argument_labels: ClassVar[dict[str, str]] = {}  # the page's labels for its own arguments
    argument_placeholders: ClassVar[dict[str, str]] = {}  # what an empty box of its own means
    early_stopping: ClassVar[type]  # the early-stopping rule: update(value, epoch) -> (stop, new best)
    reads_logs: ClassVar[bool] = False  # its package has a log.py that reads what the framework prints

    # -- rules ---------------------------------------------------------------------------
    def schedule(self, setup: Setup) -> Schedule:
        raise NotImplementedError

    def lr_per_update(self, setup: Setup, sched: Schedule, updates: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def saving(self, setup: Setup, sched: Schedule, run):
        """When the run writes checkpoints and training-loss logs (`moments.Saving`), from the package's saving.py."""
        return self._part("saving").saving(setup, sched, run)

    def stop(self, setup: Setup, sched: Schedule, rule):
        """Where early stopping ends the run when that is not simply the check that fired (`moments.Stopped`), else None."""
        return None

    def warmup_updates(self, setup: Setup, sched: Schedule) -> int:
        """Optimizer steps that run below the full rate (a per-step LambdaLR: update k uses k - 1)."""
        return int(setup.warmup_steps)

    def snippet(self, setup: Setup, plan: Plan | None, original: Setup) -> list[str]:
        """The code the page shows for `setup` (the user's own setup is `original`), from the package's code.py."""
        return self._part("code").snippet(setup, plan, original)

    def runnable(self, setup: Setup, plan: Plan) -> str:
        """A complete one-device script whose last line is what the framework itself counted."""
        return self._part("code").runnable(setup, plan)

    @property
    def log(self):
        """Reads what the framework prints (`evidence(lines)`, `read(lines)`): the package's log.py, if it has one."""
        return self._part("log") if self.reads_logs else None

    def _part(self, name: str):
        """A module of this convention's package, loaded when first asked for (they import its rules)."""
        return importlib.import_module(f"{type(self).__module__}.{name}")

    def epochs(self, setup: Setup) -> float | None:
        """The epoch count this framework runs `setup` with; None when only max_steps bounds it."""
        if "max_steps" not in self.owns:
            return self.default_epochs if setup.epochs is None else setup.epochs
        return epochs_of(setup, self.default_epochs)

    def with_evaluations(self, setup: Setup) -> Setup:
        """`setup` with the evaluations early stopping needs (most frameworks evaluate by default)."""
        return setup

    def fix_values(self, values: dict, notices: list[str]) -> None:
        """Page values this framework cannot take, moved to the nearest it can (each said in `notices`)."""
        if values.get("lr_schedule", "none") not in ("none", *self.lr_schedules):
            notices.append(
                f"lr_schedule={values['lr_schedule']}: {self.title} has no built-in schedule of this form: using {self.lr_schedules[-1]}"
            )
            values["lr_schedule"] = self.lr_schedules[-1]
        warm = values.get("warmup_steps") or 0.0
        if values.get("lr_schedule", "none") != "none" and warm and not self.warmup_ratio and not float(warm).is_integer():
            whole = float(round(warm))
            why = "a warmup ratio below 1 is an HF notion" if warm < 1 else "warmup counts whole steps"
            notices.append(f"warmup_steps={fmt(warm)}: {why} here: using {fmt(whole)}")
            values["warmup_steps"] = whole

    # -- the formula -----------------------------------------------------------------------
    def batch_terms(self, plan: Plan) -> list[Term]:
        """How a device's batches per epoch come about: DistributedSampler pads every device to
        the same share, then each device's loader batches it."""
        s = plan.setup
        rounding = tex_floor if s.drop_last else tex_ceil
        remark = "drop_last drops the short batch." if s.drop_last else "The last batch may be short."
        L = plan.batches_per_epoch_full
        if s.devices == 1:
            return [Term("batches_per_epoch", "batches per epoch", rounding(s.dataset_size, s.batch_size), L, remark)]
        share = loading.distributed_share(s.dataset_size, s.devices)
        return [
            Term(
                "samples_per_device",
                "samples per device",
                tex_ceil(s.dataset_size, s.devices),
                share,
                "DistributedSampler pads every device to the same share.",
            ),
            Term("batches_per_epoch", "batches per device", rounding(share, s.batch_size), L, remark),
        ]

    def steps_per_epoch_term(self, plan: Plan) -> Term:
        """The last batch of an epoch always steps: ceil(L / A) steps per epoch."""
        s, L = plan.setup, plan.batches_per_epoch_full
        U = plan.schedule.steps_per_full_epoch
        if s.grad_accum == 1:
            return Term("steps_per_epoch", "steps per epoch", "", U, "One optimizer step per batch.")
        remark = "The last, short window of each epoch also steps." if L % s.grad_accum else "Every window of an epoch is full."
        return Term("steps_per_epoch", "steps per epoch", tex_ceil(L, s.grad_accum), U, remark)

    def step_terms(self, plan: Plan) -> list[Term]:
        s = plan.setup
        total = plan.planned_optimizer_steps
        if not plan.batches_per_epoch_full:
            return [Term("total_steps", "total steps", "", total, f"No batch reaches a device: {self.no_batches}.")]
        terms = [self.steps_per_epoch_term(plan)]
        epochs = self.epochs(s)
        if s.max_steps is not None and self.max_steps_overrides:
            remark = f"max_steps overrides {self.epochs_arg}={fmt(s.epochs)}." if s.epochs is not None else "max_steps sets the length of the run."
            return [*terms, Term("total_steps", "total steps", "", total, remark)]
        if epochs is None:
            return [*terms, Term("total_steps", "total steps", "", total, "max_steps sets the length of the run (no epoch limit).")]
        product = rf"{tex(epochs)} \times {tex(plan.schedule.steps_per_full_epoch)}"
        if epochs != int(epochs):
            product = rf"\left\lceil {product} \right\rceil"
        remark = plural(epochs, "epoch") + (" (the default)" if s.epochs is None else "")
        if s.max_steps is not None:
            expression, remark = rf"\min({tex(s.max_steps)}, {product})", remark + ", or max_steps if it comes first."
        else:
            expression, remark = product, remark + "."
        return [*terms, Term("total_steps", "total steps", expression, total, remark)]

    # -- cards -------------------------------------------------------------------------------
    def batches_help(self, plan: Plan) -> str:
        s = plan.setup
        if s.devices == 1:
            return f"len(dataloader): {plural(s.dataset_size, 'sample')} in batches of {fmt(s.batch_size)}."
        share = loading.distributed_share(s.dataset_size, s.devices)
        return (
            f"len(dataloader) per device: DistributedSampler gives each of the {fmt(s.devices)} devices "
            f"{plural(share, 'sample')}, cut into batches of {fmt(s.batch_size)}."
        )

    def last_batch_help(self, plan: Plan) -> str:
        s = plan.setup
        last = plan.schedule.last_batch_size
        if s.drop_last:
            return "drop_last keeps only full batches."
        if last < s.batch_size:
            full = plan.schedule.batches_per_pass - 1
            per_device = " on each device" if s.devices > 1 else ""
            return f"{fmt(last)} = what is left after {plural(full, 'full batch', 'full batches')}{per_device}."
        return "The batches divide the data evenly."

    # -- sentences ---------------------------------------------------------------------------
    def empty_sentence(self, plan: Plan) -> str:
        """Why no batch reaches a device (drop_last with less than one batch per device)."""
        s = plan.setup
        if s.devices == 1:
            head = f"{plural(s.dataset_size, 'sample')} do not fill one batch of {fmt(s.batch_size)} with drop_last on"
        else:
            share = loading.distributed_share(s.dataset_size, s.devices)
            head = (
                f"Each device's share of {plural(share, 'sample')} (DistributedSampler, {fmt(s.devices)} devices) "
                f"does not fill one batch of {fmt(s.batch_size)} with drop_last on"
            )
        return f"{head}: {self.no_batches}."

    def device_share(self, plan: Plan) -> str:
        s = plan.setup
        share = loading.distributed_share(s.dataset_size, s.devices)
        return (
            f"With {fmt(s.devices)} devices DistributedSampler gives each one its own {plural(share, 'sample')} per epoch "
            f"(padded so all shares are equal) and each device batches its share; one optimizer step uses "
            f"{fmt(s.batch_size)} x {fmt(s.devices)} x {fmt(s.grad_accum)} = {fmt(plan.effective_batch_size)} samples."
        )

    def leftover(self, plan: Plan) -> str | None:
        """The accumulation window at the end of an epoch, when it is short."""
        s, L = plan.setup, plan.batches_per_epoch_full
        left = L % s.grad_accum
        if not left:
            return None
        return (
            f"Each epoch ends with a short window of {plural(left, 'batch', 'batches')} (not {fmt(s.grad_accum)}); "
            f"it still takes a step, so an epoch has {plural(plan.schedule.steps_per_full_epoch, 'step')}."
        )

    def no_step(self, plan: Plan) -> str:
        """Why a run with batches takes no optimizer step (only a loop that never steps a leftover window can)."""
        return "No optimizer step is ever taken."

    def who(self, grad_accum: int) -> str:
        """The convention as a comparison names it."""
        return self.label

    def cadence_words(self, setup: Setup) -> str:
        """When it evaluates, as a prompt or a sentence says it."""
        return "an evaluation at the end of every epoch"

    def default_cadence_note(self, setup: Setup) -> str | None:
        """What the plan assumes about evaluation that the framework itself would not do unasked."""
        return None

    # -- why its numbers differ from another convention's ----------------------------------
    def sharding_reason(self, setup: Setup) -> tuple[str, str]:
        phrase = "DistributedSampler splits the samples before each device batches its share"
        return phrase, phrase

    def steps_reason(self, plan: Plan) -> tuple[str, str] | None:
        """Why its planned steps differ, as (a phrase about "it", the same naming it)."""
        return None

    def evaluation_reasons(self, plan: Plan) -> list[tuple[str, str]]:
        return []

    def try_changes(self, plan: Plan) -> list[tuple[str, dict]]:
        """Changes worth trying that only this convention suggests."""
        return []

    # -- translation -----------------------------------------------------------------------
    def cadence(self, setup: Setup, plan: Plan | None) -> Cadence:
        """This setup's evaluation cadence in neutral terms (None: the convention's default)."""
        return None

    def export_values(self, setup: Setup, plan: Plan | None, values: dict, notes: list[Note]) -> None:
        """Rewrite `values` (the UNIVERSAL inputs of `setup`) so other frameworks mean the same run."""

    def import_values(self, values: dict, notes: list[Note]) -> str | None:
        """Adapt another framework's values to what this one can express (the way its users do);
        an input it cannot take at all is returned as the refusal."""
        self._whole_epochs(values, notes)
        return None

    def adopt_cadence(self, values: dict, cadence: Cadence, notes: list[Note]) -> None:
        """Express another framework's cadence with this one's arguments."""
        raise NotImplementedError

    def carry_warmup(self, source: Convention, setup: Setup, plan: Plan, grad_accum: int) -> tuple[float, str | None]:
        """`setup`'s warmup in this framework's units, with a note when it had to be converted."""
        warmup, note = setup.warmup_steps, None
        if source.warmup_ratio and 0 < warmup < 1 and not self.warmup_ratio:
            from ..schedules import hf_warmup_steps

            warmup = hf_warmup_steps(warmup, plan.planned_optimizer_steps)
            note = f"warmup_steps={fmt(setup.warmup_steps)} of the steps = {plural(warmup, 'step')}."
        if self.warmup_in_batches and not source.warmup_in_batches and warmup and grad_accum > 1:
            warmup = int(warmup) * grad_accum
            note = f"{self.title} counts warmup in batches: {fmt(warmup)} (= steps x accumulation {fmt(grad_accum)})."
        elif source.warmup_in_batches and not self.warmup_in_batches and warmup and setup.grad_accum > 1:
            warmup = max(1, int(warmup) // setup.grad_accum)
            note = f"warmup in optimizer steps: {fmt(warmup)} ({source.title} counted {fmt(int(setup.warmup_steps))} batches)."
        return warmup, note

    def _whole_epochs(self, values: dict, notes: list[Note]) -> None:
        """A fractional epoch count where only whole epochs exist: the next whole epoch, cut by
        max_steps where the framework has one."""
        epochs = values["epochs"]
        if self.fractional_epochs or epochs is None or epochs == int(epochs):
            return
        whole = int(np.ceil(epochs))
        reason, columns = ("it counts whole epochs only", f"{self.label} counts whole epochs only"), ("planned steps", "evaluations")
        U = steps_per_epoch_of({**values, "epochs": whole}, self.name) if "max_steps" in self.owns else None
        if U is None:
            notes.append(Note("whole_epochs", f"whole epochs only: {fmt(epochs)} rounded up to {fmt(whole)}.", reason, columns))
        else:
            cap = max(1, int(np.ceil(epochs * U)))
            if values["max_steps"] is None or cap < values["max_steps"]:
                values["max_steps"] = cap
            text = f"whole epochs only: epochs={fmt(whole)} with max_steps={fmt(values['max_steps'])} for {fmt(epochs)} epochs."
            notes.append(Note("whole_epochs", text, reason, columns))
        values["epochs"] = whole


def steps_per_epoch_of(values: dict, framework: str) -> int | None:
    """Steps of a full epoch under `framework` for these values (evaluation knobs aside), when all full epochs agree."""
    from ..plan import make_plan

    probe = {k: values[k] for k in UNIVERSAL if k in values}
    probe.update(patience=None, metrics=(), framework=framework)
    try:
        p = make_plan(Setup(**probe))
    except SetupError:
        return None
    full = p.schedule.batches == p.schedule.nominal_batches
    if not full.any():
        return None
    steps = p.schedule.steps[full]
    return int(steps[0]) if steps.min() == steps.max() else None


def adopt_cadence_in_steps(c: Convention, values: dict, cadence: Cadence, notes: list[Note], epoch_native: bool) -> None:
    """Another framework's cadence in optimizer steps (eval_every_steps), for conventions that
    evaluate every k steps; `epoch_native`: it also evaluates once per epoch by itself."""
    if cadence is None:
        if epoch_native or values.get("patience") is None:
            return
        cadence = ("epoch", 1)  # early stopping needs evaluations: once per epoch, as the source does
    A = values["grad_accum"]
    kind = cadence[0]
    if kind == "epoch_list":
        notes.append(Note("eval_list", f"validation_freq={list(cadence[1])} has no counterpart: evaluating once per epoch."))
        cadence, kind = ("epoch", 1), "epoch"
    if kind == "epoch":
        n = cadence[1]
        if epoch_native and n == 1:
            return
        U = steps_per_epoch_of(values, c.name)
        if U:
            values["eval_every_steps"] = n * U
            every = "once per epoch" if n == 1 else f"every {fmt(n)} epochs"
            notes.append(Note("eval_steps_epoch", f"evaluates every {plural(n * U, 'step')} (= {every})."))
        elif values.get("patience") is not None:
            notes.append(Note("no_eval", "no whole number of steps matches an epoch here: no evaluation, so no early stopping."))
            values["patience"], values["metrics"] = None, ()
    elif kind == "steps":
        values["eval_every_steps"] = cadence[1]
    elif kind == "batches":
        steps = max(1, cadence[1] // A)
        values["eval_every_steps"] = steps
        notes.append(Note("eval_approx", f"every {fmt(cadence[1])} batches ≈ every {plural(steps, 'optimizer step')}."))
    elif kind == "fraction":
        U = steps_per_epoch_of(values, c.name)
        if U:
            steps = max(1, int(U * cadence[1]))
            values["eval_every_steps"] = steps
            notes.append(Note("eval_approx", f"val_check_interval={fmt(cadence[1])} of an epoch ≈ every {plural(steps, 'optimizer step')}."))
