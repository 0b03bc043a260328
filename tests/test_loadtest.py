"""The load test's short version against the real server (CI), and its bookkeeping."""

from __future__ import annotations

import json
import math
import random
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
from epochsteps.setup import FRAMEWORKS  # noqa: E402


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
    runs = json.loads(out.read_text())
    for name in ("page", "bare"):  # the page, then a bare page with as many charts, in one run
        report = runs[name]
        assert report["errors"] == 0, report["error_messages"]
        assert report["changes_measured"] == report["changes_expected"] == 9
        assert 0 < report["p50_ms"] <= report["p95_ms"] <= report["max_ms"]
        assert report["p95_ms"] < 60_000  # each change finished within the per-change timeout
        assert 0 < report["rss_before_mb"] <= report["rss_peak_mb"]
        assert "127.0.0.1" in report["url"]
        assert f"{name}: 3 sessions" in proc.stdout
    assert runs["page"]["charts"] == runs["bare"]["charts"] >= 4
    assert runs["ratios"]["p50_ms"] > 0 and proc.stdout.count("errors 0") == 2


# -- websocket mode -------------------------------------------------------------------------------


def main_sliders() -> dict[str, list[str]]:
    return {key: list(loadtest.slider_stops(key)) for key in loadtest.SLIDERS}


