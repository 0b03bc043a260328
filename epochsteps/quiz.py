"""Self-check questions generated from a setup, judged by the core's numbers.

Every answer and every number in the worked reasoning comes from `make_plan` (batches,
steps, `epoch_at`, early stopping); this module only phrases them. Questions are
deterministic for a seed. All text is plain (no Markdown, no HTML), and `check` never
echoes the learner's raw text back: it reports the number it read.
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

import numpy as np

from .conventions import CONVENTIONS
from .plan import Plan, make_plan
from .setup import MAX_METRICS, Setup, SetupError
from .text import fmt, plain_math, plural

KINDS = (
    "steps_per_epoch",
    "total_steps",
    "effective_batch",
    "epoch_of_step",
    "earliest_stop",
    "early_stop",
    "last_batch",
    "samples_dropped",
)
MAX_ANSWER_CHARS = 200



@dataclass(frozen=True)
class Question:
    kind: str
    prompt: str  # plain text
    answer: int  # exact, from the core
    unit: str
    reasoning: str  # the worked reasoning, plain text, numbers from the core
    setup: Setup  # the setup the question is about
    fraction: float | None = None  # epoch_of_step: the fractional epoch, also accepted


@dataclass(frozen=True)
class Verdict:
    correct: bool | None  # None: the answer could not be read as one number
    feedback: str  # plain text
    reasoning: str  # plain text; empty until an answer was read
    value: Decimal | None = None


# -- numbers -----------------------------------------------------------------------
_SEP = "[ ,'_\u00a0\u202f\u2009]"
_NUMBER = re.compile(
    rf"[-+]?(?:\d{{1,3}}(?:{_SEP}\d{{3}})+|\d+)(?:\.\d*)?(?:[eE][-+]?\d+)?"
    r"|[-+]?\.\d+(?:[eE][-+]?\d+)?"
)
_DECIMAL_COMMA = re.compile(r"[-+]?\d+,\d+")


def parse_answer(text: str) -> Decimal | None:
    """One number from what a learner typed: "1,000", "1 000", "1e3", "16 steps", "2,5".

    None when there is no number or more than one.
    """
    t = str(text).strip()[:MAX_ANSWER_CHARS]
    if _DECIMAL_COMMA.fullmatch(t) and not re.fullmatch(r"[-+]?\d{1,3}(,\d{3})+", t):
        t = t.replace(",", ".")  # "2,5" is a decimal comma; "2,500" is thousands
    found = _NUMBER.findall(t)
    if len(found) != 1:
        return None
    token = re.sub(_SEP, "", found[0])
    try:
        value = Decimal(token)
    except InvalidOperation:
        return None
    return value if value.is_finite() else None


def _show(value: Decimal) -> str:
    if value == value.to_integral_value() and abs(value) < Decimal("1e18"):
        return f"{int(value):,}"
    return f"{float(value):,.4g}"


def check(question: Question, answer_text: str) -> Verdict:
    """Right or wrong, judged against the core's number, with the worked reasoning."""
    value = parse_answer(answer_text)
    if value is None:
        return Verdict(None, "Type one number, for example 1,000 or 1e3.", "")
    if value == question.answer:
        return Verdict(True, f"Right: {_with_unit(question.answer, question.unit)}.", question.reasoning, value)
    feedback = f"Not quite: you answered {_show(value)}; the answer is {_with_unit(question.answer, question.unit)}."
    if question.fraction is not None and value != value.to_integral_value():
        feedback += f" Epochs are counted from 1: when that step is taken {question.fraction:,.2f} epochs are done, so it is in epoch {fmt(question.answer)}."
    return Verdict(False, feedback, question.reasoning, value)


def _with_unit(answer: int, unit: str) -> str:
    return f"{fmt(answer)} {unit}" if unit else fmt(answer)  # no stray space before the full stop


