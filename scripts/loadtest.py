"""Load test: many concurrent sessions against `streamlit run app.py`.

    python scripts/loadtest.py                         # browser: 10 Chromium sessions x 20 changes
    python scripts/loadtest.py --mode ws               # websocket: 30 sessions x 20 random moves, page and bare page
    python scripts/loadtest.py --short                 # 3 x 3, what CI runs (tests/test_loadtest.py); with --mode ws too
    python scripts/loadtest.py --mode ws --json out.json

Each server is started here on 127.0.0.1 (a free port) and always stopped; every run has a
deadline. Errors (page errors, Streamlit exceptions, wrong numbers, disconnects, timeouts)
must be 0 and every move done: the exit code is 1 otherwise.

--mode browser: every session a headless Chromium page that moves the batch-size then the
epochs slider with the keyboard, one stop at a time. A change counts as done when the script
has finished, the "Total optimizer steps" card shows the core's number for the new setting
and the step-timeline chart has been redrawn; the time from the key press to that moment is
measured in the page's own clock. Then the same sessions against a bare page with as many
charts (see below), all opening at its sliders' starts (it reads no query string), and the
ratios page/bare.

--mode ws: no browser, so it measures the server alone. Each session speaks Streamlit's
websocket protocol as the frontend does (see `Tab`): it opens the link (--start), waits for
the first run, and once every session has loaded, all make --moves random moves of the
three main sliders (any stop: ends and middles included), closed loop, each a rerun with all
widget states; a move is done when its run has finished and the card shows the core's
number. Then the same for a bare page with the same number of charts (three select_sliders,
three metrics, N Altair charts of 2,000 points built fresh on every run, Streamlit's default
config), page first and bare page second, each server alone on the machine. Printed: moves
per second over the move phase, p50/p95 move latency, server CPU per move, server RSS idle
after the first page and peak, and the ratios page/bare against the issue's targets.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import random
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from epochsteps import controls as ctl  # noqa: E402
from epochsteps import urlstate as us  # noqa: E402
from epochsteps.text import fmt, short_number  # noqa: E402

HOST = "127.0.0.1"  # never another address
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]  # fmt: skip
CHART = "[data-testid=stVegaLiteChart]"
TOTAL = "Total optimizer steps"

# -- the server ---------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


class Server:
    """`streamlit run <script>` (app.py unless told) on 127.0.0.1 and a free port, from `cwd`
    (whose .streamlit/config.toml applies); stop() ends this process only."""

    def __init__(self, extra: list[str] | None = None, log: Path | None = None, script: Path | None = None, cwd: Path = ROOT):
        self.port = free_port()
        self.url = f"http://{HOST}:{self.port}"
        self.log_path = log or ROOT / "test-output" / f"loadtest-server-{self.port}.log"
        self.log_path.parent.mkdir(exist_ok=True)
        self._log = open(self.log_path, "w")  # noqa: SIM115 - closed in stop()
        cmd = [
            sys.executable, "-m", "streamlit", "run", str(script or ROOT / "app.py"),
            "--server.address", HOST, "--server.port", str(self.port), "--server.headless", "true",
            "--browser.gatherUsageStats", "false", *(extra or []),
        ]  # fmt: skip
        self.proc = subprocess.Popen(
            cmd, cwd=cwd, stdout=self._log, stderr=subprocess.STDOUT, env={**os.environ, "PYTHONUNBUFFERED": "1"}
        )
        try:
            self._wait_healthy(60)
        except BaseException:
            self.stop()
            raise

    def _wait_healthy(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"streamlit exited with code {self.proc.returncode}; see {self.log_path}")
            try:
                with urllib.request.urlopen(f"{self.url}/_stcore/health", timeout=2) as r:
                    if r.status == 200:
                        return
            except OSError:
                pass
            time.sleep(0.2)
        raise TimeoutError(f"{self.url} was not healthy within {timeout:.0f} s")

    def rss_mb(self) -> float:
        return rss_mb(self.proc.pid)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._log.close()


def rss_mb(pid: int) -> float:
    """Resident memory of one process, from /proc (Linux)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no VmRSS for pid {pid}")


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of one process so far, from /proc (Linux)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class MemorySampler(threading.Thread):
    """The server's RSS every `every` seconds, for the peak."""

    def __init__(self, server: Server, every: float = 0.25):
        super().__init__(daemon=True)
        self.server, self.every = server, every
        self.samples: list[float] = []
        self._halt = threading.Event()

    def run(self) -> None:
        while not self._halt.is_set():
            try:
                self.samples.append(self.server.rss_mb())
            except (OSError, RuntimeError):
                return
            self._halt.wait(self.every)

    def stop(self) -> float:
        self._halt.set()
        self.join(timeout=5)
        return max(self.samples, default=float("nan"))


def chromium() -> str:
    path = shutil.which("chromium")
    if path is None:
        raise SystemExit("Debian chromium is not installed (apt-get install -y chromium)")
    return path


# -- what each session does -------------------------------------------------------------------------

LABELS = {"batch_size": us.CONTROLS["batch_size"].label, "epochs": us.CONTROLS["epochs"].label}


def session_start(i: int) -> dict:
    """A distinct starting point per session, so sessions do not share cached results."""
    return {**us.DEFAULTS, "dataset_size": 50_000 + 1_237 * i, "batch_size": 1, "epochs": 10}


def change_plan(start: dict, n: int) -> list[tuple[str, dict]]:
    """n single-stop moves: the batch-size slider to the right, then the epochs slider."""
    out, values = [], dict(start)
    for k in range(n):
        key = "batch_size" if k < (n + 1) // 2 else "epochs"
        stops = us.CONTROLS[key].stops
        nxt = next(s for s in stops if s > values[key])
        values = {**values, key: nxt}
        out.append((key, dict(values)))
    return out


def expected_total(values: Mapping[str, Any]) -> str | None:
    """What the page's TOTAL card shows for a setting (the controls' values), from the core;
    None where the page explains instead of counting."""
    plan = ctl.values_to_setup(values).plan
    return None if plan is None else fmt(plan.total_optimizer_steps)


