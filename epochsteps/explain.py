"""Words and tables for the page, computed from the core's numbers.

Everything here reads a `Plan` (or makes plans from a `Setup`) and turns it into text:
the formula with the user's numbers, metric cards, takeaways, a "try this" prompt, the
framework translator and code snippets. No counting rule lives here: batches and steps
come from `make_plan` and the conventions' own functions, and the tests check that
every number written equals the plan's. Pure Python; no Streamlit, no Altair.
"""

from __future__ import annotations

import math
from collections import OrderedDict
from dataclasses import dataclass
from functools import lru_cache
from typing import NamedTuple

import numpy as np
import pandas as pd

from . import loading
from .conventions import CONVENTIONS, LABELS
from .conventions import hf as hf_rules
from .conventions import lightning as lightning_rules
from .conventions import pytorch as pytorch_rules
from .plan import Plan, make_plan
from .schedules import hf_warmup_steps
from .setup import FRAMEWORKS, MAX_BATCH_SIZE, Setup, SetupError
from .text import fmt, plural, tex

TORCH_LIKE = ("pytorch", "pytorch-flush", "lightning")
GLOSSARY: dict[str, str] = {
    "epoch": "One pass over the training data (each device's shard of it). With max_steps or a fractional epoch count the last epoch can stop part way.",
    "batch": "The samples processed together in one forward and backward pass on one device; its size is batch_size.",
    "micro-batch": "A batch when gradient accumulation is on: several micro-batches add their gradients before one optimizer step.",
    "iteration": "An ambiguous word: one batch in a PyTorch loop or Keras' progress bar, one optimizer step in the HF Trainer's logs. This page says batch or optimizer step instead.",
    "optimizer step": "One parameter update (optimizer.step()). With gradient accumulation A it takes A batches.",
    "global step": "The number of optimizer steps taken so far in the whole run (HF state.global_step, Lightning trainer.global_step); the x axis of the timeline.",
    "effective batch": "Samples behind one optimizer step: batch size x devices x gradient accumulation.",
    "batches per epoch": "len(dataloader) on one device: ceil(samples / batch), or floor with drop_last, after the samples are split across devices.",
    "drop_last": "Skip the last, short batch of each epoch instead of running it; its samples are not used in that epoch.",
    "gradient accumulation": "Run A batches, adding up their gradients, then take one optimizer step: the effective batch grows A times, the steps shrink A times. Frameworks differ on a leftover window at the end of an epoch.",
}

SCOPE = (
    "An exact calculator of batches, optimizer steps, evaluations, early stopping and learning-rate schedules as "
    "PyTorch loops, the HF Trainer, Lightning and Keras count them, plus a tiny real training lab; it does not "
    "model data-loading speed, mixed precision, memory, throughput or how well a model learns."
)


# -- the formula -----------------------------------------------------------------------


@dataclass(frozen=True)
class Term:
    """One line of the formula: `label = expression = value`."""

    key: str  # samples_per_device | global_batches | batches_per_epoch | batches_per_pass | steps_per_epoch | batches_in_run | total_steps | stop_step
    label: str
    expression: str  # LaTeX with the user's numbers; "" when the value stands alone
    value: int
    remark: str = ""  # plain text explaining the line (a caption under the formula)


def _frac(kind: str, a: int, b: int) -> str:
    return rf"\left\{kind} \frac{{{tex(a)}}}{{{tex(b)}}} \right\r{kind[1:]}"


def _ceil(a: int, b: int) -> str:
    return _frac("lceil", a, b)


def _floor(a: int, b: int) -> str:
    return _frac("lfloor", a, b)


def steps_per_full_epoch(plan: Plan) -> int:
    """Optimizer steps a full epoch takes (windows restart every epoch; not Keras)."""
    s, L = plan.setup, plan.batches_per_epoch_full
    if s.framework in ("pytorch", "pytorch-flush"):
        return pytorch_rules.steps_per_epoch(L, s.grad_accum, flush=s.framework == "pytorch-flush")
    if s.framework == "lightning":
        return lightning_rules.steps_per_epoch(L, s.grad_accum)
    if s.framework == "hf":
        return hf_rules.steps_per_epoch(L, s.grad_accum) if L else 0
    raise ValueError("Keras' accumulation windows run across epochs: steps per epoch vary")


def _planned_steps(setup: Setup) -> int | None:
    """The framework's own planned total for a setup, or None where it refuses it."""
    try:
        return make_plan(setup).planned_optimizer_steps
    except SetupError:
        return None


def _resolved_epochs(setup: Setup) -> float | None:
    """The epoch count the framework uses, None when only max_steps bounds the run."""
    return CONVENTIONS[setup.framework].epochs(setup)


