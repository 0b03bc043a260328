"""Words and tables for the page, computed from the core's numbers.

Everything here reads a `Plan` (or makes plans from a `Setup`) and phrases it: the formula
with the user's numbers, metric cards, takeaways, a "try this" prompt, the framework
translator and code snippets. No rule lives here and no framework is named by comparison:
what differs by framework is asked of its convention (`epochsteps.conventions`), and what
a rule does is read off the plan, or off a what-if plan. Pure Python; no Streamlit, no Altair.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass
from functools import lru_cache
from typing import NamedTuple

import numpy as np
import pandas as pd

from .conventions import CONVENTIONS, LABELS, Convention, Note, Term
from .conventions import convention as named
from .conventions.convention import UNIVERSAL
from .plan import Plan, make_plan
from .setup import FRAMEWORKS, MAX_BATCH_SIZE, Setup, SetupError
from .text import duration, fmt, ordinal, plural, tex

GLOSSARY: dict[str, str] = {
    "epoch": "One pass over the training data (each device's shard of it). With max_steps or a fractional epoch count the last epoch can stop part way.",
    "batch": "The samples processed together in one forward and backward pass on one device; its size is batch_size.",
    "micro-batch": "A batch when gradient accumulation is on: several micro-batches add their gradients before one optimizer step.",
    "iteration": "An ambiguous word: one batch in a PyTorch loop or Keras' progress bar, one optimizer step in the HF Trainer's logs. This page says batch or optimizer step instead.",
    "optimizer step": "One parameter update (optimizer.step()). With gradient accumulation A it takes A batches.",
    "global step": "The number of optimizer steps taken so far in the whole run (HF state.global_step, Lightning trainer.global_step, Keras optimizer.iterations); the x axis of the timeline.",
    "effective batch": "Samples behind one optimizer step: batch size x devices x gradient accumulation.",
    "batches per epoch": "len(dataloader) on one device. On one device: ceil(samples / batch), or floor with drop_last. With several devices each framework splits the data its own way: DistributedSampler splits the samples, the HF Trainer deals out whole batches.",
    "drop_last": "Skip the last, short batch of each epoch instead of running it; its samples are not used in that epoch.",
    "gradient accumulation": "Run A batches, adding up their gradients, then take one optimizer step: the effective batch grows A times, the steps shrink A times. Frameworks differ on a leftover window at the end of an epoch.",
}

SCOPE = (
    "An exact calculator of batches, optimizer steps, evaluations, early stopping and learning-rate schedules as "
    "PyTorch loops, the HF Trainer, Lightning and Keras count them, plus a tiny real training lab; it does not "
    "model data-loading speed, mixed precision, memory, throughput or how well a model learns."
)


def convention(plan_or_setup: Plan | Setup) -> Convention:
    setup = plan_or_setup.setup if isinstance(plan_or_setup, Plan) else plan_or_setup
    return CONVENTIONS[setup.framework]


def steps_per_full_epoch(plan: Plan) -> int:
    """Optimizer steps a full epoch takes (windows restart every epoch)."""
    U = plan.schedule.steps_per_full_epoch
    if U is None:
        raise ValueError(f"{convention(plan).title}'s accumulation windows run across epochs: steps per epoch vary")
    return U


def _planned_steps(setup: Setup) -> int | None:
    """The framework's own planned total for a setup, or None where it refuses it."""
    try:
        return make_plan(setup).planned_optimizer_steps
    except SetupError:
        return None


def _planned_epochs(plan: Plan) -> float:
    """Where the planned run (before early stopping) ends, in fractional epochs."""
    sched = plan.schedule
    if not len(sched.batches):
        return 0.0
    return len(sched.batches) - 1 + int(sched.batches[-1]) / max(int(sched.nominal_batches[-1]), 1)


# -- the formula -----------------------------------------------------------------------