# -- describing a setup ------------------------------------------------------------
def describe_setup(s: Setup, early_stopping: bool = True) -> str:
    """The setup as a prompt gives it: every input the plan's numbers depend on, in the
    framework's own argument names where it has them (the learning rate changes no count)."""
    c = CONVENTIONS[s.framework]
    parts = [plural(s.dataset_size, "sample"), f"batch size {fmt(s.batch_size)}" + (" per device" if s.devices > 1 else "")]
    if s.devices > 1:
        parts.append(f"{fmt(s.devices)} devices")
    if s.grad_accum > 1:
        parts.append(f"gradient accumulation {fmt(s.grad_accum)}")
    if s.drop_last:
        parts.append("drop_last on")
    epochs = c.epochs(s)
    if s.epochs is not None:
        parts.append(plural(s.epochs, "epoch"))
    elif epochs is not None:
        parts.append(f"{plural(epochs, 'epoch')} ({c.epochs_arg}'s default)")
    if s.max_steps is not None:
        parts.append(f"max_steps {fmt(s.max_steps)}")
    if s.steps_per_epoch is not None:
        parts.append(f"steps_per_epoch {fmt(s.steps_per_epoch)}")
    if early_stopping and s.patience is not None:
        parts.append(c.cadence_words(s))
        rule = f"early stopping with patience {fmt(s.patience)}"
        if s.min_delta:
            rule += f" and min_delta {fmt(s.min_delta)}"
        if s.mode == "max":
            rule += " on a metric where higher is better"
        if s.start_from_epoch:
            rule += f", start_from_epoch {fmt(s.start_from_epoch)}"
        parts.append(rule)
    return f"{', '.join(parts)} ({c.title})"


def _notes(plan: Plan) -> str:
    return (" " + " ".join(plan.notes)) if plan.notes else ""


def _batches_sentence(plan: Plan, epoch: int = 0) -> str:
    """How epoch `epoch`'s batches come about, in the words of the convention's formula."""
    s = plan.setup
    terms = [f"{t.label} = {plain_math(t.expression)} = {fmt(t.value)}" if t.expression else f"{t.label} = {fmt(t.value)}"
             for t in CONVENTIONS[s.framework].batch_terms(plan)]  # fmt: skip
    b = int(plan.nominal_batches[epoch]) if plan.epochs_started else plan.batches_per_epoch_full
    last = int(plan.last_batch_sizes[epoch]) if plan.epochs_started else -1
    dropped = int(plan.dropped_per_epoch[epoch]) if plan.epochs_started else 0
    per_device = "each device runs" if s.devices > 1 else "the run has"
    text = f"{'; '.join(terms)}, so {per_device} {plural(b, 'batch', 'batches')} in epoch {fmt(epoch + 1)}"
    if dropped:
        text += f"; drop_last discards the {plural(dropped, 'sample')} that would make a short last batch"
    elif 0 < last < s.batch_size:
        text += f"; the last batch holds only {plural(last, 'sample')}"
    return text + "."


# -- question kinds ----------------------------------------------------------------
MAX_PROMPT_VALUES = 24  # metric values a prompt can list; a decision that needs more is not asked


def _without_early_stopping(s: Setup) -> Setup:
    """The planned run: questions about batches and steps ask about it, so their prompts need no metric values."""
    return s.replace(patience=None, metrics=(), min_delta=0.0, mode="min", start_from_epoch=0) if s.patience is not None else s


def _values_needed(s: Setup, p: Plan) -> str | None:
    """The metric values the early-stopping decision reads, as a prompt lists them; None when too many."""
    es = p.early_stop
    if es is None or es.metrics_ran_out_at is not None:
        return None
    needed = es.evaluations_done if es.stopped else len(p.evaluations)
    if needed > MAX_PROMPT_VALUES:
        return None
    return ", ".join(f"{v:g}" for v in s.metrics[:needed])


def _steps_per_epoch(s: Setup, rng: random.Random, **_) -> Question:
    s = _without_early_stopping(s)
    p = make_plan(s)
    if not p.epochs_started:
        raise _NotApplicable("no epoch starts")
    steps = int(p.steps[0])
    text = _batches_sentence(p)
    if s.grad_accum > 1:
        text += f" One optimizer step takes {fmt(s.grad_accum)} batches (gradient accumulation), and {CONVENTIONS[s.framework].title} counts {plural(steps, 'optimizer step')} in epoch 1."
    else:
        text += f" One batch is one optimizer step: {plural(steps, 'step')} in epoch 1."
    return Question(
        "steps_per_epoch",
        f"{describe_setup(s)}. How many optimizer steps does epoch 1 take?",
        steps,
        "optimizer steps",
        text + _notes(p),
        s,
    )


