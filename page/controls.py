"""The controls: three log-scale sliders with exact boxes, presets, and the advanced knobs of
the chosen framework (the ones its convention owns, labelled in its own words)."""

from __future__ import annotations

import streamlit as st

from epochsteps import controls as ctl
from epochsteps import urlstate as us
from epochsteps.conventions import CONVENTIONS, LABELS
from epochsteps.text import short_number

from .state import apply_change, control_of, fixed_values, lesson_mode, locked, put_values, shown

WIDGETS = frozenset({"number_input", "checkbox", "selectbox", "text_input", "text_area", "slider", "select_slider", "radio", "segmented_control"})
CADENCE = ("eval_strategy", "eval_every_steps", "val_check_interval", "check_val_every_n_epoch", "validation_freq", "steps_per_epoch")
SAVING = (
    "save_strategy", "save_steps", "load_best_model_at_end", "logging_strategy", "logging_steps", "logging_first_step",
    "every_n_train_steps", "every_n_epochs", "save_top_k", "save_last", "monitor", "log_every_n_steps", "min_epochs", "min_steps",
    "limit_train_batches", "save_freq", "save_best_only", "save_every_steps",
)  # fmt: skip


def locked_line(where, label: str, key: str, format_func=None) -> None:
    """A control the link locks, shown as its value: a disabled widget's grey label is too faint to read."""
    value = st.session_state.get(key)
    control = ctl.CONTROLS[control_of(key)]
    if control.kind == "text":
        where.text(f"{label} (locked): {value}")  # may be text from the link: plain text only
        return
    if format_func is not None and value is not None:
        text = format_func(value)
    elif isinstance(value, bool):
        text = "on" if value else "off"
    elif isinstance(value, int):
        text = f"{value:,}"
    else:
        text = us.fmt_value(control.key, value)
    where.markdown(f":material/lock: {us.plain(label)}: **{us.plain(text)}**", help="Fixed by this link.")


class LessonWidgets:
    """A container's widget calls in lesson mode: a control the lesson hides is not drawn, a
    locked one is shown as its value (`locked_line`), and a `markdown` sub-heading is drawn
    only if a control it heads is. Without a lesson the page uses the container itself."""

    def __init__(self, where):
        self._where = where
        self._heading: tuple | None = None

    def markdown(self, *args, **kwargs) -> None:
        self._heading = (args, kwargs)  # waits for a control that is shown

    def __getattr__(self, name: str):
        call = getattr(self._where, name)
        if name not in WIDGETS:
            return call

        def widget(*args, key: str, **kwargs):
            if not shown(key):
                return st.session_state.get(key)
            if self._heading is not None:
                self._where.markdown(*self._heading[0], **self._heading[1])
                self._heading = None
            if locked(key):
                locked_line(self._where, args[0] if args else kwargs["label"], key, kwargs.get("format_func"))
                return st.session_state.get(key)
            return call(*args, key=key, **kwargs)

        return widget


def lesson_widgets(where=None):
    where = st if where is None else where
    return LessonWidgets(where) if lesson_mode().active else where


def apply_preset() -> None:
    name = st.session_state.get("preset")
    if name:
        put_values(ctl.preset_values(name))
    st.session_state["preset"] = None


def linked_control(key: str) -> None:
    """A log-scale slider over round stops plus a box for the exact number, kept in sync."""
    if not shown(key):
        return
    c = ctl.CONTROLS[key]
    if locked(key):
        locked_line(st, c.label, key)
        return

    def from_slider() -> None:
        st.session_state[key] = st.session_state[f"{key}_stop"]

    def from_box() -> None:
        st.session_state[f"{key}_stop"] = ctl.nearest_stop(key, st.session_state[key])

    left, right = st.columns([3, 2], vertical_alignment="bottom")
    left.select_slider(
        c.label, options=c.stops, key=f"{key}_stop", format_func=short_number, on_change=from_slider, persist_state="session",
        help=f"Round values on a log scale, {short_number(c.stops[0])} to {short_number(c.stops[-1])}; type an exact value in the box.",
    )  # fmt: skip
    right.number_input(
        f"{c.label}: exact", min_value=int(c.low), max_value=int(c.high), step=1, key=key, on_change=from_box, persist_state="session",
        label_visibility="collapsed",  # the slider above names it; screen readers still get the label
    )  # fmt: skip


