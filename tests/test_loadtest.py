"""The load test's short version against the real server (CI), and its bookkeeping."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "scripts"))

import loadtest  # noqa: E402
import memory_soak  # noqa: E402

from epochsteps import controls as ctl  # noqa: E402
from epochsteps import urlstate as us  # noqa: E402


def test_every_change_is_one_slider_stop_and_every_setting_is_distinct():
    seen = set()
    for i in range(10):
        start = loadtest.session_start(i)
        plan = loadtest.change_plan(start, 20)
        assert len(plan) == 20
        before = start
        for key, values in plan:
            stops = ctl.CONTROLS[key].stops
            assert stops.index(values[key]) == stops.index(nearest(key, before[key])) + 1  # ArrowRight = the next stop
            assert {k for k in values if values[k] != before[k]} == {key}
            before = values
            seen.add(tuple(sorted(values.items())))
    assert len(seen) == 10 * 20  # no two sessions share a setting, so none is served from another's cache


def nearest(key, value):
    return ctl.nearest_stop(key, value)


def test_percentiles():
    values = [float(v) for v in range(1, 101)]
    assert loadtest.percentile(values, 50) == pytest.approx(50.5)
    assert loadtest.percentile(values, 95) == pytest.approx(95.05)
    assert loadtest.percentile([7.0], 95) == 7.0


@pytest.mark.browser
def test_short_load_test_has_no_errors(tmp_path):
    if shutil.which("chromium") is None:
        pytest.skip("Debian chromium is not installed (apt-get install -y chromium)")
    out = tmp_path / "load.json"
    proc = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "loadtest.py"), "--short", "--deadline", "300", "--json", str(out)],
        cwd=ROOT, capture_output=True, text=True, timeout=420,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stdout + proc.stderr
    report = json.loads(out.read_text())
    assert report["errors"] == 0, report["error_messages"]
    assert report["changes_measured"] == report["changes_expected"] == 9
    assert 0 < report["p50_ms"] <= report["p95_ms"] <= report["max_ms"]
    assert report["p95_ms"] < 60_000  # each change finished within the per-change timeout
    assert 0 < report["rss_before_mb"] <= report["rss_peak_mb"]
    assert "127.0.0.1" in report["url"]
    assert "errors 0" in proc.stdout


# -- the memory soak's pieces (the 1,000-setting run itself is scripts/memory_soak.py) -----------


def test_soak_settings_are_distinct_and_valid_links():
    warm = memory_soak.distinct_settings(80, seed=10_001)
    queries = memory_soak.distinct_settings(1000, seed=1, avoid=set(warm))
    assert len(set(queries)) == 1000 and not set(queries) & set(warm)
    from urllib.parse import parse_qs

    frameworks = set()
    for q in queries[:200]:
        params = parse_qs(q, keep_blank_values=True)
        values, notices = us.parse_query(params)
        assert notices == [], (q, notices)  # every link means what it says: the soak visits real settings
        frameworks.add(values["framework"])
    assert frameworks == set(us.FRAMEWORKS)


def test_a_websocket_session_runs_the_page_for_its_link(app_server):
    """The soak's websocket driver gets the page a browser would: the link's numbers, no exception."""
    import asyncio

    from epochsteps import explain

    query = "dataset_size=1281167&batch_size=256&epochs=90"
    messages: list = []
    # in a thread of its own: a session-wide sync Playwright keeps an event loop running here
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(1) as pool:
        received, problems = pool.submit(asyncio.run, memory_soak.ws_session(app_server.url, query, 60, collect=messages)).result()
    assert problems == []
    assert received == sum(m.ByteSize() for m in messages)  # one serialized ForwardMsg per websocket frame
    metrics = {
        m.delta.new_element.metric.label: m.delta.new_element.metric.body
        for m in messages
        if m.WhichOneof("type") == "delta" and m.delta.new_element.WhichOneof("type") == "metric"
    }
    values, _ = us.parse_query({"dataset_size": "1281167", "batch_size": "256", "epochs": "90"})
    want = {c.label: c.value for c in explain.metric_cards(ctl.values_to_setup(values).plan)}
    assert metrics == want
    charts = [
        m for m in messages if m.WhichOneof("type") == "delta" and m.delta.new_element.WhichOneof("type") == "vega_lite_chart"
    ]
    assert len(charts) >= 3
    assert received < 1_000_000  # the page budget, over the wire