def _total_steps(s: Setup, rng: random.Random, **_) -> Question:
    c = CONVENTIONS[s.framework]
    values = _values_needed(s, make_plan(s)) if s.patience is not None else None
    if values is None:
        s = _without_early_stopping(s)
    p = make_plan(s)
    steps = p.steps
    if len(steps) and (steps == steps[0]).all():
        text = f"{fmt(steps[0])} optimizer steps per epoch x {fmt(p.epochs_started)} epoch(s) = {fmt(p.total_optimizer_steps)}."
    else:
        shown = ", ".join(fmt(v) for v in steps[:6]) + (", ..." if len(steps) > 6 else "")
        text = f"The {plural(p.epochs_started, 'epoch')} that start take {shown} optimizer steps; together {fmt(p.total_optimizer_steps)}."
    if s.max_steps is not None and p.planned_optimizer_steps == s.max_steps:
        if c.max_steps_overrides:
            text += f" max_steps = {fmt(s.max_steps)} overrides the number of epochs."
        else:
            text += f" max_steps = {fmt(s.max_steps)} ends the run before the epochs do."
    es = p.early_stop
    if es is not None and es.stopped:
        text += f" Early stopping ends it at step {fmt(es.stop_global_step)} of the {fmt(p.planned_optimizer_steps)} planned."
    prompt = describe_setup(s) + (f" and validation losses {values}" if values is not None else "")
    return Question(
        "total_steps",
        f"{prompt}. How many optimizer steps does the whole run take?",
        p.total_optimizer_steps,
        "optimizer steps",
        text + _notes(p),
        s,
    )


def _effective_batch(s: Setup, rng: random.Random, **_) -> Question:
    s = _without_early_stopping(s)
    p = make_plan(s)
    return Question(
        "effective_batch",
        f"{describe_setup(s)}. How many samples go into one optimizer step (the effective batch)?",
        p.effective_batch_size,
        "samples",
        f"batch {fmt(s.batch_size)} x {plural(s.devices, 'device')} x accumulation {fmt(s.grad_accum)} = {plural(p.effective_batch_size, 'sample')} per optimizer step.",
        s,
    )


def _epoch_of_step(s: Setup, rng: random.Random, step: int | None = None, **_) -> Question:
    s = _without_early_stopping(s)
    p = make_plan(s)
    total = p.total_optimizer_steps
    if total < 1:
        raise _NotApplicable("the run takes no optimizer step")
    g = rng.randint(1, total) if step is None else step
    if not 1 <= g <= total:
        raise _NotApplicable(f"step {g} is outside the run")
    e = int(np.searchsorted(p.epoch_end_global_steps, g, side="left"))  # first epoch whose end reaches g
    first, last = int(p.epoch_start_global_steps[e]) + 1, int(p.epoch_end_global_steps[e])
    fraction = float(p.epoch_at(g))
    return Question(
        "epoch_of_step",
        f"{describe_setup(s)}. In which epoch (counting from 1) is optimizer step {fmt(g)} taken?",
        e + 1,
        "",
        f"Epoch {fmt(e + 1)} takes optimizer steps {fmt(first)} to {fmt(last)}, so step {fmt(g)} falls in it;"
        f" when that step is taken, {fraction:,.2f} epochs are done.",
        s,
        fraction=fraction,
    )


class _NotApplicable(Exception):
    pass


def _constant_metrics_plan(s: Setup) -> Plan:
    """The plan when the metric never improves after the first evaluation: the earliest stop."""
    length = (s.patience or 0) + s.start_from_epoch + 2
    while True:
        p = make_plan(s.replace(metrics=(1.0,) * length, min_delta=0.0))
        ran_out = p.early_stop.metrics_ran_out_at
        if ran_out is None or length >= MAX_METRICS:
            return p
        length = min(MAX_METRICS, max(length * 2, ran_out + 1))


def _earliest_setup(s: Setup, patience: int) -> Setup:
    try:  # a hand-written loop evaluates only where told: its convention adds the evaluations
        return CONVENTIONS[s.framework].with_evaluations(s.replace(patience=patience, metrics=(), min_delta=0.0))
    except SetupError as error:
        raise _NotApplicable(str(error)) from None


def _earliest_stop(s: Setup, rng: random.Random, patience: int | None = None, ask: str | None = None, **_) -> Question:
    if patience is None and s.patience is not None:
        patience = s.patience
    # Without a patience of its own, pick one that fires within the run when one does.
    choices = [patience] if patience is not None else rng.sample((1, 2, 3, 5), 4)
    for patience in choices:
        s2 = _earliest_setup(s, patience)
        p = _constant_metrics_plan(s2)
        if p.early_stop.stopped:
            break
    s, es = s2, p.early_stop
    if es.metrics_ran_out_at is not None:
        raise _NotApplicable("too many evaluations to replay")
    if es.stopped:
        text = (
            f"The first evaluation sets the best value. If no later one improves on it, patience {fmt(patience)} runs out"
            f" at evaluation {fmt(es.evaluations_done)}, at optimizer step {fmt(es.stop_global_step)} in epoch {fmt(es.stop_epoch)}."
        )
    else:
        text = (
            f"The run has only {plural(len(p.evaluations), 'evaluation')}, too few for patience {fmt(patience)} to run out;"
            f" training ends as planned at step {fmt(es.stop_global_step)}, in epoch {fmt(es.stop_epoch)}."
        )
    as_step = ask == "step" if ask in ("step", "epoch") else rng.random() < 0.5
    prompt = f"{describe_setup(s)}. "
    prompt += (
        "At which optimizer step can training stop at the earliest?"
        if as_step
        else "In which epoch (counting from 1) can training stop at the earliest?"
    )
    return Question(
        "earliest_stop",
        prompt,
        es.stop_global_step if as_step else es.stop_epoch,
        "optimizer steps" if as_step else "",
        text + _notes(p),
        s,
    )


