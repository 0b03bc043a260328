"""Charts of the training lab, asserted on `chart.to_dict()`."""

from __future__ import annotations

import json
import re

import numpy as np
import pytest
import vl_convert as vlc

from epochsteps import Setup
from epochsteps import lab_charts as lc
from epochsteps.text import ordinal
from epochsteps.timeline import MAX_ROWS
from epochsteps.training import batch_pair, compare_batch_sizes, step_noise, train


def _rows(spec: dict) -> int:
    """All rows the spec carries: named datasets plus inline values."""
    total = sum(len(v) for v in spec.get("datasets", {}).values())

    def walk(node):
        nonlocal total
        if isinstance(node, dict):
            data = node.get("data")
            if isinstance(data, dict) and isinstance(data.get("values"), list):
                total += len(data["values"])
            for k, v in node.items():
                if k != "datasets":
                    walk(v)
        elif isinstance(node, list):
            for v in node:
                walk(v)

    walk(spec)
    return total


def _layers(spec: dict) -> list[dict]:
    return spec["layer"]


def _data(spec: dict, layer: dict) -> list[dict]:
    return spec["datasets"][layer["data"]["name"]]


def _mark(layer: dict) -> str:
    m = layer["mark"]
    return m if isinstance(m, str) else m["type"]


def _series(layer: dict) -> str | None:
    for t in layer.get("transform", []):
        if t.get("as") == "series":
            return json.loads(t["calculate"])
    return None


@pytest.fixture(scope="module")
def stopped_run():
    return train(Setup(dataset_size=300, batch_size=10, epochs=60, framework="hf", patience=4))


@pytest.fixture(scope="module")
def long_run():
    # 20,000 steps (thinned to the row budget) and 400 evaluations, within the lab's work budget
    return train(Setup(dataset_size=2_000, batch_size=1, epochs=10, framework="hf", eval_every_steps=50))


def test_loss_chart_layers(stopped_run):
    run = stopped_run
    spec = lc.loss_chart(run).to_dict()
    layers = _layers(spec)
    by_series = {_series(layer): layer for layer in layers if _series(layer)}
    steps = by_series["training loss per step"]
    assert _mark(steps) == "line" and steps["encoding"]["x"]["field"] == "step"
    rows = _data(spec, steps)
    assert len(rows) == run.optimizer_steps  # short run: every step
    assert [r["loss"] for r in rows] == pytest.approx(run.train_loss_per_step.tolist(), rel=1e-4)
    means = by_series["training loss, epoch mean"]
    assert _mark(means) == "rule" and means["encoding"]["x2"]["field"] == "to_step"
    m = _data(spec, means)
    assert [r["to_step"] for r in m] == run.plan.epoch_end_global_steps.tolist()
    assert [r["loss"] for r in m] == pytest.approx(run.train_loss_per_epoch.tolist(), rel=1e-4)
    val = by_series["validation loss"]
    v = _data(spec, val)
    assert [r["step"] for r in v] == run.eval_global_steps.tolist()
    assert [r["loss"] for r in v] == pytest.approx(run.val_loss.tolist(), rel=1e-4)
    # the early stop: a dashed rule where training ended, and marks on the best and last evaluation
    es = run.early_stop
    assert es.stopped
    rules = [
        layer
        for layer in layers
        if _mark(layer) == "rule" and isinstance(layer["mark"], dict) and layer["mark"].get("strokeDash")
    ]
    assert [_data(spec, r)[0]["step"] for r in rules] == [es.stop_global_step]
    marks = [layer for layer in layers if _mark(layer) == "point" and layer["mark"].get("size") == 180]
    pts = {r["series"]: r for r in _data(spec, marks[0])}
    assert pts["best checkpoint"]["step"] == run.eval_global_steps[es.best_eval_index]
    assert pts["early stop"]["step"] == run.eval_global_steps[-1] == es.stop_global_step
    # epoch boundaries come from the shared chart helpers: a rule per epoch end
    bounds = [
        layer
        for layer in layers
        if _mark(layer) == "rule" and "epoch" in json.dumps(layer.get("encoding", {}).get("tooltip", ""))
    ]
    assert any(len(_data(spec, b)) >= 10 for b in bounds)
    assert spec["description"] == lc.describe_run(run)
    assert f"{run.optimizer_steps:,} optimizer steps" in spec["description"] and "early stopping fired" in spec["description"]


def test_long_series_are_thinned_under_the_row_budget(long_run):
    run = long_run
    assert run.optimizer_steps == 20_000 and len(run.val_loss) == 400 and run.downsized is None
    chart = lc.loss_chart(run)
    spec = chart.to_dict()
    assert _rows(spec) <= MAX_ROWS
    table = lc.step_table(run)
    stride = table.attrs["stride"]
    assert stride > 1 and len(table) <= lc.STEP_ROWS and table["step"].iloc[-1] == 20_000
    k = table["step"].to_numpy()
    assert np.all(np.diff(k)[:-1] == stride)
    np.testing.assert_allclose(table["loss"], run.train_loss_per_step[k - 1], rtol=1e-4)
    assert f"every {ordinal(stride)} shown" in json.dumps(spec["title"])


def test_a_large_budget_still_keeps_the_chart_under_the_row_limit(long_run):
    assert len(lc.step_table(long_run, 20_000)) > MAX_ROWS  # every step of the run
    loss = lc.loss_drawing(long_run, budget=20_000)
    assert sum(map(len, loss.tables.values())) <= MAX_ROWS
    compare = lc.comparison_drawing(long_run, long_run, budget=20_000)
    assert sum(map(len, compare.tables.values())) <= MAX_ROWS