# JS: the page has finished a rerun with the expected total and a redrawn timeline chart.
MARK = f"() => {{ const s = document.querySelector('{CHART} svg, {CHART} canvas'); window.__before = s ? s.outerHTML : ''; return performance.now(); }}"
DONE = f"""(want) => {{
  if (document.querySelector('[data-testid=stStatusWidget]')) return false;
  const total = Array.from(document.querySelectorAll('[data-testid=stMetric]')).find(e => e.innerText.startsWith('{TOTAL}'));
  if (!total || !total.innerText.trim().endsWith(want)) return false;
  const charts = Array.from(document.querySelectorAll('{CHART}'));
  if (!charts.length || !charts.every(c => c.querySelector('svg, canvas'))) return false;
  const s = charts[0].querySelector('svg, canvas');
  if (s.outerHTML === window.__before) return false;
  return performance.now();
}}"""
LOADED = f"""() => !document.querySelector('[data-testid=stStatusWidget]') &&
  document.querySelectorAll('[data-testid=stMetric]').length > 0 &&
  Array.from(document.querySelectorAll('{CHART}')).length > 0 &&
  Array.from(document.querySelectorAll('{CHART}')).every(c => c.querySelector('svg, canvas'))"""


@dataclass
class Result:
    latencies_ms: list[float] = field(default_factory=list)
    load_ms: list[float] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    changes_done: int = 0
    charts: int = 0  # charts on a loaded page


@dataclass(frozen=True)
class Target:
    """What the sessions open: the page (a distinct link each) or the bare page (its own starts)."""

    start: Callable[[int], dict]  # session i -> the controls' values it opens with
    query: bool  # open them through the link's query string
    total: Callable[[Mapping[str, Any]], str | None]  # values -> the TOTAL card it shows


PAGE = Target(session_start, True, expected_total)


def bare_start(i: int) -> dict:
    """The bare page has no query string: every session opens at its sliders' starts."""
    return {key: ctl.nearest_stop(key, value) for key, value in session_start(0).items() if key in SLIDERS.values()}


BARE = Target(bare_start, False, lambda values: fmt(math.ceil(values["dataset_size"] / values["batch_size"]) * values["epochs"]))


async def run_session(browser, url: str, i: int, changes: int, timeout_ms: int, result: Result, target: Target = PAGE) -> None:
    context = await browser.new_context(viewport={"width": 1280, "height": 900})
    page = await context.new_page()
    live = {"on": True}

    def on_console(msg) -> None:
        if live["on"] and msg.type == "error":
            result.errors.append(f"session {i}: console error: {msg.text[:200]}")

    def on_pageerror(err) -> None:
        if live["on"]:
            result.errors.append(f"session {i}: page error: {str(err)[:200]}")

    page.on("console", on_console)
    page.on("pageerror", on_pageerror)
    start = target.start(i)
    query = "&".join(f"{k}={v}" for k, v in us.to_query(start).items()) if target.query else ""
    try:
        t0 = time.perf_counter()
        await page.goto(f"{url}/?{query}", timeout=timeout_ms)
        await page.wait_for_function(LOADED, timeout=timeout_ms)
        result.load_ms.append((time.perf_counter() - t0) * 1000)
        result.charts = max(result.charts, await page.locator(CHART).count())
        for n, (key, values) in enumerate(change_plan(start, changes), 1):
            want = target.total(values)
            slider = page.get_by_role("slider", name=LABELS[key])
            try:
                before = await page.evaluate(MARK)
                await slider.press("ArrowRight")
                handle = await page.wait_for_function(DONE, arg=want, timeout=timeout_ms, polling="raf")
                result.latencies_ms.append(float(await handle.json_value()) - float(before))
                result.changes_done += 1
            except Exception as error:  # a timeout or a wrong number: counted, the session goes on
                shown = await _total_shown(page)
                result.errors.append(
                    f"session {i} change {n} ({key}={values[key]}): expected {TOTAL} {want}, page shows {shown}: {type(error).__name__}"
                )
            if await page.locator("[data-testid=stException]").count():
                result.errors.append(f"session {i} change {n}: a Streamlit exception is on the page")
    except Exception as error:
        result.errors.append(f"session {i}: {type(error).__name__}: {str(error)[:200]}")
    finally:
        live["on"] = False  # closing the page drops the websocket; that is not an error
        await context.close()


async def _total_shown(page) -> str:
    try:
        return await page.evaluate(
            f"() => (Array.from(document.querySelectorAll('[data-testid=stMetric]')).find(e => e.innerText.startsWith('{TOTAL}')) || {{innerText: '?'}}).innerText.split('\\n').pop()"
        )
    except Exception:
        return "?"


async def drive(url: str, sessions: int, changes: int, timeout_ms: int, target: Target = PAGE) -> Result:
    from playwright.async_api import async_playwright

    result = Result()
    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=chromium(), args=CHROMIUM_ARGS)
        try:
            await asyncio.gather(*(run_session(browser, url, i, changes, timeout_ms, result, target) for i in range(sessions)))
        finally:
            await browser.close()
    return result


# -- websocket mode: the page's contract -------------------------------------------------------
# Everything the websocket mode knows about the page is here: its three main sliders
# (select_sliders; user key -> the control they set) and the card it reads. The core's number
# comes from `expected_total` (above); `start_values` and `slider_stops` read the link and
# the stops the same way the page does.

SLIDERS = {"dataset_size_stop": "dataset_size", "batch_size_stop": "batch_size", "epochs_stop": "epochs"}


def start_values(query: str) -> dict[str, Any]:
    """The controls' values the page opens with for a link's query string."""
    values, _ = us.parse_query(parse_qs(query, keep_blank_values=True))
    return values


def slider_stops(key: str) -> dict[str, int]:
    """One main slider's stops by the label the page shows (its format_func, short_number)."""
    return {short_number(v): v for v in us.CONTROLS[SLIDERS[key]].stops}


