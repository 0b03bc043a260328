"""Epochs vs steps: the explainer page.

widgets / URL -> values (epochsteps.urlstate) -> Setup -> plan (core) -> tables -> charts -> page.
This file lays things out and computes nothing: every number comes from `epochsteps`.
Each section is a small function so later features (training lab, share panel, lesson
mode, exports) can slot in between them.
"""

from __future__ import annotations

import os

# Before numpy loads: BLAS threads slow the training lab's small matrix products up to 3x on 2 cores.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import contextlib
import hashlib
import json
import threading
import time
from collections import OrderedDict
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from typing import NamedTuple

import altair as alt
import pandas as pd
import pyarrow as pa
import streamlit as st
from streamlit.delta_generator import DeltaGenerator

from epochsteps import charts, explain, exports, lab_charts, lessons, quiz, share, training
from epochsteps import urlstate as us
from epochsteps.conventions import LABELS
from epochsteps.plan import Plan
from epochsteps.setup import Setup, SetupError
from epochsteps.text import short_number

try:  # Streamlit's own lock around Altair's global theme / transformer switches
    from streamlit.elements.vega_charts import _altair_globals_lock as ALTAIR_LOCK
except ImportError:  # pragma: no cover - a later Streamlit
    ALTAIR_LOCK = threading.Lock()

# Query keys owned by other page features (lesson mode, ...): not controls, kept in the URL.
KEEP_URL_KEYS: tuple[str, ...] = lessons.LESSON_KEYS
CACHE_ENTRIES = 24  # per cached function: memory stays flat however many settings are visited

# Altair validates every schema object as it is built (its "debug mode"): about a third of
# the time a new setup's charts take. The chart tests validate the same specs in full.
alt.utils.schemapi.disable_debug_mode()

st.set_page_config(page_title="Epochs vs steps", layout="centered")  # no page_icon: it would be fetched from a CDN


# -- state ----------------------------------------------------------------------------


def init_state() -> None:
    """First run of a session: the URL's values (checked) become the widgets' values."""
    if "_loaded" in st.session_state:
        return
    params, lesson_params = lessons.split_params({k: st.query_params.get_all(k) for k in st.query_params})
    raw = {k: v for k, v in params.items() if k not in KEEP_URL_KEYS}
    values, notices = us.parse_query(raw)
    mode = lessons.parse_lesson_params(lesson_params)  # lesson=, hide=, lock=: never reported as unknown controls
    values, replaced = mode.apply(values, given=frozenset(raw) & frozenset(us.CONTROLS))
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
    for key in ("dataset_size", "batch_size", "epochs"):
        st.session_state[f"{key}_stop"] = us.nearest_stop(key, values[key])
    interval = values["val_check_interval"]
    st.session_state["val_check_interval_text"] = "" if interval is None else us.fmt_value("val_check_interval", interval)


def current_values() -> dict:
    """The controls' values, with impossible combinations fixed in the widgets too."""
    fixed = fixed_values()
    if any(st.session_state.get(k, us.DEFAULTS[k]) != v for k, v in fixed.items()):  # a preset or a loaded file moved one
        put_values({**{k: st.session_state.get(k, us.DEFAULTS[k]) for k in us.CONTROLS}, **fixed})
    raw = {k: st.session_state.get(k, us.DEFAULTS[k]) for k in us.CONTROLS}
    values, notices = us.check_values(raw)
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


# -- cached core results (bounded) --------------------------------------------------------


@st.cache_resource(max_entries=CACHE_ENTRIES, show_spinner=False)
def outcome_for(items: tuple) -> us.Outcome:
    return us.values_to_setup(dict(items))


MAX_ROWS = 5_000  # no chart sends more rows than this (altair raises MaxRowsError beyond)


def arrow_bytes(data: pd.DataFrame) -> bytes:
    """A table as Arrow IPC bytes, the form Streamlit sends to the browser."""
    alt.utils.data.limit_rows(data, max_rows=MAX_ROWS)
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


# Rows per chart on the page: about one per pixel of the plot at the page's 704 px width.
# More rows draw nothing more, but the browser re-draws every one of them on each move
# (2,000 SVG bands take about twice as long to repaint as 600 here).
PAGE_BUDGET = 600
DRAWINGS = {
    "timeline": partial(charts.timeline_drawing, budget=PAGE_BUDGET),
    "inside": partial(charts.inside_epoch_drawing, budget=PAGE_BUDGET),
    "tradeoff": charts.tradeoff_drawing,
    "lr": partial(charts.learning_rate_drawing, budget=PAGE_BUDGET),
    "early": partial(charts.early_stopping_drawing, budget=PAGE_BUDGET),
}


class ChartData(NamedTuple):
    shape: tuple
    datasets: dict[str, bytes]  # Arrow bytes by dataset name, in the template's order
    description: str


@st.cache_resource(max_entries=CACHE_ENTRIES, show_spinner=False)
def chart_data(kind: str, setup: Setup, _plan: Plan) -> ChartData:
    """This setup's tables for the chart of `kind`: all a move to a new setup has to build."""
    drawing = DRAWINGS[kind](_plan)
    return ChartData(drawing.shape, {k: arrow_bytes(v) for k, v in sorted(drawing.tables.items())}, drawing.description)


@st.cache_resource(max_entries=4 * CACHE_ENTRIES, show_spinner=False)
def chart_template(kind: str, shape: tuple) -> str:
    """The chart's spec with no data, built once per shape. Every setup of a shape sends the
    same spec, so the browser keeps its chart and only swaps the data (a new spec would make
    it compile and draw the chart from scratch)."""
    with ALTAIR_LOCK, alt.theme.enable("none"):
        spec = charts.live_spec(kind, shape)
    return json.dumps(finish_spec(spec))  # a string: every rerun gets its own copy to hand to Streamlit


