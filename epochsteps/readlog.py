"""Read my log: what the HF Trainer, Lightning or Keras printed -> the setup it implies,
what each printed number counts, where those numbers mislead, and the plan when the text
determines it.

`read_log(text)` cleans the text as a terminal shows it (carriage-return redraws and ANSI
codes gone), asks each framework's reader (`conventions/<name>/log.py`) which of its own
format strings the text holds, and lets the one framework found read it. Nothing is ever
evaluated or echoed as markup; notes are plain sentences.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from types import MappingProxyType

from .conventions import CONVENTIONS
from .conventions.logtext import SETUP_KEYS, LogError, Printed
from .plan import Plan, make_plan
from .setup import Setup, SetupError
from .text import fmt

MAX_CHARS = 4_000_000  # a long training log; the banner and bars a reading needs are far smaller
MAX_LINE = 4_000  # characters kept of one line: every line a reader needs is much shorter

ANSI = re.compile(r"\x1b\[[0-?]{0,64}[ -/]{0,8}[@-~]|\x1b\][^\x07\x1b]{0,512}(?:\x07|\x1b\\)|\x1b[@-Z\\-_]|\x1b")
CONTROL = re.compile(r"[\x00-\x07\x0b\x0c\x0e-\x1a\x1c-\x1f\x7f]")

__all__ = ["MAX_CHARS", "LogError", "LogReading", "Printed", "normalise", "read_log"]


@dataclass(frozen=True)
class LogReading:
    """What the text determines; None (and a name in `unknown`) for what it does not."""

    framework: str
    setup: MappingProxyType  # SETUP_KEYS -> value or None
    unknown: tuple[str, ...]
    printed: tuple[Printed, ...]
    batches_per_epoch: int | None  # training batches per epoch, per device
    total_optimizer_steps: int | None
    epochs_run: int | None
    notes: tuple[str, ...]
    plan: Plan | None

    def to_dict(self) -> dict:
        return {
            "framework": self.framework,
            "setup": dict(self.setup),
            "unknown": list(self.unknown),
            "printed": {p.label: p.value for p in self.printed},
            "printed_meaning": {p.label: p.meaning for p in self.printed},
            "batches_per_epoch": self.batches_per_epoch,
            "total_optimizer_steps": self.total_optimizer_steps,
            "epochs_run": self.epochs_run,
            "notes": list(self.notes),
            "plan": None if self.plan is None else self.plan.to_dict(include_lr=False),
        }


def normalise(text: str) -> list[str]:
    """The text as lines a terminal would show, one entry per redraw of a progress bar.

    Carriage returns split redraws (tqdm, Keras), backspaces and ANSI escapes are dropped,
    and each line is cut at MAX_LINE characters. Binary data and oversized text are refused.
    """
    if not isinstance(text, str):
        raise LogError(f"expected text, got {type(text).__name__}")
    if len(text) > MAX_CHARS:
        raise LogError(f"the text has {len(text):,} characters; at most {MAX_CHARS:,} are read (paste the run's start: banner and first epochs)")
    if "\x00" in text or text.count("\ufffd") > max(8, len(text) // 100):
        raise LogError("the text looks like binary data, not a training log")
    text = ANSI.sub("", text)
    if len(CONTROL.findall(text)) > max(8, len(text) // 100):
        raise LogError("the text looks like binary data, not a training log")
    text = CONTROL.sub("", text).replace("\b", "").replace("\t", " ")
    lines = []
    for raw in re.split(r"[\r\n\u2028\u2029\x85]", text):
        line = raw.rstrip()
        if line.strip():
            lines.append(line[:MAX_LINE])
    return lines


def read_log(text: str) -> LogReading:
    """Read a pasted log. Raises LogError (a ValueError) with one plain sentence when the
    text is not a log this project can read."""
    lines = normalise(text)
    if not lines:
        raise LogError("the text is empty")
    found = {}
    for name, c in CONVENTIONS.items():
        if c.log is not None:
            seen = c.log.evidence(lines)
            if seen:
                found[name] = seen
    if not found:
        raise LogError(
            "this is not a log of the HF Trainer, Lightning or Keras: none of their own lines is in it (the Trainer's"
            " “***** Running training *****” banner or log dicts, Lightning's “Epoch 0:” bar or “`Trainer.fit` stopped”,"
            " Keras' “32/32 ━━━━” progress bar)"
        )
    if len(found) > 1:
        parts = [f"{CONVENTIONS[name].title} ({found[name][0]})" for name in found]
        raise LogError(f"the text mixes the output of {' and '.join(parts)}; paste one run")
    (name,) = found
    convention = CONVENTIONS[name]
    draft = convention.log.read(lines)
    plan = None
    if draft.plan_setup is not None:
        try:
            plan = make_plan(Setup(**draft.plan_setup))
        except SetupError as exc:
            draft.note(f"The plan is not built: {exc}.")
        else:
            if draft.total_optimizer_steps is not None and draft.total_optimizer_steps != plan.total_optimizer_steps:
                draft.note(f"The plan is the run as planned ({fmt(plan.total_optimizer_steps)} steps), before it was cut short.")
            draft.note("The plan evaluates once per epoch, the project's default: the log does not show the evaluation cadence.")
    owned = {key for key in SETUP_KEYS if key in convention.owns}
    unknown = tuple(key for key in SETUP_KEYS if key in owned and draft.setup[key] is None)
    setup = MappingProxyType({key: (draft.setup[key] if key in owned else None) for key in SETUP_KEYS})
    return LogReading(
        framework=name,
        setup=setup,
        unknown=unknown,
        printed=tuple(draft.printed.values()),
        batches_per_epoch=draft.batches_per_epoch,
        total_optimizer_steps=draft.total_optimizer_steps,
        epochs_run=draft.epochs_run,
        notes=tuple(draft.notes),
        plan=plan,
    )