def page_total(start: dict[str, Any], stops: Mapping[str, int]) -> str | None:
    """The page's TOTAL card after the sliders in `stops` (key -> stop) moved from the link's setting."""
    return expected_total({**start, **{SLIDERS[k]: v for k, v in stops.items()}})


# -- websocket mode: the bare page (the floor) ---------------------------------------------------

BARE_PAGE = '''"""The load test's floor: three select_sliders, three metrics and N Altair line charts of
2,000 points, built fresh on every run (no caching). Written by scripts/loadtest.py."""

import math

import altair as alt
import numpy as np
import pandas as pd
import streamlit as st

SLIDERS = __SLIDERS__  # key: (label, stops, label of each stop, start)
N_CHARTS = __CHARTS__

v = {key: st.select_slider(label, options=stops, value=start, key=key, format_func=names.get)
     for key, (label, stops, names, start) in SLIDERS.items()}
data, batch, epochs = v.values()
per_epoch = math.ceil(data / batch)
st.metric("Batches per epoch", f"{per_epoch:,}")
st.metric(__TOTAL__, f"{per_epoch * epochs:,}")
st.metric("Samples seen", f"{data * epochs:,}")
x = np.arange(2000)
for i in range(N_CHARTS):
    y = np.sin(x / (20 + i) + epochs) * math.log2(batch + 1) + math.log10(data)
    chart = alt.Chart(pd.DataFrame({"x": x, "y": y})).mark_line().encode(x="x:Q", y="y:Q")
    st.altair_chart(chart.properties(height=200))
'''


@dataclass(frozen=True)
class SliderSpec:
    label: str
    stops: dict[str, int]  # label -> value, in order
    start: str  # the label it starts at


def bare_page(directory: Path, sliders: Mapping[str, SliderSpec], charts: int) -> Path:
    """Write the bare page: these sliders (in this order: dataset size, batch size, epochs)
    at these starts, and `charts` charts."""
    spec = {
        key: (s.label, list(s.stops.values()), {v: name for name, v in s.stops.items()}, s.stops[s.start])
        for key, s in sliders.items()
    }
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / "bare_page.py"
    text = BARE_PAGE.replace("__SLIDERS__", repr(spec)).replace("__CHARTS__", str(int(charts))).replace("__TOTAL__", repr(TOTAL))
    path.write_text(text)
    return path


def bare_total(stops: Mapping[str, int]) -> str:
    """The bare page's TOTAL card: ceil(dataset / batch) x epochs, PyTorch's count without the options."""
    data, batch, epochs = (stops[k] for k in SLIDERS)
    return fmt(math.ceil(data / batch) * epochs)


# -- websocket mode: one browser tab without the browser -----------------------------------------

TRIGGERS = frozenset({"button", "download_button", "link_button"})  # no state kept between runs


def proto_state(kind: str, el) -> Any:
    """A widget's state as the frontend takes it from its element proto: the value the proto
    sets (`set_value`), else its default; None for widgets that keep no state (buttons).
    KeyError for a widget kind not modelled here. (Streamlit 1.67's frontend: Slider,
    NumberInput, Selectbox, Radio, Checkbox, TextInput, TextArea, ButtonGroup widgets and
    useBasicWidgetState: getDefaultStateFromProto / getCurrStateFromProto.)"""
    from streamlit.proto.NumberInput_pb2 import NumberInput
    from streamlit.proto.Slider_pb2 import Slider
    from streamlit.proto.WidgetStates_pb2 import WidgetState

    if kind in TRIGGERS:
        return None
    state = WidgetState(id=el.id)
    take = el.set_value
    if kind == "slider" and el.type == Slider.SELECT_SLIDER:  # its state: the option labels
        labels = list(el.raw_value) if take and len(el.raw_value) else [el.options[int(i)] for i in el.default]
        state.string_array_value.data.extend(labels)
    elif kind == "slider":
        state.double_array_value.data.extend(el.value if take else el.default)
    elif kind == "number_input":  # value ?? default ?? null
        value = el.value if take and el.HasField("value") else el.default if el.HasField("default") else None
        if value is not None and el.data_type == NumberInput.INT:
            state.int_value = int(value)
        elif value is not None:
            state.double_value = value
    elif kind in ("selectbox", "radio"):
        if take:
            value = el.raw_value if el.HasField("raw_value") else None
        else:
            value = el.options[el.default] if len(el.options) and el.HasField("default") else None
        if value is not None:
            state.string_value = value
    elif kind == "checkbox":
        state.bool_value = el.value if take else el.default
    elif kind in ("text_input", "text_area"):
        field_name = "value" if take else "default"
        if el.HasField(field_name):
            state.string_value = getattr(el, field_name)
    elif kind == "button_group":
        names = [f"{o.content_icon} {o.content}".strip() if o.content_icon else o.content for o in el.options]
        labels = list(el.raw_values) if take else [names[i] for i in el.default if 0 <= i < len(names)]
        state.string_array_value.data.extend(labels)
    else:
        raise KeyError(kind)
    return state


def block_state(block) -> Any:
    """An expander's or popover's open state, for those with an id (a key and on_change)."""
    from streamlit.proto.WidgetStates_pb2 import WidgetState

    kind = block.WhichOneof("type")
    part, name = {"expandable": (block.expandable, "expanded"), "popover": (block.popover, "open")}.get(kind, (None, ""))
    if part is None or not part.HasField("id") or not part.id or not part.HasField(name):
        return None
    return WidgetState(id=part.id, bool_value=getattr(part, name))


def user_key(widget_id: str) -> str:
    """The user key in an element id ("$$ID-<hash>-<key>"), "" for a widget without one."""
    prefix, _, rest = widget_id.partition("-")
    return rest.partition("-")[2] if prefix == "$$ID" else ""


class ProtocolError(Exception):
    pass


@dataclass
class Run:
    """One script run as the tab saw it: the elements it drew, by delta path (the last one
    drawn at each path), and what went wrong."""

    elements: dict[tuple[int, ...], tuple[str, Any]] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)
    bytes: int = 0

    def shown(self, kind: str) -> list:
        return [el for k, el in self.elements.values() if k == kind]

    def metrics(self) -> dict[str, str]:
        return {m.label: m.body for m in self.shown("metric")}