@st.cache_resource(max_entries=CACHE_ENTRIES, show_spinner=False)
def translator_for(setup: Setup) -> tuple[pd.DataFrame, list[str]]:
    """The translator table, the columns that differ between frameworks first and headed
    "≠ ...", and the differences as lines. Marked so, not by a pandas Styler: st.dataframe
    marshals a Styler again on every run (6 ms a run, up to 30 ms while the lab trains)."""
    table = explain.translator(setup)
    differs = table.attrs.get("differs", [])
    order = [table.columns[0], *differs, *(c for c in table.columns[1:] if c not in differs)]
    return table[order].rename(columns={c: f"≠ {c}" for c in differs}), explain.differences(setup)


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
            chart_data(kind, outcome.setup, outcome.plan)
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
    nearby = us.neighbours(values, key, direction)
    for other in nearby:
        prefetch_pool().submit(warm, tuple(other.items()), ticket, ticket[0])
    if nearby:
        prefetch_lab(nearby[0])


def prefetch_lab(values: dict) -> None:
    """The lab's charts for the likeliest next stop, trained only when the lab's worker is
    idle. The session's next request drops the guess (queue_lab_charts) unless it asks for
    the same charts, so a wrong guess stops within a twentieth of its run."""
    ticket = st.session_state.setdefault("_lab_prefetch_ticket", [0])
    ticket[0] += 1
    store = lab_runs()
    if store.busy() or values["metric_source"] == "lab":  # (the lab as metric source trains in the page)
        return
    outcome = outcome_for(tuple(values.items()))
    if outcome.plan is None or us.dead_end(outcome.plan):
        return
    jobs, _ = lab_jobs(outcome.plan.setup, values["seed"])
    for _ in range(store.want(jobs, ticket, ticket[0])):
        lab_pool().submit(lab_work, store)


def show_chart(kind: str, plan: Plan) -> None:
    """The chart, then its key numbers as text (the chart's description)."""
    try:
        data = chart_data(kind, plan.setup, plan)
    except SetupError as error:  # a chart's own what-if plan the framework refuses
        st.info(us.plain(f"This chart cannot be drawn for this setup: {error}"))
        return
    spec = json.loads(chart_template(kind, data.shape))
    spec["datasets"] = dict(data.datasets)
    # a fixed accessible name: one with the numbers would change the spec on every move
    st.vega_lite_chart(spec, width="stretch", alt=CHART_NAMES[kind])
    st.caption(us.plain(data.description))


# -- the training lab: real runs, bounded, trained by one background worker ----------------------

LAB_ENTRIES = 24  # lab runs (and lab charts) kept for all sessions (a run at most ~0.5 MB at the step cap)
MOMENT = 0.3  # s: a run trained in the page (the lab as metric source) quicker than this shows no progress bar
LAB_WAIT = 0.1  # s: an export waits up to this long for a lab chart the worker is making
LAB_TICK = 0.1  # s: a page waiting for the lab moves its bar this often (quicker charts show no bar)
LAB_PATIENCE = 60.0  # s: a page stops waiting for the lab after this (a chart takes 0.01-0.4 s here, alone)
LAB_SLOW = "The training lab is busy with other pages' runs: move any control, or reload, to look again."
LAB_FAILED = "The training lab could not run this setup."  # an unexpected error: the server log has the details


class LabChart(NamedTuple):
    """A lab chart made by the lab's worker: its template's name and shape and the tables that
    fill it (as for the page's other charts: a new run sends only new tables)."""

    kind: str
    shape: tuple
    datasets: dict[str, bytes]  # Arrow bytes by dataset name, in the template's order
    description: str
    downsized: str | None  # what the lab changed to fit its budget (the loss chart's run)


class Pending:
    """A lab chart queued for or being made by the lab's worker: how far it is, who waits for
    it, as (ticket, number) pairs (a session's ticket moves on when its page asks for other
    charts), and when it was first asked for: the request's number, then its place in the request."""

    __slots__ = ("fraction", "wanted", "asked", "started")

    def __init__(self) -> None:
        self.fraction = 0.0
        self.wanted: list[tuple[list[int], int]] = []
        self.asked = (0, 0)
        self.started = False

    def still_wanted(self) -> bool:
        return any(ticket[0] == number for ticket, number in self.wanted)


