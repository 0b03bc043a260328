"""What the framework log readers share: the error, the draft a reader fills in, and the
strict readers of numbers and tqdm bars.

A reader never evaluates text: every value comes out of a bounded regular expression.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

# The setup as the plan's flags name it; a reading fills in what the text determines.
SETUP_KEYS = ("dataset_size", "batch_size", "grad_accum", "devices", "epochs", "max_steps", "drop_last", "steps_per_epoch")
MAX_COUNT = 10**15  # larger than any count a Setup accepts


class LogError(ValueError):
    """Text that is not a readable log of a known framework (said in one plain sentence)."""


@dataclass(frozen=True)
class Printed:
    """One number the log prints: its label and value as printed, and what it counts."""

    label: str
    value: int | float | str
    meaning: str


@dataclass
class Draft:
    """What a framework's reader determined from the text; None means undetermined."""

    framework: str
    setup: dict = field(default_factory=lambda: dict.fromkeys(SETUP_KEYS))
    printed: dict = field(default_factory=dict)  # label -> Printed, in reading order
    notes: list = field(default_factory=list)
    batches_per_epoch: int | None = None
    total_optimizer_steps: int | None = None
    epochs_run: int | None = None
    plan_setup: dict | None = None  # Setup arguments, when everything the plan needs is determined

    def show(self, label: str, value, meaning: str) -> None:
        self.printed[label] = Printed(label, value, meaning)

    def note(self, sentence: str) -> None:
        if sentence not in self.notes:
            self.notes.append(sentence)


# "1,000" as Python's `{:,}` prints it, or plain digits; at most sys.maxsize's 19 digits.
NUMBER = r"\d{1,3}(?:,\d{3}){1,6}|\d{1,19}"


def count(text: str, label: str, low: int = 0, high: int = MAX_COUNT) -> int:
    """A printed whole number; a value no framework prints is refused, naming its label."""
    value = int(text.replace(",", ""))
    if value < low:
        raise LogError(f"“{label}” is {text}, which no training run prints (it is at least {low:,})")
    if value > high:
        raise LogError(f"“{label}” is {text}, more than any training run counts (at most {high:,})")
    return value


# tqdm's default bar (tqdm/std.py `tqdm.format_meter`): "{desc}: {pct:3.0f}%|{bar}| {n}/{total} [..."
# A total tqdm does not know, or has been passed, shows as "?" and drops the percentage.
TQDM = re.compile(r"^\s{0,4}(?:(?P<desc>[^|\[\]]{1,80}?): ?)?\s{0,3}(?:(?P<pct>\d{1,4})%)?\|[^|]{0,400}\|\s{0,3}(?P<n>\d{1,16})/(?P<total>\d{1,16}|\?) \[")


@dataclass(frozen=True)
class Bar:
    desc: str
    n: int
    total: int | None  # None when tqdm shows "?"
    line: int


def tqdm_bars(lines: list[str]) -> list[Bar]:
    bars = []
    for i, line in enumerate(lines):
        if "|" not in line:
            continue
        m = TQDM.match(line)
        if m:
            total = None if m["total"] == "?" else count(m["total"], "progress bar total")
            bars.append(Bar((m["desc"] or "").strip(), count(m["n"], "progress bar count"), total, i))
    return bars


def quoted(label: str) -> str:
    return f"“{label}”"
