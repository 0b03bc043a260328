"""Lesson mode: `?lesson=steps-per-epoch` opens a built-in guided task with some controls
locked at the lesson's values and the rest hidden; `?hide=a,b` and `?lock=a,b` hide or
lock controls by name for any page.

The lesson text is built in. Nothing from the URL is ever rendered as Markdown or HTML:
a value we do not know is quoted (shortened) inside a notice, and every notice is plain
text meant for `st.text` (`LessonMode.notices_are_plain_text`).
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from . import quiz
from .controls import CONTROLS, DEFAULTS
from .setup import Setup
from .text import echo

LESSON_KEYS = ("lesson", "hide", "lock")
# shown in place of the page's numbers while a lesson's open tasks are unanswered (Markdown, built in)
HIDDEN_UNTIL_ANSWERED = (
    "The lesson keeps the page's numbers and charts hidden until you have answered its tasks above"
    " (or switched on *Show the answers*): work each one out first, then see it on the page."
)
MAX_NAMES = 50  # names read from one hide= / lock= list


@dataclass(frozen=True)
class Part:
    """One step of a lesson: a task, and the quiz question that checks it."""

    prompt: str  # plain text, built in
    kind: str  # a quiz kind
    params: Mapping[str, Any] = field(default_factory=dict)  # quiz.question parameters
    requires: Mapping[str, Any] = field(default_factory=dict)  # control values the task assumes
    looks: bool = False  # answered by reading the page's charts: they show while it is open

    def ready(self, values: Mapping[str, Any]) -> bool:
        """The learner has set what the task asks for (e.g. turned drop_last on)."""
        return all(values.get(k) == v for k, v in self.requires.items())

    def todo(self) -> str:
        """What to change first when not `ready`."""
        return "First set " + ", ".join(f"{CONTROLS[k].label} to {_word(v)}" for k, v in self.requires.items()) + "."

    def question(self, setup: Setup) -> quiz.Question | None:
        return quiz.question(self.kind, setup, **self.params)


def _word(value: Any) -> str:
    if isinstance(value, bool):
        return "on" if value else "off"
    return f"{value:,}" if isinstance(value, int) else str(value)


@dataclass(frozen=True)
class Lesson:
    key: str
    title: str
    intro: str
    preset: Mapping[str, Any]  # control values the lesson opens with
    editable: tuple[str, ...]  # shown and free to move; locked ones are shown, the rest hidden
    locked: tuple[str, ...]
    parts: tuple[Part, ...]

    @property
    def hidden(self) -> frozenset[str]:
        return frozenset(CONTROLS) - set(self.editable) - set(self.locked)


LESSONS: dict[str, Lesson] = {
    lesson.key: lesson
    for lesson in (
        Lesson(
            key="steps-per-epoch",
            title="Steps per epoch and drop_last",
            intro="An epoch is one pass over the data; each batch is one optimizer step here.",
            preset={"framework": "pytorch", "dataset_size": 1_000, "batch_size": 64, "epochs": 3, "drop_last": False},
            editable=("drop_last", "epochs"),
            locked=("framework", "dataset_size", "batch_size"),
            parts=(
                Part(
                    "N = 1,000 samples, batch size B = 64. How many optimizer steps does one epoch take?",
                    "steps_per_epoch",
                    requires={"drop_last": False},
                ),
                Part(
                    "Now turn on drop_last. How many steps does an epoch take now?",
                    "steps_per_epoch",
                    requires={"drop_last": True},
                ),
                Part(
                    "With drop_last on, how many samples does each epoch never use?",
                    "samples_dropped",
                    requires={"drop_last": True},
                ),
            ),
        ),
        Lesson(
            key="effective-batch",
            title="Devices, accumulation and the effective batch",
            intro="Each device runs its own batch; gradient accumulation adds several batches into one optimizer step.",
            preset={"framework": "hf", "dataset_size": 50_000, "batch_size": 8, "devices": 4, "grad_accum": 8, "epochs": 3},
            editable=("dataset_size", "epochs"),
            locked=("framework", "batch_size", "devices", "grad_accum"),
            parts=(
                Part(
                    "4 devices, batch 8 per device and gradient accumulation 8: what is the effective batch?", "effective_batch"
                ),
                Part("How many optimizer steps does one epoch take?", "steps_per_epoch"),
                Part("How many optimizer steps does the whole run take?", "total_steps"),
            ),
        ),
        Lesson(
            key="early-stopping",
            title="Patience counts evaluations, not epochs",
            intro="Early stopping looks at the validation metric only when an evaluation runs.",
            preset={
                "framework": "lightning",
                "dataset_size": 10_000,
                "batch_size": 100,
                "epochs": 30,
                "check_val_every_n_epoch": 2,
                "early_stopping": True,
                "patience": 3,
                "metric_source": "curve",
            },
            editable=("epochs", "seed", "noise", "overfit_at"),
            locked=("framework", "check_val_every_n_epoch", "early_stopping", "patience", "metric_source"),
            parts=(
                Part(
                    "Patience 3, an evaluation every 2 epochs: in which epoch can training stop at the earliest?",
                    "earliest_stop",
                    params={"ask": "epoch"},
                ),
                Part("Now look at the validation curve: in which epoch does training actually end?", "early_stop", looks=True),
            ),
        ),
        Lesson(
            key="epoch-of-step",
            title="From a step number to an epoch",
            intro="Logs count optimizer steps; epochs are what the schedule is set in.",
            preset={"framework": "pytorch", "dataset_size": 10_000, "batch_size": 100, "epochs": 10, "grad_accum": 1},
            editable=("grad_accum",),
            locked=("framework", "dataset_size", "batch_size", "epochs"),
            parts=(
                Part(
                    "10,000 samples, batch 100: in which epoch is optimizer step 250 taken?",
                    "epoch_of_step",
                    params={"step": 250},
                    requires={"grad_accum": 1},
                ),
                Part(
                    "Set gradient accumulation to 2. In which epoch is step 250 taken now?",
                    "epoch_of_step",
                    params={"step": 250},
                    requires={"grad_accum": 2},
                ),
            ),
        ),
    )
}


@dataclass(frozen=True)
class LessonMode:
    """What the lesson parameters ask of the page."""

    lesson: Lesson | None = None
    hidden: frozenset[str] = frozenset()
    locked: frozenset[str] = frozenset()
    notices: tuple[str, ...] = ()  # may quote URL text: render with st.text only
    notices_are_plain_text: bool = True  # never Markdown, never HTML

    @property
    def active(self) -> bool:
        return self.lesson is not None or bool(self.hidden) or bool(self.locked)

    def shows(self, control: str) -> bool:
        return control not in self.hidden

    def is_locked(self, control: str) -> bool:
        return control in self.locked

    def apply(
        self, values: Mapping[str, Any], given: frozenset[str] | set[str] = frozenset()
    ) -> tuple[dict[str, Any], tuple[str, ...]]:
        """The lesson's world over the page's values (`given`: the control keys the URL set).

        The lesson's own locked and hidden controls take the lesson's value (its preset,
        else the default), so a link cannot change a task's answer behind the learner's
        back; its editable controls take the preset only where the URL gave nothing.
        Controls named by `hide=` / `lock=` keep the link's value: that is how a teacher
        freezes their own numbers. Returns the values and plain-text notices of URL values
        the lesson replaced.
        """
        out = dict(values)
        if self.lesson is None:
            return out, ()
        notices = []
        fixed = self.lesson.hidden | set(self.lesson.locked)
        for key in CONTROLS:
            if key in fixed:
                value = self.lesson.preset.get(key, DEFAULTS[key])
                if key in given and values.get(key) != value:
                    notices.append(f"{CONTROLS[key].label} is set by this lesson: using {_word(value)}")
                out[key] = value
            elif key in self.lesson.preset and key not in given:
                out[key] = self.lesson.preset[key]
        return out, tuple(notices)

    def query(self) -> dict[str, str]:
        """These parameters back as query text, for the share link."""
        out = {}
        if self.lesson is not None:
            out["lesson"] = self.lesson.key
        base_hidden = self.lesson.hidden if self.lesson else frozenset()
        base_locked = frozenset(self.lesson.locked) if self.lesson else frozenset()
        extra_hidden = [k for k in CONTROLS if k in self.hidden and k not in base_hidden]
        extra_locked = [k for k in CONTROLS if k in self.locked and k not in base_locked]
        if extra_hidden:
            out["hide"] = ",".join(extra_hidden)
        if extra_locked:
            out["lock"] = ",".join(extra_locked)
        return out


def _first(value: str | list[str] | tuple[str, ...] | None) -> str | None:
    if value is None or isinstance(value, str):
        return value
    items = [str(v) for v in value]
    return items[0] if items else None


def parse_names(text: str, param: str) -> tuple[frozenset[str], list[str]]:
    """A comma list of control names -> (known names, notices naming the unknown ones)."""
    names, unknown = [], []
    tokens = [t.strip() for t in str(text).split(",")]
    tokens = [t for t in tokens if t]
    for token in tokens[:MAX_NAMES]:
        key = token.lower().replace("-", "_")
        (names if key in CONTROLS else unknown).append(key if key in CONTROLS else token)
    notices = []
    if unknown:
        shown = ", ".join(repr(echo(u)) for u in unknown[:5])
        more = f" and {len(unknown) - 5} more" if len(unknown) > 5 else ""
        close = sorted({m for u in unknown[:5] for m in difflib.get_close_matches(str(u).lower(), CONTROLS, n=2)})
        hint = f"did you mean {', '.join(close)}?" if close else "a control's name is its key in the page's URL, such as batch_size or grad_accum"
        notices.append(f"{param}: not a control of this page, ignored: {shown}{more}; {hint}")
    if len(tokens) > MAX_NAMES:
        notices.append(f"{param}: only the first {MAX_NAMES} names are read")
    return frozenset(names), notices


def parse_lesson_params(params: Mapping[str, Any]) -> LessonMode:
    """`lesson`, `hide` and `lock` from untrusted query parameters (str or list of str each)."""
    notices: list[str] = []
    lesson = None
    key = _first(params.get("lesson"))
    if key is not None and key.strip():
        wanted = key.strip().lower()
        lesson = LESSONS.get(wanted)
        if lesson is None:
            notices.append(
                f"lesson={echo(key)!r} is not a lesson of this page: showing the full page. Lessons: {', '.join(LESSONS)}"
            )
    hidden = set(lesson.hidden) if lesson else set()
    locked = set(lesson.locked) if lesson else set()
    for name, target in (("hide", hidden), ("lock", locked)):
        text = _first(params.get(name))
        if text is None:
            continue
        found, more = parse_names(text, name)
        target |= found
        notices += more
    return LessonMode(lesson, frozenset(hidden), frozenset(locked - hidden), tuple(notices))


def split_params(params: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """(control parameters for `urlstate.parse_query`, lesson parameters for `parse_lesson_params`)."""
    controls = {k: v for k, v in params.items() if k not in LESSON_KEYS}
    lesson = {k: v for k, v in params.items() if k in LESSON_KEYS}
    return controls, lesson


def lesson_values(key: str) -> dict[str, Any]:
    """Every control at its default, then the lesson's preset."""
    return {**DEFAULTS, **LESSONS[key].preset}
