"""Rerun cost of the page against a bare Streamlit floor, measured in the same run.

    python scripts/bench_rerun.py            # AppTest and browser, three scales
    python scripts/bench_rerun.py --no-browser --repeat 5

The floor is a bare page with a batch-size select_slider and the same number of Altair
line charts of 2,000 points as the page shows, rebuilt on every rerun (a page with no
caching at all). For each scale:

- AppTest: the batch-size slider is moved to a new stop (the page's caches have not
  seen that setup: a cold move) and back to a seen one (warm), median over the moves;
- browser (headless Debian Chromium against `streamlit run`): ArrowRight on the focused
  batch-size slider until every chart on the page has been redrawn, median over moves.

The page aims to stay within 1.25x of the floor. AppTest leaves out the server's own
costs (message serialisation, websocket), which is why the browser is measured too.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

from epochsteps import urlstate as us  # noqa: E402

SCALES = {
    "defaults": {},
    "ImageNet-1k": us.to_query(us.preset_values("ImageNet-1k")),
    "10^9 x 10^4": {"dataset_size": "1000000000", "epochs": "10000"},
}
TARGET = 1.25

BARE_PAGE = """
import altair as alt
import numpy as np
import pandas as pd
import streamlit as st

n_charts = int(st.query_params.get("charts", "4"))
batch = st.select_slider("Batch size (per device)", options=STOPS, value=START, key="batch")
x = np.arange(2000)
for i in range(n_charts):
    df = pd.DataFrame({"x": x, "y": np.sin(x / (50 + i)) * batch})
    st.altair_chart(alt.Chart(df).mark_line().encode(x="x:Q", y="y:Q").properties(height=200))
"""


def bare_page(directory: Path, start: int) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / "bare_page.py"
    path.write_text(BARE_PAGE.replace("STOPS", repr(list(us.BATCH_STOPS))).replace("START", str(start)))
    return path


def start_batch(query: dict) -> int:
    values, _ = us.parse_query(query)
    return us.nearest_stop("batch_size", values["batch_size"])


def stops_from(start: int, count: int) -> list[int]:
    """`count` batch-size stops walking right from `start` (left if the right runs out)."""
    stops = list(us.BATCH_STOPS)
    i = stops.index(start)
    right = stops[i + 1 : i + 1 + count]
    return right + stops[max(0, i - (count - len(right))) : i][::-1]


def far_stops(start: int, count: int) -> list[int]:
    """Stops two or more away from `start` and from each other: setups no prefetch guessed."""
    stops = list(us.BATCH_STOPS)
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


def apptest_times(query: dict, bare: Path, n_charts: int, start: int, repeat: int, think: float) -> tuple[dict, dict]:
    """Page and floor moved alternately, so both see the same machine load.

    next: one stop along (what the keyboard does), after `think` seconds of reading;
    cold: a jump to a stop nobody prepared; warm: back to a setup seen before."""
    page, floor = apptest(ROOT / "app.py", query), apptest(bare, {"charts": str(n_charts)})
    p = {"next": [], "cold": [], "warm": []}
    f = []
    for stop in stops_from(start, repeat):
        time.sleep(think)
        p["next"].append(timed_move(page, "batch_size_stop", stop))
        f.append(timed_move(floor, "batch", stop))
    for stop in far_stops(start, repeat):
        time.sleep(think)
        p["cold"].append(timed_move(page, "batch_size_stop", stop))
        f.append(timed_move(floor, "batch", stop))
        p["warm"].append(timed_move(page, "batch_size_stop", start))
    med = {k: statistics.median(v) for k, v in p.items()}
    return med, {"floor": statistics.median(f)}


def count_charts(query: dict) -> int:
    return len(apptest(ROOT / "app.py", query).get("vega_lite_chart"))


# -- browser --------------------------------------------------------------------------------

CHART_SVG = "[data-testid=stVegaLiteChart] svg"
ALL_REDRAWN = """([before, sel]) => {
  const now = Array.from(document.querySelectorAll(sel));
  return now.length === before.length && now.every((svg, i) => svg.innerHTML !== before[i]);
}"""


def open_at(browser, url: str):
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    page.goto(url)
    page.wait_for_selector(CHART_SVG, timeout=120_000)
    page.wait_for_timeout(1500)
    return page, page.get_by_role("slider", name="Batch size (per device)")


def key_to_charts(page, slider) -> float:
    """ArrowRight on the focused slider until every chart on the page has been redrawn."""
    before = page.evaluate(f"() => Array.from(document.querySelectorAll('{CHART_SVG}')).map(s => s.innerHTML)")
    slider.focus()
    t = time.perf_counter()
    page.keyboard.press("ArrowRight")
    page.wait_for_function(ALL_REDRAWN, arg=[before, CHART_SVG], timeout=120_000, polling="raf")
    return (time.perf_counter() - t) * 1000


def browser_times(browser, page_url: str, floor_url: str, repeat: int, think: float) -> tuple[float, float]:
    page, page_slider = open_at(browser, page_url)
    floor, floor_slider = open_at(browser, floor_url)
    p, f = [], []
    for _ in range(repeat):
        page.wait_for_timeout(think * 1000)
        p.append(key_to_charts(page, page_slider))
        f.append(key_to_charts(floor, floor_slider))
    page.close()
    floor.close()
    return statistics.median(p), statistics.median(f)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5, help="slider moves per measurement (median)")
    parser.add_argument("--think-ms", type=int, default=800, help="pause before each move, as a reader would")
    parser.add_argument("--no-browser", action="store_true", help="AppTest only")
    args = parser.parse_args(argv)
    think = args.think_ms / 1000

    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for name, query in SCALES.items():
            start = start_batch(query)
            n = count_charts(query)
            bare = bare_page(Path(tmp) / name.replace(" ", "_").replace("^", ""), start)
            page, floor = apptest_times(query, bare, n, start, args.repeat, think)
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
                                    browser, f"{app.url}/?{qs}", f"{floor_server.url}/?charts={row['charts']}", args.repeat, think
                                )
                            finally:
                                floor_server.stop()
                    finally:
                        app.stop()
                        browser.close()

    print(
        f"median ms over {args.repeat} batch-size moves, {args.think_ms} ms apart; floor: a bare page with the same number of 2,000-point Altair charts"
    )
    print(
        f"{'scale':<12} {'charts':>6} | {'AppTest floor':>13} {'page next':>10} {'page cold':>10} {'page warm':>10} | {'browser floor':>13} {'page':>6}"
    )
    for row in rows:
        p, f = row["page"], row["floor"]
        ratio = lambda a, b: f"{a:5.0f} {a / b:3.1f}x"  # noqa: E731
        browser = f"{f['browser']:13.0f} {ratio(p['browser'], f['browser']):>6}" if "browser" in p else f"{'-':>13} {'-':>6}"
        print(
            f"{row['scale']:<12} {row['charts']:>6} | {f['floor']:13.0f} {ratio(p['next'], f['floor']):>10} "
            f"{ratio(p['cold'], f['floor']):>10} {ratio(p['warm'], f['floor']):>10} | {browser}"
        )
    print(
        "next: one stop along (prepared in the background while the reader reads); cold: a jump nobody prepared; warm: a setup seen before."
    )
    print(f"target: within {TARGET}x of the floor")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
