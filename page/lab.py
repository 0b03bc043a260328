"""The training lab ("See it train"): real runs of a tiny model, trained on demand.

Nothing trains until the learner asks (a Train button, or "keep training" switched on),
and then in the page's own script run: a slider move costs the lab only a lookup. Runs
and their charts are shared by all sessions in bounded stores. A run shows a progress bar
once it takes longer than a moment; each update is a point where a newer move stops it,
so a move made during a run is never lost (the new run has the moved widget's value).
"""

from __future__ import annotations

import logging
import threading
import time
from collections import OrderedDict
from typing import NamedTuple

import streamlit as st

from epochsteps import lab_charts, training
from epochsteps import urlstate as us
from epochsteps.setup import Setup, SetupError

from .charts import EXPORT_TITLES, arrow_bytes, show_filled
from .elements import heading

LAB_ENTRIES = 24  # lab runs and lab charts kept for all sessions (a run is at most ~0.5 MB at the step cap)
MOMENT = 0.3  # s: a run for early stopping's losses quicker than this shows no progress bar
LAB_FAILED = "The training lab could not run this setup."  # an unexpected error: the server log has the details

# Points per lab loss curve: about one per pixel. A line is one SVG path however many points it
# has, so the lab keeps more than the other charts' bands and marks (charts.PAGE_BUDGET).
LINE_BUDGET = 600


class LabChart(NamedTuple):
    """A lab chart as the tables that fill its template (a new run sends only new tables)."""

    kind: str
    shape: tuple
    datasets: dict[str, bytes]
    description: str
    downsized: str | None  # what the lab changed to fit its budget (the loss chart's run)


class Store:
    """A bounded table shared by all sessions: the least recently used entry goes beyond `size`."""

    def __init__(self, size: int):
        self.size, self.lock, self.table = size, threading.Lock(), OrderedDict()

    def get(self, key):
        with self.lock:
            value = self.table.get(key)
            if value is not None:
                self.table.move_to_end(key)
            return value

    def put(self, key, value) -> None:
        with self.lock:
            self.table[key] = value
            self.table.move_to_end(key)
            while len(self.table) > self.size:
                self.table.popitem(last=False)


@st.cache_resource(max_entries=1, show_spinner=False)
def stores() -> tuple[Store, Store]:
    """(runs by (setup, seed), charts by job) for the whole server."""
    return Store(LAB_ENTRIES), Store(LAB_ENTRIES)


def run_key(setup: Setup, seed: int) -> tuple:
    """What a lab run is stored under: its setup (metric values aside: the lab measures its own) and seed."""
    return setup.replace(metrics=()), int(seed)


def pair_keys(setup: Setup, seed: int) -> tuple[tuple, ...] | str:
    """The same setup at two batch sizes (training.batch_pair) for the same epochs, early
    stopping left out so both runs go the whole way; or why there is no pair."""
    try:
        base = setup.replace(patience=None, metrics=())
        return tuple(run_key(base.replace(batch_size=b), seed) for b in training.batch_pair(setup))
    except SetupError as error:
        return f"The training lab cannot compare batch sizes here: {error}"


class LazyProgress:
    """A run's progress callback: a bar in `slot` that appears only once the run has taken
    longer than a moment. Each update is also a point where a newer rerun can stop this one."""

    def __init__(self, slot, text: str, moment: float = MOMENT):
        self.slot, self.text, self.moment, self.start, self.shown = slot, text, moment, time.perf_counter(), False
        if moment <= 0:
            self(0.0)

    def __call__(self, fraction: float) -> None:
        if self.shown or time.perf_counter() - self.start > self.moment:
            self.shown = True
            self.slot.progress(min(max(fraction, 0.0), 1.0), text=self.text)


def stored_run(setup: Setup, seed: int) -> training.TrainingRun | str | None:
    return stores()[0].get(run_key(setup, seed))


def lab_run(setup: Setup, seed: int, slot=None, text: str = "", moment: float = MOMENT) -> training.TrainingRun | str:
    """The run of `setup`, from the store or trained now in this script run (its bar in `slot`
    after `moment` s); a setup the lab cannot run gives its reason as text."""
    key = run_key(setup, seed)
    runs = stores()[0]
    run = runs.get(key)
    if run is None:
        progress = LazyProgress(slot, text, moment) if slot is not None else None
        try:
            run = training.train(key[0], key[1], progress=progress)
        except SetupError as error:
            run = f"The training lab cannot run this setup: {error}"
        runs.put(key, run)
        if progress is not None and progress.shown:
            slot.empty()
    return run


