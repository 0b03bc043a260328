"""Epochs vs steps: the explainer page.

widgets / URL -> values (epochsteps.urlstate) -> Setup -> plan (core) -> tables -> charts -> page.
This file lays things out and computes nothing: every number comes from `epochsteps`.
Each section is a small function so later features (training lab, share panel, lesson
mode, exports) can slot in between them.
"""

from __future__ import annotations

import contextlib
import hashlib
import threading
from concurrent.futures import ThreadPoolExecutor
from functools import partial

import altair as alt
import pandas as pd
import pyarrow as pa
import streamlit as st

from epochsteps import charts, explain
from epochsteps import urlstate as us
from epochsteps.plan import Plan
from epochsteps.setup import Setup, SetupError

try:  # Streamlit's own lock around Altair's global theme / transformer switches
    from streamlit.elements.vega_charts import _altair_globals_lock as ALTAIR_LOCK
except ImportError:  # pragma: no cover - a later Streamlit
    ALTAIR_LOCK = threading.Lock()

# Query keys owned by other page features (lesson mode, ...): not controls, kept in the URL.
KEEP_URL_KEYS: tuple[str, ...] = ()
CACHE_ENTRIES = 24  # per cached function: memory stays flat however many settings are visited

# Altair validates every schema object as it is built (its "debug mode"): about a third of
# the time a new setup's charts take. The chart tests validate the same specs in full.
alt.utils.schemapi.disable_debug_mode()
FRAMEWORK_LABELS = explain.SHORT_NAMES

st.set_page_config(page_title="Epochs vs steps", layout="centered")  # no page_icon: it would be fetched from a CDN


# -- state ----------------------------------------------------------------------------


def init_state() -> None:
    """First run of a session: the URL's values (checked) become the widgets' values."""
    if "_loaded" in st.session_state:
        return
    raw = {k: st.query_params.get_all(k) for k in st.query_params if k not in KEEP_URL_KEYS}
    values, notices = us.parse_query(raw)
    put_values(values)
    st.session_state["_url_notices"] = notices
    st.session_state["_url_values"] = values
    st.session_state["_loaded"] = True


def put_values(values: dict) -> None:
    """Write values into the widgets' state, slider stops and text boxes included."""
    for key, value in values.items():
        st.session_state[key] = value
    for key in ("dataset_size", "batch_size", "epochs"):
        st.session_state[f"{key}_stop"] = us.nearest_stop(key, values[key])
    interval = values["val_check_interval"]
    st.session_state["val_check_interval_text"] = "" if interval is None else us.fmt_value("val_check_interval", interval)


def current_values() -> dict:
    """The controls' values, with impossible combinations fixed in the widgets too."""
    raw = {k: st.session_state.get(k, us.DEFAULTS[k]) for k in us.CONTROLS}
    values, notices = us.check_values(raw)
    for key, value in values.items():
        if raw.get(key) != value or type(raw.get(key)) is not type(value):
            st.session_state[key] = value
    st.session_state["_control_notices"] = st.session_state.get("_control_notices", []) + notices
    return values


def sync_url(values: dict) -> None:
    """Put the non-default values in the query string so a copied link reproduces the page."""
    query = {**us.to_query(values), **{k: st.query_params.get_all(k) for k in KEEP_URL_KEYS if k in st.query_params}}
    if query != {k: st.query_params.get_all(k) if k in KEEP_URL_KEYS else st.query_params[k] for k in st.query_params}:
        st.query_params.from_dict(query)


# -- cached core results (bounded) --------------------------------------------------------


@st.cache_resource(max_entries=CACHE_ENTRIES, show_spinner=False)
def outcome_for(items: tuple) -> us.Outcome:
    return us.values_to_setup(dict(items))


MAX_ROWS = 5_000  # no chart sends more rows than this (altair raises MaxRowsError beyond)