class MessageCache:
    """The frontend's ForwardMsg cache (ForwardMsgCache): cacheable messages by hash, sent
    back to the server with each rerun so it may answer with a `ref_hash`; a message not
    used for more than `max_age` full runs is forgotten."""

    def __init__(self) -> None:
        self.messages: dict[str, list] = {}  # hash -> [serialized message, run count at last use]
        self.runs = 0
        self.max_age = 2  # new_session's config says

    def receive(self, data: bytes):
        from streamlit.proto.ForwardMsg_pb2 import ForwardMsg

        msg = ForwardMsg.FromString(data)
        if msg.WhichOneof("type") == "ref_hash":
            hit = self.messages.get(msg.ref_hash)
            if hit is None:
                raise ProtocolError(f"the server referred to message {msg.ref_hash}, not in the cache")
            hit[1] = self.runs
            full = ForwardMsg.FromString(hit[0])
            full.metadata.CopyFrom(msg.metadata)
            return full
        if msg.metadata.cacheable and msg.hash:
            self.messages.setdefault(msg.hash, [data, self.runs])[1] = self.runs
        return msg

    def run_finished(self, fragment: bool) -> None:
        self.runs += 1
        if not fragment:  # a fragment's run ages only that fragment's messages; this page has none
            self.messages = {h: m for h, m in self.messages.items() if self.runs - m[1] <= self.max_age}


class Tab:
    """One browser tab's side of Streamlit's websocket protocol, without the browser, as
    Streamlit 1.67's frontend speaks it (App.tsx sendRerunBackMsg, WidgetStateManager,
    ConnectionManager, ForwardMsgCache):

    - /_stcore/stream with the "streamlit" subprotocol (its second entry, the XSRF token,
      only guards the st.user cookie, which the page does not use);
    - every run is asked for with a `rerun_script` BackMsg carrying the URL's query string
      (which `page_info_changed` rewrites), the page script hash from `new_session`, ALL
      widget states the tab holds, and the hashes of the messages it has cached;
    - a widget's state is taken from its proto when it first appears or when the proto says
      `set_value`, else the tab's own is kept; after a full run the states of widgets that
      were not drawn are dropped (removeInactiveWidgetState);
    - a moved widget changes its own state, then the tab asks for a run with all of them.
    """

    def __init__(self, url: str, query: str):
        self.url, self.query = url, query
        self.states: dict[str, Any] = {}  # widget id -> WidgetState
        self.keys: dict[str, str] = {}  # user key -> widget id
        self.protos: dict[str, tuple[str, Any]] = {}  # widget id -> (kind, last proto)
        self.cache = MessageCache()
        self.page_hash = ""
        self.unmodelled: set[str] = set()
        self.ws = None

    async def open(self, timeout: float) -> None:
        import websockets

        stream = self.url.replace("http://", "ws://", 1) + "/_stcore/stream"
        self.ws = await websockets.connect(
            stream, subprotocols=["streamlit"], origin=self.url, max_size=2**27, proxy=None, ping_interval=None,
            open_timeout=timeout,
        )  # fmt: skip

    async def close(self) -> None:
        if self.ws is not None:
            await self.ws.close()

    def rerun_msg(self) -> bytes:
        from streamlit.proto.BackMsg_pb2 import BackMsg

        back = BackMsg()
        ask = back.rerun_script
        ask.query_string = self.query
        ask.page_script_hash = self.page_hash
        ask.widget_states.SetInParent()
        ask.widget_states.widgets.extend(self.states.values())
        ask.cached_message_hashes.extend(self.cache.messages)
        info = ask.context_info
        info.timezone, info.timezone_offset, info.locale = "UTC", 0, "en-US"
        info.url, info.is_embedded, info.color_scheme = f"{self.url}/?{self.query}", False, "light"
        return back.SerializeToString()

    async def run(self, timeout: float) -> Run:
        """Ask for a run with the tab's widget states and read until that run has finished."""
        from streamlit.proto.ForwardMsg_pb2 import ForwardMsg

        run = Run()
        await self.ws.send(self.rerun_msg())
        async with asyncio.timeout(timeout):
            while True:
                data = await self.ws.recv()
                run.bytes += len(data)
                msg = self.cache.receive(data)
                kind = msg.WhichOneof("type")
                if kind == "delta":
                    self._delta(msg, run)
                elif kind == "new_session":
                    self.page_hash = msg.new_session.page_script_hash
                    self.cache.max_age = msg.new_session.config.max_cached_message_age
                elif kind == "page_info_changed":
                    self.query = msg.page_info_changed.query_string
                elif kind == "session_event" and msg.session_event.WhichOneof("type") == "script_compilation_exception":
                    run.problems.append(f"script compilation error: {msg.session_event.script_compilation_exception.message[:160]}")
                elif kind == "script_finished":
                    status = msg.script_finished
                    if status == ForwardMsg.FINISHED_EARLY_FOR_RERUN:
                        continue  # another run follows at once
                    self.cache.run_finished(fragment=status == ForwardMsg.FINISHED_FRAGMENT_RUN_SUCCESSFULLY)
                    if status == ForwardMsg.FINISHED_FRAGMENT_RUN_SUCCESSFULLY:
                        continue
                    if status != ForwardMsg.FINISHED_SUCCESSFULLY:
                        run.problems.append(f"script finished with status {ForwardMsg.ScriptFinishedStatus.Name(status)}")
                    self._drop_inactive(run)
                    run.problems += [f"exception on the page: {e.type}: {e.message[:160]}" for e in run.shown("exception")]
                    return run

    def _delta(self, msg, run: Run) -> None:
        path = tuple(msg.metadata.delta_path)
        which = msg.delta.WhichOneof("type")
        if which == "new_element":
            kind = msg.delta.new_element.WhichOneof("type")
            el = getattr(msg.delta.new_element, kind)
            run.elements[path] = (kind, el)
            widget_id = el.id if "id" in el.DESCRIPTOR.fields_by_name else ""
            if widget_id:
                self.protos[widget_id] = (kind, el)
                if user_key(widget_id):
                    self.keys[user_key(widget_id)] = widget_id
                if widget_id not in self.states or getattr(el, "set_value", False):
                    try:
                        state = proto_state(kind, el)
                    except KeyError:
                        self.unmodelled.add(kind)  # the server keeps its own value for it
                        return
                    if state is not None:
                        self.states[widget_id] = state
        elif which == "add_block":
            block = msg.delta.add_block
            run.elements[path] = ("block", block)
            state = block_state(block)
            if state is not None:
                self.states[state.id] = state

    def _drop_inactive(self, run: Run) -> None:
        active = set()
        for kind, el in run.elements.values():
            if kind == "block":
                active.add(el.id)
                state = block_state(el)
                if state is not None:
                    active.add(state.id)
            elif "id" in el.DESCRIPTOR.fields_by_name and el.id:
                active.add(el.id)
        self.states = {k: v for k, v in self.states.items() if k in active}

    def slider(self, key: str) -> tuple[Any, str]:
        """A select_slider by user key: (its last proto, the label it is at)."""
        widget_id = self.keys[key]
        return self.protos[widget_id][1], self.states[widget_id].string_array_value.data[0]

    def move(self, key: str, label: str) -> None:
        """Move a select_slider to an option, as a drag or a key press does (setStringArrayValue)."""
        from streamlit.proto.WidgetStates_pb2 import WidgetState

        state = WidgetState(id=self.keys[key])
        state.string_array_value.data.append(label)
        self.states[state.id] = state