def lab_chart(job: tuple, slot=None) -> LabChart | str:
    """The chart of `job` ("loss", key) or ("compare", key, key), its runs trained if needed."""
    charts = stores()[1]
    found = charts.get(job)
    if found is not None:
        return found
    kind, *keys = job
    try:
        runs = []
        for i, (setup, seed) in enumerate(keys):
            text = "Training the lab model on this setup…" if kind == "loss" else f"Training with batch {setup.batch_size:,} ({i + 1} of 2)…"
            run = lab_run(setup, seed, slot, text, moment=0.0)  # the learner asked for it: the bar says so at once
            if isinstance(run, str):
                charts.put(job, run)
                return run
            runs.append(run)
        chart = _chart(kind, tuple(runs))
    except Exception:  # never a traceback on the page
        logging.getLogger("epochsteps.lab").exception("The lab's %s chart of %r failed", kind, keys)
        chart = LAB_FAILED
    charts.put(job, chart)
    return chart


def _chart(kind: str, runs: tuple[training.TrainingRun, ...]) -> LabChart:
    if kind == "loss":
        drawing = lab_charts.loss_drawing(*runs, budget=LINE_BUDGET)
    else:  # stacked: side by side the two panels need ~650 px and would be cut off on a phone
        drawing = lab_charts.comparison_drawing(*runs, width=290, height=170, columns=1, budget=LINE_BUDGET // 2)
    datasets = {k: arrow_bytes(v) for k, v in sorted(drawing.tables.items())}
    downsized = runs[0].downsized.text if kind == "loss" and runs[0].downsized is not None else None
    return LabChart(drawing.kind, drawing.shape, datasets, drawing.description, downsized)


def jobs(setup: Setup, seed: int) -> tuple[tuple, tuple | str]:
    """The lab section's charts: ("loss", key), ("compare", key, key) or why there is no comparison."""
    pair = pair_keys(setup, seed)
    return ("loss", run_key(setup, seed)), (("compare", *pair) if isinstance(pair, tuple) else pair)


def made(setup: Setup, seed: int) -> bool:
    """Whether this setup's lab charts are in the store already (then the page draws them in place, at no cost)."""
    loss, compare = jobs(setup, seed)
    charts = stores()[1]
    return charts.get(loss) is not None and (isinstance(compare, str) or charts.get(compare) is not None)


def wants_training(setup: Setup, seed: int) -> bool:
    """Whether this run trains: the setup is made already, the learner pressed Train, or keeps the lab training."""
    return made(setup, seed) or bool(st.session_state.get("lab_train")) or bool(st.session_state.get("lab_keep_training"))


def show(chart: LabChart | str, slot) -> None:
    if isinstance(chart, str):  # what the lab cannot run, it says
        slot.info(us.plain(chart))
        return
    with slot.container():
        show_filled(chart.kind, chart.shape, chart.datasets, f"{EXPORT_TITLES[chart.kind]} (a chart: its numbers are in the text under it)")
        st.markdown(us.plain(chart.description))  # full-contrast text: Streamlit's grey captions are 3.9:1


def lab_section(setup: Setup, seed: int, train: bool) -> None:
    """The lab's charts when made or asked for; otherwise what a press of Train would do."""
    loss_job, compare_job = jobs(setup, seed)
    if not train:
        st.markdown(
            "Press **Train** to train it on this setup (a run takes up to a few tenths of a second;"
            f" a setup bigger than {training.MAX_TRAIN_SAMPLES:,} samples or {training.MAX_OPTIMIZER_STEPS:,} optimizer steps"
            " trains a faithful smaller copy). Moving a control trains nothing unless *Keep training* is on."
        )
        return
    slot = st.empty()
    loss = lab_chart(loss_job, slot)
    show(loss, slot)
    if isinstance(loss, str):
        return
    if loss.downsized is not None:
        st.info(us.plain(loss.downsized), icon=":material/compress:")
    st.subheader("Two batch sizes, same epochs")
    if isinstance(compare_job, str):
        st.info(us.plain(compare_job))
        return
    slot = st.empty()
    show(lab_chart(compare_job, slot), slot)


def header(seed_input) -> None:
    """The lab's title, what it is, and its buttons (drawn in place; the charts may follow at the end of the run)."""
    heading(
        "See it train",
        "A real, tiny model (logistic regression on random features of two noisy spirals) trained by mini-batch SGD"
        " following this setup's plan: each point of the grey line is one optimizer step, one real parameter update."
    )
    left, right = st.columns([1, 2], vertical_alignment="bottom")
    left.button("Train", key="lab_train", icon=":material/play_arrow:", type="primary", help="Train the lab model on this setup now.")
    right.toggle("Keep training as I change the setup", key="lab_keep_training", persist_state="session")
    seed_input()