def _arrow_dataset(data: pd.DataFrame, datasets: dict) -> dict:
    """Altair data transformer: the table goes out as Arrow IPC bytes (what Streamlit
    sends to the browser), skipping Altair's JSON records."""
    alt.utils.data.limit_rows(data, max_rows=MAX_ROWS)
    table = pa.Table.from_pandas(data, preserve_index=False)
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, table.schema) as writer:
        writer.write_table(table)
    payload = sink.getvalue().to_pybytes()
    name = "data-" + hashlib.sha1(payload).hexdigest()[:20]
    datasets[name] = payload
    return {"name": name}


alt.data_transformers.register("epochsteps_arrow", _arrow_dataset)


def to_spec(chart: alt.TopLevelMixin) -> dict:
    """A Vega-Lite spec with its datasets as Arrow bytes, the form Streamlit sends.

    Built once per setup and cached, so a rerun sends the spec without re-validating
    the Altair objects or re-serialising the data.
    """
    datasets: dict[str, bytes] = {}
    # Altair's transformer and theme switches are process-wide: hold Streamlit's own lock.
    with ALTAIR_LOCK, alt.data_transformers.enable("epochsteps_arrow", datasets=datasets), alt.theme.enable("none"):
        spec = chart.to_dict(validate=False)
    spec["datasets"] = {**spec.get("datasets", {}), **datasets}
    # Streamlit fits the whole chart (title, axes, legend) into the spec's height unless
    # told otherwise; fit only the width, so `height` stays the plot's own height.
    spec.setdefault("autosize", {"type": "fit-x", "contains": "padding"})
    for layer in spec.get("layer", []):
        mark = layer.get("mark")
        if isinstance(mark, dict) and mark.get("opacity") == 0:
            mark.setdefault("aria", False)  # invisible to the eye, so hidden from screen readers too
    return spec


# Rows per chart on the page: about one per pixel of the plot at the page's 704 px width.
# More rows draw nothing more, but the browser re-draws every one of them on each move
# (2,000 SVG bands take about twice as long to repaint as 600 here).
PAGE_BUDGET = 600
BUILDERS = {
    "timeline": partial(charts.step_timeline, budget=PAGE_BUDGET),
    "inside": partial(charts.inside_epoch, budget=PAGE_BUDGET),
    "tradeoff": charts.batch_size_tradeoff,
    "lr": partial(charts.learning_rate, budget=PAGE_BUDGET),
    "early": partial(charts.early_stopping, budget=PAGE_BUDGET),
}


@st.cache_resource(max_entries=CACHE_ENTRIES, show_spinner=False)
def chart_spec(kind: str, setup: Setup, _plan: Plan) -> dict:
    return to_spec(BUILDERS[kind](_plan))


@st.cache_resource(max_entries=CACHE_ENTRIES, show_spinner=False)
def translator_for(setup: Setup) -> tuple[pd.DataFrame, list[str]]:
    return explain.translator(setup), explain.differences(setup)


@st.cache_resource(max_entries=CACHE_ENTRIES, show_spinner=False)
def snippets_for(setup: Setup) -> dict[str, str]:
    return {fw: explain.code_snippet(setup, fw) for fw in us.FRAMEWORKS}


def charts_shown(plan: Plan) -> list[str]:
    """The charts the page draws for this plan, in page order."""
    if us.dead_end(plan):
        return []
    kinds = ["timeline", "inside", "tradeoff"]
    if plan.setup.lr_schedule is not None or plan.setup.framework in us.PYTORCH:
        kinds.append("lr")  # the PyTorch loops show StepLR per epoch vs per batch without a schedule
    if plan.setup.patience is not None:
        kinds.append("early")
    return kinds


# -- prefetch: the next slider stop is usually the next thing asked for ------------------------


@st.cache_resource(max_entries=1, show_spinner=False)
def prefetch_pool() -> ThreadPoolExecutor:
    """One background worker for the whole server, so prefetching never takes both cores."""
    return ThreadPoolExecutor(max_workers=1, thread_name_prefix="epochsteps-prefetch")


