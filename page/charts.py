"""Chart transport: each chart is a template (its spec with no data, one per shape) filled with
the plan's tables as Arrow bytes. A slider move sends the same spec with new data, so the
browser swaps the data of the Vega view it already has instead of drawing a new one."""

from __future__ import annotations

import json
import threading
from functools import partial
from typing import NamedTuple

import altair as alt
import pandas as pd
import pyarrow as pa
import streamlit as st

from epochsteps import charts, controls, exports, urlstate
from epochsteps.conventions import CONVENTIONS
from epochsteps.plan import Plan
from epochsteps.setup import Setup, SetupError
from epochsteps.timeline import MAX_ROWS

from .state import BY_HASH, CACHE_ENTRIES

try:  # Streamlit's own lock around Altair's global theme / transformer switches
    from streamlit.elements.vega_charts import _altair_globals_lock as ALTAIR_LOCK
except ImportError:  # pragma: no cover - a later Streamlit
    ALTAIR_LOCK = threading.Lock()

# Altair validates every schema object as it is built (its "debug mode"): about a third of
# the time a new setup's charts take. The chart tests validate the same specs in full.
alt.utils.schemapi.disable_debug_mode()

# Rows per chart on the page: a band or point every 2 px of the plot at the page's 704 px width
# (1 px at 390). Each row is an SVG element the browser re-draws on every move: 600 rows cost a
# browser move 15-25% more than 300 and looked no different.
PAGE_BUDGET = 300
DRAWINGS = {
    "timeline": partial(charts.timeline_drawing, budget=PAGE_BUDGET),
    "inside": partial(charts.inside_epoch_drawing, budget=PAGE_BUDGET),
    "tradeoff": charts.tradeoff_drawing,
    "lr": partial(charts.learning_rate_drawing, budget=PAGE_BUDGET),
    "early": partial(charts.early_stopping_drawing, budget=PAGE_BUDGET),
}
EXPORT_STEMS = {
    "timeline": "step_timeline",
    "inside": "inside_epoch",
    "tradeoff": "batch_size_tradeoff",
    "lr": "learning_rate",
    "early": "early_stopping",
    "lab_loss": "training_lab_loss",
    "lab_compare": "training_lab_batch_sizes",
}
EXPORT_TITLES = {
    **{kind: exports.CHART_TITLES[stem] for kind, stem in EXPORT_STEMS.items() if stem in exports.CHART_TITLES},
    "lab_loss": "Training lab: loss at every optimizer step",
    "lab_compare": "Training lab: two batch sizes, same epochs",
}
CHART_NAMES = {kind: f"{EXPORT_TITLES[kind]} chart (its numbers are in the text under it)" for kind in DRAWINGS}


def arrow_bytes(data: pd.DataFrame) -> bytes:
    """A table as Arrow IPC bytes, the form Streamlit sends to the browser."""
    if len(data) > MAX_ROWS:  # Altair's own limit; no chart may send more
        raise ValueError(f"a chart table of {len(data):,} rows; at most {MAX_ROWS:,}")
    # column by column: from_pandas reads pandas metadata too, 3x the time for these small tables
    table = pa.table({c: pa.array(data[c].to_numpy(), from_pandas=True) for c in data.columns})
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, table.schema) as writer:
        writer.write_table(table)
    return sink.getvalue().to_pybytes()


def finish_spec(spec: dict) -> dict:
    """Streamlit fits the whole chart (title, axes, legend) into the spec's height unless
    told otherwise; fit only the width, so `height` stays the plot's own height."""
    spec.setdefault("autosize", {"type": "fit-x", "contains": "padding"})
    for layer in spec.get("layer", []):
        mark = layer.get("mark")
        if isinstance(mark, dict) and mark.get("opacity") == 0:
            mark.setdefault("aria", False)  # invisible to the eye, so hidden from screen readers too
    return spec


class ChartData(NamedTuple):
    shape: tuple
    datasets: dict[str, bytes]  # Arrow bytes by dataset name, in the template's order
    description: str


@st.cache_resource(max_entries=CACHE_ENTRIES, show_spinner=False, **BY_HASH)
def chart_data(kind: str, setup: Setup, _plan: Plan) -> ChartData:
    """This setup's tables for the chart of `kind`: all a move to a new setup has to build."""
    drawing = DRAWINGS[kind](_plan)
    return ChartData(drawing.shape, {k: arrow_bytes(v) for k, v in sorted(drawing.tables.items())}, drawing.description)


@st.cache_resource(max_entries=4 * CACHE_ENTRIES, show_spinner=False)
def chart_template(kind: str, shape: tuple) -> str:
    """The chart's spec with no data, built once per shape. Every setup of a shape sends the
    same spec, so the browser keeps its chart and only swaps the data."""
    with ALTAIR_LOCK, alt.theme.enable("none"):
        spec = charts.live_spec(kind, shape)
    return json.dumps(finish_spec(spec))  # a string: every rerun gets its own copy to hand to Streamlit


def charts_shown(plan: Plan) -> list[str]:
    """The charts the page draws for this plan, in page order."""
    if controls.dead_end(plan):
        return []
    kinds = ["timeline", "inside", "tradeoff"]
    if plan.setup.lr_schedule is not None or CONVENTIONS[plan.setup.framework].writes_the_loop:
        kinds.append("lr")  # a loop the user writes shows StepLR per epoch vs per batch without a schedule
    if plan.setup.patience is not None:
        kinds.append("early")
    return kinds


def show_filled(kind: str, shape: tuple, datasets: dict[str, bytes], alt_text: str) -> None:
    """A template filled with its tables (a fixed accessible name: one with the numbers would change the spec on every move)."""
    spec = json.loads(chart_template(kind, shape))
    spec["datasets"] = dict(datasets)
    if kind == "lab_compare":
        spec["autosize"] = {"type": "pad"}  # fit-x is for single and layered views only
    st.vega_lite_chart(spec, width="stretch", alt=alt_text)


def show_chart(kind: str, plan: Plan) -> None:
    """The chart, then its key numbers as text (the chart's description)."""
    try:
        data = chart_data(kind, plan.setup, plan)
    except SetupError as error:  # a chart's own what-if plan the framework refuses
        st.info(urlstate.plain(f"This chart cannot be drawn for this setup: {error}"))
        return
    show_filled(kind, data.shape, data.datasets, CHART_NAMES[kind])
    st.caption(urlstate.plain(data.description))


def export_spec(chart) -> dict:
    """An Altair chart's spec for a file (Altair's data transformer is process-wide; the page switches it under this lock)."""
    with ALTAIR_LOCK:
        return chart.to_dict()