def formula_terms(plan: Plan) -> list[Term]:
    """The lines of the formula, each with its value from the plan: how the convention cuts
    batches, then steps per epoch and the total, then where early stopping ended the run."""
    c = convention(plan)
    terms = [*c.batch_terms(plan), *c.step_terms(plan)]
    es = plan.early_stop
    if es is not None and es.stopped:
        terms.append(
            Term("stop_step", "early stop at step", "", plan.total_optimizer_steps, f"Early stopping ends the run in epoch {fmt(es.stop_epoch)}.")
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


def _steps_value(plan: Plan) -> str:
    full = _full_epoch_mask(plan)
    if full.any():
        return _range_text(plan.schedule.steps[full])
    U = plan.schedule.steps_per_full_epoch
    return fmt(U) if U is not None else _range_text(plan.schedule.steps)


def metric_cards(plan: Plan) -> list[Card]:
    c = convention(plan)
    s, sched = plan.setup, plan.schedule
    L = plan.batches_per_epoch_full
    nominal = sched.nominal_batches
    batches_value = _range_text(nominal) if len(nominal) and nominal.min() != nominal.max() else fmt(L)
    cards = [Card("Batches per epoch", batches_value, c.batches_help(plan))]

    steps_value = _steps_value(plan)
    steps_help = "One optimizer step = one parameter update" + (
        f"; with accumulation {fmt(s.grad_accum)} it takes {fmt(s.grad_accum)} batches." if s.grad_accum > 1 else "; here one per batch."
    )
    if steps_value.startswith("varies") and sched.windows_cross_epochs:
        steps_help += " The accumulation windows run across epoch ends, so the count per epoch varies."
    if plan.epochs_started and not plan.completed[-1] and plan.batches[-1] > 0:
        steps_help += f" The last epoch stops part way, after {plural(int(plan.steps[-1]), 'step')}."
    cards.append(Card("Optimizer steps per epoch", steps_value, steps_help))

    total_help = f"Global steps over {plural(round(plan.epochs_run, 2), 'epoch')}."
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
        seen_help += f"; {fmt(plan.samples_duplicated)} of them are padding repeats so every device gets the same number of batches"
    cards.append(Card("Samples seen", fmt(plan.samples_seen), seen_help + "."))
    if plan.samples_dropped:
        dropped_help = "Samples a finished epoch never used (drop_last, or uneven sharding)."
    elif not plan.completed.any():
        dropped_help = "No epoch finished, so no sample counts as dropped."
    else:
        dropped_help = "Nothing is dropped." if not s.drop_last else "drop_last is on, but the batches divide the data evenly."
    cards.append(Card("Samples dropped", fmt(plan.samples_dropped), dropped_help))

    if not L:
        cards.append(Card("Size of the last batch", "none", "There is no batch: a device's data is smaller than one batch with drop_last on."))
    else:
        cards.append(Card("Size of the last batch", fmt(sched.last_batch_size), c.last_batch_help(plan)))
    return [*cards, checkpoint_card(plan), *token_cards(plan), *time_cards(plan)]


REASONS = {
    "periodic": "every few optimizer steps",
    "epoch_end": "at epoch ends",
    "validation": "after validations",
    "best": "when the monitored metric improves",
    "last": "as the last checkpoint",
    "final_step": "at the final step",
}


def checkpoint_card(plan: Plan) -> Card:
    """The optimizer steps a crash just before the end would lose: those after the last checkpoint."""
    after, total = plan.steps_after_last_checkpoint, plan.total_optimizer_steps
    cks = plan.checkpoints
    if not cks.count:
        why = f"No checkpoint is written: {convention(plan).no_checkpoint}. A crash would lose all {plural(total, 'optimizer step')}."
    elif after:
        why = f"The last checkpoint is at step {fmt(cks.last_global_step)} of {fmt(total)}: a crash at the end loses {plural(after, 'optimizer step')}."
    else:
        why = f"The last checkpoint is written at the final step ({fmt(total)})."
    return Card("Steps after the last checkpoint", fmt(after), why)


def _saving_sentences(plan: Plan) -> list[str]:
    """When the run writes checkpoints and logs the training loss, as the plan's moments say."""
    c, total = convention(plan), plan.total_optimizer_steps
    cks, logs = plan.checkpoints, plan.logs
    out = []
    if total and cks.count:
        kinds = list(dict.fromkeys(cks.reason))
        gaps = np.diff(cks.global_step[[i for i, r in enumerate(cks.reason) if r == "periodic"]])
        words = [REASONS.get(k, k) for k in kinds]
        if "periodic" in kinds and len(gaps) and gaps.min() == gaps.max():
            words[kinds.index("periodic")] = f"every {plural(int(gaps[0]), 'optimizer step')}"
        lost = plan.steps_after_last_checkpoint
        end = "so nothing is lost" if not lost else f"so {plural(lost, 'optimizer step')} after it would be lost in a crash"
        out.append(
            f"The run writes {plural(cks.count, 'checkpoint')} ({_join(words)}); the last at step {fmt(cks.last_global_step)} of {fmt(total)}, {end}."
        )
        if plan.saving.loads_best:
            best = plan.saving.best_checkpoint_global_step
            out.append(
                "At the end it loads the best checkpoint, " + (f"the one of step {fmt(best)}." if best is not None else "but none is loaded: the best evaluation's step was never saved.")
            )
    elif total:
        out.append(f"No checkpoint is written: {c.no_checkpoint}. A crash would lose all {plural(total, 'optimizer step')}.")
    if logs.count >= 2:
        gaps = np.diff(logs.global_step)
        every = f", every {plural(int(gaps[0]), 'optimizer step')}" if gaps.min() == gaps.max() and gaps[0] > 0 else ""
        accum = f" (its interval counts {c.log_unit}, not batches)" if plan.setup.grad_accum > 1 else ""
        out.append(f"The training loss is logged {plural(logs.count, 'time')}{every}{accum}.")
    return out


def token_cards(plan: Plan) -> list[Card]:
    """Tokens per step, trained, dropped or padded, and the max_steps for a budget (with token data)."""
    t = plan.setup.tokens
    if t is None:
        return []
    per_step = f"Effective batch {fmt(plan.effective_batch_size)} x sequence length {fmt(t.seq_len)}"
    if t.tokens_per_sample < t.seq_len:
        per_step += f"; {fmt(plan.real_tokens_per_optimizer_step)} of them real, the rest padding"
    cards = [
        Card("Tokens per optimizer step", fmt(plan.tokens_per_optimizer_step), per_step + "."),
        Card("Tokens trained", fmt(plan.tokens_trained), f"Real tokens in the {plural(plan.samples_seen, 'sample')} the run sees, all devices together."),
    ]
    if t.packing:
        cards.append(Card("Tokens dropped", fmt(t.tokens_dropped), f"The tail of the token stream that fills no whole sequence of {fmt(t.seq_len)}."))
    else:
        cards.append(Card("Tokens padded / cut", f"{fmt(t.tokens_padded)} / {fmt(t.tokens_dropped)}",
                          f"Each document of {plural(t.tokens_per_document, 'token')} is padded or truncated to {fmt(t.seq_len)}."))  # fmt: skip
    if t.token_budget is not None:
        cards.append(Card("max_steps for the token budget", fmt(plan.max_steps_for_token_budget), plan._budget_note()))
    return cards


def time_cards(plan: Plan) -> list[Card]:
    """The time of an epoch and of the run (with a throughput)."""
    s = plan.setup
    if not s.timed or not plan.epochs_started:
        return []
    rate = f"{fmt(s.seconds_per_step)} s per optimizer step" if s.seconds_per_step is not None else f"{fmt(s.samples_per_second)} samples per second"
    per_epoch = plan.seconds_per_epoch[plan.completed] if plan.completed.any() else plan.seconds_per_epoch
    lo, hi = float(per_epoch.min()), float(per_epoch.max())
    value = duration(lo) if duration(lo) == duration(hi) else f"{duration(lo)} to {duration(hi)}"
    return [
        Card("Time per epoch", value, f"At {rate}; training only (evaluations and checkpoints take no time here)."),
        Card("Training time", duration(plan.seconds_total), f"All {plural(plan.total_optimizer_steps, 'optimizer step')} at {rate}."),
    ]


# -- takeaways ---------------------------------------------------------------------------


def _every(plan: Plan, events) -> str | None:
    """When `events` happen, if regularly: 'at the end of every epoch' or 'every 50 optimizer steps'."""
    sched = plan.schedule
    if len(events) < 2:
        return None
    if bool(np.all(events.batches_done == sched.batches[events.epoch])):
        gaps = np.diff(events.epoch)
        if gaps.min() == gaps.max() and gaps[0] > 0:
            d = int(gaps[0])
            return "at the end of every epoch" if d == 1 else f"at the end of every {ordinal(d)} epoch"
        return None
    gaps = np.diff(events.global_step)
    if gaps.min() == gaps.max() and gaps[0] > 0:
        return f"every {plural(int(gaps[0]), 'optimizer step')}"
    return None


def misses_before_stop(setup: Setup) -> int:
    """Checks without improvement after the best that the convention's early stopping waits
    before it stops (its own rule replayed on a flat metric: HF's patience 0 stops at the
    first evaluation, Lightning and Keras treat 0 as 1)."""
    rule = convention(setup).early_stopping(setup.replace(min_delta=0.0))
    for i in range(setup.patience + 2):
        if rule.update(1.0, i)[0]:
            return i
    raise AssertionError("an early-stopping rule that never stops on a flat metric")  # pragma: no cover


def _gap(plan: Plan, events) -> tuple[int, str] | None:
    """The regular distance between events, in epochs or optimizer steps."""
    if len(events) < 2:
        return None
    sched = plan.schedule
    at_end = bool(np.all(events.batches_done == sched.batches[events.epoch]))
    gaps = np.diff(events.epoch if at_end else events.global_step)
    if gaps.min() != gaps.max() or gaps[0] <= 0:
        return None
    return int(gaps[0]), "epoch" if at_end else "step"


def _cadence_sentence(plan: Plan) -> str | None:
    s, sched = plan.setup, plan.schedule
    ev, checks = sched.evaluations, sched.checks
    if len(ev) < 2:
        return None
    c = convention(plan)
    every = _every(plan, ev)
    head = f"The run evaluates {plural(len(ev), 'time')}" + (f", {every}" if every else "")
    assumed = c.default_cadence_note(s)
    if assumed:
        head += f" ({assumed})"
    if s.patience is None:
        return head + "."
    own_checks = len(checks) != len(ev) or not np.array_equal(checks.global_step, ev.global_step)
    unit = "check" if own_checks else "evaluation"
    if own_checks and _every(plan, checks):
        head += f"; early stopping checks only {_every(plan, checks)}, reading the latest value"
    misses = misses_before_stop(s)
    if misses == 0:
        return head + f"; with patience 0, {c.title} stops right after the first evaluation, whatever its value."
    gap = _gap(plan, checks)
    wait = f" (up to {plural(misses * gap[0], gap[1])})" if gap else ""
    same = "" if misses == s.patience else f" ({c.title} counts patience {fmt(s.patience)} as {fmt(misses)})"
    return head + f"; patience {fmt(s.patience)} stops training after {plural(misses, unit)} without improvement{wait}{same}."


def takeaways(plan: Plan) -> list[str]:
    """Short sentences about this setup, every number from the plan."""
    c = convention(plan)
    s, sched = plan.setup, plan.schedule
    L = plan.batches_per_epoch_full
    out = []
    per_pass = sched.batches_per_pass
    planned_epochs = _planned_epochs(plan)
    verb = "makes" if round(planned_epochs, 2) == 1 else "make"
    run = f"{plural(round(planned_epochs, 2), 'epoch')} {verb} {plural(plan.planned_optimizer_steps, 'optimizer step')}."
    if L and per_pass != L:
        out.append(
            f"{plural(s.dataset_size, 'sample')} in batches of {fmt(s.batch_size)} make {plural(per_pass, 'batch', 'batches')} per pass over the data; "
            f"with steps_per_epoch={fmt(s.steps_per_epoch)} an epoch takes at most {fmt(s.steps_per_epoch)} of them, and {run}"
        )
    elif L:
        out.append(
            f"{plural(s.dataset_size, 'sample')} in batches of {fmt(s.batch_size)}"
            + (f" on {fmt(s.devices)} devices" if s.devices > 1 else "")
            + f" make {plural(L, 'batch', 'batches')} per epoch{' per device' if s.devices > 1 else ''}; {run}"
        )
    else:
        out.append(c.empty_sentence(plan))

    if s.devices > 1 and L:
        out.append(c.device_share(plan))

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
            f"To give all {fmt(s.devices)} devices the same number of batches, {plural(per_epoch, 'sample')} {'is' if per_epoch == 1 else 'are'} repeated every epoch "
            f"({fmt(plan.samples_duplicated)} over the run): they are seen twice, and samples seen exceeds the data."
        )

    if s.grad_accum > 1 and L:
        leftover = c.leftover(plan)
        if leftover:
            out.append(leftover)

    out += _length_sentences(plan, c)
    out += _saving_sentences(plan) + _token_sentences(plan) + _time_sentences(plan)
    cadence = _cadence_sentence(plan)
    if cadence:
        out.append(cadence)
    out += _early_stop_sentences(plan, c)
    return out