def warm(items: tuple, ticket: list[int], number: int) -> None:
    """Build a neighbouring setup's plan and charts into the (bounded) caches, unless the
    user has moved on since this was queued."""
    outcome = outcome_for(items)
    if outcome.plan is None:
        return
    for kind in charts_shown(outcome.plan):
        if ticket[0] != number:
            return
        with contextlib.suppress(SetupError):
            chart_spec(kind, outcome.setup, outcome.plan)
    if ticket[0] == number:
        translator_for(outcome.setup)
        snippets_for(outcome.setup)


def prefetch_next(values: dict) -> None:
    """Queue the setups one slider stop away from this one, the way the user last moved first."""
    move = us.last_move(st.session_state.get("_previous_values"), values)
    st.session_state["_previous_values"] = values
    key, direction = move or ("batch_size", 1)
    ticket = st.session_state.setdefault("_prefetch_ticket", [0])
    ticket[0] += 1  # older queued work for this session is skipped
    for nearby in us.neighbours(values, key, direction):
        prefetch_pool().submit(warm, tuple(nearby.items()), ticket, ticket[0])


def show_chart(kind: str, plan: Plan) -> None:
    """The chart, then its key numbers as text (the chart's own description)."""
    try:
        spec = chart_spec(kind, plan.setup, plan)
    except SetupError as error:  # a chart's own what-if plan the framework refuses
        st.info(us.plain(f"This chart cannot be drawn for this setup: {error}"))
        return
    spec = dict(spec)
    description = spec.pop("description", "")
    st.vega_lite_chart(spec, width="stretch", alt=description or None)  # alt: the chart's accessible name
    st.caption(us.plain(description))


# -- controls -------------------------------------------------------------------------------


def apply_preset() -> None:
    name = st.session_state.get("preset")
    if name:
        put_values(us.preset_values(name))
    st.session_state["preset"] = None


def linked_control(key: str) -> None:
    """A log-scale slider over round stops plus a box for the exact number, kept in sync."""
    c = us.CONTROLS[key]

    def from_slider() -> None:
        st.session_state[key] = st.session_state[f"{key}_stop"]

    def from_box() -> None:
        st.session_state[f"{key}_stop"] = us.nearest_stop(key, st.session_state[key])

    left, right = st.columns([3, 2], vertical_alignment="bottom")
    left.select_slider(
        c.label,
        options=c.stops,
        key=f"{key}_stop",
        format_func=us.short_number,
        on_change=from_slider,
        persist_state="session",
        help=f"Round values on a log scale, {us.short_number(c.stops[0])} to {us.short_number(c.stops[-1])}; type an exact value in the box.",
    )
    right.number_input(
        f"{c.label}: exact",
        min_value=int(c.low),
        max_value=int(c.high),
        step=1,
        key=key,
        on_change=from_box,
        persist_state="session",
        label_visibility="collapsed",  # the slider above names it; screen readers still get the label
    )


def parse_interval_text() -> None:
    notices: list[str] = []
    text = st.session_state.get("val_check_interval_text", "")
    st.session_state["val_check_interval"] = us.parse_value("val_check_interval", text, notices)
    st.session_state["_control_notices"] = notices


def controls_section(values: dict) -> None:
    st.pills(
        "Presets",
        list(us.PRESETS),
        key="preset",
        on_change=apply_preset,
        help="Fill in a well-known setup; every other control goes back to its default.",
    )
    preset = us.matching_preset(values)
    if preset:
        st.caption(us.PRESET_NOTES[preset])
    for key in ("dataset_size", "batch_size", "epochs"):
        linked_control(key)
    with st.expander("Advanced: framework, drop_last, accumulation, devices, evaluation, early stopping, learning rate"):
        advanced_controls(values)