class LabRuns:
    """The lab's results for all sessions, each bounded (the least recently used dropped beyond
    `size`): runs by (setup, seed), and charts by job, ("loss", key) or ("compare", key, key).
    Plus the jobs pending in the lab's worker, each queued once however many sessions wait for
    it, with the progress the worker reports and a condition to wait on."""

    def __init__(self, size: int):
        self.size = size
        self.lock = threading.Lock()
        self.changed = threading.Condition(self.lock)  # notified when a chart is stored or a job given up
        self.runs: OrderedDict[tuple, training.TrainingRun | str] = OrderedDict()
        self.charts: OrderedDict[tuple, LabChart | str] = OrderedDict()
        self.pending: dict[tuple, Pending] = {}  # bounded by what open pages wait for: given up when nobody does
        self.requests = 0  # numbers the requests: the worker makes charts in the order they were asked for

    def _get(self, table: OrderedDict, key: tuple):
        with self.lock:
            value = table.get(key)
            if value is not None:
                table.move_to_end(key)
            return value

    def _put(self, table: OrderedDict, key: tuple, value) -> None:
        table[key] = value
        table.move_to_end(key)
        while len(table) > self.size:
            table.popitem(last=False)

    def get(self, key: tuple) -> training.TrainingRun | str | None:
        return self._get(self.runs, key)

    def put(self, key: tuple, run: training.TrainingRun | str) -> None:
        with self.lock:
            self._put(self.runs, key, run)

    def chart(self, job: tuple) -> LabChart | str | None:
        return self._get(self.charts, job)

    def put_chart(self, job: tuple, chart: LabChart | str) -> None:
        with self.lock:
            self._put(self.charts, job, chart)
            self.pending.pop(job, None)
            self.changed.notify_all()

    def want(self, jobs: tuple[tuple, ...], ticket: list[int], number: int) -> int:
        """Note that the session holding `ticket` waits for `jobs` (in that order); how many of
        them are newly pending (neither stored nor pending before)."""
        with self.lock:
            self.requests += 1
            new = 0
            for place, job in enumerate(jobs):
                if job in self.charts:
                    continue
                entry = self.pending.get(job)
                if entry is None:
                    entry = self.pending[job] = Pending()
                    entry.asked = (self.requests, place)
                    new += 1
                entry.wanted = [(t, n) for t, n in entry.wanted if t is not ticket and t[0] == n]
                entry.wanted.append((ticket, number))
            return new

    def take(self) -> tuple | None:
        """The job the worker makes next: of those not started, the first asked for. Jobs
        nobody waits for any more (every page that asked has moved on) are given up on the way."""
        with self.lock:
            for job in [j for j, e in self.pending.items() if not e.started and not e.still_wanted()]:
                self._give_up(job)
            ready = [(e.asked, j) for j, e in self.pending.items() if not e.started]
            if not ready:
                return None
            job = min(ready, key=lambda a_j: a_j[0])[1]
            self.pending[job].started = True
            return job

    def report(self, job: tuple, fraction: float) -> bool:
        """The worker's progress on `job`; False when nobody waits for it any more."""
        with self.lock:
            entry = self.pending.get(job)
            if entry is None or not entry.still_wanted():
                return False
            entry.fraction = min(max(fraction, 0.0), 1.0)
            return True

    def give_up(self, job: tuple) -> None:
        with self.lock:
            self._give_up(job)

    def _give_up(self, job: tuple) -> None:
        self.pending.pop(job, None)
        self.changed.notify_all()

    def busy(self) -> bool:
        with self.lock:
            return bool(self.pending)

    def is_pending(self, job: tuple) -> bool:
        with self.lock:
            return job in self.pending and job not in self.charts

    def progress(self, job: tuple) -> float:
        """How far `job` is: 1 once its chart is stored, else what the worker last reported."""
        with self.lock:
            return 1.0 if job in self.charts else getattr(self.pending.get(job), "fraction", 0.0)

    def wait(self, job: tuple, timeout: float) -> None:
        """Until `job` is not pending any more (its chart stored, or given up), or `timeout` s have passed."""
        with self.changed:
            self.changed.wait_for(lambda: job in self.charts or job not in self.pending, timeout)


@st.cache_resource(max_entries=1, show_spinner=False)
def lab_runs() -> LabRuns:
    return LabRuns(LAB_ENTRIES)


@st.cache_resource(max_entries=1, show_spinner=False)
def lab_pool() -> ThreadPoolExecutor:
    """The lab's one background worker for the whole server: lab charts are made one at a time.
    Its first job compiles the lab's kernels (or loads them from numba's cache) and makes seed
    0's task, while the first page draws its other charts (main asks for the pool first)."""
    pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="epochsteps-lab")
    pool.submit(training.train, Setup(dataset_size=2, batch_size=1))
    return pool


class LabAbandoned(Exception):
    """Raised from a background run's progress callback once no page waits for its chart."""