def _length_sentences(plan: Plan, c: Convention) -> list[str]:
    """What sets the length of the run: max_steps against the epochs, or a fractional epoch count."""
    s, L = plan.setup, plan.batches_per_epoch_full
    n_epochs, position = len(plan.schedule.batches), round(_planned_epochs(plan), 2)
    epochs = c.epochs(s)
    if s.max_steps is not None and L:
        by_epochs = None if epochs is None else _planned_steps(s.replace(max_steps=None, epochs=epochs))
        if c.max_steps_overrides and s.epochs is not None and by_epochs is not None and s.max_steps != by_epochs:
            return [
                f"max_steps={fmt(s.max_steps)} overrides {c.epochs_arg}={fmt(s.epochs)} (which would give {fmt(by_epochs)} steps): "
                f"training ends at {plural(position, 'epoch')}, in epoch {fmt(n_epochs)}."
            ]
        if by_epochs is not None and s.max_steps < by_epochs:
            return [
                f"max_steps={fmt(s.max_steps)} cuts the run in epoch {fmt(n_epochs)}, at {plural(position, 'epoch')}: "
                f"{fmt(s.max_steps)} of the {fmt(by_epochs)} steps the epochs would give."
            ]
        if by_epochs is not None and s.max_steps > by_epochs:
            return [f"max_steps={fmt(s.max_steps)} is never reached: the {plural(n_epochs, 'epoch')} end at step {fmt(by_epochs)}."]
        if epochs is None:
            return [f"max_steps={fmt(s.max_steps)} alone sets the length: the run ends in epoch {fmt(n_epochs)}, at {plural(position, 'epoch')}."]
        return []
    if s.epochs is not None and s.epochs != int(s.epochs) and L:
        return [
            f"{c.epochs_arg}={fmt(s.epochs)} starts {plural(n_epochs, 'epoch')}; the last stops after "
            f"{plural(int(plan.schedule.steps[-1]), 'step')}, at {plural(position, 'epoch')}."
        ]
    return []