def _early_stop(s: Setup, rng: random.Random, **_) -> Question:
    if s.patience is None or not s.metrics:
        raise _NotApplicable("needs patience and metric values")
    p = make_plan(s)
    es = p.early_stop
    values = _values_needed(s, p)
    if values is None:
        raise _NotApplicable("the metric values run out, or the decision needs more than a prompt can list")
    best = (
        ""
        if es.best_eval_index is None
        else f" The best value is at evaluation {fmt(es.best_eval_index + 1)} ({s.metrics[es.best_eval_index]:g})."
    )
    if es.stopped:
        text = f"{best} Patience {fmt(s.patience)} runs out at evaluation {fmt(es.evaluations_done)}: training stops at optimizer step {fmt(es.stop_global_step)}, in epoch {fmt(es.stop_epoch)}."
    else:
        text = f"{best} Patience {fmt(s.patience)} never runs out in {plural(es.evaluations_done, 'evaluation')}: training ends as planned at step {fmt(es.stop_global_step)}, in epoch {fmt(es.stop_epoch)}."
    return Question(
        "early_stop",
        f"{describe_setup(s)} and validation losses {values}. In which epoch (counting from 1) does training end?",
        es.stop_epoch,
        "",
        text.strip() + _notes(p),
        s,
    )


def _last_batch(s: Setup, rng: random.Random, **_) -> Question:
    s = _without_early_stopping(s)
    p = make_plan(s)
    if not p.epochs_started or p.last_batch_sizes[0] < 0 or not p.completed[0]:
        raise _NotApplicable("epoch 1 does not run to its last batch")
    return Question(
        "last_batch",
        f"{describe_setup(s)}. How many samples are in the last batch of epoch 1 on each device?",
        int(p.last_batch_sizes[0]),
        "samples",
        _batches_sentence(p) + _notes(p),
        s,
    )


def _samples_dropped(s: Setup, rng: random.Random, **_) -> Question:
    s = _without_early_stopping(s)
    p = make_plan(s)
    if not s.drop_last:
        raise _NotApplicable("drop_last is off")
    return Question(
        "samples_dropped",
        f"{describe_setup(s)}. How many samples does one full epoch never use?",
        int(p.dropped_per_epoch[0]) if p.epochs_started else 0,
        "samples",
        _batches_sentence(p) + f" Over the whole run {fmt(p.samples_dropped)} samples are skipped." + _notes(p),
        s,
    )


_BUILDERS = {
    "steps_per_epoch": _steps_per_epoch,
    "total_steps": _total_steps,
    "effective_batch": _effective_batch,
    "epoch_of_step": _epoch_of_step,
    "earliest_stop": _earliest_stop,
    "early_stop": _early_stop,
    "last_batch": _last_batch,
    "samples_dropped": _samples_dropped,
}


def question(kind: str, setup: Setup, seed: int = 0, **params) -> Question | None:
    """One question of `kind` about `setup`; None when the kind does not apply to it.

    params: `step` (epoch_of_step), `patience` and `ask` ("step" or "epoch") (earliest_stop). Raises SetupError when
    the framework refuses the setup itself.
    """
    if kind not in _BUILDERS:
        raise ValueError(f"unknown question kind {kind!r}; known: {', '.join(KINDS)}")
    rng = random.Random(f"{seed}:{kind}")
    try:
        return _BUILDERS[kind](setup, rng, **params)
    except _NotApplicable:
        return None


def questions(setup: Setup, seed: int = 0, kinds: tuple[str, ...] = KINDS) -> list[Question]:
    """Every kind that applies to `setup`, in an order fixed by `seed`."""
    make_plan(setup)  # a setup the framework refuses fails here, once, with its SetupError
    order = list(kinds)
    random.Random(seed).shuffle(order)
    out = []
    for kind in order:
        try:
            q = question(kind, setup, seed)
        except SetupError:
            continue  # a derived setup (e.g. an added evaluation cadence) the framework refuses
        if q is not None:
            out.append(q)
    return out
