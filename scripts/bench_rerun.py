"""Rerun cost of the page against a bare Streamlit floor, measured in the same run.

    python scripts/bench_rerun.py            # AppTest and browser, three scales
    python scripts/bench_rerun.py --no-browser --repeat 5
    python scripts/bench_rerun.py --repeat 3 --scales defaults   # a quick look

The floor is the load test's bare page (scripts/loadtest.py: the page's three main
select_sliders, three metrics and the same number of Altair line charts of 2,000 points as
the page shows, rebuilt on every rerun: a page with no caching at all, under Streamlit's
default config). For each scale (median over `--repeat` moves, `--think-ms` apart):

- AppTest: next: the batch-size slider moved one stop along; cold: a jump to a stop the
  page's caches have not seen; warm: back to a seen one. The floor is the median over its
  moves.
- browser (headless Debian Chromium against `streamlit run`, page and floor in two tabs,
  moved alternately with the same actions): the time from the key press (or the click) on a
  main slider to the last change of a chart, once the page has settled: the script run has ended (the
  app root's data-test-script-state, no running status icon) and no chart has changed for
  500 ms. Changes are seen by a MutationObserver on the app root (and a canvas chart's
  clearRect). next: ArrowRight, one stop along, the three main sliders in turn; jump: each
  main slider to its end (End), its start (Home) and its middle (a click on the track), one
  rerun each, then put back (untimed).
  core: the charts outside the training lab ("See it train"); all: the lab's charts too.
  A move that changed no such chart is left out of the median ("-" if none changed one);
  the floor's charts are all core, and it makes the same moves: each figure's ratio is to
  the floor's median for the same kind of move. load: a warm page load, the reload of a URL
  the tab has shown (browser cache and the server's caches warm, a new session), from the
  navigation's start to the last chart change once the first run has ended and the charts
  have been still for 500 ms; page and floor reloaded alternately, after the moves.

Targets (#13), for the browser: one-stop moves at most 1.0x the floor, jumps and the warm
page load at most 1.25x (the "all" figures: what the reader waits for). AppTest leaves out
the server's own costs (message serialisation, websocket) and the browser's drawing, which
is why the browser is measured too.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT / "scripts"))

from loadtest import SLIDERS, SliderSpec, bare_page, slider_stops  # noqa: E402

from epochsteps import controls as ctl  # noqa: E402
from epochsteps import urlstate as us  # noqa: E402
from epochsteps.text import short_number  # noqa: E402

SCALES = {
    "defaults": {},
    "ImageNet-1k": us.to_query(ctl.preset_values("ImageNet-1k")),
    "10^9 x 10^4": {"dataset_size": "1000000000", "epochs": "10000"},
}
TARGET = 1.25  # AppTest, and the browser's jumps and warm page load
TARGET_NEXT = 1.0  # the browser's one-stop moves
BATCH_KEY = "batch_size_stop"  # AppTest moves this slider, on the page and the floor alike
THUMB_PX = 6  # a click this close to the track's ends still lands on it
MAIN_SLIDERS = [us.CONTROLS[control].label for control in SLIDERS.values()]  # the page's and the floor's alike


def floor_page(directory: Path, query: dict, charts: int) -> Path:
    """The bare page with the page's three sliders at the scale's starting stops."""
    values, _ = us.parse_query(query)
    sliders = {
        key: SliderSpec(us.CONTROLS[control].label, slider_stops(key), short_number(ctl.nearest_stop(control, values[control])))
        for key, control in SLIDERS.items()
    }
    return bare_page(directory, sliders, charts)


def start_batch(query: dict) -> int:
    values, _ = us.parse_query(query)
    return ctl.nearest_stop("batch_size", values["batch_size"])


def stops_from(start: int, count: int) -> list[int]:
    """`count` batch-size stops walking right from `start` (left if the right runs out)."""
    stops = list(ctl.BATCH_STOPS)
    i = stops.index(start)
    right = stops[i + 1 : i + 1 + count]
    return right + stops[max(0, i - (count - len(right))) : i][::-1]


def far_stops(start: int, count: int) -> list[int]:
    """Stops two or more away from `start` and from each other: setups the caches have not seen."""
    stops = list(ctl.BATCH_STOPS)
    i = stops.index(start)
    picks = [stops[j] for j in range(len(stops)) if abs(j - i) >= 2 and j % 3 == i % 3]
    return picks[:count]


# -- AppTest -------------------------------------------------------------------------------


def apptest(script: Path, query: dict):
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_file(str(script), default_timeout=120)
    for key, value in query.items():
        at.query_params[key] = value
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def timed_move(at, key: str, value: int) -> float:
    t = time.perf_counter()
    at.select_slider(key=key).set_value(value).run()
    elapsed = (time.perf_counter() - t) * 1000
    assert not at.exception, [e.value for e in at.exception]
    return elapsed


def apptest_times(query: dict, bare: Path, start: int, repeat: int, think: float) -> tuple[dict, dict]:
    """Page and floor moved alternately, so both see the same machine load.

    next: one stop along (what the keyboard does), after `think` seconds of reading;
    cold: a jump to a stop nobody prepared; warm: back to a setup seen before."""
    page, floor = apptest(ROOT / "app.py", query), apptest(bare, {})
    p = {"next": [], "cold": [], "warm": []}
    f = []
    for stop in stops_from(start, repeat):
        time.sleep(think)
        p["next"].append(timed_move(page, BATCH_KEY, stop))
        f.append(timed_move(floor, BATCH_KEY, stop))
    for stop in far_stops(start, repeat):
        time.sleep(think)
        p["cold"].append(timed_move(page, BATCH_KEY, stop))
        f.append(timed_move(floor, BATCH_KEY, stop))
        p["warm"].append(timed_move(page, BATCH_KEY, start))
    med = {k: statistics.median(v) for k, v in p.items()}
    return med, {"floor": statistics.median(f)}


def count_charts(query: dict) -> int:
    return len(apptest(ROOT / "app.py", query).get("vega_lite_chart"))


# -- browser --------------------------------------------------------------------------------

CHART = "[data-testid=stVegaLiteChart]"
LAB = ".st-key-see_it_train"  # the training lab ("See it train"): its charts count in "all" only
QUIET_MS = 500  # settled: the run has finished and no chart has changed for this long
NO_RUN_MS = 10_000  # a key press that starts no run at all is given up on after this long
SETTLE_TIMEOUT_MS = 180_000

# Installed once per page (page.evaluate); bench.arm() starts a measurement. A MutationObserver
# on the app root notes the last time anything inside a chart changed (lab charts apart from
# the others), and when the root's data-test-script-state leaves "running"; Vega's canvas
# renderer (which Streamlit picks for large datasets) redraws without touching the DOM, so a
# chart canvas's clearRect counts as a change too. The key time is taken by a capturing
# keydown listener as the press reaches the page (arm()'s time if it never does).
INSTALL = """([CHART, LAB]) => {
  if (window.__bench) return;
  const root = document.querySelector('[data-testid=stApp]') || document.querySelector('.stApp');
  const b = window.__bench = {root, armed: false};
  const busy = () => {
    const state = root.getAttribute('data-test-script-state');
    return state === 'running' || state === 'rerunRequested' || state === 'stopRequested'
      || !!document.querySelector('[data-testid=stStatusWidgetRunningIcon]');
  };
  b.busy = busy;
  b.arm = () => Object.assign(b, {armed: true, key: null, armedAt: performance.now(), ran: busy(),
                                  runEnd: null, core: null, lab: null, coreChanges: 0, labChanges: 0});
  const changed = (el) => {
    const now = performance.now();
    if (el.closest(LAB)) { b.lab = now; b.labChanges++; } else { b.core = now; b.coreChanges++; }
  };
  new MutationObserver((mutations) => {
    if (!b.armed) return;
    for (const m of mutations) {
      if (m.target === root && m.attributeName === 'data-test-script-state') {
        if (busy()) b.ran = true; else if (b.ran) b.runEnd = performance.now();
        continue;
      }
      const el = m.target.nodeType === 1 ? m.target : m.target.parentElement;
      if (!el) continue;
      const chart = el.closest(CHART);
      if (chart) { changed(chart); continue; }
      if (m.type !== 'childList') continue;  // a chart's own container being restyled is no redraw
      for (const n of [...m.addedNodes, ...m.removedNodes]) {
        if (n.nodeType === 1 && (n.matches(CHART) || n.querySelector(CHART))) { changed(el); break; }
      }
    }
  }).observe(root, {subtree: true, childList: true, attributes: true, characterData: true});
  const clearRect = CanvasRenderingContext2D.prototype.clearRect;
  CanvasRenderingContext2D.prototype.clearRect = function (...args) {
    const chart = b.armed && this.canvas.isConnected && this.canvas.closest(CHART);
    if (chart) changed(chart);
    return clearRect.apply(this, args);
  };
  const pressed = () => { if (b.armed && b.key === null) b.key = performance.now(); };
  window.addEventListener('keydown', pressed, true);
  window.addEventListener('pointerdown', pressed, true);
}"""

# Settled: no script run in progress (one has been seen since the key press, or none has
# started for NO_RUN_MS), and QUIET_MS since the key, the run's end and the last chart change.
SETTLED = """([QUIET, NO_RUN]) => {
  const b = window.__bench, now = performance.now();
  const key = b.key ?? b.armedAt;
  if (b.busy()) return false;
  if (!b.ran && now - key < NO_RUN) return false;
  return now - Math.max(key, b.runEnd ?? 0, b.core ?? 0, b.lab ?? 0) >= QUIET;
}"""
RESULT = """() => {
  const b = window.__bench, key = b.key ?? b.armedAt;
  b.armed = false;
  const last = Math.max(b.core ?? -Infinity, b.lab ?? -Infinity);
  return {core: b.core === null ? null : b.core - key, all: last === -Infinity ? null : last - key,
          run: b.runEnd === null ? null : b.runEnd - key, ran: b.ran, coreChanges: b.coreChanges, labChanges: b.labChanges,
          error: !!document.querySelector('[data-testid=stException]')};
}"""

# Installed before every document of a tab (add_init_script), for the page-load time: the
# last time anything inside a chart changed (or a chart canvas was cleared), in the
# document's own clock, whose zero is the navigation's start.
LOAD_RECORDER = """(() => {
  const CHART = '__CHART__';
  const r = window.__load = {last: null};
  const mark = () => { r.last = performance.now(); };
  new MutationObserver((mutations) => {
    for (const m of mutations) {
      const el = m.target.nodeType === 1 ? m.target : m.target.parentElement;
      if (el && el.closest(CHART)) { mark(); continue; }
      if (m.type !== 'childList') continue;
      for (const n of m.addedNodes) {
        if (n.nodeType === 1 && (n.matches(CHART) || n.querySelector(CHART))) { mark(); break; }
      }
    }
  }).observe(document, {subtree: true, childList: true, attributes: true, characterData: true});
  const clearRect = CanvasRenderingContext2D.prototype.clearRect;
  CanvasRenderingContext2D.prototype.clearRect = function (...args) {
    if (this.canvas.isConnected && this.canvas.closest(CHART)) mark();
    return clearRect.apply(this, args);
  };
})();""".replace("__CHART__", CHART)

# Loaded: the first run has ended, every chart is drawn and none has changed for QUIET ms.
LOADED = """([CHART, QUIET]) => {
  const r = window.__load, root = document.querySelector('[data-testid=stApp]');
  if (!r || r.last === null || !root || root.getAttribute('data-test-script-state') !== 'notRunning') return false;
  if (document.querySelector('[data-testid=stStatusWidgetRunningIcon]')) return false;
  const charts = Array.from(document.querySelectorAll(CHART));
  if (!charts.length || !charts.every((c) => c.querySelector('svg, canvas'))) return false;
  return performance.now() - r.last >= QUIET;
}"""


class BrowserPage:
    """One tab on a `streamlit run` server, with the settle recorder installed."""

    def __init__(self, browser, url: str, label: str):
        self.label = label
        self.tab = browser.new_page(viewport={"width": 1280, "height": 900})
        self.tab.add_init_script(LOAD_RECORDER)
        self.tab.goto(url)
        self.tab.wait_for_selector(CHART, timeout=SETTLE_TIMEOUT_MS)
        self.tab.evaluate(INSTALL, [CHART, LAB])
        self.sliders = {name: self.tab.get_by_role("slider", name=name) for name in MAIN_SLIDERS}
        self.settle(MAIN_SLIDERS[0], None)  # the first run done, charts still

    def index(self, name: str) -> tuple[int, int]:
        """A main slider's stop index and its last index."""
        slider = self.sliders[name]
        return int(slider.get_attribute("value")), int(slider.get_attribute("max"))

    def settle(self, name: str, action: str | int | None) -> dict:
        """Move the slider `name` (a key pressed on it, or a click on its track at that stop
        index; None: just wait) and time the page's settling."""
        from playwright.sync_api import TimeoutError as PlaywrightTimeout

        slider = self.sliders[name]
        slider.focus()
        self.tab.evaluate("() => window.__bench.arm()")
        if isinstance(action, str):
            self.tab.keyboard.press(action)
        elif action is not None:
            # the track is the thumb's third ancestor: a click there moves the thumb and commits
            box = slider.locator("xpath=../../..").bounding_box()
            _, last = self.index(name)
            x = box["x"] + min(max(box["width"] * action / last, THUMB_PX), box["width"] - THUMB_PX)
            self.tab.mouse.click(x, box["y"] + box["height"] / 2)
        no_run = NO_RUN_MS if action is not None else 0
        try:
            self.tab.wait_for_function(SETTLED, arg=[QUIET_MS, no_run], timeout=SETTLE_TIMEOUT_MS, polling=50)
        except PlaywrightTimeout:
            print(f"{self.label}: {name} {action} did not settle in {SETTLE_TIMEOUT_MS / 1000:.0f} s", file=sys.stderr)
            self.tab.evaluate(RESULT)
            return {"core": None, "all": None}
        result = self.tab.evaluate(RESULT)
        if action is not None and not result["ran"]:
            print(f"{self.label}: {name} {action} started no script run", file=sys.stderr)
        if result["error"]:
            print(f"{self.label}: the page shows an exception", file=sys.stderr)
        return result

    def put(self, name: str, target: int) -> None:
        """The slider to stop `target`, untimed: Home, End or a click near it, then arrow keys."""
        last = self.index(name)[1]
        if self.index(name)[0] != target:
            self.settle(name, {0: "Home", last: "End"}.get(target, target))
        for _ in range(10):
            now = self.index(name)[0]
            if now == target:
                return
            self.settle(name, "ArrowRight" if now < target else "ArrowLeft")
        print(f"{self.label}: {name} stays at stop {self.index(name)[0]}, not {target}", file=sys.stderr)

    def reload(self) -> float | None:
        """A warm page load: reload the tab's URL; ms from the navigation's start to the last
        chart change once loaded (None if it never settled). The move recorder is gone after
        it: reload after the moves."""
        from playwright.sync_api import TimeoutError as PlaywrightTimeout

        self.tab.reload()
        try:
            self.tab.wait_for_function(LOADED, arg=[CHART, QUIET_MS], timeout=SETTLE_TIMEOUT_MS, polling=50)
        except PlaywrightTimeout:
            print(f"{self.label}: the reload did not settle in {SETTLE_TIMEOUT_MS / 1000:.0f} s", file=sys.stderr)
            return None
        if self.tab.locator("[data-testid=stException]").count():
            print(f"{self.label}: the page shows an exception after a reload", file=sys.stderr)
        return float(self.tab.evaluate("() => window.__load.last"))

    def close(self) -> None:
        self.tab.close()