def _token_sentences(plan: Plan) -> list[str]:
    t = plan.setup.tokens
    if t is None:
        return []
    if t.packing:
        made = (f"{plural(t.total_tokens, 'token')} packed into sequences of {fmt(t.seq_len)} make {plural(t.samples, 'sample')}"
                + (f"; the last {plural(t.tokens_dropped, 'token')} fill no whole sequence and are dropped" if t.tokens_dropped else ""))  # fmt: skip
    else:
        made = f"{plural(t.documents, 'document')} of {plural(t.tokens_per_document, 'token')} make {plural(t.samples, 'sample')}, one each"
    out = [f"{made}. One optimizer step trains {plural(plan.tokens_per_optimizer_step, 'token')}; the run trains {plural(plan.tokens_trained, 'real token')}."]
    return out + list(t.notes)


def _time_sentences(plan: Plan) -> list[str]:
    s = plan.setup
    if not s.timed or not plan.epochs_started:
        return []
    text = f"Training takes {duration(plan.seconds_total)}"
    if len(plan.evaluations):
        text += f"; the first evaluation comes after {duration(float(plan.eval_seconds[0]))}"
    if plan.stop_seconds is not None and plan.early_stop is not None and plan.early_stop.stopped:
        text += f", and early stopping ends the run after {duration(plan.stop_seconds)}"
    return [text + " (evaluation and checkpoint time not included)."]