def test_moves_jump_anywhere_ends_and_middles_included_and_always_move():
    options = main_sliders()
    start = {key: names[3] for key, names in options.items()}
    moves = loadtest.pick_moves(random.Random(5), options, start, 600)
    assert moves == loadtest.pick_moves(random.Random(5), options, start, 600)  # the same for the page and the bare page
    at, seen = dict(start), {key: [] for key in options}
    for key, label in moves:
        assert label in options[key] and label != at[key]  # a move that stays put would start no run
        at[key] = label
        seen[key].append(label)
    for key, names in options.items():
        assert {names[0], names[len(names) // 2], names[-1]} <= set(seen[key])
        assert len(set(seen[key])) > len(names) // 2  # not only the landmarks
        steps = [abs(names.index(b) - names.index(a)) for a, b in zip(seen[key], seen[key][1:], strict=False)]
        assert max(steps) == len(names) - 1  # end to end jumps happen
    assert loadtest.pick_moves(random.Random(1), {"k": ["a", "b"]}, {"k": "a"}, 3) == [("k", "b"), ("k", "a"), ("k", "b")]


def test_ratios_and_targets():
    assert loadtest.ratio(2.0, 4.0) == 0.5
    assert math.isnan(loadtest.ratio(1.0, 0.0)) and math.isnan(loadtest.ratio(math.nan, 1.0))
    base = {"errors": 0, "moves_asked": 600, "moves_done": 600, "p50_ms": 100.0, "p95_ms": 200.0, "rss_peak_mb": 300.0}
    page = {**base, "server_cpu_ms_per_move": 90.0, "throughput_moves_per_s": 8.0, "rss_idle_mb": 160.0}
    bare = {**base, "server_cpu_ms_per_move": 100.0, "throughput_moves_per_s": 10.0, "rss_idle_mb": 100.0}
    ratios, targets = loadtest.ratios_and_targets(page, bare)
    assert ratios["server_cpu_ms_per_move"] == 0.9 and ratios["throughput_moves_per_s"] == 0.8 and ratios["rss_idle_mb"] == 1.6
    assert targets == {
        "no errors": True,
        "all moves done": True,
        "server CPU per move <= 1.0x the bare page's": True,
        "throughput >= 1.0x the bare page's": False,
        "idle RSS after the first page <= 1.5x the bare page's": False,
    }
    _, targets = loadtest.ratios_and_targets({**page, "moves_done": 599, "errors": 1}, bare)
    assert not targets["no errors"] and not targets["all moves done"]


def test_widget_states_are_taken_from_the_protos_as_the_frontend_does():
    from streamlit.proto.Button_pb2 import Button
    from streamlit.proto.ButtonGroup_pb2 import ButtonGroup
    from streamlit.proto.Checkbox_pb2 import Checkbox
    from streamlit.proto.NumberInput_pb2 import NumberInput
    from streamlit.proto.Selectbox_pb2 import Selectbox
    from streamlit.proto.Slider_pb2 import Slider

    state = loadtest.proto_state
    select = Slider(id="s", type=Slider.SELECT_SLIDER, options=["1", "10k", "1M"], default=[1])
    assert list(state("slider", select).string_array_value.data) == ["10k"]  # the label, not the index
    select.set_value, select.raw_value[:] = True, ["1M"]
    assert list(state("slider", select).string_array_value.data) == ["1M"]
    assert list(state("slider", Slider(id="n", type=Slider.SLIDER, default=[0.5])).double_array_value.data) == [0.5]
    whole = NumberInput(id="b", data_type=NumberInput.INT, default=1, value=256, set_value=True)
    assert state("number_input", whole).int_value == 256 and state("number_input", whole).WhichOneof("value") == "int_value"
    whole.set_value = False
    assert state("number_input", whole).int_value == 1
    empty = state("number_input", NumberInput(id="m", data_type=NumberInput.INT, set_value=True))
    assert empty.id == "m" and empty.WhichOneof("value") is None  # value=None: sent without a value
    real = NumberInput(id="f", data_type=NumberInput.FLOAT, default=0.5)
    assert state("number_input", real).double_value == 0.5
    box = Selectbox(id="fw", options=["PyTorch loop", "HF Trainer"], default=1)
    assert state("selectbox", box).string_value == "HF Trainer"
    box.set_value = True
    assert state("selectbox", box).WhichOneof("value") is None  # set to None
    box.raw_value = "PyTorch loop"
    assert state("selectbox", box).string_value == "PyTorch loop"
    assert state("checkbox", Checkbox(id="c", default=True)).bool_value is True
    assert state("checkbox", Checkbox(id="c", default=True, value=False, set_value=True)).bool_value is False
    pills = ButtonGroup(id="p", default=[1])
    pills.options.add(content="MNIST")
    pills.options.add(content="CIFAR", content_icon=":material/image:")
    assert list(state("button_group", pills).string_array_value.data) == [":material/image: CIFAR"]
    assert state("button", Button(id="t")) is None  # a trigger keeps no state
    with pytest.raises(KeyError):
        state("color_picker", Checkbox(id="x"))
    assert loadtest.user_key("$$ID-5275e062927895c4a652187692e8ee7d-batch_size_stop") == "batch_size_stop"
    assert loadtest.user_key("$$ID-5275e062927895c4a652187692e8ee7d-") == "" and loadtest.user_key("plain") == ""


def test_message_cache_resolves_references_and_forgets_unused_messages():
    from streamlit.proto.ForwardMsg_pb2 import ForwardMsg

    cache = loadtest.MessageCache()
    chart = ForwardMsg(hash="h1")
    chart.metadata.cacheable = True
    chart.metadata.delta_path[:] = [0, 3]
    chart.delta.new_element.markdown.body = "a large element"
    assert cache.receive(chart.SerializeToString()) == chart and list(cache.messages) == ["h1"]
    ref = ForwardMsg(ref_hash="h1")
    ref.metadata.delta_path[:] = [0, 7]  # the same element drawn somewhere else
    full = cache.receive(ref.SerializeToString())
    assert full.delta.new_element.markdown.body == "a large element" and list(full.metadata.delta_path) == [0, 7]
    small = ForwardMsg(hash="h2")
    small.delta.new_element.markdown.body = "not cacheable"
    cache.receive(small.SerializeToString())
    assert list(cache.messages) == ["h1"]
    for _ in range(cache.max_age):
        cache.run_finished(fragment=False)
    assert list(cache.messages) == ["h1"]  # used max_age runs ago: kept
    cache.run_finished(fragment=False)
    assert cache.messages == {}
    with pytest.raises(loadtest.ProtocolError):
        cache.receive(ref.SerializeToString())


def test_the_page_total_is_the_core_number_and_the_bare_page_counts_like_pytorch():
    start = loadtest.start_values("")
    stops = {key: loadtest.slider_stops(key) for key in loadtest.SLIDERS}
    for key, by_label in stops.items():
        assert list(by_label.values()) == list(ctl.CONTROLS[loadtest.SLIDERS[key]].stops)
    assert loadtest.page_total(start, {"batch_size_stop": 1024}) == "100"  # ceil(10,000 / 1,024) x 10 epochs
    rng = random.Random(3)
    for _ in range(50):
        moved = {key: rng.choice(list(s.values())) for key, s in stops.items()}
        assert loadtest.bare_total(moved) == loadtest.page_total(start, moved)  # PyTorch's count at the page's defaults
    hf = loadtest.start_values("framework=hf&grad_accum=4&dataset_size=1000")
    # the link's options count: 125 batches an epoch, HF steps on the short last window too: 32 x 10 epochs
    assert loadtest.page_total(hf, {"batch_size_stop": 8}) == "320" != loadtest.bare_total({"dataset_size_stop": 1000, "batch_size_stop": 8, "epochs_stop": 10})


def test_the_bare_page_draws_three_sliders_three_metrics_and_its_charts(tmp_path):
    from streamlit.testing.v1 import AppTest

    sliders = {
        key: loadtest.SliderSpec(ctl.CONTROLS[control].label, loadtest.slider_stops(key), list(loadtest.slider_stops(key))[-1])
        for key, control in loadtest.SLIDERS.items()
    }
    at = AppTest.from_file(str(loadtest.bare_page(tmp_path, sliders, 4)), default_timeout=60).run()
    assert not at.exception
    assert [s.label for s in at.select_slider] == [s.label for s in sliders.values()]
    assert len(at.metric) == 3 and len(at.get("vega_lite_chart")) == 4
    ends = {key: list(s.stops.values())[-1] for key, s in sliders.items()}
    assert at.metric[1].label == loadtest.TOTAL and at.metric[1].value == loadtest.bare_total(ends)
    at.select_slider(key="batch_size_stop").set_value(2).run()
    assert at.metric[1].value == loadtest.bare_total({**ends, "batch_size_stop": 2})


def test_short_websocket_load_test_has_no_errors(tmp_path):
    """Both pages, 3 sessions x 3 random moves, over the websocket (no browser)."""
    out = tmp_path / "ws.json"
    proc = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "loadtest.py"), "--mode", "ws", "--short", "--json", str(out)],
        cwd=ROOT, capture_output=True, text=True, timeout=400,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stdout + proc.stderr
    report = json.loads(out.read_text())
    for name in ("page", "bare"):
        r = report[name]
        assert r["errors"] == 0, r["error_messages"]
        assert r["moves_done"] == r["moves_asked"] == 9 and r["moves_unfinished"] == 0
        assert 0 < r["p50_ms"] <= r["p95_ms"] <= r["max_ms"] < 60_000
        assert r["throughput_moves_per_s"] > 0 and r["server_cpu_ms_per_move"] > 0
        assert 0 < r["rss_idle_mb"] <= r["rss_peak_mb"]
        assert r["widgets_not_modelled"] == []  # every widget's state went back as the browser sends it
    assert report["bare"]["charts"] == report["page"]["charts"] > 0
    assert all(math.isfinite(v) and v > 0 for v in report["ratios"].values())
    assert report["targets"]["no errors"] and report["targets"]["all moves done"]
    assert "page / bare:" in proc.stdout


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
    assert frameworks == set(FRAMEWORKS)


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
