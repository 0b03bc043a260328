"""Widget state and the URL: the link's values become the widgets' values on a session's first
run, and the widgets' values go back into the query string, so a copied link reproduces the page."""

from __future__ import annotations

import streamlit as st

from epochsteps import controls as ctl
from epochsteps import lessons
from epochsteps import urlstate as us
from epochsteps.setup import Setup

KEEP_URL_KEYS: tuple[str, ...] = lessons.LESSON_KEYS  # query keys owned by lesson mode: not controls, kept in the URL
CACHE_ENTRIES = 24  # per cached function: memory stays flat however many settings are visited
# A Setup is frozen and hashable: Python's hash of it keys the caches. Streamlit's own hasher
# walks every field of it on every call (about 1 ms a call, several calls a move).
BY_HASH = {"hash_funcs": {Setup: hash}}
NO_LESSON = lessons.LessonMode()
INTERVALS = tuple(key for key, c in ctl.CONTROLS.items() if c.kind == "interval")  # drawn as text boxes


def init_state() -> None:
    """First run of a session: the URL's values (checked) become the widgets' values."""
    if "_loaded" in st.session_state:
        return
    params, lesson_params = lessons.split_params({k: st.query_params.get_all(k) for k in st.query_params})
    raw = {k: v for k, v in params.items() if k not in KEEP_URL_KEYS}
    values, notices = us.parse_query(raw)
    mode = lessons.parse_lesson_params(lesson_params)  # lesson=, hide=, lock=: never reported as unknown controls
    values, replaced = mode.apply(values, given=frozenset(raw) & frozenset(ctl.CONTROLS))
    put_values(values)
    st.session_state["_url_notices"] = notices
    st.session_state["_lesson"] = mode
    st.session_state["_lesson_notices"] = (*mode.notices, *replaced)  # may quote URL text: st.text only
    st.session_state["_fixed"] = {k: values[k] for k in mode.hidden | mode.locked}
    st.session_state["_url_values"] = values
    st.session_state["_loaded"] = True


def put_values(values: dict) -> None:
    """Write values into the widgets' state, slider stops and text boxes included."""
    for key, value in values.items():
        st.session_state[key] = value
    for key in ctl.LINKED:  # every slider's stop, shown or not: a switch of data_unit shows another
        st.session_state[f"{key}_stop"] = ctl.nearest_stop(key, values[key])
    for key in INTERVALS:  # the int-or-fraction boxes show the value as typed: 2 and 2.0 differ
        st.session_state[f"{key}_text"] = "" if values[key] is None else us.fmt_value(key, values[key])


def current_values() -> dict:
    """The controls' values, with impossible combinations fixed in the widgets too."""
    fixed = fixed_values()
    if any(st.session_state.get(k, ctl.DEFAULTS[k]) != v for k, v in fixed.items()):  # a preset or a loaded file moved one
        put_values({**{k: st.session_state.get(k, ctl.DEFAULTS[k]) for k in ctl.CONTROLS}, **fixed})
    raw = {k: st.session_state.get(k, ctl.DEFAULTS[k]) for k in ctl.CONTROLS}
    values, notices = ctl.check_values(raw)
    for key, value in values.items():
        if raw.get(key) != value or type(raw.get(key)) is not type(value):
            st.session_state[key] = value
    st.session_state["_control_notices"] = st.session_state.get("_control_notices", []) + notices
    return values


def sync_url(values: dict) -> None:
    """Put the non-default values in the query string so a copied link reproduces the page."""
    query = {**us.to_query(values), **lesson_mode().query()}  # lesson=, hide=, lock= as the page read them
    if {k: [v] for k, v in query.items()} != {k: st.query_params.get_all(k) for k in st.query_params}:
        st.query_params.from_dict(query)


def apply_change(change: dict) -> None:
    """Move some controls at once (a "try this" button, a preset): the others keep their values."""
    put_values({**{k: st.session_state.get(k, ctl.DEFAULTS[k]) for k in ctl.CONTROLS}, **change})


@st.cache_resource(max_entries=CACHE_ENTRIES, show_spinner=False)
def outcome_for(items: tuple) -> ctl.Outcome:
    return ctl.values_to_setup(dict(items))


# -- lesson mode: ?lesson= / ?hide= / ?lock= ---------------------------------------------------


def lesson_mode() -> lessons.LessonMode:
    return st.session_state.get("_lesson", NO_LESSON)


def fixed_values() -> dict:
    """Controls the link hides or locks, at the values the lesson opened with."""
    return st.session_state.get("_fixed") or {}


def control_of(widget_key: str) -> str:
    """The control a widget sets (the slider and text box of a control count as the control)."""
    if widget_key.removesuffix("_text") in INTERVALS:
        return widget_key.removesuffix("_text")
    return widget_key.removesuffix("_stop")


def shown(key: str) -> bool:
    return lesson_mode().shows(control_of(key))


def locked(key: str) -> bool:
    return lesson_mode().is_locked(control_of(key))