def _early_stop_sentences(plan: Plan, c: Convention) -> list[str]:
    s, es = plan.setup, plan.early_stop
    if es is None:
        return []
    ev = plan.schedule.evaluations
    best = ""
    if es.best_eval_index is not None and es.best_eval_index < len(ev):
        best = f"; the best checkpoint is evaluation {fmt(es.best_eval_index + 1)} (step {fmt(int(ev.global_step[es.best_eval_index]))})"
    if es.stopped:
        saved = plan.planned_optimizer_steps - es.stop_global_step
        out = [
            f"Early stopping (patience {fmt(s.patience)}) fires after evaluation {fmt(es.evaluations_done)}: training ends at step {fmt(es.stop_global_step)} "
            f"in epoch {fmt(es.stop_epoch)}, {plural(saved, 'step')} before the planned {fmt(plan.planned_optimizer_steps)}{best}."
        ]
    elif es.metrics_ran_out_at is not None:
        out = [f"Only {plural(len(s.metrics), 'metric value')} for {plural(len(ev), 'evaluation')}: early stopping is replayed up to there and does not fire{best}."]
    elif not len(plan.schedule.checks):
        out = [f"Early stopping never fires: there is no evaluation for it to check, so all {fmt(plan.planned_optimizer_steps)} steps run."]
    else:
        out = [f"Early stopping (patience {fmt(s.patience)}) never fires: all {fmt(plan.planned_optimizer_steps)} steps run{best}."]
    if s.start_from_epoch:
        out.append(f"start_from_epoch={fmt(s.start_from_epoch)}: {c.title} ignores the metric in the first {plural(s.start_from_epoch, 'epoch')}.")
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
    c = convention(plan)
    s, L = plan.setup, plan.batches_per_epoch_full
    out = []
    es = plan.early_stop
    if es is not None and es.stopped and s.patience is not None:
        out.append((f"Raise patience from {fmt(s.patience)} to {fmt(s.patience + 2)}.", {"patience": s.patience + 2}))
    out += c.try_changes(plan)
    if "drop_last" in c.owns and not s.drop_last and 0 < plan.schedule.last_batch_size < s.batch_size:
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
        return TryThis("Change the batch size and watch the total optimizer steps.", "Prediction: fewer, larger batches mean fewer steps.")
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
    notes: tuple[Note, ...]
    plan: Plan | None
    refusal: str | None

    @property
    def texts(self) -> tuple[str, ...]:
        return tuple(n.text for n in self.notes)