def next_key(index: int, last: int) -> str:
    return "ArrowRight" if index < last else "ArrowLeft"


def jump_targets(index: int, last: int) -> list[tuple[str | int, int]]:
    """A main slider's jumps from stop `index`: to its end, its start and its middle (a click
    on the track), leaving out the one it is at."""
    jumps = [("End", last), ("Home", 0), (last // 2, last // 2)]
    return [(action, target) for action, target in jumps if target != index]


def browser_times(browser, page_url: str, floor_url: str, repeat: int, think: float) -> tuple[dict, dict]:
    """The page and the floor moved alternately with the same actions, `think` s before each,
    then reloaded alternately `repeat` times (warm page loads).

    next: `repeat` one-stop moves (ArrowRight; ArrowLeft at the right end), the three main
    sliders in turn; jump: each main slider to its end (End), its start (Home) and its middle
    (a click on the track), then put back where it was (untimed).
    Returns the page's medians ("next core", ..., "load", and "misses") and the floor's
    ("next", "jump", "load")."""
    page, floor = BrowserPage(browser, page_url, "page"), BrowserPage(browser, floor_url, "floor")
    try:
        p = {"next": [], "jump": []}
        f = {"next": [], "jump": []}

        def move(kind: str, name: str, action: str | int) -> int:
            page.tab.wait_for_timeout(think * 1000)
            p[kind].append(page.settle(name, action))
            page.tab.wait_for_timeout(think * 1000)
            f[kind].append(floor.settle(name, action))
            now = page.index(name)[0]
            if floor.index(name)[0] != now:
                floor.put(name, now)  # a click may land a stop apart: the floor follows, untimed
            return now

        for k in range(repeat):
            name = MAIN_SLIDERS[k % len(MAIN_SLIDERS)]
            move("next", name, next_key(*page.index(name)))
        for name in MAIN_SLIDERS:
            start, last = page.index(name)
            for action, target in jump_targets(start, last):
                if abs(move("jump", name, action) - target) > 1:
                    print(f"jump: {name} {action} went to stop {page.index(name)[0]}, not {target}", file=sys.stderr)
            page.put(name, start)
            floor.put(name, start)
        loads: dict[str, list] = {"page": [], "floor": []}
        for _ in range(repeat):
            page.tab.wait_for_timeout(think * 1000)
            loads["page"].append(page.reload())
            page.tab.wait_for_timeout(think * 1000)
            loads["floor"].append(floor.reload())
    finally:
        page.close()
        floor.close()
    med = lambda xs: statistics.median(xs) if xs else None  # noqa: E731
    columns = [(f"{kind} {part}", rs, part) for kind, rs in p.items() for part in ("core", "all")]
    page_med = {name: med([r[part] for r in rs if r[part] is not None]) for name, rs, part in columns}
    page_med["load"] = med([t for t in loads["page"] if t is not None])
    page_med["misses"] = {name: sum(r[part] is None for r in rs) for name, rs, part in columns}
    page_med["misses"]["load"] = sum(t is None for t in loads["page"])
    floor_med = {kind: med([r["core"] for r in rs if r["core"] is not None]) for kind, rs in f.items()}
    floor_med["load"] = med([t for t in loads["floor"] if t is not None])
    page_med["counts"] = {kind: len(rs) for kind, rs in p.items()}
    page_med["raw"], floor_med["raw"] = p, f
    return page_med, floor_med


def pick_scales(names: list[str] | None) -> dict[str, dict]:
    """SCALES by name, case and spaces ignored ("10^9x10^4" is "10^9 x 10^4")."""
    if not names:
        return SCALES
    squash = lambda name: name.replace(" ", "").lower()  # noqa: E731
    by_name = {squash(name): name for name in SCALES}
    unknown = [n for n in names if squash(n) not in by_name]
    if unknown:
        raise SystemExit(f"unknown scale {', '.join(unknown)}; choose from: {', '.join(SCALES)}")
    return {by_name[squash(n)]: SCALES[by_name[squash(n)]] for n in names}


def cell(value: float | None, floor: float | None) -> str:
    """`ms ratio` (11 wide); "-" where nothing was measured."""
    if value is None:
        return f"{'-':>11}"
    if not floor:
        return f"{value:5.0f} {'-':>5}"
    return f"{value:5.0f} {value / floor:4.1f}x"


def ms(value: float | None, width: int = 10) -> str:
    return f"{'-' if value is None else f'{value:.0f}':>{width}}"


# browser figures: (page figure, the floor's figure it is compared with, target ratio)
BROWSER_FIGURES = (
    ("next core", "next", None),
    ("next all", "next", TARGET_NEXT),
    ("jump core", "jump", None),
    ("jump all", "jump", TARGET),
    ("load", "load", TARGET),
)


def browser_line(pb: dict, fb: dict) -> tuple[str, list[str]]:
    """The browser table's cells for one scale, and the targets it holds or misses."""
    groups = []
    for kind in ("next", "jump", "load"):
        groups.append(" ".join([ms(fb[kind]), *(cell(pb[name], fb[kind]) for name, floor, _ in BROWSER_FIGURES if floor == kind)]))
    verdicts = []
    for name, floor, target in BROWSER_FIGURES:
        if target is not None:
            r = pb[name] / fb[floor] if pb[name] is not None and fb[floor] else None
            shown = "-" if r is None else f"{r:.2f}x"
            verdicts.append(f"{name} {shown} (target <= {target}x): {'holds' if r is not None and r <= target else 'MISSED'}")
    return " | ".join(groups), verdicts


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5, help="slider moves (and reloads) per measurement (median)")
    parser.add_argument("--think-ms", type=int, default=800, help="pause before each move, as a reader would")
    parser.add_argument("--no-browser", action="store_true", help="AppTest only")
    parser.add_argument("--scales", nargs="+", metavar="SCALE", help=f"a subset of: {', '.join(SCALES)}")
    parser.add_argument("--json", type=Path, help="write the figures here too")
    args = parser.parse_args(argv)
    if args.repeat < 1 or args.think_ms < 0:
        parser.error("--repeat must be at least 1 and --think-ms not negative")
    think = args.think_ms / 1000

    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for name, query in pick_scales(args.scales).items():
            start = start_batch(query)
            n = count_charts(query)
            bare = floor_page(Path(tmp) / name.replace(" ", "_").replace("^", ""), query, n)
            page, floor = apptest_times(query, bare, start, args.repeat, think)
            rows.append({"scale": name, "charts": n, "page": page, "floor": floor, "start": start, "query": query, "bare": bare})

        if not args.no_browser:
            import shutil

            from conftest import CHROMIUM_ARGS, Server
            from playwright.sync_api import sync_playwright

            if shutil.which("chromium") is None:
                print("chromium not installed: browser timings skipped", file=sys.stderr)
            else:
                with sync_playwright() as pw:
                    browser = pw.chromium.launch(executable_path=shutil.which("chromium"), args=CHROMIUM_ARGS)
                    app = Server(ROOT / "app.py")
                    try:
                        for row in rows:
                            floor_server = Server(row["bare"])
                            try:
                                qs = "&".join(f"{k}={v}" for k, v in row["query"].items())
                                row["page"]["browser"], row["floor"]["browser"] = browser_times(
                                    browser, f"{app.url}/?{qs}", floor_server.url, args.repeat, think
                                )
                            finally:
                                floor_server.stop()
                    finally:
                        app.stop()
                        browser.close()

    print(
        f"median ms over {args.repeat} moves (browser jumps: 9), {args.think_ms} ms apart, and the ratio to the floor (a bare page with "
        "the same sliders and number of 2,000-point Altair charts) measured in the same run"
    )
    print(f"{'AppTest':<12} {'charts':>6} | {'floor':>10} {'page next':>11} {'page cold':>11} {'page warm':>11}")
    for row in rows:
        p, f = row["page"], row["floor"]
        print(
            f"{row['scale']:<12} {row['charts']:>6} | {f['floor']:10.0f} {cell(p['next'], f['floor'])} "
            f"{cell(p['cold'], f['floor'])} {cell(p['warm'], f['floor'])}"
        )
    print("AppTest: next: one stop along; cold: a jump to a setup not seen; warm: a setup seen before.")
    print(f"AppTest target: within {TARGET}x of the floor")
    notes, verdicts = [], []
    if any("browser" in row["page"] for row in rows):
        print()
        print(
            f"{'browser':<12} {'charts':>6} | {'floor next':>10} {'next core':>11} {'next all':>11} | {'floor jump':>10} "
            f"{'jump core':>11} {'jump all':>11} | {'floor load':>10} {'page load':>11}"
        )
        for row in rows:
            if "browser" not in row["page"]:
                continue
            pb, fb = row["page"]["browser"], row["floor"]["browser"]
            cells, held = browser_line(pb, fb)
            print(f"{row['scale']:<12} {row['charts']:>6} | " + cells)
            verdicts += [f"{row['scale']}: {v}" for v in held]
            notes += [
                f"{row['scale']}: page {c}: {missed} of {pb['counts'].get(c.split()[0], args.repeat)} "
                f"{'reloads' if c == 'load' else 'moves'} changed no such "
                "chart or did not settle (median over the rest)"
                for c, missed in pb["misses"].items()
                if missed
            ]
        print(
            "browser: key press (or click) to the last chart change once the run has ended; next: ArrowRight on each main slider "
            "in turn; jump: each main slider to its end, start and middle; core: the charts outside the training lab; all: the lab's too; each against the floor's same "
            "move. load: a warm reload, navigation start to the last chart change."
        )
        for note in notes:
            print(note)
        print("browser targets (#13):")
        for verdict in verdicts:
            print(f"  {verdict}")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        out = [{k: v for k, v in row.items() if k != "bare"} for row in rows]
        args.json.write_text(json.dumps({"repeat": args.repeat, "think_ms": args.think_ms, "rows": out, "targets": verdicts}, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