def advanced_controls(values: dict) -> None:
    fw = values["framework"]
    st.selectbox(
        "Framework convention",
        us.FRAMEWORKS,
        key="framework",
        format_func=lambda f: FRAMEWORK_LABELS[f],
        persist_state="session",
        help="Whose counting rules to use. pytorch-flush is a hand-written loop that also steps the leftover accumulation window at the end of each epoch.",
    )
    c = us.CONTROLS
    st.number_input(c["grad_accum"].label, 1, int(c["grad_accum"].high), step=1, key="grad_accum", persist_state="session")
    if us.applies("devices", values):
        st.number_input(c["devices"].label, 1, int(c["devices"].high), step=1, key="devices", persist_state="session")
        st.checkbox("drop_last: skip the last, short batch of each epoch", key="drop_last", persist_state="session")
        st.number_input(
            "max_steps (empty: none)",
            1,
            int(c["max_steps"].high),
            value=None,
            step=1,
            key="max_steps",
            persist_state="session",
            placeholder="none",
        )
    st.markdown("**Evaluation cadence**")
    if fw in us.PYTORCH:
        st.number_input(
            "eval_every_steps: evaluate every this many optimizer steps (empty: never)",
            min_value=0.0, max_value=float(c["eval_every_steps"].high), value=None, step=1.0, format="%g",
            key="eval_every_steps", persist_state="session", placeholder="never",
        )  # fmt: skip
    elif fw == "hf":
        st.number_input(
            "eval_steps with eval_strategy='steps' (below 1: a ratio of the run; empty: every epoch)",
            min_value=0.0, max_value=float(c["eval_every_steps"].high), value=None, step=1.0, format="%g",
            key="eval_every_steps", persist_state="session", placeholder="every epoch",
        )  # fmt: skip
    elif fw == "lightning":
        st.text_input(
            "val_check_interval (1.0: once per epoch; 0.25: four times per epoch; 50: every 50 training batches)",
            key="val_check_interval_text", on_change=parse_interval_text, persist_state="session", placeholder="1.0",
        )  # fmt: skip
        st.number_input(
            "check_val_every_n_epoch (empty: None, count batches across epochs)",
            1, int(c["check_val_every_n_epoch"].high), value=None, step=1, key="check_val_every_n_epoch", persist_state="session", placeholder="None",
        )  # fmt: skip
    else:
        st.number_input(
            "validation_freq: validate every this many epochs",
            1,
            int(c["validation_freq"].high),
            step=1,
            key="validation_freq",
            persist_state="session",
        )
        st.number_input(
            "steps_per_epoch (empty: the whole dataset)", 1, int(c["steps_per_epoch"].high), value=None, step=1,
            key="steps_per_epoch", persist_state="session", placeholder="whole dataset",
        )  # fmt: skip
    st.markdown("**Early stopping**")
    st.checkbox("Early stopping", key="early_stopping", persist_state="session")
    if values["early_stopping"]:
        st.number_input(c["patience"].label, 0, int(c["patience"].high), step=1, key="patience", persist_state="session")
        st.number_input(
            "min_delta: smallest change that counts as an improvement",
            0.0,
            float(c["min_delta"].high),
            step=0.001,
            format="%g",
            key="min_delta",
            persist_state="session",
        )
        if fw == "keras":
            st.number_input(
                "start_from_epoch", 0, int(c["start_from_epoch"].high), step=1, key="start_from_epoch", persist_state="session"
            )
    st.markdown("**Learning rate**")
    schedules = us.KERAS_SCHEDULES if fw == "keras" else c["lr_schedule"].allowed
    st.selectbox(c["lr_schedule"].label, schedules, key="lr_schedule", persist_state="session")
    if us.applies("lr", values):
        st.number_input(
            "Peak learning rate (empty: the framework's default)", min_value=0.0, max_value=float(c["lr"].high), value=None,
            step=1e-5, format="%g", key="lr", persist_state="session", placeholder="framework default",
        )  # fmt: skip
        st.number_input(
            "Warmup steps" + (" (below 1: a ratio of the run)" if fw == "hf" else ""),
            0.0, float(c["warmup_steps"].high), step=1.0, format="%g", key="warmup_steps", persist_state="session",
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


# -- sections ----------------------------------------------------------------------------------


def answer_section(plan: Plan) -> None:
    st.header("The answer")
    with st.container(horizontal=True, gap="small"):
        for card in explain.metric_cards(plan):
            st.metric(card.label, card.value, help=card.help, border=True, width=160, height="stretch")  # two a row at 390 px
    st.latex(explain.formula(plan))
    for line in explain.takeaways(plan):
        st.markdown(f"- {line}")
    idea = explain.try_this(plan)
    change = explain.try_this_change(plan)
    st.info(f"**Try this:** {idea.prompt} {idea.prediction}", icon=":material/lightbulb:")
    if change and all(k in us.CONTROLS for k in change):
        st.button("Apply this change", on_click=apply_change, args=(change,), key="try_this")


def apply_change(change: dict) -> None:
    put_values({**{k: st.session_state.get(k, us.DEFAULTS[k]) for k in us.CONTROLS}, **change})


def timeline_section(plan: Plan) -> None:
    st.header("Step timeline")
    st.markdown("Each band is one optimizer step (a parameter update), coloured by epoch; rules mark where epochs end.")
    show_chart("timeline", plan)


def inside_epoch_section(plan: Plan) -> None:
    st.header("Inside one epoch")
    st.markdown("The samples of epoch 1 cut into batches: a short last batch, or the remainder drop_last throws away.")
    show_chart("inside", plan)


def tradeoff_section(plan: Plan) -> None:
    st.header("Batch size trade-off")
    st.markdown("Bigger batches mean fewer, larger optimizer steps for the same data and epochs.")
    show_chart("tradeoff", plan)


def learning_rate_section(plan: Plan) -> None:
    st.header("Learning rate over steps")
    if "lr" not in charts_shown(plan):
        st.info("No learning-rate schedule is chosen: pick one under Advanced to see it per optimizer step.")
        return
    if plan.setup.lr_schedule is None:
        st.markdown("A classic bug: `StepLR` meant to decay once per epoch, but `scheduler.step()` called after every batch.")
    show_chart("lr", plan)


def turn_on_early_stopping(plan: Plan) -> None:
    st.session_state["early_stopping"] = True
    if plan.setup.framework in us.PYTORCH and st.session_state.get("eval_every_steps") is None:
        # a hand-written loop evaluates only where told to: once per epoch's worth of steps
        st.session_state["eval_every_steps"] = float(max(1, int(plan.steps[0])))


def early_stopping_section(values: dict, outcome: us.Outcome) -> None:
    st.header("Early stopping")
    plan = outcome.plan
    if not values["early_stopping"]:
        st.markdown(
            "Early stopping watches the validation metric at each evaluation and ends training after *patience* evaluations without improvement."
        )
        st.button("Turn on early stopping", on_click=turn_on_early_stopping, args=(plan,), key="es_on")
        return
    st.radio(
        "Validation metric",
        us.CONTROLS["metric_source"].allowed,
        key="metric_source",
        format_func={"curve": "Illustrative curve", "pasted": "Values from my run"}.get,
        horizontal=True,
        persist_state="session",
    )
    if values["metric_source"] == "curve":
        a, b, c = st.columns(3)
        a.number_input("Seed", 0, int(us.CONTROLS["seed"].high), step=1, key="seed", persist_state="session")
        b.slider("Noise", 0.0, float(us.CONTROLS["noise"].high), step=0.005, key="noise", persist_state="session")
        c.slider(
            "Overfitting starts at",
            0.0,
            1.0,
            step=0.05,
            key="overfit_at",
            persist_state="session",
            help="A fraction of the run's evaluations.",
        )
    else:
        st.text_area(
            "Validation losses, one per evaluation (commas, spaces or new lines)",
            key="metrics_text", max_chars=int(us.CONTROLS["metrics_text"].high), persist_state="session", placeholder="0.92, 0.71, 0.64, 0.66, 0.69",
        )  # fmt: skip
    for note in outcome.notes:
        st.warning(us.plain(note))
    es = plan.early_stop
    if es is not None and es.metrics_ran_out_at is not None:
        i = es.metrics_ran_out_at
        ev = plan.schedule.evaluations
        where = f" (global step {int(ev.global_step[i]):,}, epoch {int(ev.epoch[i]) + 1:,})" if i < len(ev) else ""
        st.info(f"The values ran out at evaluation {i + 1:,}{where}: early stopping is replayed up to there.")
    show_chart("early", plan)


def translator_section(setup: Setup) -> None:
    st.header("Framework translator")
    st.markdown("The same setup as each framework would count it. Columns marked ≠ differ between frameworks.")
    table, differences = translator_for(setup)
    differs = set(table.attrs.get("differs", []))
    shown = table.rename(columns={c: f"≠ {c}" for c in differs})
    marked = [f"≠ {c}" for c in differs]
    styled = shown.style.set_properties(subset=marked, **{"background-color": "rgba(255, 190, 0, 0.25)", "font-weight": "bold"})
    st.dataframe(styled, hide_index=True, width="stretch")
    for line in differences:
        st.markdown(f"- {line}")
    tabs = st.tabs([FRAMEWORK_LABELS[fw] for fw in us.FRAMEWORKS], default=FRAMEWORK_LABELS[setup.framework])  # open on yours
    snippets = snippets_for(setup)
    for tab, fw in zip(tabs, us.FRAMEWORKS, strict=True):
        tab.code(snippets[fw], language="python", wrap_lines=True)  # no sideways scrolling at 390 px


def glossary_section() -> None:
    st.header("Glossary")
    st.markdown("\n".join(f"- **{term}**: {text}" for term, text in explain.GLOSSARY.items()))
    st.caption(f"Scope: {explain.SCOPE}")


# -- page -------------------------------------------------------------------------------------


PAGE_CSS = """<style>
/* KaTeX display blocks overflow their own box by a pixel or two, which makes an
   unfocusable scroll region; long formulas shrink instead (see .katex below) */
.katex-display { overflow: visible !important; }
@media (max-width: 480px) {
  .katex-display .katex { font-size: 0.95em; }
  .stCode pre, .stCode code { font-size: 0.72rem !important; }  /* fewer wrapped lines of code on a phone */
}
/* metric labels wrap instead of ending in an ellipsis on narrow cards */
[data-testid="stMetricLabel"] p, [data-testid="stMetricLabel"] div { white-space: normal !important; overflow: visible !important; text-overflow: clip !important; }
</style>"""


def main() -> None:
    st.html(PAGE_CSS)
    init_state()
    values = current_values()
    st.title("Epochs vs steps")
    st.markdown(
        "An **epoch** is one pass over the data; an **optimizer step** is one parameter update. "
        "Move the controls to see how many steps your setup takes, counted the way PyTorch, the HF Trainer, Lightning and Keras count them."
    )
    if values != st.session_state.get("_url_values"):
        st.session_state["_url_notices"] = []  # the link's notices describe the link, not later moves
    controls_section(values)
    notices_section()
    outcome = outcome_for(tuple(values.items()))
    sync_url(values)
    if outcome.plan is None:
        st.warning(us.plain(outcome.explanation), icon=":material/block:")
        glossary_section()
        return
    plan = outcome.plan
    answer_section(plan)
    dead = us.dead_end(plan)
    for line in us.caveats(plan):
        st.info(us.plain(line))
    if dead:
        st.warning(us.plain(dead), icon=":material/block:")
    else:
        timeline_section(plan)
        inside_epoch_section(plan)
        tradeoff_section(plan)
        learning_rate_section(plan)
        early_stopping_section(values, outcome)
    translator_section(plan.setup)
    glossary_section()
    prefetch_next(values)


main()