def parse_interval_text(key: str) -> None:
    """An int-or-fraction box (Lightning's val_check_interval, limit_train_batches): 2 and 2.0 differ."""
    notices: list[str] = []
    st.session_state[key] = us.parse_value(key, st.session_state.get(f"{key}_text", ""), notices)
    st.session_state["_control_notices"] = notices


def argument_widget(where, key: str, label: str, placeholder: str | None) -> None:
    """One of a framework's own arguments, drawn from the controls table: its kind, bounds and
    whether empty means None decide the widget."""
    c = ctl.CONTROLS[key]
    optional = {"value": None, "placeholder": placeholder} if c.optional else {}
    if c.kind == "interval":
        where.text_input(label, key=f"{key}_text", on_change=parse_interval_text, args=(key,), persist_state="session", placeholder=placeholder)
    elif c.kind == "choice":
        default = placeholder or "the framework's default"
        where.selectbox(label, (None, *c.allowed), key=key, format_func=lambda v: default if v is None else v, placeholder=default, persist_state="session")
    elif c.kind == "bool":
        where.checkbox(label, key=key, persist_state="session")
    elif c.kind == "text":
        where.text_input(label, key=key, max_chars=int(c.high), placeholder=placeholder, persist_state="session")
    elif c.kind == "float":
        where.number_input(label, min_value=float(c.low), max_value=float(c.high), step=1.0, format="%g", key=key, persist_state="session", **optional)
    else:
        where.number_input(label, min_value=int(c.low), max_value=int(c.high), step=1, key=key, persist_state="session", **optional)


def controls_section(values: dict) -> None:
    if lesson_mode().lesson is None:  # a preset would leave the lesson's setup
        st.pills(
            "Presets", list(ctl.PRESETS), key="preset", on_change=apply_preset,
            help="Fill in a well-known setup; every other control goes back to its default.",
        )  # fmt: skip
    preset = ctl.matching_preset(values)
    if preset:
        st.caption(ctl.PRESET_NOTES[preset])
    lesson_widgets().segmented_control(
        "Dataset given in", ctl.CONTROLS["data_unit"].allowed, key="data_unit", persist_state="session",
        help="Language-model runs are planned in tokens: the tokens become samples of the sequence length.",
    )  # fmt: skip
    for key in ctl.linked(values):
        linked_control(key)
    if values["data_unit"] == "tokens":
        token_controls(values)
    box = st.expander(
        "Advanced: framework, drop_last, accumulation, devices, evaluation, checkpoints, early stopping, learning rate, time",
        expanded=lesson_mode().lesson is not None,  # a lesson's task may be in here
        key="advanced_open", on_change="rerun",
    )  # fmt: skip
    if box.open:  # drawn only when open: a slider move does not build twenty hidden widgets (their values persist)
        with box:
            advanced_controls(values)


def token_controls(values: dict) -> None:
    """Sequence length, packing, the documents' mean length and the token budget."""
    st_ = lesson_widgets()
    c = ctl.CONTROLS
    left, right = st.columns(2)
    lesson_widgets(left).number_input(c["seq_len"].label, 1, int(c["seq_len"].high), step=1, key="seq_len", persist_state="session")
    if ctl.applies("tokens_per_document", values):
        argument_widget(lesson_widgets(right), "tokens_per_document", c["tokens_per_document"].label, None)
    st_.checkbox(c["packing"].label, key="packing", persist_state="session",
                 help="On: the remainder of the token stream that fills no whole sequence is dropped. Off: one document is one sample, truncated or padded.")  # fmt: skip
    argument_widget(st_, "token_budget", c["token_budget"].label + " (empty: none)", "none")