def translate(setup: Setup, framework: str) -> Translation:
    """`setup` as a user of `framework` would write it, with the plan or the refusal.

    The user's own framework gets the setup unchanged. Others keep the shared numbers
    (data, batch, epochs, max_steps, accumulation, devices, drop_last, early stopping) and
    get the evaluation cadence in their own terms; what a framework cannot express is
    adapted the way its users do (its convention decides how), and each adaptation is said in a note.
    """
    named(framework)  # an unknown name raises ValueError
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
    for name in FRAMEWORKS:
        if name == setup.framework:
            out.append(Translation(name, setup, _assumptions(setup, source_plan), source_plan, refusal))
        else:
            out.append(_translate(setup, name, source_plan))
    return tuple(out)


def _assumptions(setup: Setup, plan: Plan | None) -> tuple[Note, ...]:
    """What the plan assumes that the framework would not do unasked (when it evaluates at all)."""
    note = convention(setup).default_cadence_note(setup)
    if note and plan is not None and len(plan.evaluations):
        return (Note("assumed_cadence", note),)
    return ()


def _translate(setup: Setup, framework: str, source_plan: Plan | None) -> Translation:
    source, target = convention(setup), CONVENTIONS[framework]
    values = {name: getattr(setup, name) for name in UNIVERSAL}
    values["framework"] = framework
    notes: list[Note] = []
    if setup.epochs is None:
        values["epochs"] = source.epochs(setup)
    source.export_values(setup, source_plan, values, notes)
    refusal = target.import_values(values, notes)
    if refusal is not None:
        return Translation(framework, None, tuple(notes), None, refusal)
    target.adopt_cadence(values, source.cadence(setup, source_plan), notes)
    if values.get("patience") is None:
        values["metrics"] = ()
    try:
        adapted = Setup(**values)
    except SetupError as exc:
        return Translation(framework, None, tuple(notes), None, str(exc))
    try:
        plan = make_plan(adapted)
    except SetupError as exc:
        return Translation(framework, adapted, tuple(notes), None, str(exc))
    if setup.lr_schedule is not None:
        adapted, plan, lr_note = _with_schedule(source, setup, adapted, plan)
        if lr_note:
            notes.append(Note("lr", lr_note))
    notes += _assumptions(adapted, plan)
    es = plan.early_stop
    if es is not None and es.metrics_ran_out_at is not None and setup.metrics:
        notes.append(Note("metrics", f"the {plural(len(setup.metrics), 'metric value')} run out at evaluation {fmt(es.metrics_ran_out_at + 1)}."))
    return Translation(framework, adapted, tuple(notes), plan, None)


