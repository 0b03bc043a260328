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

from epochsteps import urlstate as us  # noqa: E402


def test_every_change_is_one_slider_stop_and_every_setting_is_distinct():
    seen = set()
    for i in range(10):
        start = loadtest.session_start(i)
        plan = loadtest.change_plan(start, 20)
        assert len(plan) == 20
        before = start
        for key, values in plan:
            stops = us.CONTROLS[key].stops
            assert stops.index(values[key]) == stops.index(nearest(key, before[key])) + 1  # ArrowRight = the next stop
            assert {k for k in values if values[k] != before[k]} == {key}
            before = values
            seen.add(tuple(sorted(values.items())))
    assert len(seen) == 10 * 20  # no two sessions share a setting, so none is served from another's cache


def nearest(key, value):
    return us.nearest_stop(key, value)


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