# -- websocket mode: the sessions ----------------------------------------------------------------


def pick_moves(rng: random.Random, options: Mapping[str, list[str]], start: Mapping[str, str], n: int) -> list[tuple[str, str]]:
    """n random moves (slider key, option label): a slider at random, and a stop other than
    the one it is at; half of the time one of its ends or its middle, so long jumps and the
    extremes are always in the mix, else any stop."""
    at, out = dict(start), []
    for _ in range(n):
        key = rng.choice(sorted(options))
        names = options[key]
        landmarks = [names[0], names[len(names) // 2], names[-1]]
        pool = [x for x in (landmarks if rng.random() < 0.5 else names) if x != at[key]] or [x for x in names if x != at[key]]
        at[key] = rng.choice(pool)
        out.append((key, at[key]))
    return out


@dataclass
class Move:
    key: str
    label: str
    want: str | None  # the TOTAL card after the move; None: the page shows no total


@dataclass
class FirstPage:
    """What the first page (one session, alone on the server) showed."""

    charts: int
    sliders: dict[str, SliderSpec]
    ms: float
    bytes: int
    problems: list[str]
    unmodelled: set[str]


@dataclass
class Tally:
    """One page's figures over all its sessions."""

    sessions: int
    moves_asked: int
    load_ms: list[float] = field(default_factory=list)
    move_ms: list[float] = field(default_factory=list)
    move_bytes: list[int] = field(default_factory=list)
    moves_done: int = 0
    moves_failed: int = 0
    errors: list[str] = field(default_factory=list)
    unmodelled: set[str] = field(default_factory=set)


def check_run(run: Run, want: str | None) -> list[str]:
    shown = run.metrics().get(TOTAL)
    if shown != want:
        return [*run.problems, f"{TOTAL}: expected {want or 'no card'}, the page shows {shown or 'no card'}"]
    return run.problems


async def first_page(url: str, query: str, timeout: float) -> FirstPage:
    """Open the page once, alone: what it draws, its sliders and the time of its first run."""
    tab = Tab(url, query)
    try:
        await tab.open(timeout)
        t0 = time.perf_counter()
        run = await tab.run(timeout)
        ms = (time.perf_counter() - t0) * 1000
    finally:
        await tab.close()
    problems = list(run.problems)
    sliders = {}
    for key in SLIDERS:
        if key not in tab.keys:
            problems.append(f"the page draws no slider with key {key!r}")
            continue
        proto, at = tab.slider(key)
        sliders[key] = SliderSpec(proto.label, {name: i for i, name in enumerate(proto.options)}, at)
    return FirstPage(len(run.shown("vega_lite_chart")), sliders, ms, run.bytes, problems, tab.unmodelled)


async def ws_session(url: str, query: str, i: int, moves: list[Move], tally: Tally, loaded, go: asyncio.Event,
                     timeout: float, think: float) -> None:  # fmt: skip
    """One student: open the link, wait for the first run, then (once everyone has loaded)
    make the moves one after the other, each as soon as the last one's run has finished."""
    tab, n = Tab(url, query), 0
    try:
        try:
            await tab.open(timeout)
            t0 = time.perf_counter()
            run = await tab.run(timeout)
            tally.load_ms.append((time.perf_counter() - t0) * 1000)
            tally.errors += [f"session {i} first run: {p}" for p in run.problems]
        finally:
            loaded()
        await go.wait()
        for n, move in enumerate(moves, 1):
            tab.move(move.key, move.label)
            t0 = time.perf_counter()
            try:
                run = await tab.run(timeout)
            except TimeoutError:
                tally.moves_failed += 1
                tally.errors.append(f"session {i} move {n} ({move.key} -> {move.label}): no finished run within {timeout:.0f} s")
                return  # the run may still be going: this session's state is unknown
            ms = (time.perf_counter() - t0) * 1000
            problems = check_run(run, move.want)
            if tab.slider(move.key)[1] != move.label:
                problems.append(f"the slider went back to {tab.slider(move.key)[1]}")
            if problems:
                tally.moves_failed += 1
                tally.errors += [f"session {i} move {n} ({move.key} -> {move.label}): {p}" for p in problems]
            else:
                tally.moves_done += 1
                tally.move_ms.append(ms)
                tally.move_bytes.append(run.bytes)
            if think:
                await asyncio.sleep(think)
    except asyncio.CancelledError:
        raise
    except Exception as error:  # a disconnect, a protocol error: counted, the session ends
        if n:
            tally.moves_failed += 1
        tally.errors.append(f"session {i} move {n}: {type(error).__name__}: {str(error)[:200]}")
    finally:
        tally.unmodelled |= tab.unmodelled
        await tab.close()


async def drive_ws(url: str, query: str, plans: list[list[Move]], timeout: float, think: float, deadline: float,
                   server: Server) -> tuple[Tally, dict]:  # fmt: skip
    """All sessions open the link at once; when all have loaded, all start moving (the move
    phase, timed and measured: server CPU, moves done) until done or the deadline."""
    tally = Tally(sessions=len(plans), moves_asked=sum(len(p) for p in plans))
    go, all_loaded, count = asyncio.Event(), asyncio.Event(), [0]

    def loaded() -> None:
        count[0] += 1
        if count[0] == len(plans):
            all_loaded.set()

    t0 = time.perf_counter()
    tasks = [asyncio.create_task(ws_session(url, query, i, p, tally, loaded, go, timeout, think)) for i, p in enumerate(plans)]
    phase: dict = {}
    try:
        await all_loaded.wait()  # each session's first run has its own timeout
        phase["load_phase_s"] = time.perf_counter() - t0
        cpu0, t1, own0 = cpu_seconds(server.proc.pid), time.perf_counter(), time.process_time()
        go.set()
        _, pending = await asyncio.wait(tasks, timeout=deadline)
        phase["move_phase_s"] = time.perf_counter() - t1
        phase["server_cpu_s"] = cpu_seconds(server.proc.pid) - cpu0
        phase["client_cpu_s"] = time.process_time() - own0  # this script's share of the same CPUs
        phase["deadline_hit"] = bool(pending)
        phase["rss_end_mb"] = server.rss_mb()
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
    return tally, phase


def settle_cpu(pid: int, timeout: float = 20.0, every: float = 0.5, busy: float = 0.05) -> None:
    """Wait until the process uses less than `busy` of a CPU (background work done)."""
    end = time.monotonic() + timeout
    last = cpu_seconds(pid)
    while time.monotonic() < end:
        time.sleep(every)
        now = cpu_seconds(pid)
        if now - last < busy * every:
            return
        last = now


def load_average() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


def make_plans(first: FirstPage, expect: Callable[[dict[str, int]], str | None], sessions: int, moves: int, seed: int) -> list[list[Move]]:
    """Each session's moves (the same for the page and the bare page: one seed per session)."""
    options = {key: list(s.stops) for key, s in first.sliders.items()}
    start = {key: s.start for key, s in first.sliders.items()}
    plans = []
    for i in range(sessions):
        stops: dict[str, int] = {}
        plan = []
        for key, label in pick_moves(random.Random(f"{seed}-{i}"), options, start, moves):
            stops[key] = first.sliders[key].stops[label]
            plan.append(Move(key, label, expect(dict(stops))))
        plans.append(plan)
    return plans


def measure_ws(server: Server, query: str, plan_for: Callable[[FirstPage], list[list[Move]] | None], args) -> tuple[dict, FirstPage]:
    """One page on its own server: the first page alone (idle RSS), then every session."""
    report: dict = {"load_average_before": load_average()}
    sampler = MemorySampler(server)
    sampler.start()
    first = asyncio.run(first_page(server.url, query, args.move_timeout))
    settle_cpu(server.proc.pid)
    report.update(charts=first.charts, first_run_ms=round(first.ms, 1), first_page_bytes=first.bytes)
    report["rss_idle_mb"] = round(server.rss_mb(), 1)
    plans = plan_for(first) if not first.problems else None
    if plans is None:
        tally, phase = Tally(sessions=args.sessions, moves_asked=args.sessions * args.moves), {}
    else:
        tally, phase = asyncio.run(drive_ws(server.url, query, plans, args.move_timeout, args.think_ms / 1000, args.deadline, server))
    report["rss_peak_mb"] = round(sampler.stop(), 1)
    report["load_average_after"] = load_average()
    errors = [f"first page: {p}" for p in first.problems] + tally.errors
    unfinished = tally.moves_asked - tally.moves_done - tally.moves_failed
    move_s = phase.get("move_phase_s")
    report.update(
        sessions=tally.sessions,
        moves_asked=tally.moves_asked,
        moves_done=tally.moves_done,
        moves_unfinished=unfinished,
        errors=len(errors),
        error_messages=errors[:50],
        load_phase_s=round(phase.get("load_phase_s", math.nan), 2),
        load_p50_ms=round(percentile(tally.load_ms, 50), 1),
        move_phase_s=round(move_s if move_s is not None else math.nan, 2),
        deadline_hit=phase.get("deadline_hit", False),
        throughput_moves_per_s=round(tally.moves_done / move_s, 3) if move_s else math.nan,
        p50_ms=round(percentile(tally.move_ms, 50), 1),
        p95_ms=round(percentile(tally.move_ms, 95), 1),
        max_ms=round(max(tally.move_ms), 1) if tally.move_ms else math.nan,
        server_cpu_s=round(phase.get("server_cpu_s", math.nan), 2),
        server_cpu_ms_per_move=round(1000 * phase["server_cpu_s"] / tally.moves_done, 1) if tally.moves_done else math.nan,
        client_cpu_ms_per_move=round(1000 * phase["client_cpu_s"] / tally.moves_done, 1) if tally.moves_done else math.nan,
        move_bytes_p50=round(percentile([float(b) for b in tally.move_bytes], 50)),
        rss_end_mb=round(phase.get("rss_end_mb", math.nan), 1),
        widgets_not_modelled=sorted(first.unmodelled | tally.unmodelled),
    )
    if unfinished:
        why = f"the move phase reached its deadline of {args.deadline:.0f} s" if report["deadline_hit"] else "their sessions ended early"
        report["error_messages"].append(f"{unfinished} moves not made: {why}")
    return report, first


def ratio(page: float, bare: float) -> float:
    """page / bare, NaN when either is missing or the bare figure is 0."""
    if not (isinstance(page, int | float) and isinstance(bare, int | float)) or math.isnan(page) or math.isnan(bare) or bare == 0:
        return math.nan
    return page / bare


# The targets (#13) for the websocket run: (figure, ratio key, "<=" or ">=", bound).
WS_TARGETS = (
    ("server CPU per move", "server_cpu_ms_per_move", "<=", 1.0),
    ("throughput", "throughput_moves_per_s", ">=", 1.0),
    ("idle RSS after the first page", "rss_idle_mb", "<=", 1.5),
)
RATIO_KEYS = ("server_cpu_ms_per_move", "throughput_moves_per_s", "p50_ms", "p95_ms", "rss_idle_mb", "rss_peak_mb")


def ratios_and_targets(page: dict, bare: dict) -> tuple[dict, dict]:
    ratios = {key: round(ratio(page.get(key, math.nan), bare.get(key, math.nan)), 3) for key in RATIO_KEYS}
    targets = {
        "no errors": page["errors"] == 0 and bare["errors"] == 0,
        "all moves done": page["moves_done"] == page["moves_asked"],
    }
    for name, key, op, bound in WS_TARGETS:
        r = ratios[key]
        targets[f"{name} {op} {bound}x the bare page's"] = not math.isnan(r) and (r <= bound if op == "<=" else r >= bound)
    return ratios, targets


def describe(name: str, r: dict) -> str:
    return (
        f"{name}: {r['sessions']} sessions x {r['moves_asked'] // max(1, r['sessions'])} moves, {r['charts']} charts: "
        f"{r['moves_done']}/{r['moves_asked']} moves done, {r['errors']} errors, in a move phase of {r['move_phase_s']} s: "
        f"{r['throughput_moves_per_s']} moves/s, move p50 {r['p50_ms']} ms, p95 {r['p95_ms']} ms (max {r['max_ms']} ms); "
        f"server CPU {r['server_cpu_ms_per_move']} ms per move (this client {r['client_cpu_ms_per_move']} ms); server RSS idle {r['rss_idle_mb']} MB, peak {r['rss_peak_mb']} MB; "
        f"first page alone {r['first_run_ms']} ms, {r['sessions']} loads at once p50 {r['load_p50_ms']} ms; "
        f"{r['move_bytes_p50']} bytes per move (p50); load average {r['load_average_before']} -> {r['load_average_after']}"
    )


def main_ws(args) -> int:
    report: dict = {"mode": "ws", "start": args.start, "seed": args.seed, "think_ms": args.think_ms, "deadline_s": args.deadline,
                    "cpus": os.cpu_count(), "order": "page, then the bare page"}  # fmt: skip
    start = start_values(args.start)
    plans: list[list[Move]] = []
    contract: list[str] = []

    def page_plans(first: FirstPage) -> list[list[Move]] | None:
        for key, s in first.sliders.items():
            if list(s.stops) != list(slider_stops(key)):
                contract.append(f"the page's {key} options {list(s.stops)[:4]}... differ from the core's stops")
        if contract or len(first.sliders) != len(SLIDERS):
            return None
        sliders = {key: SliderSpec(s.label, slider_stops(key), s.start) for key, s in first.sliders.items()}
        first.sliders = sliders  # the values behind the labels
        plans[:] = make_plans(first, lambda stops: page_total(start, stops), args.sessions, args.moves, args.seed)
        return plans

    server = Server()
    try:
        page, first = measure_ws(server, args.start, page_plans, args)
    finally:
        server.stop()
    page["error_messages"][:0] = contract
    page["errors"] += len(contract)
    report["page"] = page
    print(describe("page", page), flush=True)
    if plans:
        with tempfile.TemporaryDirectory(prefix="epochsteps-bare-") as tmp:
            script = bare_page(Path(tmp), first.sliders, first.charts)
            at_start = {key: s.stops[s.start] for key, s in first.sliders.items()}
            bare_plans = make_plans(first, lambda stops: bare_total({**at_start, **stops}), args.sessions, args.moves, args.seed)
            server = Server(script=script, cwd=Path(tmp), log=ROOT / "test-output" / "loadtest-bare-server.log")
            try:
                bare, _ = measure_ws(server, "", lambda _: bare_plans, args)
            finally:
                server.stop()
        report["bare"] = bare
        print(describe("bare", bare), flush=True)
        report["ratios"], report["targets"] = ratios_and_targets(page, bare)
        r = report["ratios"]
        print(
            f"page / bare: server CPU per move {r['server_cpu_ms_per_move']}x, throughput {r['throughput_moves_per_s']}x, "
            f"move p50 {r['p50_ms']}x, p95 {r['p95_ms']}x, idle RSS {r['rss_idle_mb']}x, peak RSS {r['rss_peak_mb']}x"
        )
        for name, held in report["targets"].items():
            print(f"  {'holds ' if held else 'MISSED'}  {name}")
    for name in ("page", "bare"):
        for line in report.get(name, {}).get("error_messages", [])[:10]:
            print(f"  {name} error: {line}")
        if report.get(name, {}).get("widgets_not_modelled"):
            print(f"  {name}: widget kinds whose state is not sent (the server keeps its own): {report[name]['widgets_not_modelled']}")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(report, indent=1))
    healthy = "bare" in report and all(
        report[n]["errors"] == 0 and report[n]["moves_done"] == report[n]["moves_asked"] for n in ("page", "bare")
    )
    if args.require_targets:
        healthy = healthy and all(report["targets"].values())
    return 0 if healthy else 1


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    if len(values) == 1:
        return values[0]
    return statistics.quantiles(values, n=100, method="inclusive")[int(q) - 1]


def measure_browser(server: Server, target: Target, args) -> dict:
    """`args.sessions` Chromium pages against `server`, each making `args.changes` moves."""
    report: dict = {"sessions": args.sessions, "changes_per_session": args.changes, "url": server.url, "cpus": os.cpu_count()}
    try:
        time.sleep(1)
        report["rss_before_mb"] = server.rss_mb()
        sampler = MemorySampler(server)
        sampler.start()
        cpu_before = cpu_seconds(server.proc.pid)
        started = time.perf_counter()
        try:
            result = asyncio.run(
                asyncio.wait_for(drive(server.url, args.sessions, args.changes, int(args.change_timeout * 1000), target), args.deadline)
            )
        except TimeoutError:
            result = Result(errors=[f"the run did not finish within the deadline of {args.deadline:.0f} s"])
        report["wall_s"] = round(time.perf_counter() - started, 1)
        report["load_average_1min"] = os.getloadavg()[0]  # the machine may be shared: latencies depend on it
        report["rss_peak_mb"] = sampler.stop()
        report["rss_after_mb"] = server.rss_mb()
        report["server_cpu_s"] = round(cpu_seconds(server.proc.pid) - cpu_before, 1)
    finally:
        server.stop()

    lat = result.latencies_ms
    report.update(
        charts=result.charts,
        changes_measured=len(lat),
        changes_expected=args.sessions * args.changes,
        errors=len(result.errors),  # each missed change is recorded as one
        error_messages=result.errors[:50],
        p50_ms=round(percentile(lat, 50), 1),
        p95_ms=round(percentile(lat, 95), 1),
        max_ms=round(max(lat), 1) if lat else float("nan"),
        page_load_p50_ms=round(percentile(result.load_ms, 50), 1),
    )
    # The server's own CPU per change (page loads included): what a class costs the host,
    # apart from the browsers, which share this machine's CPUs here but not in real use.
    report["server_cpu_ms_per_change"] = round(1000 * report["server_cpu_s"] / max(1, len(lat)), 1)
    for key in ("rss_before_mb", "rss_peak_mb", "rss_after_mb"):
        report[key] = round(report[key], 1)
    return report


def main_browser(args) -> int:
    """The page, then a bare page with as many charts (its sessions open at its sliders' starts)."""
    report = {"page": measure_browser(Server(), PAGE, args)}
    with tempfile.TemporaryDirectory(prefix="epochsteps-bare-") as tmp:
        at = bare_start(0)
        sliders = {key: SliderSpec(us.CONTROLS[c].label, slider_stops(key), short_number(at[c])) for key, c in SLIDERS.items()}
        script = bare_page(Path(tmp), sliders, max(1, report["page"]["charts"]))
        server = Server(script=script, cwd=Path(tmp), log=ROOT / "test-output" / "loadtest-bare-server.log")
        report["bare"] = measure_browser(server, BARE, args)
    for name in ("page", "bare"):
        r = report[name]
        print(
            f"{name}: {r['sessions']} sessions x {r['changes_per_session']} changes, {r['charts']} charts, in {r['wall_s']} s: "
            f"errors {r['errors']}, change -> updated chart p50 {r['p50_ms']} ms, p95 {r['p95_ms']} ms "
            f"(max {r['max_ms']} ms); page load p50 {r['page_load_p50_ms']} ms; server RSS "
            f"{r['rss_before_mb']} MB before, {r['rss_peak_mb']} MB peak, {r['rss_after_mb']} MB after; "
            f"server CPU {r['server_cpu_s']} s ({r['server_cpu_ms_per_change']} ms per change) "
            f"(load average {r['load_average_1min']:.1f} on {r['cpus']} CPUs)"
        )
        for line in r["error_messages"][:20]:
            print(f"  {name} error:", line)
    page, bare = report["page"], report["bare"]
    report["ratios"] = {k: round(page[k] / bare[k], 3) if bare[k] else None
                        for k in ("p50_ms", "p95_ms", "page_load_p50_ms", "server_cpu_ms_per_change", "rss_after_mb")}  # fmt: skip
    print("page / bare: " + ", ".join(f"{k} {v}x" for k, v in report["ratios"].items()))
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(report, indent=1))
    healthy = all(r["errors"] == 0 and r["changes_measured"] == r["changes_expected"] for r in (page, bare))
    return 0 if healthy else 1


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--mode", choices=("browser", "ws"), default="browser", help="Chromium pages, or websocket sessions (the server alone)")
    ap.add_argument("--sessions", type=int, help="concurrent sessions (browser 10, ws 30)")
    ap.add_argument("--changes", "--moves", dest="changes", type=int, help="moves per session (20; browser: at most 30)")
    ap.add_argument("--short", action="store_true", help="3 sessions x 3 moves (CI)")
    ap.add_argument("--deadline", type=float, help="seconds: browser, for the whole run (900); ws, for each page's move phase (150)")
    ap.add_argument("--change-timeout", "--move-timeout", dest="change_timeout", type=float, default=60,
                    help="seconds one move (or a page's first run) may take before it counts as an error")  # fmt: skip
    ap.add_argument("--think-ms", type=float, default=0, help="ws: pause after each move")
    ap.add_argument("--start", default="", help="ws: the link's query string every session opens (default: the page's defaults)")
    ap.add_argument("--seed", type=int, default=13, help="ws: the random moves (the same for both pages)")
    ap.add_argument("--require-targets", action="store_true", help="ws: exit code 1 when an issue target is missed too")
    ap.add_argument("--json", type=Path, help="write the figures here too")
    args = ap.parse_args(argv)
    ws = args.mode == "ws"
    args.sessions = 3 if args.short else args.sessions or (30 if ws else 10)
    args.changes = 3 if args.short else args.changes or 20
    args.deadline = args.deadline or (150 if ws else 900)
    if args.sessions < 1 or args.changes < 1 or (not ws and args.changes > 30):
        ap.error("--sessions and --moves must be at least 1 (browser: --changes at most 30)")
    if args.deadline <= 0 or args.change_timeout <= 0 or args.think_ms < 0:
        ap.error("--deadline and --move-timeout must be positive, --think-ms not negative")
    if ws:
        args.moves, args.move_timeout = args.changes, args.change_timeout
        return main_ws(args)
    return main_browser(args)


if __name__ == "__main__":
    sys.exit(main())