def _with_schedule(source: Convention, setup: Setup, adapted: Setup, plan: Plan) -> tuple[Setup, Plan, str | None]:
    """Carry the learning-rate schedule over (it does not change any count, so a framework
    that cannot express it keeps its plan and says so)."""
    target, kind = convention(adapted), setup.lr_schedule
    if kind not in target.lr_schedules:
        return adapted, plan, f"{target.title} has no built-in {kind} schedule with warmup (use {' or '.join(target.lr_schedules)})."
    warmup, note = target.carry_warmup(source, setup, plan, adapted.grad_accum)
    try:
        with_lr = adapted.replace(lr_schedule=kind, lr=setup.lr, warmup_steps=float(int(warmup)) if warmup >= 1 else float(warmup))
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
    "checkpoints",
    "steps after last checkpoint",
    "tokens trained",  # with token data
    "training time",  # with a throughput
    "note",
)
_COMPARED = TRANSLATOR_COLUMNS[1:-1]


def _early_cell(plan: Plan) -> str:
    es = plan.early_stop
    if es is None:
        return "off"
    if es.stopped:
        return f"step {fmt(es.stop_global_step)} (epoch {fmt(es.stop_epoch)})"
    return "does not fire"


def _note_text(notes) -> str:
    return "; ".join(n.rstrip(".") for n in notes)


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
            row["note"] = _note_text((*t.texts, f"refuses: {t.refusal}"))
        else:
            p = t.plan
            row = {
                "convention": name,
                "batches per epoch": _range_text(p.schedule.nominal_batches) if p.epochs_started else fmt(p.batches_per_epoch_full),
                "steps per epoch": _steps_value(p) if p.batches_per_epoch_full else "0",
                "total steps": fmt(p.total_optimizer_steps),
                "effective batch": fmt(p.effective_batch_size),
                "evaluations": fmt(len(p.evaluations)),
                "samples seen": fmt(p.samples_seen),
                "samples dropped": fmt(p.samples_dropped),
                "early stop": _early_cell(p),
                "checkpoints": fmt(p.checkpoints.count),
                "steps after last checkpoint": fmt(p.steps_after_last_checkpoint),
                "tokens trained": fmt(p.tokens_trained) if setup.tokens is not None else "",
                "training time": duration(p.seconds_total) if setup.timed and p.epochs_started else "",
                "note": _note_text(t.texts),
            }
        rows.append(row)
    columns = [c for c in TRANSLATOR_COLUMNS if not (c == "tokens trained" and setup.tokens is None) and not (c == "training time" and not setup.timed)]
    df = pd.DataFrame(rows, columns=columns, index=list(FRAMEWORKS))
    ok = df[df["total steps"] != "—"]
    df.attrs["differs"] = [col for col in _COMPARED if col in df.columns and ok[col].nunique() > 1]
    return df