def advanced_controls(values: dict) -> None:
    st_ = lesson_widgets()  # lesson mode: hidden controls are left out, locked ones disabled
    convention = CONVENTIONS[values["framework"]]
    labels, placeholders = convention.argument_labels, convention.argument_placeholders
    c = ctl.CONTROLS
    st_.selectbox(
        "Framework convention", list(CONVENTIONS), key="framework", format_func=LABELS.get, persist_state="session",
        help="Whose counting rules to use. pytorch-flush is a hand-written loop that also steps the leftover accumulation window at the end of each epoch.",
    )  # fmt: skip
    st_.number_input(c["grad_accum"].label, 1, int(c["grad_accum"].high), step=1, key="grad_accum", persist_state="session")
    if ctl.applies("devices", values):
        st_.number_input(c["devices"].label, 1, int(c["devices"].high), step=1, key="devices", persist_state="session")
    if ctl.applies("drop_last", values):
        st_.checkbox("drop_last: skip the last, short batch of each epoch", key="drop_last", persist_state="session")
    if ctl.applies("max_steps", values):
        argument_widget(st_, "max_steps", "max_steps (empty: none)", "none")
    st_.markdown("**Evaluation cadence**")
    for key in CADENCE:
        if ctl.applies(key, values):
            argument_widget(st_, key, labels.get(key, c[key].label), placeholders.get(key))
    st_.markdown("**Checkpoints and training-loss logs** (empty: the framework's default)")
    for key in SAVING:
        if ctl.applies(key, values):
            argument_widget(st_, key, labels.get(key, c[key].label), placeholders.get(key))
    st_.markdown("**Early stopping**")
    st_.checkbox("Early stopping", key="early_stopping", persist_state="session")
    if values["early_stopping"]:
        st_.number_input(c["patience"].label, 0, int(c["patience"].high), step=1, key="patience", persist_state="session")
        st_.number_input(
            "min_delta: smallest change that counts as an improvement", 0.0, float(c["min_delta"].high), step=0.001, format="%g",
            key="min_delta", persist_state="session",
        )  # fmt: skip
        if ctl.applies("start_from_epoch", values):
            st_.number_input("start_from_epoch", 0, int(c["start_from_epoch"].high), step=1, key="start_from_epoch", persist_state="session")
    st_.markdown("**Wall-clock time** (a throughput you measured; empty: not planned)")
    argument_widget(st_, "seconds_per_step", c["seconds_per_step"].label, "none")
    argument_widget(st_, "samples_per_second", c["samples_per_second"].label, "none")
    st_.markdown("**Learning rate**")
    st_.selectbox(c["lr_schedule"].label, ("none", *convention.lr_schedules), key="lr_schedule", persist_state="session")
    if ctl.applies("lr", values):
        st_.number_input(
            "Peak learning rate (empty: the framework's default)", min_value=0.0, max_value=float(c["lr"].high), value=None,
            step=1e-5, format="%g", key="lr", persist_state="session", placeholder="framework default",
        )  # fmt: skip
        st_.number_input(
            labels.get("warmup_steps", "Warmup steps"), 0.0, float(c["warmup_steps"].high), step=1.0, format="%g",
            key="warmup_steps", persist_state="session",
        )  # fmt: skip


def notices_section() -> None:
    url_notices = st.session_state.get("_url_notices") or []
    if url_notices:
        lines = "\n".join(f"- {us.plain(n)}" for n in url_notices)
        st.warning(f"This link had values the page could not use as given:\n{lines}", icon=":material/link_off:")
    control_notices = st.session_state.get("_control_notices") or []
    if control_notices:
        lines = "\n".join(f"- {us.plain(n)}" for n in control_notices)
        st.warning(f"Changed to fit the framework:\n{lines}", icon=":material/tune:")
    st.session_state["_control_notices"] = []
    lesson_notices = st.session_state.get("_lesson_notices") or ()
    if lesson_notices:
        with st.container(border=True):
            st.markdown(":material/school: **This lesson link had parts the page could not use:**")
            for notice in lesson_notices:
                st.text(notice)  # quotes the link: plain text, never Markdown


def try_button(change: dict) -> None:
    """The "try this" change as a button, when every control it moves is one the learner may move."""
    if change and all(k in ctl.CONTROLS and k not in fixed_values() for k in change):
        st.button("Apply this change", on_click=apply_change, args=(change,), key="try_this")