def test_no_step_gives_a_message():
    run = train(Setup(dataset_size=10, batch_size=5, epochs=2, grad_accum=4))  # a (i + 1) % 4 loop over 2 batches never steps
    assert run.optimizer_steps == 0
    spec = lc.loss_chart(run).to_dict()
    drawn = [layer for layer in spec["layer"] if layer["data"]["name"] != "meta"]
    assert [_mark(layer) for layer in drawn] == ["text"] and "No optimizer step" in json.dumps(spec)
    assert spec["description"].startswith("Training lab (pytorch): 0 optimizer steps")


def test_downsized_run_says_so():
    run = train(Setup(dataset_size=1_281_167, batch_size=256, epochs=90, framework="hf"))
    spec = lc.loss_chart(run).to_dict()
    assert "smaller copy" in json.dumps(spec["title"])
    assert _rows(spec) <= MAX_ROWS


@pytest.fixture(scope="module")
def pair():
    setup = Setup(dataset_size=2_000, batch_size=50, epochs=5, framework="hf")
    return compare_batch_sizes(setup, *batch_pair(setup))


def test_comparison_chart(pair):
    small, large = pair
    spec = lc.comparison_chart(small, large).to_dict()
    panels = spec["concat"]
    assert len(panels) == 2 and spec["columns"] == 2
    assert spec["resolve"]["scale"]["y"] == "shared"
    for panel, run in zip(panels, pair, strict=True):
        title = panel["title"]
        assert title["text"] == f"batch {run.setup.batch_size:,}: {run.optimizer_steps:,} steps"
        assert f"{step_noise(run):.3f}" in title["subtitle"][0]
        line, means = panel["layer"][:2]
        assert line["encoding"]["x"]["field"] == "epoch_frac" and spec["datasets"]["meta"][0]["epochs"] == 5
        assert len(_data(spec, line)) == run.optimizer_steps
        assert [r["loss"] for r in _data(spec, means)] == pytest.approx(run.train_loss_per_epoch.tolist(), rel=1e-4)
    assert len(_data(spec, panels[0]["layer"][0])) > 10 * len(_data(spec, panels[1]["layer"][0]))
    assert spec["description"] == lc.comparison_sentence(small, large)
    assert lc.comparison_chart(small, large, columns=1).to_dict()["columns"] == 1


def test_comparison_sentence_uses_the_runs_numbers(pair):
    small, large = pair
    text = lc.comparison_sentence(small, large)
    assert text.startswith("Over the same 5 epochs, batch 12 made ")
    assert f"made {small.optimizer_steps:,} optimizer steps and batch 200 made {large.optimizer_steps:,}" in text
    assert f"({small.optimizer_steps / large.optimizer_steps:,.0f}x fewer)" in text
    assert f"{step_noise(small):.3f}" in text and f"{step_noise(large):.3f}" in text
    assert step_noise(small) > step_noise(large)
    assert f"{small.final_val_loss:.3f}" in text and f"{large.final_val_loss:.3f}" in text
    assert "smaller copies" not in text


def test_comparison_stays_under_the_row_budget():
    setup = Setup(dataset_size=2_000, batch_size=1, epochs=10, framework="hf")
    small, large = compare_batch_sizes(setup, 1, 500)
    chart = lc.comparison_chart(small, large)
    assert small.optimizer_steps == 20_000
    assert _rows(chart.to_dict()) <= MAX_ROWS


def test_charts_compile_to_svg(stopped_run, pair):
    for chart in (lc.loss_chart(stopped_run), lc.comparison_chart(*pair)):
        spec = chart.to_dict()
        if spec.get("width") == "container":
            spec["width"] = 600
        svg = vlc.vegalite_to_svg(json.dumps(spec))
        assert svg.lstrip().startswith("<svg") and "</svg>" in svg


def test_the_epoch_axis_labels_whole_epochs_as_numbers():
    # Vega gives a bare format the ticks' precision: with "~g" and ticks 2 apart, 10 read "1e+1"
    small, large = compare_batch_sizes(Setup(dataset_size=10_000, batch_size=100, epochs=10), 25, 400)
    svg = vlc.vegalite_to_svg(lc.comparison_chart(small, large, width=200, height=170, columns=1).to_dict())
    labels = set(re.findall(r">([^<>]{1,8})</text>", svg))
    assert {"2", "4", "10"} <= labels and not any("e+" in t for t in labels)


def test_the_live_specs_draw_each_runs_titles(stopped_run, pair):
    """The page sends one spec per shape and the runs' tables; titles come from the tables."""
    import re

    from epochsteps import charts as ch

    for drawing in (lc.loss_drawing(stopped_run), lc.comparison_drawing(*pair)):
        spec = ch.live_spec(drawing.kind, drawing.shape)
        assert json.dumps(spec) == json.dumps(ch.live_spec(drawing.kind, drawing.shape))
        spec["datasets"] = {name: ch.records(df) for name, df in drawing.tables.items()}
        if spec.get("width") == "container":
            spec["width"] = 600
        svg = vlc.vegalite_to_svg(json.dumps(spec))
        texts = set(re.findall(r">([^<>]+)</t", svg))
        for lines in drawing.titles.values():
            assert set(lines) <= texts


def test_ordinals_read_as_english():
    assert [ordinal(n) for n in (1, 2, 3, 4, 11, 12, 13, 20, 21, 22, 101, 111, 1000)] == [
        "1st", "2nd", "3rd", "4th", "11th", "12th", "13th", "20th", "21st", "22nd", "101st", "111th", "1,000th",
    ]  # fmt: skip