def _join(names: list[str]) -> str:
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]


def _reasons(t: Translation, column: str, good: list[Translation], reference: Translation) -> list[tuple[str, str]]:
    """Why `t`'s number in `column` differs: (a phrase about "it", the same naming it)."""
    c, p = CONVENTIONS[t.framework], t.plan
    out = [n.reason for n in t.notes if n.reason is not None and column in n.columns]
    if column in ("planned steps", "batches per epoch", "samples dropped") and t.setup.devices > 1:
        L = p.batches_per_epoch_full
        if any(u.setup.devices > 1 and u.plan.batches_per_epoch_full != L for u in good):
            out.append(c.sharding_reason(t.setup))
    if column == "planned steps" and (reason := c.steps_reason(p)) is not None:
        out.append(reason)
    if column == "evaluations":
        out += c.evaluation_reasons(p)
    if column == "early stop":
        mine, theirs = p.schedule.checks.global_step, reference.plan.schedule.checks.global_step
        if len(mine) != len(theirs) or not np.array_equal(mine, theirs):
            out.append(("its evaluations fall at other steps", f"{c.label}'s evaluations fall at other steps"))
        else:
            out.append((f"its patience rule {c.patience_rule}", f"{c.label}'s patience rule {c.patience_rule}"))
    return out


def _cell(p: Plan, column: str) -> str | None:
    if column == "planned steps":
        return fmt(p.planned_optimizer_steps)
    if column == "batches per epoch":
        return _range_text(p.schedule.nominal_batches) if len(p.schedule.nominal_batches) else "0"
    if column == "evaluations":
        return fmt(len(p.schedule.evaluations))
    if column == "samples dropped":
        return fmt(p.samples_dropped)
    cell = _early_cell(p)
    return None if cell == "off" else cell


def differences(setup: Setup) -> list[str]:
    """Sentences naming both numbers where the conventions disagree for this setup."""
    good = [t for t in translations(setup) if t.plan is not None]
    if setup.grad_accum == 1:  # without accumulation a variant (the flushing loop) is the same loop
        present = {t.framework for t in good}
        good = [t for t in good if CONVENTIONS[t.framework].variant_of not in present]
    if len(good) < 2:
        return []
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
            value = _cell(t.plan, column)
            if value is not None:
                cells.setdefault(value, []).append(t)
        if len(cells) < 2:
            continue
        # the largest group first (ties: the one with the user's framework); it is the norm, the others get reasons
        groups = sorted(cells.items(), key=lambda kv: (-len(kv[1]), not any(t.framework == setup.framework for t in kv[1])))
        reference = groups[0][1][0]
        parts = []
        for i, (value, members) in enumerate(groups):
            label = value if column == "early stop" or i else f"{value} {unit[column]}"
            part = f"{_join([CONVENTIONS[t.framework].who(setup.grad_accum) for t in members])}: {label}"
            if i:
                found = [r for t in members for r in _reasons(t, column, good, reference)]
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
    c = named(framework)
    t = translate(setup, framework)
    s = t.setup if t.setup is not None else setup.replace(framework=framework)
    head = [f"# {text}" for text in t.texts]
    if t.refusal:
        head.append(f"# {c.label} refuses this setup: {t.refusal}")
    return "\n".join(head + c.snippet(s, t.plan, setup)) + "\n"


def runnable_script(setup: Setup, framework: str) -> str:
    """A complete one-device script for `framework` (the setup as `translate` writes it) whose
    last line is what the framework itself counts. Raises SetupError where there is no such
    proof: a setup the framework refuses, several devices, too few metric values."""
    t = translate(setup, framework)
    if t.plan is None:
        raise SetupError("framework", framework, t.refusal or "the framework refuses this setup")
    return CONVENTIONS[framework].runnable(t.setup, t.plan)


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
    "runnable_script",
    "takeaways",
    "translate",
    "translator",
    "try_this",
    "try_this_change",
]