def lab_spec(kind: str, runs: tuple[training.TrainingRun, ...]) -> LabChart:
    """The loss chart of one run or the side-by-side of two, as the tables that fill its
    template (the page builds the template once per shape: chart_template)."""
    if kind == "loss":
        drawing = lab_charts.loss_drawing(*runs, budget=PAGE_BUDGET)
    else:  # stacked: side by side the two panels need ~650 px and would be cut off on a phone
        drawing = lab_charts.comparison_drawing(*runs, width=290, height=170, columns=1, budget=PAGE_BUDGET // 2)
    datasets = {k: arrow_bytes(v) for k, v in sorted(drawing.tables.items())}
    downsized = runs[0].downsized.text if kind == "loss" and runs[0].downsized is not None else None
    return LabChart(drawing.kind, drawing.shape, datasets, drawing.description, downsized)


def lab_work(store: LabRuns) -> None:
    """One turn of the lab's worker (one is queued per newly pending job): the next chart."""
    job = store.take()
    if job is not None:
        make_lab_chart(job, store)


def make_lab_chart(job: tuple, store: LabRuns) -> None:
    """Train the runs of `job` (or take them from the store) and build its chart into the store.
    Each progress report checks that some page still waits for it, so a setup the user has left
    stops training within a twentieth of its run."""
    kind, *keys = job
    try:
        runs = []
        for i, key in enumerate(keys):
            run = store.get(key)
            if run is None:
                try:
                    run = training.train(key[0], key[1], progress=partial(lab_report, store, job, i, len(keys)))
                except SetupError as error:
                    run = f"The training lab cannot run this setup: {error}"
                store.put(key, run)
            if isinstance(run, str):
                store.put_chart(job, run)
                return
            runs.append(run)
        store.put_chart(job, lab_spec(kind, tuple(runs)))
    except LabAbandoned:
        store.give_up(job)
    except Exception:  # never a traceback on the page, and never a chart pending for ever
        import logging

        logging.getLogger("epochsteps.lab").exception("The lab's %s chart of %r failed", kind, keys)
        store.put_chart(job, LAB_FAILED)


def lab_report(store: LabRuns, job: tuple, i: int, n: int, fraction: float) -> None:
    """Run i of n of `job` is `fraction` done: the page shows it; stop if nobody waits any more."""
    if not store.report(job, (i + fraction) / n):
        raise LabAbandoned


def lab_key(setup: Setup, seed: int) -> tuple:
    """What a lab run is stored under: its setup (metric values aside: the lab measures its own) and seed."""
    return setup.replace(metrics=()), int(seed)


def pair_keys(setup: Setup, seed: int) -> tuple[tuple, ...] | str:
    """The runs of the same setup at two batch sizes (training.batch_pair) for the same epochs:
    early stopping left out, so both runs go the whole way."""
    try:
        base = setup.replace(patience=None, metrics=())
        return tuple(lab_key(base.replace(batch_size=b), seed) for b in training.batch_pair(setup))
    except SetupError as error:
        return f"The training lab cannot compare batch sizes here: {error}"


def lab_jobs(setup: Setup, seed: int) -> tuple[tuple[tuple, ...], tuple[tuple, ...] | str]:
    """The lab charts of this setup's section, ("loss", key) then ("compare", key, key), and the
    pair's keys (or why there is no pair)."""
    pair = pair_keys(setup, seed)
    loss_job = ("loss", lab_key(setup, seed))
    return ((loss_job, ("compare", *pair)) if isinstance(pair, tuple) else (loss_job,)), pair


def queue_lab_charts(jobs: tuple[tuple, ...], store: LabRuns) -> None:
    """Ask the lab's worker for the charts `jobs` this page shows: each not stored and not
    already pending is queued. The session's ticket moves on when its page asks for other
    charts, so what it queued for a setup it has left is skipped (unless another page waits for it too)."""
    ticket = st.session_state.setdefault("_lab_ticket", [0])
    if st.session_state.get("_lab_jobs") != jobs:
        st.session_state["_lab_jobs"] = jobs
        ticket[0] += 1
    for _ in range(store.want(jobs, ticket, ticket[0])):
        lab_pool().submit(lab_work, store)
    guess = st.session_state.get("_lab_prefetch_ticket")
    if guess is not None:  # this session's guess at the next stop (prefetch_lab) is dropped, unless it is one of these
        guess[0] += 1


class LazyProgress:
    """The lab's progress callback: a bar in `slot` that appears only once the run has taken
    longer than a moment. Each update is also a point where a newer rerun can stop this one."""

    def __init__(self, slot, text: str):
        self.slot, self.text, self.start, self.shown = slot, text, time.perf_counter(), False

    def __call__(self, fraction: float) -> None:
        if self.shown or time.perf_counter() - self.start > MOMENT:
            self.shown = True
            self.slot.progress(min(max(fraction, 0.0), 1.0), text=self.text)


def lab_run(setup: Setup, seed: int, slot=None, text: str = "", store: LabRuns | None = None) -> training.TrainingRun | str:
    """The lab run of `setup`, from the bounded store or trained now, in this thread (the lab as
    the metric source, a file on click); a setup the lab cannot run gives its reason as text."""
    key = lab_key(setup, seed)
    store = store or lab_runs()
    run = store.get(key)
    if run is None:
        progress = LazyProgress(slot, text) if slot is not None else None
        try:
            run = training.train(key[0], key[1], progress=progress)
        except SetupError as error:
            run = f"The training lab cannot run this setup: {error}"
        store.put(key, run)
        if progress is not None and progress.shown:
            slot.empty()
    return run


def lab_pair(setup: Setup, seed: int, slot=None, store: LabRuns | None = None) -> tuple[training.TrainingRun, ...] | str:
    """The same setup at two batch sizes (pair_keys), from the store or trained now; while the
    lab's worker is still making their chart (a page asked for it), it is waited for a moment
    and otherwise reported as not ready yet (text)."""
    keys = pair_keys(setup, seed)
    if isinstance(keys, str):
        return keys
    store = store or lab_runs()
    job = ("compare", *keys)
    store.wait(job, LAB_WAIT)
    if store.is_pending(job):
        return "The training lab is still training these runs."
    runs = tuple(lab_run(k[0], k[1], slot, f"Training with batch {k[0].batch_size:,}", store) for k in keys)
    return next((r for r in runs if isinstance(r, str)), runs)


def show_lab_chart(chart: LabChart) -> None:
    """The lab chart: its template filled with its tables; the numbers are in the text under it."""
    spec = json.loads(chart_template(chart.kind, chart.shape))
    spec["datasets"] = dict(chart.datasets)
    if chart.kind == "lab_compare":
        spec["autosize"] = {"type": "pad"}  # fit-x is for single and layered views only
    # a fixed accessible name: one with the numbers would change the spec on every new run
    st.vega_lite_chart(spec, width="stretch", alt=f"{EXPORT_TITLES[chart.kind]} (a chart: its numbers are in the text under it)")
    st.markdown(us.plain(chart.description))  # full-contrast text: Streamlit's grey captions are 3.9:1


def seed_shown_in_early_stopping(values: dict) -> bool:
    return values["early_stopping"] and values["metric_source"] in ("curve", "lab")


def seed_input(where=None) -> None:
    where = st.columns([1, 2])[0] if where is None else where  # a short number: no need for the full width
    lesson_widgets(where).number_input(
        "Seed", 0, int(us.CONTROLS["seed"].high), step=1, key="seed", persist_state="session",
        help="Seeds the training lab (its data and the shuffle of every epoch) and the illustrative validation curve.",
    )  # fmt: skip


def await_lab_chart(job: tuple, text: str, jobs: tuple[tuple, ...], store: LabRuns) -> LabChart | str:
    """The chart of `job` once the lab's worker has made it. Until then a bar in its place says
    how far the worker is; each update is a point where a newer run (the user moved on) stops
    this one, so waiting here never holds up the next move. The rest of the page is drawn by now."""
    slot = st.empty()
    deadline = time.monotonic() + LAB_PATIENCE
    while (chart := store.chart(job)) is None:
        if time.monotonic() > deadline:
            chart = LAB_SLOW
            break
        if not store.is_pending(job):  # given up or dropped from the store meanwhile: asked for again
            queue_lab_charts(jobs, store)
        store.wait(job, LAB_TICK)
        if store.chart(job) is None:
            slot.progress(store.progress(job), text=text)
    if isinstance(chart, str):  # what the lab cannot run, it says
        slot.info(us.plain(chart))
    else:
        with slot.container():
            show_lab_chart(chart)
    return chart


def lab_ready(values: dict, setup: Setup) -> bool:
    """Whether the lab's worker has made every chart of this setup's lab section already."""
    store = lab_runs()
    return all(store.chart(job) is not None for job in lab_jobs(setup, values["seed"])[0])


def lab_section(values: dict, setup: Setup) -> None:
    """Drawn in its place when its charts are made already; otherwise after the rest of the
    page (see results_section and main), so the page's own charts are in the browser while the
    lab's worker makes these (runs trained, tables built). Either way in the same script run:
    a polling fragment would rerun with the browser's widget states, and a slider moved during
    one of its runs had its on_change applied there and then undone by the page's own rerun
    (Streamlit 1.67: a lost move, seen in the load test)."""
    st.header("See it train")
    st.markdown(
        "A real, tiny model (logistic regression on random features of two noisy spirals) trained by mini-batch SGD"
        " following this setup's plan: each point of the grey line is one optimizer step, one real parameter update."
    )
    if not seed_shown_in_early_stopping(values):
        seed_input()
    store = lab_runs()
    jobs, pair = lab_jobs(setup, values["seed"])
    queue_lab_charts(jobs, store)  # the pair too: it trains while this page waits for the first chart
    loss = await_lab_chart(jobs[0], "Training the lab model on this setup…", jobs, store)
    if isinstance(loss, str):
        return
    if loss.downsized is not None:
        st.info(us.plain(loss.downsized), icon=":material/compress:")
    st.subheader("Two batch sizes, same epochs")
    if isinstance(pair, str):
        st.info(us.plain(pair))
        return
    text = "Training with batch {:,} and batch {:,}…".format(*(k[0].batch_size for k in pair))
    await_lab_chart(jobs[1], text, jobs, store)


# -- lesson mode: ?lesson= / ?hide= / ?lock= ---------------------------------------------------

NO_LESSON = lessons.LessonMode()
WIDGETS = frozenset({"number_input", "checkbox", "selectbox", "text_input", "text_area", "slider", "select_slider", "radio"})


def lesson_mode() -> lessons.LessonMode:
    return st.session_state.get("_lesson", NO_LESSON)


def control_of(widget_key: str) -> str:
    """The control a widget sets (the slider and text box of a control count as the control)."""
    if widget_key == "val_check_interval_text":
        return "val_check_interval"
    return widget_key.removesuffix("_stop")


def shown(key: str) -> bool:
    return lesson_mode().shows(control_of(key))


def locked(key: str) -> bool:
    return lesson_mode().is_locked(control_of(key))


def locked_line(where, label: str, key: str, format_func=None) -> None:
    """A control the link locks, shown as its value: a disabled widget's grey label is too faint to read."""
    value = st.session_state.get(key)
    control = us.CONTROLS[control_of(key)]
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


def fixed_values() -> dict:
    """Controls the link hides or locks, at the values the lesson opened with."""
    return st.session_state.get("_fixed") or {}


# -- controls -------------------------------------------------------------------------------


def apply_preset() -> None:
    name = st.session_state.get("preset")
    if name:
        put_values(us.preset_values(name))
    st.session_state["preset"] = None


def linked_control(key: str) -> None:
    """A log-scale slider over round stops plus a box for the exact number, kept in sync."""
    if not shown(key):
        return
    c = us.CONTROLS[key]
    if locked(key):
        locked_line(st, c.label, key)
        return

    def from_slider() -> None:
        st.session_state[key] = st.session_state[f"{key}_stop"]

    def from_box() -> None:
        st.session_state[f"{key}_stop"] = us.nearest_stop(key, st.session_state[key])

    left, right = st.columns([3, 2], vertical_alignment="bottom")
    left.select_slider(
        c.label,
        options=c.stops,
        key=f"{key}_stop",
        format_func=short_number,
        on_change=from_slider,
        persist_state="session",
        help=f"Round values on a log scale, {short_number(c.stops[0])} to {short_number(c.stops[-1])}; type an exact value in the box.",
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
    if lesson_mode().lesson is None:  # a preset would leave the lesson's setup
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
    with st.expander(
        "Advanced: framework, drop_last, accumulation, devices, evaluation, early stopping, learning rate",
        expanded=lesson_mode().lesson is not None,  # a lesson's task may be in here
    ):
        advanced_controls(values)


def advanced_controls(values: dict) -> None:
    st = lesson_widgets()  # lesson mode: hidden controls are left out, locked ones disabled
    fw = values["framework"]
    st.selectbox(
        "Framework convention",
        us.FRAMEWORKS,
        key="framework",
        format_func=LABELS.get,
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
    lesson_notices = st.session_state.get("_lesson_notices") or ()
    if lesson_notices:
        with st.container(border=True):
            st.markdown(":material/school: **This lesson link had parts the page could not use:**")
            for notice in lesson_notices:
                st.text(notice)  # quotes the link: plain text, never Markdown


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
    if change and all(k in us.CONTROLS and k not in fixed_values() for k in change):
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


def early_stopping_section(values: dict, outcome: us.Outcome, lab: training.TrainingRun | str | None = None) -> None:
    st.header("Early stopping")
    plan = outcome.plan
    if not values["early_stopping"]:
        st.markdown(
            "Early stopping watches the validation metric at each evaluation and ends training after *patience* evaluations without improvement."
        )
        if shown("early_stopping") and not locked("early_stopping"):
            st.button("Turn on early stopping", on_click=turn_on_early_stopping, args=(plan,), key="es_on")
        return
    lesson_widgets().radio(
        "Validation metric",
        us.CONTROLS["metric_source"].allowed,
        key="metric_source",
        format_func={"curve": "Illustrative curve", "pasted": "Values from my run", "lab": "From the training run"}.get,
        horizontal=True,
        persist_state="session",
    )
    if values["metric_source"] == "curve":
        a, b, c = st.columns(3)
        seed_input(a)
        lesson_widgets(b).slider("Noise", 0.0, float(us.CONTROLS["noise"].high), step=0.005, key="noise", persist_state="session")
        lesson_widgets(c).slider(
            "Overfitting starts at",
            0.0,
            1.0,
            step=0.05,
            key="overfit_at",
            persist_state="session",
            help="A fraction of the run's evaluations.",
        )
    elif values["metric_source"] == "lab":
        seed_input()
        if isinstance(lab, str):
            st.info(us.plain(lab))
            return
        if lab is not None and lab.downsized is not None:
            st.info(
                us.plain(
                    "The lab trained a smaller copy of this setup, so its validation losses belong to that copy's"
                    f" evaluations: the chart shows the smaller run. {lab.downsized.text}"
                )
            )
            show_chart("early", lab.plan)
            return
        st.markdown(
            f"The validation loss the training lab measured at each of its {len(lab.val_loss):,} evaluations"
            " (the run is drawn under See it train, below)."
        )
    else:
        lesson_widgets().text_area(
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
    st.markdown("The same setup as each framework would count it. The columns marked ≠ differ between frameworks; they come first.")
    table, differences = translator_for(setup)
    config = {c: st.column_config.TextColumn(help="Differs between the frameworks") for c in table.columns if c.startswith("≠ ")}
    st.dataframe(table, hide_index=True, width="stretch", column_config=config)
    for line in differences:
        st.markdown(f"- {line}")
    tabs = st.tabs([LABELS[fw] for fw in us.FRAMEWORKS], default=LABELS[setup.framework])  # open on yours
    snippets = snippets_for(setup)
    for tab, fw in zip(tabs, us.FRAMEWORKS, strict=True):
        tab.code(snippets[fw], language="python", wrap_lines=True)  # no sideways scrolling at 390 px


def glossary_section() -> None:
    st.header("Glossary")
    st.markdown("\n".join(f"- **{term}**: {text}" for term, text in explain.GLOSSARY.items()))
    st.caption(f"Scope: {explain.SCOPE}")


# -- for teachers: lesson task, self-check, share, export ----------------------------------------

QUIZ_SHOWN = 3  # questions at a time; "Other questions" draws the next seed
FALLBACK_ADDRESS = "http://localhost:8501/"  # when the page cannot read its own address (tests, some proxies)
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
MIME = {"png": "image/png", "svg": "image/svg+xml", "html": "text/html"}
CHART_NAMES = {kind: f"{EXPORT_TITLES[kind]} chart (its numbers are in the text under it)" for kind in DRAWINGS}


def answer_box(question: quiz.Question, key: str, prompt: bool = True) -> bool:
    """A text box for one number, judged by the core, with the worked reasoning. True once
    the answer in it is right."""
    if prompt:
        st.markdown(us.plain(question.prompt))
    digest = hashlib.sha1(question.prompt.encode()).hexdigest()[:12]  # a new question gets a fresh box
    text = st.text_input("Your answer (a number)", key=f"{key}_{digest}", max_chars=quiz.MAX_ANSWER_CHARS, placeholder="a number")
    if not text.strip():
        return False
    verdict = quiz.check(question, text)
    if verdict.correct is None:
        st.warning(us.plain(verdict.feedback))
    elif verdict.correct:
        st.success(us.plain(verdict.feedback), icon=":material/check_circle:")
    else:
        st.error(us.plain(verdict.feedback), icon=":material/cancel:")
    if verdict.reasoning:
        st.markdown(f"**Worked reasoning:** {us.plain(verdict.reasoning)}")
    return bool(verdict.correct)


def lesson_section(values: dict) -> bool:
    """The lesson's guided task (built-in text), each part checked against the current setup.
    Whether the page may show its numbers: always without a lesson; with one, once every task
    the learner can do now is answered right (but for tasks answered by reading the charts),
    or they ask to see the answers (the cards and charts would otherwise give each answer
    away next to its question)."""
    lesson = lesson_mode().lesson
    if lesson is None:
        return True
    setup = outcome_for(tuple(values.items())).setup
    answered = True
    with st.container(border=True, key="lesson_box"):
        st.header(f"Lesson: {lesson.title}")
        st.markdown(us.plain(lesson.intro))
        for number, part in enumerate(lesson.parts, 1):
            st.markdown(f"**Task {number}.** {us.plain(part.prompt)}")
            if not part.ready(values):
                st.markdown(f"*{us.plain(part.todo())}*")
                continue
            try:
                question = part.question(setup) if setup is not None else None
            except SetupError:
                question = None
            if question is None:
                st.markdown("*This task does not apply to the current setup.*")
                continue
            right = answer_box(question, f"lesson_{number}", prompt=False)
            answered = answered and (right or part.looks)
        shown = st.toggle("Show the answers", key="lesson_show_answers", help="Show the page's numbers and charts before answering.")
    return answered or shown


@st.cache_resource(max_entries=CACHE_ENTRIES, show_spinner=False)
def questions_for(setup: Setup, seed: int) -> list[quiz.Question]:
    return quiz.questions(setup, seed)


def other_questions() -> None:
    st.session_state["_quiz_seed"] = st.session_state.get("_quiz_seed", 0) + 1


def quiz_section(setup: Setup) -> None:
    st.header("Check yourself")
    st.markdown("Questions about the setup above; type a number and the page checks it against the exact count.")
    box = st.expander("Questions about your setup", key="quiz_open", on_change="rerun", icon=":material/quiz:")
    if not box.open:  # generated only when asked for: near the 100,000-evaluation cap they take a second
        return
    with box:
        seed = st.session_state.get("_quiz_seed", 0)
        for number, question in enumerate(questions_for(setup, seed)[:QUIZ_SHOWN], 1):
            st.markdown(f"**Question {number}.**")
            answer_box(question, f"quiz_{number}")
        st.button("Other questions", on_click=other_questions, key="quiz_more", icon=":material/refresh:")


def page_address() -> tuple[str, bool]:
    """This page's address (scheme, host, path) and whether it is only a stand-in."""
    try:
        return share.clean_base_url(st.context.url or ""), False
    except share.ShareError:
        return FALLBACK_ADDRESS, True


def export_chart(kind: str, plan: Plan, seed: int, store: LabRuns):
    """The chart `kind` as the page draws it, for a file."""
    if kind == "lab_loss":
        return lab_charts.loss_chart(lab_run(plan.setup, seed, store=store))
    if kind == "lab_compare":
        return lab_charts.comparison_chart(*lab_pair(plan.setup, seed, store=store))
    return charts.chart(DRAWINGS[kind](plan))


def export_file(kind: str, ext: str, plan: Plan, seed: int, store: LabRuns):
    """A callable for st.download_button: the file is drawn (vl-convert) only when clicked."""

    def make() -> bytes | str:
        chart = export_chart(kind, plan, seed, store)
        with ALTAIR_LOCK:  # Altair's data transformer is process-wide; the page switches it under this lock
            spec = chart.to_dict()
        if ext == "png":
            return exports.chart_png(spec)
        if ext == "svg":
            return exports.chart_svg(spec)
        return exports.chart_html(spec, title=EXPORT_TITLES[kind], caption=spec.get("description") or exports.describe(plan))

    return make


def share_section(values: dict, plan: Plan, seed: int) -> None:
    with st.expander(
        "Share: a link to this page, an embed for a course page, a static image", icon=":material/share:", key="share_panel"
    ):
        base, stand_in = page_address()
        query = {**us.to_query(values), **lesson_mode().query()}
        try:
            link = share.share_url(base, query)
            embed = share.embed_url(base, query)
        except share.ShareError as error:
            st.info(us.plain(f"No link for this page: {error}"))
            return
        if stand_in:
            st.markdown(f"*The page could not read its own address here: replace {FALLBACK_ADDRESS} with where it is hosted.*")
        st.markdown("**Link** to this exact page (every control is in it):")
        st.code(link, language=None, wrap_lines=True)
        height = share.recommended_height(controls=sum(shown(k) for k in us.LINKED), charts=1)
        st.markdown(f"**Embed** in a course page (Streamlit's `?embed=true` mode, light theme), {height:,} px high:")
        st.code(share.iframe_snippet(embed, height=height), language=None, wrap_lines=True)  # highlighted HTML is too faint
        st.markdown("**No iframes allowed?** Put the step timeline in as an image, linked to the live page:")
        st.code(share.image_snippet("step_timeline.png", share.alt_text(plan), link=link), language=None, wrap_lines=True)
        st.download_button(
            "step_timeline.png", data=export_file("timeline", "png", plan, seed, lab_runs()), file_name="step_timeline.png",
            mime=MIME["png"], on_click="ignore", key="share_png", icon=":material/image:",
        )  # fmt: skip


def load_setup_file() -> None:
    """A setup.json saved here goes through the same checks as a link."""
    file = st.session_state.get("setup_file")
    if file is None:
        return
    try:
        setup = exports.load_setup(file.getvalue())
    except SetupError as error:
        st.session_state["_load_message"] = ("error", f"That file could not be loaded: {error}")
        return
    query, notes = us.setup_query(setup)
    values, notices = us.parse_query(query)
    put_values(values)
    changed = [*notes, *notices]
    st.session_state["_load_message"] = (
        "warning" if changed else "success",
        "Setup loaded." + (" Changed to fit the page: " + "; ".join(changed) + "." if changed else ""),
    )


def export_section(plan: Plan, seed: int) -> None:
    box = st.expander(
        "Export: charts as PNG, SVG or HTML, the tables as CSV, the setup as JSON (and load one back)",
        key="export_open", on_change="rerun", icon=":material/download:",
    )  # fmt: skip
    if not box.open:  # nothing is prepared until asked for
        return
    store = lab_runs()
    with box:
        kinds = charts_shown(plan)
        if isinstance(store.get((plan.setup.replace(metrics=()), seed)), training.TrainingRun):
            kinds = [*kinds, "lab_loss"]
            if isinstance(lab_pair(plan.setup, seed, store=store), tuple):  # from the cache: the page drew it
                kinds.append("lab_compare")
        if kinds:
            kind = st.selectbox("Chart", kinds, format_func=EXPORT_TITLES.get, key="export_chart")
            columns = st.columns(3)
            for column, ext in zip(columns, MIME, strict=True):
                column.download_button(
                    ext.upper(), data=export_file(kind, ext, plan, seed, store), file_name=f"{EXPORT_STEMS[kind]}.{ext}",
                    mime=MIME[ext], on_click="ignore", key=f"export_{ext}", width="stretch", icon=":material/download:",
                )  # fmt: skip
            st.markdown("*Each file is drawn when you click (no browser needed); the HTML file works offline.*")
        a, b, c = st.columns(3)
        a.download_button(
            "Step table (CSV)", data=partial(exports.steps_csv, plan), file_name="steps.csv", mime="text/csv",
            on_click="ignore", key="export_steps", width="stretch", icon=":material/table:",
        )  # fmt: skip
        b.download_button(
            "Epoch table (CSV)", data=partial(exports.epochs_csv, plan), file_name="epochs.csv", mime="text/csv",
            on_click="ignore", key="export_epochs", width="stretch", icon=":material/table:",
        )  # fmt: skip
        c.download_button(
            "Setup (JSON)", data=partial(exports.setup_json, plan.setup), file_name="setup.json", mime="application/json",
            on_click="ignore", key="export_setup", width="stretch", icon=":material/data_object:",
        )  # fmt: skip
        st.file_uploader(
            "Load a setup (a setup.json saved here)", type=["json"], key="setup_file", on_change=load_setup_file,
            max_upload_size=max(1, exports.MAX_SETUP_FILE_BYTES // 1_000_000),
        )  # fmt: skip
        kind_text = st.session_state.pop("_load_message", None)
        if kind_text is not None:
            {"error": st.error, "warning": st.warning, "success": st.success}[kind_text[0]](us.plain(kind_text[1]))


# -- page -------------------------------------------------------------------------------------


PAGE_CSS = """<style>
/* KaTeX display blocks overflow their own box by a pixel or two, which makes an
   unfocusable scroll region; long formulas shrink instead (see .katex below) */
.katex-display { overflow: visible !important; }
@media (max-width: 480px) {
  .katex-display .katex { font-size: 0.95em; }
  .stCode pre, .stCode code { font-size: 0.72rem !important; }  /* fewer wrapped lines of code on a phone */
}
/* captions carry each chart's numbers: Streamlit's faded grey is 3.7:1 on white; the text
   colour at 80% is 6.8:1 and follows a dark theme too */
[data-testid="stCaptionContainer"] { color: inherit !important; opacity: 0.8; }
/* metric labels wrap instead of ending in an ellipsis on narrow cards */
[data-testid="stMetricLabel"] p, [data-testid="stMetricLabel"] div { white-space: normal !important; overflow: visible !important; text-overflow: clip !important; }
</style>"""


def results_section(values: dict, outcome: us.Outcome) -> tuple[us.Outcome, DeltaGenerator | None]:
    """Everything the setup's numbers show: cards and formula, charts, the lab's slot, the quiz
    and the translator. Returns the outcome drawn (the lab's losses may decide early stopping)
    and the lab's slot when its charts are still to be made (filled at the end of the run)."""
    lab = None
    if values["early_stopping"] and values["metric_source"] == "lab" and not us.dead_end(outcome.plan):
        lab = lab_run(outcome.setup, values["seed"], st.empty(), "Training the lab model for its validation losses")
        if isinstance(lab, training.TrainingRun) and lab.downsized is None:
            outcome = us.Outcome(lab.plan.setup, lab.plan, None, outcome.notes)  # its real losses decide early stopping
    plan = outcome.plan
    answer_section(plan)
    dead = us.dead_end(plan)
    lab_slot = None
    for line in us.caveats(plan):
        st.info(us.plain(line))
    if dead:
        st.warning(us.plain(dead), icon=":material/block:")
    else:
        timeline_section(plan)
        inside_epoch_section(plan)
        tradeoff_section(plan)
        learning_rate_section(plan)
        early_stopping_section(values, outcome, lab)
        lab_slot = st.container(key="see_it_train")
        if lab_ready(values, plan.setup):  # made already (the idle worker's guess, or seen before): drawn in its place now
            with lab_slot:
                lab_section(values, plan.setup)
            lab_slot = None
        quiz_section(plan.setup)
    translator_section(plan.setup)
    return outcome, lab_slot


def main() -> None:
    st.html(PAGE_CSS)
    init_state()
    lab_pool()
    values = current_values()
    st.title("Epochs vs steps")
    st.markdown(
        "An **epoch** is one pass over the data; an **optimizer step** is one parameter update. "
        "Move the controls to see how many steps your setup takes, counted the way PyTorch, the HF Trainer, Lightning and Keras count them."
    )
    if values != st.session_state.get("_url_values"):
        st.session_state["_url_notices"] = []  # the link's notices describe the link, not later moves
        st.session_state["_lesson_notices"] = ()
    answered = lesson_section(values)
    controls_section(values)
    notices_section()
    outcome = outcome_for(tuple(values.items()))
    sync_url(values)
    if outcome.plan is None:
        st.warning(us.plain(outcome.explanation), icon=":material/block:")
        glossary_section()
        return
    lab_slot = None
    if answered:
        outcome, lab_slot = results_section(values, outcome)
    else:
        st.info(lessons.HIDDEN_UNTIL_ANSWERED, icon=":material/visibility_off:")
    plan = outcome.plan
    st.header("Share and export")
    share_section(values, plan, values["seed"])
    export_section(plan, values["seed"])
    glossary_section()
    if lab_slot is not None:
        with lab_slot:  # the rest of the page is drawn while the lab's worker makes its charts
            lab_section(values, plan.setup)
    prefetch_next(values)


main()