def formula_terms(plan: Plan) -> list[Term]:
    """The lines of the formula, each with its value from the plan (or the core's loaders)."""
    s = plan.setup
    fw, N, B, W, A = s.framework, s.dataset_size, s.batch_size, s.devices, s.grad_accum
    rounding = _floor if s.drop_last else _ceil
    terms: list[Term] = []
    L = plan.batches_per_epoch_full
    if fw == "keras":
        per_pass = loading.keras_arrays(N, B).batches
        if s.steps_per_epoch is not None and s.steps_per_epoch < per_pass:
            terms.append(
                Term("batches_per_pass", "batches per pass", _ceil(N, B), per_pass, "Keras keeps the last, short batch.")
            )
        else:
            terms.append(Term("batches_per_epoch", "batches per epoch", _ceil(N, B), L, "Keras keeps the last, short batch."))
    elif W > 1 and fw == "hf":
        global_batches = loading.torch_dataloader(N, B, s.drop_last).batches
        terms.append(
            Term(
                "global_batches",
                "global batches",
                rounding(N, B),
                global_batches,
                "The Trainer (accelerate) cuts the data into batches first.",
            )
        )
        remark = "Whole batches are dealt to the devices" + (
            "; the leftover ones are dropped." if s.drop_last else "; the last round is topped up from the start of the data."
        )
        terms.append(Term("batches_per_epoch", "batches per device", rounding(global_batches, W), L, remark))
    elif W > 1:
        per_device = -(-N // W)
        terms.append(
            Term(
                "samples_per_device",
                "samples per device",
                _ceil(N, W),
                per_device,
                "DistributedSampler pads every device to the same share.",
            )
        )
        terms.append(
            Term(
                "batches_per_epoch",
                "batches per device",
                rounding(per_device, B),
                L,
                "drop_last drops the short batch." if s.drop_last else "The last batch may be short.",
            )
        )
    else:
        terms.append(
            Term(
                "batches_per_epoch",
                "batches per epoch",
                rounding(N, B),
                L,
                "drop_last drops the short batch." if s.drop_last else "The last batch may be short.",
            )
        )

    total = plan.planned_optimizer_steps
    epochs = _resolved_epochs(s)
    default_note = " (the default)" if s.epochs is None and epochs is not None else ""
    if fw == "keras":
        batches = plan.schedule.batches
        values, counts = np.unique(batches, return_counts=True)
        order = np.argsort(-values)
        expression = " + ".join(rf"{tex(int(counts[i]))} \times {tex(int(values[i]))}" for i in order)
        micro = int(batches.sum())
        run_remark = f"{plural(len(batches), 'epoch')}{default_note}" + (
            "; the data iterator is not restarted between epochs, so an epoch takes at most steps_per_epoch batches"
            if s.steps_per_epoch
            else ""
        )
        if A == 1:
            terms.append(Term("total_steps", "total steps", expression, total, run_remark + "; one optimizer step per batch."))
        else:
            terms.append(Term("batches_in_run", "batches in the run", expression, micro, run_remark + "."))
            terms.append(
                Term(
                    "total_steps",
                    "total steps",
                    _floor(micro, A),
                    total,
                    "Accumulation windows run across epoch ends; a leftover at the very end is never applied.",
                )
            )
    elif L == 0 and fw in ("hf", "lightning"):
        remark = (
            "No batch reaches a device: one empty epoch, no step."
            if fw == "hf"
            else "No training batches: Lightning starts no epoch."
        )
        terms.append(Term("total_steps", "total steps", "", total, remark))
    else:
        U = steps_per_full_epoch(plan)
        if A == 1:
            terms.append(Term("steps_per_epoch", "steps per epoch", "", U, "One optimizer step per batch."))
        elif fw == "pytorch":
            terms.append(
                Term(
                    "steps_per_epoch",
                    "steps per epoch",
                    _floor(L, A),
                    U,
                    f"The `(i + 1) % {A}` loop never steps a leftover window.",
                )
            )
        else:
            terms.append(
                Term("steps_per_epoch", "steps per epoch", _ceil(L, A), U, "The last, short window of each epoch also steps.")
            )
        if fw == "hf" and s.max_steps is not None:
            remark = (
                f"max_steps overrides num_train_epochs={fmt(s.epochs)}."
                if s.epochs is not None
                else "max_steps sets the length of the run."
            )
            terms.append(Term("total_steps", "total steps", "", total, remark))
        elif epochs is None:
            terms.append(Term("total_steps", "total steps", "", total, "max_steps sets the length of the run (no epoch limit)."))
        else:
            product = rf"{tex(epochs)} \times {tex(U)}"
            if fw == "hf" and epochs != int(epochs):
                product = rf"\left\lceil {product} \right\rceil"
            remark = f"{fmt(epochs)} epoch{'' if epochs == 1 else 's'}{default_note}"
            if s.max_steps is not None:
                terms.append(
                    Term(
                        "total_steps",
                        "total steps",
                        rf"\min({tex(s.max_steps)}, {product})",
                        total,
                        remark + ", or max_steps if it comes first.",
                    )
                )
            else:
                terms.append(Term("total_steps", "total steps", product, total, remark + "."))
    es = plan.early_stop
    if es is not None and es.stopped:
        terms.append(
            Term(
                "stop_step",
                "early stop at step",
                "",
                plan.total_optimizer_steps,
                f"Early stopping ends the run in epoch {fmt(es.stop_epoch)}.",
            )
        )
    return terms


def formula(plan: Plan) -> str:
    """Batches per epoch and total steps as LaTeX (for st.latex), with the user's numbers."""
    rows = []
    for t in formula_terms(plan):
        rhs = f"{t.expression} = {tex(t.value)}" if t.expression else tex(t.value)
        rows.append(rf"\text{{{t.label}}} &= {rhs}")
    return "\\begin{aligned}\n" + " \\\\\n".join(rows) + "\n\\end{aligned}"


# -- metric cards ----------------------------------------------------------------------


@dataclass(frozen=True)
class Card:
    label: str
    value: str
    help: str


def _range_text(values: np.ndarray) -> str:
    lo, hi = int(values.min()), int(values.max())
    return fmt(lo) if lo == hi else f"varies: {fmt(lo)}-{fmt(hi)}"


def _full_epoch_mask(plan: Plan) -> np.ndarray:
    sched = plan.schedule
    return sched.batches == sched.nominal_batches


def _batches_per_pass(plan: Plan) -> int:
    """Batches in one pass over the data (Keras' steps_per_epoch can make an epoch shorter)."""
    s = plan.setup
    if s.framework == "keras":
        return loading.keras_arrays(s.dataset_size, s.batch_size).batches
    return plan.batches_per_epoch_full


def metric_cards(plan: Plan) -> list[Card]:
    s = plan.setup
    sched = plan.schedule
    L = plan.batches_per_epoch_full
    per_device = " per device" if s.devices > 1 else ""
    cards = []

    if len(sched.nominal_batches) and sched.nominal_batches.min() != sched.nominal_batches.max():
        batches_value = _range_text(sched.nominal_batches)
        batches_help = f"steps_per_epoch={fmt(s.steps_per_epoch)} batches, except where the data runs out: Keras does not restart the iterator between epochs."
    else:
        batches_value = fmt(L)
        batches_help = f"len(dataloader){per_device}: {fmt(s.dataset_size)} samples in batches of {fmt(s.batch_size)}" + (
            f" shared by {fmt(s.devices)} devices." if s.devices > 1 else "."
        )
    cards.append(Card("Batches per epoch", batches_value, batches_help))

    full = _full_epoch_mask(plan)
    if full.any():
        steps_value = _range_text(sched.steps[full])
    elif s.framework != "keras":
        steps_value = fmt(steps_per_full_epoch(plan))
    else:  # pragma: no cover - Keras epochs always run in full before early stopping
        steps_value = _range_text(sched.steps)
    steps_help = "One optimizer step = one parameter update" + (
        f"; with accumulation {fmt(s.grad_accum)} it takes {fmt(s.grad_accum)} batches."
        if s.grad_accum > 1
        else "; here one per batch."
    )
    if steps_value.startswith("varies") and s.framework == "keras" and s.grad_accum > 1:
        steps_help += " Keras' accumulation windows run across epoch ends, so the count per epoch varies."
    if plan.epochs_started and not plan.completed[-1] and plan.batches[-1] > 0:
        steps_help += f" The last epoch stops part way, after {plural(int(plan.steps[-1]), 'step')}."
    cards.append(Card("Optimizer steps per epoch", steps_value, steps_help))

    total_help = f"Global steps over {plural(plan.epochs_started, 'epoch')}."
    if plan.early_stop is not None and plan.early_stop.stopped:
        total_help += f" Early stopping cut the planned {fmt(plan.planned_optimizer_steps)}."
    elif s.max_steps is not None:
        total_help += f" max_steps={fmt(s.max_steps)}."
    cards.append(Card("Total optimizer steps", fmt(plan.total_optimizer_steps), total_help))

    cards.append(
        Card(
            "Effective batch",
            fmt(plan.effective_batch_size),
            f"Samples per optimizer step: batch {fmt(s.batch_size)} x {plural(s.devices, 'device')} x accumulation {fmt(s.grad_accum)}.",
        )
    )
    seen_help = "All devices, all epochs"
    if plan.samples_duplicated:
        seen_help += f"; {fmt(plan.samples_duplicated)} of them are padding repeats so every device gets the same share"
    cards.append(Card("Samples seen", fmt(plan.samples_seen), seen_help + "."))
    if plan.samples_dropped:
        dropped_help = "Samples a finished epoch never used (drop_last, or uneven sharding)."
    elif not plan.completed.any():
        dropped_help = "No epoch finished, so no sample counts as dropped."
    else:
        dropped_help = "Nothing is dropped." if not s.drop_last else "drop_last is on, but the batches divide the data evenly."
    cards.append(Card("Samples dropped", fmt(plan.samples_dropped), dropped_help))

    last = sched.last_batch_size if L else 0
    if not L:
        cards.append(
            Card("Size of the last batch", "none", "There is no batch: the data is smaller than one batch with drop_last on.")
        )
    else:
        if s.drop_last:
            last_help = "drop_last keeps only full batches."
        elif last < s.batch_size:
            last_help = f"{fmt(last)} = what is left after {fmt(_batches_per_pass(plan) - 1)} full batches{per_device}."
        elif s.framework == "hf" and s.devices > 1:
            last_help = "accelerate tops the last round of batches up from the start of the data, so every batch is full."
        else:
            last_help = "The batches divide the data evenly."
        cards.append(Card("Size of the last batch", fmt(last), last_help))
    return cards


# -- takeaways ---------------------------------------------------------------------------


def _epoch_position(plan: Plan) -> float:
    """Fractional epoch where the planned run (before early stopping) ends."""
    sched = plan.schedule
    n = len(sched.batches)
    if not n:
        return 0.0
    nominal = max(int(sched.nominal_batches[-1]), 1)
    return n - 1 + int(sched.batches[-1]) / nominal


def _cadence_sentence(plan: Plan) -> str | None:
    ev = plan.schedule.evaluations
    if len(ev) < 2:
        return None
    patience = plan.setup.patience
    at_epoch_end = bool(np.all(ev.batches_done == plan.schedule.batches[ev.epoch]))
    if at_epoch_end:
        gaps = np.diff(ev.epoch)
        if gaps.min() == gaps.max() and gaps[0] > 0:
            d = int(gaps[0])
            every = "every epoch" if d == 1 else f"every {fmt(d)} epochs"
            if patience is None:
                return f"The run evaluates {plural(len(ev), 'time')}, at the end of {every}."
            return f"Evaluations come at the end of {every}, so patience {fmt(patience)} waits up to {plural(patience * d, 'epoch')} for an improvement."
        return None
    gaps = np.diff(ev.global_step)
    if gaps.min() == gaps.max() and gaps[0] > 0:
        g = int(gaps[0])
        if patience is None:
            return f"The run evaluates {plural(len(ev), 'time')}, every {plural(g, 'optimizer step')}."
        return f"Evaluations come every {plural(g, 'optimizer step')}, so patience {fmt(patience)} waits up to {plural(patience * g, 'step')} for an improvement."
    return None


def takeaways(plan: Plan) -> list[str]:
    """Short sentences about this setup, every number from the plan."""
    s = plan.setup
    sched = plan.schedule
    L = plan.batches_per_epoch_full
    out = []
    n_epochs = len(sched.batches)
    per_pass = _batches_per_pass(plan)
    run = f"{plural(n_epochs, 'epoch')} make{'s' if n_epochs == 1 else ''} {plural(plan.planned_optimizer_steps, 'optimizer step')}."
    if per_pass != L:
        out.append(
            f"{fmt(s.dataset_size)} samples in batches of {fmt(s.batch_size)} make {plural(per_pass, 'batch', 'batches')} per pass over the data; "
            f"with steps_per_epoch={fmt(s.steps_per_epoch)} an epoch takes at most {fmt(s.steps_per_epoch)} of them, and {run}"
        )
    elif L:
        out.append(
            f"{fmt(s.dataset_size)} samples in batches of {fmt(s.batch_size)}"
            + (f" on {fmt(s.devices)} devices" if s.devices > 1 else "")
            + f" make {plural(L, 'batch', 'batches')} per epoch{' per device' if s.devices > 1 else ''}; {run}"
        )
    elif s.framework == "lightning":
        out.append(
            f"{fmt(s.dataset_size)} samples do not fill one batch of {fmt(s.batch_size)} with drop_last on: Lightning finds no training batches and starts no epoch."
        )
    else:
        out.append(
            f"{fmt(s.dataset_size)} samples do not fill one batch of {fmt(s.batch_size)} with drop_last on: no optimizer step is ever taken."
        )

    if s.devices > 1 and L:
        out.append(
            f"With {fmt(s.devices)} devices each one works through its own share of about {fmt(-(-s.dataset_size // s.devices))} samples per epoch; "
            f"one optimizer step uses {fmt(s.batch_size)} x {fmt(s.devices)} x {fmt(s.grad_accum)} = {fmt(plan.effective_batch_size)} samples."
        )

    if plan.samples_dropped:
        completed = int(plan.completed.sum())
        per_epoch = int(plan.dropped_per_epoch[plan.completed][0]) if completed else 0
        out.append(
            f"With drop_last on, the {plural(per_epoch, 'sample')} left over for a last, short batch {'is' if per_epoch == 1 else 'are'} never used in any epoch: "
            f"{plural(plan.samples_dropped, 'sample')} over {plural(completed, 'epoch')}."
        )
    elif L and not s.drop_last and 0 < sched.last_batch_size < s.batch_size:
        where = "pass over the data" if per_pass != L else "epoch"
        out.append(
            f"The last batch of each {where} holds only {fmt(sched.last_batch_size)} of {fmt(s.batch_size)} samples{' on each device' if s.devices > 1 else ''}; it still counts as a batch."
        )

    if plan.samples_duplicated:
        per_epoch = int(plan.duplicated_per_epoch[0])
        out.append(
            f"To give all {fmt(s.devices)} devices the same number of batches, {plural(per_epoch, 'sample')} are repeated every epoch "
            f"({fmt(plan.samples_duplicated)} over the run): they are seen twice, and samples seen exceeds the data."
        )

    A = s.grad_accum
    if A > 1 and L:
        leftover = L % A
        if s.framework == "keras":
            tail = int(sched.batches.sum()) % A
            steps = sched.steps
            varies = steps.min() != steps.max()
            sentence = "Keras' accumulation windows run across epoch ends" + (
                f", so the steps per epoch vary ({fmt(int(steps.min()))}-{fmt(int(steps.max()))})" if varies else ""
            )
            if tail == 1:
                sentence += f"; the run's last batch never completes a window of {fmt(A)}, so its gradient is never applied."
            elif tail:
                sentence += f"; the run's last {fmt(tail)} batches never complete a window of {fmt(A)}, so their gradients are never applied."
            else:
                sentence += "; every window completes."
            out.append(sentence)
        elif leftover and s.framework == "pytorch":
            out.append(
                f"Each epoch ends with {plural(leftover, 'batch', 'batches')} that never fill a window of {fmt(A)}: the `(i + 1) % {A}` loop takes no step for them, "
                f"so an epoch has {plural(L // A, 'step')}, not {fmt(-(-L // A))}, and their gradients leak into the next epoch's first step."
            )
        elif leftover:
            out.append(
                f"Each epoch ends with a short window of {plural(leftover, 'batch', 'batches')} (not {fmt(A)}); it still takes a step, so an epoch has {plural(-(-L // A), 'step')}."
            )

    epochs = _resolved_epochs(s)
    if s.max_steps is not None and L and s.framework != "keras":
        by_epochs = None if epochs is None else _planned_steps(s.replace(max_steps=None, epochs=epochs))
        position = _epoch_position(plan)
        if s.framework == "hf" and s.epochs is not None and by_epochs is not None and s.max_steps != by_epochs:
            out.append(
                f"max_steps={fmt(s.max_steps)} overrides num_train_epochs={fmt(s.epochs)} (which would give {fmt(by_epochs)} steps): "
                f"the Trainer runs {plural(n_epochs, 'epoch')}, ending at {plural(round(position, 2), 'epoch')}."
            )
        elif by_epochs is not None and s.max_steps < by_epochs:
            out.append(
                f"max_steps={fmt(s.max_steps)} cuts the run in epoch {fmt(n_epochs)}, at {plural(round(position, 2), 'epoch')}: "
                f"{fmt(s.max_steps)} of the {fmt(by_epochs)} steps the epochs would give."
            )
        elif by_epochs is not None and s.max_steps > by_epochs:
            out.append(
                f"max_steps={fmt(s.max_steps)} is never reached: the {plural(n_epochs, 'epoch')} end at step {fmt(by_epochs)}."
            )
        elif epochs is None:
            out.append(
                f"max_steps={fmt(s.max_steps)} alone sets the length: the run ends in epoch {fmt(n_epochs)}, at {plural(round(position, 2), 'epoch')}."
            )
    elif s.framework == "hf" and s.epochs is not None and s.epochs != int(s.epochs) and L:
        out.append(
            f"num_train_epochs={fmt(s.epochs)} runs {plural(n_epochs, 'epoch')}; the last stops after {plural(int(sched.steps[-1]), 'step')}, at {plural(round(_epoch_position(plan), 2), 'epoch')}."
        )

    cadence = _cadence_sentence(plan)
    if cadence:
        out.append(cadence)

    es = plan.early_stop
    if es is not None:
        ev = plan.schedule.evaluations
        best = ""
        if es.best_eval_index is not None and es.best_eval_index < len(ev):
            best = f"; the best checkpoint is evaluation {fmt(es.best_eval_index + 1)} (step {fmt(int(ev.global_step[es.best_eval_index]))})"
        if es.stopped:
            saved = plan.planned_optimizer_steps - es.stop_global_step
            out.append(
                f"Early stopping (patience {fmt(s.patience)}) fires after evaluation {fmt(es.evaluations_done)}: training ends at step {fmt(es.stop_global_step)} "
                f"in epoch {fmt(es.stop_epoch)}, {plural(saved, 'step')} before the planned {fmt(plan.planned_optimizer_steps)}{best}."
            )
        elif es.metrics_ran_out_at is not None:
            out.append(
                f"Only {plural(len(s.metrics), 'metric value')} for {plural(len(ev), 'evaluation')}: early stopping is replayed up to there and does not fire{best}."
            )
        else:
            out.append(
                f"Early stopping (patience {fmt(s.patience)}) never fires: all {fmt(plan.planned_optimizer_steps)} steps run{best}."
            )
        if s.framework == "keras" and s.start_from_epoch:
            out.append(
                f"start_from_epoch={fmt(s.start_from_epoch)}: Keras ignores the metric in the first {plural(s.start_from_epoch, 'epoch')}."
            )
    return out


# -- try this ------------------------------------------------------------------------------


class TryThis(NamedTuple):
    prompt: str
    prediction: str


def _headline(plan: Plan) -> dict[str, int]:
    out = {
        "batches per epoch": plan.batches_per_epoch_full,
        "total optimizer steps": plan.total_optimizer_steps,
        "effective batch": plan.effective_batch_size,
        "samples dropped": plan.samples_dropped,
    }
    full = _full_epoch_mask(plan)
    if full.any() and plan.schedule.steps[full].min() == plan.schedule.steps[full].max():
        out["optimizer steps per epoch"] = int(plan.schedule.steps[full][0])
    return out


def compare(before: Plan, after: Plan) -> str:
    """What changes between two plans, as 'total optimizer steps 1,000 -> 990; ...'."""
    a, b = _headline(before), _headline(after)
    parts = [f"{name} {fmt(a[name])} → {fmt(b[name])}" for name in a if name in b and a[name] != b[name]]
    return "; ".join(parts)


def _candidates(plan: Plan) -> list[tuple[str, dict]]:
    s = plan.setup
    L = plan.batches_per_epoch_full
    out = []
    es = plan.early_stop
    if es is not None and es.stopped and s.patience is not None:
        out.append((f"Raise patience from {fmt(s.patience)} to {fmt(s.patience + 2)}.", {"patience": s.patience + 2}))
    if s.framework == "pytorch" and L and L % s.grad_accum:
        out.append(
            (
                "Switch the convention to pytorch-flush (step the leftover window at the end of each epoch).",
                {"framework": "pytorch-flush"},
            )
        )
    if s.framework != "keras" and not s.drop_last and 0 < plan.schedule.last_batch_size < s.batch_size:
        out.append(("Turn drop_last on.", {"drop_last": True}))
    if s.drop_last and plan.samples_dropped:
        out.append(("Turn drop_last off.", {"drop_last": False}))
    if s.grad_accum == 1 and L >= 2:
        a = 4 if L >= 4 else 2
        out.append((f"Set gradient accumulation to {a}.", {"grad_accum": a}))
    if s.batch_size * 2 <= min(s.dataset_size, MAX_BATCH_SIZE):
        out.append((f"Double the batch size to {fmt(s.batch_size * 2)}.", {"batch_size": s.batch_size * 2}))
    if s.batch_size > 1:
        out.append((f"Halve the batch size to {fmt(s.batch_size // 2)}.", {"batch_size": s.batch_size // 2}))
    return out


_TRY_CACHE: OrderedDict[Setup, tuple[str, str, dict] | None] = OrderedDict()


def _try(plan: Plan) -> tuple[str, str, dict] | None:
    """The first candidate change that is valid and changes a number (cached: try_this and
    try_this_change ask for the same setup in one rerun)."""
    key = plan.setup
    if key in _TRY_CACHE:
        _TRY_CACHE.move_to_end(key)
        return _TRY_CACHE[key]
    found = _first_try(plan)
    _TRY_CACHE[key] = found
    while len(_TRY_CACHE) > 16:
        _TRY_CACHE.popitem(last=False)
    return found


def _first_try(plan: Plan) -> tuple[str, str, dict] | None:
    for prompt, change in _candidates(plan):
        try:
            other = make_plan(plan.setup.replace(**change))
        except SetupError:
            continue
        prediction = compare(plan, other)
        if not prediction:
            continue
        if "patience" in change and other.early_stop is not None:
            es = other.early_stop
            prediction = f"training ends at step {fmt(es.stop_global_step)} instead of {fmt(plan.total_optimizer_steps)}" + (
                "" if es.stopped else " (early stopping no longer fires)"
            )
        return prompt, f"Prediction: {prediction}.", change
    return None


def try_this(plan: Plan) -> TryThis:
    """One prompt that changes one control, with the change the core predicts."""
    found = _try(plan)
    if found is None:
        return TryThis(
            "Change the batch size and watch the total optimizer steps.", "Prediction: fewer, larger batches mean fewer steps."
        )
    return TryThis(found[0], found[1])


def try_this_change(plan: Plan) -> dict:
    """The control change behind `try_this` (for an 'apply' button); {} when there is none."""
    found = _try(plan)
    return {} if found is None else found[2]


# -- framework translator ------------------------------------------------------------------


@dataclass(frozen=True)
class Translation:
    framework: str
    setup: Setup | None  # the setup as a user of that framework would write it
    notes: tuple[str, ...]
    plan: Plan | None
    refusal: str | None
    adapted: frozenset[str] = frozenset()  # kinds of adaptation behind the notes (for `differences`)


_UNIVERSAL = (
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
)


def _cadence(setup: Setup, source_plan: Plan | None):
    """The source's evaluation cadence: None (defaults), ("epoch", n), ("steps", k), ("batches", k, per_epoch),
    ("fraction", f, n) or ("epoch_list", tuple)."""
    fw = setup.framework
    if fw in ("pytorch", "pytorch-flush", "hf"):
        v = setup.eval_every_steps
        if v is None:
            return ("epoch", 1) if fw == "hf" else None
        if v < 1:
            if source_plan is None:
                return None
            return ("steps", hf_rules.eval_steps(v, source_plan.schedule.lr_horizon))
        return ("steps", int(v))
    if fw == "lightning":
        vci, n = setup.val_check_interval, setup.check_val_every_n_epoch
        if vci is None or (isinstance(vci, float) and vci == 1.0):
            return ("epoch", n or 1)
        if isinstance(vci, int) or vci > 1:
            return ("batches", int(vci), n is not None)
        return ("fraction", float(vci), n or 1)
    v = setup.validation_freq
    if isinstance(v, tuple):
        return ("epoch_list", v)
    per_pass = loading.keras_arrays(setup.dataset_size, setup.batch_size).batches
    if setup.steps_per_epoch is not None and setup.steps_per_epoch < per_pass:
        return ("batches", v * setup.steps_per_epoch, False)  # a Keras "epoch" here is steps_per_epoch batches
    return ("epoch", v)


def _steps_per_epoch_of(values: dict, fw: str) -> int | None:
    """Steps of a full epoch under `fw` for these values (ignoring evaluation knobs)."""
    probe = {k: values[k] for k in _UNIVERSAL if k in values}
    probe.update(patience=None, metrics=(), framework=fw)
    try:
        p = make_plan(Setup(**probe))
    except SetupError:
        return None
    full = _full_epoch_mask(p)
    if not full.any():
        return None
    steps = p.schedule.steps[full]
    return int(steps[0]) if steps.min() == steps.max() else None


def _apply_cadence(values: dict, fw: str, cadence, notes: list[tuple[str, str]]) -> None:
    if cadence is None:
        if fw in ("pytorch", "pytorch-flush") and values.get("patience") is not None:
            cadence = ("epoch", 1)
        else:
            return
    kind = cadence[0]
    A = values["grad_accum"]
    if kind == "epoch_list":
        if fw == "keras":
            values["validation_freq"] = cadence[1]
            return
        notes.append(("eval_list", f"validation_freq={list(cadence[1])} has no counterpart: evaluating once per epoch."))
        cadence = ("epoch", 1)
        kind = "epoch"
    if kind == "epoch":
        n = cadence[1]
        if fw == "lightning":
            values["check_val_every_n_epoch"] = n
        elif fw == "keras":
            values["validation_freq"] = n
        elif fw == "hf" and n == 1:
            pass  # eval_strategy="epoch"
        else:
            U = _steps_per_epoch_of(values, fw)
            if U:
                values["eval_every_steps"] = n * U
                notes.append(
                    (
                        "eval_steps_epoch",
                        f"evaluates every {plural(n * U, 'step')} (= {'once per epoch' if n == 1 else f'every {fmt(n)} epochs'}).",
                    )
                )
            elif values.get("patience") is not None:
                notes.append(("no_eval", "no whole number of steps matches an epoch here: no evaluation, so no early stopping."))
                values["patience"], values["metrics"] = None, ()
    elif kind == "steps":
        k = cadence[1]
        if fw in ("pytorch", "pytorch-flush", "hf"):
            values["eval_every_steps"] = k
        elif fw == "lightning":
            values["val_check_interval"] = k * A
            values["check_val_every_n_epoch"] = None
            notes.append(
                (
                    "val_batches",
                    f"val_check_interval counts batches: {fmt(k)} steps x {fmt(A)} = {fmt(k * A)}, counted across epochs (check_val_every_n_epoch=None).",
                )
            )
        else:
            notes.append(("epoch_only_eval", "Keras validates only at epoch ends: once per epoch."))
    elif kind == "batches":
        k, per_epoch = cadence[1], cadence[2]
        if fw == "lightning":
            values["val_check_interval"] = k
            values["check_val_every_n_epoch"] = 1 if per_epoch else None
        elif fw == "keras":
            notes.append(("epoch_only_eval", "Keras validates only at epoch ends: once per epoch."))
        else:
            steps = max(1, k // A)
            values["eval_every_steps"] = steps
            notes.append(("eval_approx", f"every {fmt(k)} batches ≈ every {plural(steps, 'optimizer step')}."))
    elif kind == "fraction":
        f, n = cadence[1], cadence[2]
        if fw == "lightning":
            values["val_check_interval"] = f
            values["check_val_every_n_epoch"] = n
        elif fw == "keras":
            notes.append(("epoch_only_eval", "Keras validates only at epoch ends: once per epoch."))
        else:
            U = _steps_per_epoch_of(values, fw)
            if U:
                steps = max(1, int(U * f))
                values["eval_every_steps"] = steps
                notes.append(
                    ("eval_approx", f"val_check_interval={fmt(f)} of an epoch ≈ every {plural(steps, 'optimizer step')}.")
                )


def translate(setup: Setup, framework: str) -> Translation:
    """`setup` as a user of `framework` would write it, with the plan or the refusal.

    The user's own framework gets the setup unchanged. Others keep the shared numbers
    (data, batch, epochs, max_steps, accumulation, devices, drop_last, early stopping) and
    get the evaluation cadence in their own terms; what a framework cannot express is
    adapted the way its users do, and each adaptation is said in a note.
    """
    if framework not in FRAMEWORKS:
        raise ValueError(f"framework must be one of {', '.join(FRAMEWORKS)}")
    return _translations(setup)[FRAMEWORKS.index(framework)]


def translations(setup: Setup) -> list[Translation]:
    return list(_translations(setup))


@lru_cache(maxsize=2)  # one page rerun asks for the table, the differences and the snippets of one setup
def _translations(setup: Setup) -> tuple[Translation, ...]:
    try:
        source_plan, refusal = make_plan(setup), None
    except SetupError as exc:
        source_plan, refusal = None, str(exc)
    out = []
    for framework in FRAMEWORKS:
        if framework == setup.framework:
            out.append(Translation(framework, setup, (), source_plan, refusal))
        else:
            out.append(_translate(setup, framework, source_plan))
    return tuple(out)


def _translate(setup: Setup, framework: str, source_plan: Plan | None) -> Translation:
    values = {name: getattr(setup, name) for name in _UNIVERSAL}
    values["framework"] = framework
    notes: list[tuple[str, str]] = []
    if setup.epochs is None:
        values["epochs"] = _resolved_epochs(setup)
    if setup.framework == "keras" and setup.steps_per_epoch is not None and source_plan is not None:
        batches = int(source_plan.schedule.batches.sum())
        if batches < loading.keras_arrays(setup.dataset_size, setup.batch_size).batches * len(source_plan.schedule.batches):
            values["max_steps"] = max(1, -(-batches // setup.grad_accum))
            values["epochs"] = None
            notes.append(
                (
                    "steps_per_epoch",
                    f"steps_per_epoch={fmt(setup.steps_per_epoch)} over {plural(len(source_plan.schedule.batches), 'epoch')} = {fmt(batches)} batches: max_steps={fmt(values['max_steps'])}.",
                )
            )
    if framework == "keras":
        if values["devices"] > 1:
            global_batch = values["batch_size"] * values["devices"]
            if global_batch > MAX_BATCH_SIZE:
                return Translation(
                    framework, None, (), None, f"a global batch of {fmt(global_batch)} is more than {fmt(MAX_BATCH_SIZE)}"
                )
            notes.append(
                (
                    "global_batch",
                    f"global batch_size = {fmt(values['batch_size'])} x {fmt(values['devices'])} devices = {fmt(global_batch)}.",
                )
            )
            values["batch_size"], values["devices"] = global_batch, 1
        if values["drop_last"]:
            notes.append(("no_drop_last", "no drop_last: the last, short batch is kept."))
            values["drop_last"] = False
        if values["max_steps"] is not None:
            per_pass = loading.keras_arrays(values["dataset_size"], values["batch_size"]).batches
            needed = max(1, -(-values["max_steps"] * values["grad_accum"] // per_pass))
            if values["epochs"] is None or needed < values["epochs"]:
                values["epochs"] = needed
                notes.append(
                    (
                        "no_max_steps",
                        f"no max_steps: {plural(needed, 'whole epoch')} instead of max_steps={fmt(values['max_steps'])}.",
                    )
                )
            else:
                notes.append(
                    (
                        "no_max_steps",
                        f"no max_steps (max_steps={fmt(values['max_steps'])} would not cut {plural(int(values['epochs']), 'epoch')}).",
                    )
                )
            values["max_steps"] = None
    if framework != "hf" and values["epochs"] is not None and values["epochs"] != int(values["epochs"]):
        whole = math.ceil(values["epochs"])
        if framework == "keras":
            notes.append(("whole_epochs", f"whole epochs only: {fmt(values['epochs'])} rounded up to {fmt(whole)}."))
        else:
            U = _steps_per_epoch_of({**values, "epochs": whole}, framework)
            if U is not None:
                cap = max(1, math.ceil(values["epochs"] * U))
                if values["max_steps"] is None or cap < values["max_steps"]:
                    values["max_steps"] = cap
                notes.append(
                    (
                        "whole_epochs",
                        f"whole epochs only: epochs={fmt(whole)} with max_steps={fmt(values['max_steps'])} for {fmt(values['epochs'])} epochs.",
                    )
                )
            else:
                notes.append(("whole_epochs", f"whole epochs only: {fmt(values['epochs'])} rounded up to {fmt(whole)}."))
        values["epochs"] = whole
    _apply_cadence(values, framework, _cadence(setup, source_plan), notes)
    if setup.framework == "keras" and setup.start_from_epoch and framework != "keras":
        notes.append(("start_from_epoch", "start_from_epoch is Keras-only: early stopping checks from the first evaluation."))
    if values.get("patience") is None:
        values["metrics"] = ()
    texts, kinds = tuple(text for _, text in notes), frozenset(kind for kind, _ in notes)
    try:
        adapted = Setup(**values)
    except SetupError as exc:
        return Translation(framework, None, texts, None, str(exc), kinds)
    try:
        plan = make_plan(adapted)
    except SetupError as exc:
        return Translation(framework, adapted, texts, None, str(exc), kinds)
    if setup.lr_schedule is not None:
        adapted, plan, lr_note = _with_schedule(setup, adapted, plan)
        if lr_note:
            texts += (lr_note,)
    es = plan.early_stop
    if es is not None and es.metrics_ran_out_at is not None and setup.metrics:
        texts += (f"the {plural(len(setup.metrics), 'metric value')} run out at evaluation {fmt(es.metrics_ran_out_at + 1)}.",)
    return Translation(framework, adapted, texts, plan, None, kinds)


def _with_schedule(source: Setup, adapted: Setup, plan: Plan) -> tuple[Setup, Plan, str | None]:
    """Carry the learning-rate schedule over (it does not change any count, so a framework
    that cannot express it keeps its plan and says so)."""
    fw, kind = adapted.framework, source.lr_schedule
    if fw == "keras" and kind in ("linear", "constant_with_warmup"):
        return adapted, plan, f"Keras has no built-in {kind} schedule with warmup (use cosine or constant)."
    warmup, note = source.warmup_steps, None
    if source.framework == "hf" and 0 < warmup < 1 and fw != "hf":
        warmup = hf_warmup_steps(warmup, plan.planned_optimizer_steps)
        note = f"warmup_steps={fmt(source.warmup_steps)} of the steps = {plural(warmup, 'step')}."
    if fw == "keras" and source.framework != "keras" and warmup and adapted.grad_accum > 1:
        warmup = int(warmup) * adapted.grad_accum
        note = f"Keras counts warmup in batches: {fmt(warmup)} (= steps x accumulation {fmt(adapted.grad_accum)})."
    elif source.framework == "keras" and fw != "keras" and warmup and source.grad_accum > 1:
        warmup = max(1, int(warmup) // source.grad_accum)
        note = f"warmup in optimizer steps: {fmt(warmup)} (Keras counted {fmt(int(source.warmup_steps))} batches)."
    try:
        with_lr = adapted.replace(
            lr_schedule=kind, lr=source.lr, warmup_steps=float(int(warmup)) if warmup >= 1 else float(warmup)
        )
        return with_lr, make_plan(with_lr), note
    except SetupError as exc:
        return adapted, plan, f"learning-rate schedule not carried over: {exc}."


TRANSLATOR_COLUMNS = (
    "convention",
    "batches per epoch",
    "steps per epoch",
    "total steps",
    "effective batch",
    "evaluations",
    "samples seen",
    "samples dropped",
    "early stop",
    "note",
)
_COMPARED = (
    "batches per epoch",
    "steps per epoch",
    "total steps",
    "effective batch",
    "evaluations",
    "samples seen",
    "samples dropped",
    "early stop",
)


def _steps_cell(plan: Plan) -> str:
    full = _full_epoch_mask(plan)
    if full.any():
        return _range_text(plan.schedule.steps[full])
    if plan.setup.framework != "keras" and plan.batches_per_epoch_full:
        return fmt(steps_per_full_epoch(plan))
    return "0"


def _early_cell(plan: Plan) -> str:
    es = plan.early_stop
    if es is None:
        return "off"
    if es.stopped:
        return f"step {fmt(es.stop_global_step)} (epoch {fmt(es.stop_epoch)})"
    return "does not fire"


def translator(setup: Setup) -> pd.DataFrame:
    """The same setup under all five conventions, one row each, cells as display text.

    `df.attrs["differs"]` lists the columns whose rows disagree (the page heads them "≠ ...").
    """
    rows = []
    for t in translations(setup):
        name = LABELS[t.framework] + (" (yours)" if t.framework == setup.framework else "")
        if t.plan is None:
            row = dict.fromkeys(TRANSLATOR_COLUMNS, "—")
            row["convention"] = name
            row["note"] = "; ".join(n.rstrip(".") for n in (*t.notes, f"refuses: {t.refusal}"))
        else:
            p = t.plan
            row = {
                "convention": name,
                "batches per epoch": _range_text(p.schedule.nominal_batches)
                if p.epochs_started
                else fmt(p.batches_per_epoch_full),
                "steps per epoch": _steps_cell(p),
                "total steps": fmt(p.total_optimizer_steps),
                "effective batch": fmt(p.effective_batch_size),
                "evaluations": fmt(len(p.evaluations)),
                "samples seen": fmt(p.samples_seen),
                "samples dropped": fmt(p.samples_dropped),
                "early stop": _early_cell(p),
                "note": "; ".join(n.rstrip(".") for n in t.notes),
            }
        rows.append(row)
    df = pd.DataFrame(rows, columns=list(TRANSLATOR_COLUMNS), index=list(FRAMEWORKS))
    ok = df[df["total steps"] != "—"]
    df.attrs["differs"] = [c for c in _COMPARED if ok[c].nunique() > 1]
    return df


def _who(framework: str, accum: int) -> str:
    if framework == "pytorch":
        return f"a hand-written `(i + 1) % {accum}` loop" if accum > 1 else "a PyTorch loop"
    if framework == "pytorch-flush":
        return "the same loop stepping its leftover window"
    return LABELS[framework]


def _join(names: list[str]) -> str:
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]


_COUNT_COLUMNS = ("planned steps", "batches per epoch", "samples dropped", "evaluations")


def _reasons(t: Translation, column: str, by_framework: dict[str, Translation], reference: Translation) -> list[tuple[str, str]]:
    """Known rules that explain `t`'s number in `column`: (phrase about itself, phrase naming it)."""
    p, s = t.plan, t.setup
    fw, L, A = s.framework, p.batches_per_epoch_full, s.grad_accum
    name = LABELS[fw]
    out = []
    if column in _COUNT_COLUMNS:
        if "global_batch" in t.adapted and column in ("planned steps", "batches per epoch"):
            out.append(
                (f"it takes the global batch of {fmt(s.batch_size)}", f"Keras takes the global batch of {fmt(s.batch_size)}")
            )
        if "no_drop_last" in t.adapted and column != "evaluations":
            out.append(("it has no drop_last", "Keras has no drop_last"))
        if "no_max_steps" in t.adapted and column in ("planned steps", "evaluations"):
            out.append(("it has no max_steps", "Keras has no max_steps"))
        if "whole_epochs" in t.adapted and column in ("planned steps", "evaluations"):
            out.append(("it counts whole epochs only", f"{name} counts whole epochs only"))
        if s.devices > 1 and column != "evaluations":
            other = by_framework.get("lightning" if fw == "hf" else "hf")
            if other is not None and other.plan.batches_per_epoch_full != L:
                if fw == "hf":
                    phrase = "accelerate deals whole global batches to the devices" + (
                        "" if s.drop_last else " and tops up the last round"
                    )
                    out.append((phrase, "the HF Trainer's " + phrase))
                elif fw in TORCH_LIKE:
                    phrase = "DistributedSampler splits the samples before each device batches its share"
                    out.append((phrase, phrase))
    if column == "planned steps":
        if fw == "pytorch" and A > 1 and L % A:
            out.append(("its leftover window never steps", f"the `(i + 1) % {A}` loop never steps its leftover window"))
        if fw == "keras" and A > 1 and L % A:
            out.append(("its accumulation windows run across epoch ends", "Keras' accumulation windows run across epoch ends"))
        if fw == "hf" and s.max_steps is not None and s.epochs is not None:
            out.append(("max_steps overrides num_train_epochs", "the HF Trainer's max_steps overrides num_train_epochs"))
    if column == "evaluations":
        sched = p.schedule
        if not len(sched.evaluations) and fw in ("pytorch", "pytorch-flush"):
            out.append(("it evaluates only where you call it", "a hand-written loop evaluates only where you call it"))
        if "epoch_only_eval" in t.adapted:
            out.append(("it validates only at epoch ends", "Keras validates only at epoch ends"))
        if "val_batches" in t.adapted:
            out.append(
                ("its val_check_interval counts batches, not steps", "Lightning's val_check_interval counts batches, not steps")
            )
        if fw == "hf" and s.eval_every_steps is None and len(sched.batches) and sched.batches[-1] < sched.nominal_batches[-1]:
            out.append(
                (
                    "it also evaluates at the end of the cut last epoch",
                    "the HF Trainer also evaluates at the end of the cut last epoch",
                )
            )
        if fw == "hf" and s.eval_every_steps is not None and sched.lr_horizon and len(sched.evaluations):
            if p.planned_optimizer_steps % hf_rules.eval_steps(s.eval_every_steps, sched.lr_horizon):
                out.append(("it also evaluates at the final step", "the HF Trainer also evaluates at the final step"))
    if column == "early stop":
        mine, theirs = p.schedule.checks.global_step, reference.plan.schedule.checks.global_step
        if len(mine) != len(theirs) or not np.array_equal(mine, theirs):
            out.append(("its evaluations fall at other steps", f"{name}'s evaluations fall at other steps"))
        else:
            rule = {
                "hf": "compares each value with the best so far and needs more than the threshold",
                "lightning": "compares in float32 and needs more than min_delta",
                "keras": "counts validated epochs in float32 and never stops at the first",
            }.get(fw, "needs more than min_delta")
            out.append((f"its patience rule {rule}", f"{name}'s patience rule {rule}"))
    return out


def differences(setup: Setup) -> list[str]:
    """Sentences naming both numbers where the conventions disagree for this setup."""
    good = [t for t in translations(setup) if t.plan is not None]
    if setup.grad_accum == 1:  # without accumulation the flush changes nothing: one loop
        good = [t for t in good if t.framework != "pytorch-flush" or not any(u.framework == "pytorch" for u in good)]
    if len(good) < 2:
        return []
    by_framework = {t.framework: t for t in good}
    early = any(t.plan.early_stop is not None for t in good)
    unit = {
        "planned steps": "planned steps" if early else "steps",
        "batches per epoch": "batches per epoch",
        "evaluations": "evaluations",
        "samples dropped": "samples dropped",
    }
    out = []
    for column in ("planned steps", "batches per epoch", "evaluations", "samples dropped", "early stop"):
        cells: dict[str, list[Translation]] = {}
        for t in good:
            p = t.plan
            if column == "planned steps":
                value = fmt(p.planned_optimizer_steps)
            elif column == "batches per epoch":
                value = _range_text(p.schedule.nominal_batches) if len(p.schedule.nominal_batches) else "0"
            elif column == "evaluations":
                value = fmt(len(p.schedule.evaluations))
            elif column == "samples dropped":
                value = fmt(p.samples_dropped)
            else:
                value = _early_cell(p)
                if value == "off":
                    continue
            cells.setdefault(value, []).append(t)
        if len(cells) < 2:
            continue
        # the largest group first (ties: the one with the user's framework); it is the norm, the others get reasons
        groups = sorted(cells.items(), key=lambda kv: (-len(kv[1]), not any(t.framework == setup.framework for t in kv[1])))
        reference = groups[0][1][0]
        parts = []
        for i, (value, members) in enumerate(groups):
            label = value if column == "early stop" or i else f"{value} {unit[column]}"
            part = f"{_join([_who(t.framework, setup.grad_accum) for t in members])}: {label}"
            if i:
                found = [r for t in members for r in _reasons(t, column, by_framework, reference)]
                phrases = list(dict.fromkeys(own if len(members) == 1 else named for own, named in found))
                if phrases:
                    part += ", because " + _join(phrases)
            parts.append(part)
        text = ("Early stopping: " if column == "early stop" else "") + "; ".join(parts)
        out.append(text[0].upper() + text[1:] + ".")
    return out


# -- code snippets ------------------------------------------------------------------------









def code_snippet(setup: Setup, framework: str) -> str:
    """Short code for `framework` with the user's numbers (as adapted by `translate`)."""
    if framework not in FRAMEWORKS:
        raise ValueError(f"framework must be one of {', '.join(FRAMEWORKS)}")
    t = translate(setup, framework)
    s = t.setup if t.setup is not None else setup.replace(framework=framework)
    head = [f"# {note}" for note in t.notes]
    if t.refusal:
        head.append(f"# {CONVENTIONS[framework].label} refuses this setup: {t.refusal}")
    body = CONVENTIONS[framework].snippet(s, t.plan, setup)
    return "\n".join(head + body) + "\n"


__all__ = [
    "GLOSSARY",
    "SCOPE",
    "Card",
    "Term",
    "TryThis",
    "Translation",
    "code_snippet",
    "compare",
    "differences",
    "fmt",
    "formula",
    "formula_terms",
    "metric_cards",
    "takeaways",
    "translate",
    "translator",
    "try_this",
    "try_this_change",
]
