"""Chart specs: marks, encodings, positions of epoch rules and markers, row counts,
descriptions built from the plan's numbers, and nothing that breaks a dark theme."""

import json
import re

import altair as alt
import numpy as np
import pytest
import vl_convert as vlc

from epochsteps import Setup, illustrative_curve, make_plan
from epochsteps import charts as ch
from epochsteps import timeline as tl

TEXTBOOK = Setup(dataset_size=10_000, batch_size=100, epochs=10)
IMAGENET = Setup(dataset_size=1_281_167, batch_size=256, epochs=90, lr_schedule="cosine", warmup_steps=1000)
HUGE = Setup(dataset_size=10**9, batch_size=1, epochs=10**4)
BUILDERS = (ch.step_timeline, ch.inside_epoch, ch.batch_size_tradeoff, ch.learning_rate, ch.early_stopping)


def early_stop_setup(**kw):
    base = Setup(dataset_size=1050, batch_size=100, epochs=20, eval_every_steps=5, **kw)
    n = len(make_plan(base).evaluations)
    return base.replace(patience=3, metrics=illustrative_curve(n, overfit_at=0.4))


@pytest.fixture(scope="module")
def plans():
    return {
        name: make_plan(s)
        for name, s in (("textbook", TEXTBOOK), ("imagenet", IMAGENET), ("huge", HUGE), ("early", early_stop_setup()))
    }


def layers(spec, drawn_only=True):
    """(mark type, layer, rows) for the layers of a (possibly single) chart spec that draw
    something: not the meta table's invisible layer, not a layer whose table is empty."""
    out = []
    for layer in spec.get("layer", [spec]):
        if drawn_only and layer.get("data", {}).get("name") == ch.META:
            continue
        mark = layer["mark"]["type"] if isinstance(layer["mark"], dict) else layer["mark"]
        rows = spec.get("datasets", {}).get(layer.get("data", {}).get("name"), layer.get("data", {}).get("values", []))
        if rows or not drawn_only:
            out.append((mark, layer, with_constants(layer, rows)))
    return out


def with_constants(layer, rows):
    """Rows with the columns a layer computes as constants (`calculate` of a literal)."""
    consts = {}
    for t in layer.get("transform", []):
        try:
            consts[t["as"]] = json.loads(t["calculate"])
        except (KeyError, ValueError):
            continue
    return [{**r, **consts} for r in rows]


def find(spec, mark, where=lambda layer, rows: True):
    return [(layer, rows) for m, layer, rows in layers(spec) if m == mark and where(layer, rows)]


def walk(node):
    if isinstance(node, dict):
        for key, value in node.items():
            yield key, value
            yield from walk(value)
    elif isinstance(node, list):
        for value in node:
            yield from walk(value)


@pytest.mark.parametrize("name", ["textbook", "imagenet", "huge", "early"])
@pytest.mark.parametrize("builder", BUILDERS, ids=lambda b: b.__name__)
def test_every_chart_is_small_inline_accessible_and_theme_neutral(plans, name, builder):
    chart = builder(plans[name])
    spec = chart.to_dict()
    assert ch.chart_rows(chart) <= tl.ROW_BUDGET
    assert spec["width"] == "container" and isinstance(spec["height"], int)
    assert len(spec["description"]) > 30
    pairs = list(walk(spec))
    assert not any(key == "url" for key, _ in pairs)
    colours = {str(v).lower() for k, v in pairs if k in ("color", "fill", "stroke", "labelColor", "titleColor")}
    assert not colours & {"black", "#000", "#000000", "white", "#fff", "#ffffff"}
    # every layer reads a named table the chart carries; none is inline in a layer
    for _, layer, _ in layers(spec, drawn_only=False):
        assert layer["data"]["name"] in spec["datasets"]


def test_chart_rows_counts_the_largest_dataset(plans):
    chart = ch.step_timeline(plans["textbook"])
    assert ch.chart_rows(chart) == 1000
    assert ch.chart_rows(alt.Chart(alt.Data(values=[{"a": 1}] * 7)).mark_point()) == 7


def test_step_timeline_textbook(plans):
    plan = plans["textbook"]
    spec = ch.step_timeline(plan).to_dict()
    ((bands, rows),) = find(spec, "rect")
    assert len(rows) == 1000 and bands["encoding"]["fill"]["field"] == "epoch"
    tips = {t["field"] for t in bands["encoding"]["tooltip"]}
    assert tips == {"step", "epoch", "epoch_frac", "batch", "samples"}
    rules = find(spec, "rule")
    assert len(rules) == 1
    assert [r["step"] for r in rules[0][1]] == list(plan.epoch_end_global_steps)
    texts = find(spec, "text")
    labels = next(rows for _, rows in texts if rows and "epoch" in rows[0])
    assert [r["epoch"] for r in labels] == list(range(1, 11))  # ten short labels fit at 390 px
    # a hand-written loop saves and logs nothing: its lanes say so
    notes = next(rows for _, rows in texts if rows and "note" in rows[0])
    assert {r["lane"]: r["note"] for r in notes} == {"checkpoints": "none written", "logs": "none logged"}
    assert "evaluations" not in json.dumps(spec["layer"][0]["encoding"]["y"])  # no lane without evaluations
    assert "1,000 optimizer steps over 10 epochs" in spec["description"]


def test_step_timeline_marks_partial_batches_evaluations_best_and_stop(plans):
    plan = plans["early"]
    es = plan.early_stop
    spec = ch.step_timeline(plan).to_dict()
    points = find(spec, "point")
    kinds = {r["kind"]: r for _, rows in points for r in rows}
    assert set(kinds) == {"evaluation", "partial last batch", "best checkpoint", "early stop"}
    assert kinds["early stop"]["step"] == es.stop_global_step
    assert kinds["best checkpoint"]["step"] == plan.evaluations.global_step[es.best_eval_index]
    ev_steps = [r["step"] for _, rows in points for r in rows if r["kind"] == "evaluation"]
    assert ev_steps == list(plan.evaluations.global_step)
    # shape and colour both tell the kinds apart, from one scale each
    enc = points[0][0]["encoding"]
    assert len(set(enc["shape"]["scale"]["range"])) == len(enc["shape"]["scale"]["domain"])
    assert len(set(enc["color"]["scale"]["range"])) == len(enc["color"]["scale"]["domain"])
    ((stop_rule, stop_rows),) = find(spec, "rule", lambda layer, rows: "strokeDash" in layer["encoding"])
    assert [r["step"] for r in stop_rows] == [es.stop_global_step]
    assert f"early stop at step {es.stop_global_step:,}" in spec["description"]
    assert f"best checkpoint (evaluation {es.best_eval_index + 1:,})" in spec["description"]


def test_step_timeline_max_steps_cut_is_a_dashed_rule():
    plan = make_plan(Setup(dataset_size=1050, batch_size=100, epochs=5, max_steps=23))
    spec = ch.step_timeline(plan).to_dict()
    ((rule, rows),) = find(spec, "rule", lambda layer, rows: "strokeDash" in layer["encoding"])
    assert [(r["kind"], r["step"]) for r in rows] == [("max_steps cut", 23)]
    dash = rule["encoding"]["strokeDash"]
    (cut,) = [c["value"] for c in dash["condition"] if c["test"] == 'datum.kind === "max_steps cut"']
    assert cut != [1, 0] and dash["value"] == [1, 0]  # dashed, where the other rules are solid
    assert spec["datasets"][ch.META][0]["total"] == 23  # the step axis ends at the cut


def test_step_timeline_aggregates_and_says_so(plans):
    for name in ("imagenet", "huge"):
        plan = plans[name]
        table = tl.step_table(plan)
        spec = ch.step_timeline(plan).to_dict()
        ((bands, rows),) = find(spec, "rect")
        assert len(rows) == len(table) <= tl.ROW_BUDGET
        assert {t["field"] for t in bands["encoding"]["tooltip"]} >= {
            "step_first",
            "step_last",
            "epoch_frac",
            "batch_first",
            "batch_last",
            "samples",
        }
        assert table.attrs["aggregation"].replace("one row per", "one band per") in " ".join(spec["title"]["subtitle"])
    spec = ch.step_timeline(plans["imagenet"]).to_dict()
    strong = find(spec, "rule", lambda layer, rows: layer["mark"].get("opacity") == 0.7)
    assert [r["epoch"] for r in strong[0][1]] == list(range(10, 91, 10))
    partial = [r for _, rows in find(spec, "point") for r in rows if r["kind"] == "partial last batch"]
    assert [r["step"] for r in partial] == list(plans["imagenet"].epoch_end_global_steps[9::10])


def test_inside_epoch_chart(plans):
    plan = make_plan(Setup(dataset_size=10_001, batch_size=96, epochs=2, devices=3, framework="lightning"))
    spec = ch.inside_epoch(plan).to_dict()
    ((rects, rows),) = find(spec, "rect")
    kinds = [r["kind"] for r in rows]
    assert kinds.count("full batch") == 34 and kinds[-2:] == ["partial last batch", "padding duplicates"]
    assert rects["encoding"]["x"]["field"] == "start" and rects["encoding"]["x2"]["field"] == "end"
    ((points, special),) = find(spec, "point")
    assert [r["kind"] for r in special] == ["partial last batch", "padding duplicates"]
    assert "1 padding duplicates" in spec["description"] and "70 samples per device" in spec["description"]
    huge = ch.inside_epoch(plans["huge"]).to_dict()
    assert "one block per 100,000,000 batches" in " ".join(huge["title"]["subtitle"])
    assert ch.chart_rows(ch.inside_epoch(plans["huge"])) == 10


def test_batch_size_tradeoff_chart(plans):
    plan = plans["imagenet"]
    spec = ch.batch_size_tradeoff(plan).to_dict()
    line, points = find(spec, "line")[0], find(spec, "point")
    assert line[0]["encoding"]["x"]["scale"]["type"] == "log" and line[0]["encoding"]["y"]["scale"]["type"] == "log"
    current = [rows for layer, rows in points if layer["mark"].get("shape") == "diamond"][0]
    assert current[0]["batch_size"] == 256 and current[0]["steps"] == plan.total_optimizer_steps == 450_450
    assert "your batch 256 takes 450,450" in spec["description"]
    # the curve counts planned steps: the subtitle names the planned epochs, not where early stopping ended
    early = ch.batch_size_tradeoff(plans["early"]).to_dict()["title"]["subtitle"]
    assert plans["early"].epochs_started < 20
    assert "1,050 samples, 20 epochs, as pytorch counts" in early and "Steps as planned, before early stopping" in early


def test_learning_rate_chart(plans):
    plan = plans["imagenet"]
    spec = ch.learning_rate(plan).to_dict()
    lines = find(spec, "line")
    assert [layer["mark"]["interpolate"] for layer, _ in lines] == ["linear", "step-after"]
    dash = lines[0][0]["encoding"]["strokeDash"]["scale"]
    assert dash["domain"] == ["cosine schedule", "StepLR per epoch", "StepLR per batch (bug)"]
    assert len({json.dumps(d) for d in dash["range"]}) == 3
    warm = find(spec, "rule", lambda layer, rows: layer["mark"].get("strokeDash") == [4, 4])
    assert [r["step"] for r in warm[0][1]] == [1001]
    assert "warmup ends: step 1,001 is the first at the full rate" in spec["description"]
    hf = ch.learning_rate(
        make_plan(Setup(dataset_size=1000, batch_size=10, epochs=2, framework="hf", lr_schedule="linear"))
    ).to_dict()
    assert find(hf, "line")[0][0]["encoding"]["strokeDash"]["scale"]["domain"] == ["linear schedule"]
    none = ch.learning_rate(make_plan(Setup(dataset_size=1000, batch_size=10, epochs=2, framework="hf"))).to_dict()
    assert "Choose a learning-rate schedule" in json.dumps(none)


def test_early_stopping_chart(plans):
    plan = plans["early"]
    es = plan.early_stop
    spec = ch.early_stopping(plan).to_dict()
    best_step = int(plan.evaluations.global_step[es.best_eval_index])
    ((window, span),) = find(spec, "rect")
    assert span[0]["from"] == best_step and span[0]["to"] == es.stop_global_step
    marks = {r["series"]: r for _, rows in find(spec, "point") for r in rows if r.get("value") is not None}
    assert marks["best checkpoint"]["step"] == best_step and marks["early stop"]["step"] == es.stop_global_step
    assert marks["best checkpoint"]["value"] == min(plan.setup.metrics[: len(plan.evaluations)])
    best_line = [layer for layer, _ in find(spec, "line") if layer["encoding"]["y"]["field"] == "best_so_far"]
    assert best_line[0]["mark"]["strokeDash"] == [6, 3]
    assert f"training stopped at step {es.stop_global_step:,}" in spec["description"]
    off = ch.early_stopping(make_plan(TEXTBOOK)).to_dict()
    assert "No evaluation" in json.dumps(off)


def test_empty_plan_charts_do_not_fail():
    plan = make_plan(Setup(dataset_size=10, batch_size=32, epochs=2, drop_last=True, framework="lightning"))
    for builder in BUILDERS:
        assert builder(plan).to_dict()["description"]


def test_charts_render_at_phone_width(plans):
    for builder in BUILDERS:
        spec = builder(plans["early"]).to_dict()
        spec["width"] = 390
        svg = vlc.vegalite_to_svg(json.dumps(spec))
        assert svg.startswith("<svg") and 'width="' in svg


def test_budget_parameter_reaches_the_spec(plans):
    chart = ch.step_timeline(plans["imagenet"], budget=300)
    assert ch.chart_rows(chart) <= 300
    assert np.isclose(ch.chart_rows(ch.learning_rate(plans["huge"], budget=100)), 100, atol=2)


GRID = [
    Setup(
        dataset_size=1050,
        batch_size=64,
        epochs=2.5,
        framework="hf",
        grad_accum=3,
        devices=2,
        eval_every_steps=0.25,
        lr_schedule="linear",
        warmup_steps=0.1,
    ),
    Setup(
        dataset_size=1050,
        batch_size=64,
        epochs=3,
        framework="lightning",
        val_check_interval=0.5,
        devices=3,
        drop_last=True,
        lr_schedule="cosine",
        warmup_steps=4,
    ),
    Setup(
        dataset_size=1050,
        batch_size=64,
        epochs=4,
        framework="keras",
        grad_accum=3,
        validation_freq=2,
        lr_schedule="cosine",
        warmup_steps=5,
    ),
    Setup(dataset_size=1050, batch_size=64, epochs=3, framework="keras", steps_per_epoch=7),
    Setup(dataset_size=1050, batch_size=64, max_steps=40, framework="pytorch-flush", grad_accum=4, eval_every_steps=7),
    Setup(dataset_size=30, batch_size=64, epochs=3, framework="pytorch", grad_accum=2),  # one batch, never a step
]


@pytest.mark.parametrize("setup", GRID, ids=lambda s: s.framework)
def test_builders_handle_every_convention(setup):
    plan = make_plan(setup)
    for builder in BUILDERS:
        chart = builder(plan)
        spec = chart.to_dict()
        assert spec["description"] and ch.chart_rows(chart) <= tl.ROW_BUDGET
        json.dumps(spec, allow_nan=False)
    for kind, drawing in DRAWINGS.items():
        # the page's live spec skips Altair's validation (a template miss cost 170 ms): checked here
        ch.template(kind, drawing(plan).shape).to_dict(validate=True)


DRAWINGS = {
    "timeline": ch.timeline_drawing,
    "inside": ch.inside_epoch_drawing,
    "tradeoff": ch.tradeoff_drawing,
    "lr": ch.learning_rate_drawing,
    "early": ch.early_stopping_drawing,
}


def svg_texts(svg: str) -> list[str]:
    import re

    return re.findall(r">([^<>]+)</text>", svg) + re.findall(r">([^<>]+)</tspan>", svg)


@pytest.mark.parametrize("kind", list(DRAWINGS))
def test_slider_moves_keep_the_spec_and_change_only_the_tables(kind):
    """What lets the browser swap data instead of rebuilding a chart: setups a slider move
    apart draw the same shape, so the page sends the same spec with other tables."""
    base = early_stop_setup(lr_schedule="cosine", warmup_steps=3)
    moves = [base, base.replace(batch_size=64), base.replace(dataset_size=4321), base.replace(epochs=7)]
    drawings = [DRAWINGS[kind](make_plan(s)) for s in moves]
    assert len({d.shape for d in drawings}) == 1
    assert len({json.dumps(ch.live_spec(kind, d.shape), sort_keys=True) for d in drawings}) == 1
    tables = [json.dumps({k: ch.records(v) for k, v in d.tables.items()}, sort_keys=True) for d in drawings]
    assert tables[1] != tables[0] and len(set(tables)) >= 3  # the numbers differ


@pytest.mark.parametrize("kind", list(DRAWINGS))
def test_the_live_spec_reads_title_and_axis_from_its_tables(kind):
    """The page's spec, filled with one plan's tables, draws that plan's title and subtitle."""
    plan = make_plan(early_stop_setup(lr_schedule="cosine", warmup_steps=3))
    drawing = DRAWINGS[kind](plan)
    spec = ch.live_spec(kind, drawing.shape)
    assert "description" not in spec and "datasets" not in spec  # the page adds both
    spec["datasets"] = {name: ch.records(df) for name, df in drawing.tables.items()}
    spec["width"] = 600
    texts = svg_texts(vlc.vegalite_to_svg(spec))
    title, *subtitle = drawing.titles["title"]
    assert title in texts
    for line in subtitle:
        assert line in texts


def test_the_live_legend_lists_only_the_kinds_present():
    plan = make_plan(Setup(dataset_size=1050, batch_size=100, epochs=3, max_steps=25))  # partial batches, a cut, no evaluation
    drawing = ch.timeline_drawing(plan)
    spec = ch.live_spec("timeline", drawing.shape)
    spec["datasets"] = {name: ch.records(df) for name, df in drawing.tables.items()}
    spec["width"] = 600
    texts = svg_texts(vlc.vegalite_to_svg(spec))
    assert {"partial last batch", "max_steps cut", "checkpoint", "training-loss log"} <= set(texts)  # lanes always drawn, always keyed
    assert not {"evaluation", "early stop", "best checkpoint"} & set(texts)
    assert drawing.tables[ch.META].iloc[0]["title"] == drawing.titles["title"][0] == "25 optimizer steps over 2.27 epochs"  # epochs run, not started (3)


def test_a_setup_with_no_mark_keeps_the_timeline_template_and_a_finite_legend():
    """A short last batch comes and goes as the batch size moves; the template must not (a new
    template is a new Vega view in the browser), and the legend must never be empty (Vega sizes an
    empty legend as infinite)."""
    plain = make_plan(Setup(dataset_size=10_000, batch_size=100, epochs=10))  # no partial batch, no save, no log
    ragged = make_plan(Setup(dataset_size=10_001, batch_size=100, epochs=10))
    drawing = ch.timeline_drawing(plain)
    assert drawing.shape == ch.timeline_drawing(ragged).shape
    spec = ch.live_spec("timeline", drawing.shape)
    spec["datasets"] = {name: ch.records(df) for name, df in drawing.tables.items()}
    spec["width"] = 600
    svg = vlc.vegalite_to_svg(spec)
    texts = svg_texts(svg)
    assert {"checkpoint", "training-loss log", "none written", "none logged"} <= set(texts)
    assert "partial last batch" not in texts
    assert 100 < float(re.search(r'<svg[^>]* height="([\d.]+)"', svg).group(1)) < 1000


@pytest.mark.parametrize("total", [9_000, 20_000, 90_000, 3_500_000])
def test_a_step_axis_writes_every_tick_in_one_unit(total):
    """The step axis's labels take the unit of its end (the plan's total): "2k ... 20k", never
    "9,000" next to "10k"."""
    import re

    plan = make_plan(Setup(dataset_size=total, batch_size=1, epochs=1))
    drawing = ch.timeline_drawing(plan)
    spec = ch.live_spec("timeline", drawing.shape)
    spec["datasets"] = {name: ch.records(df) for name, df in drawing.tables.items()}
    spec["width"] = 600
    texts = svg_texts(vlc.vegalite_to_svg(spec))
    axis = texts[: texts.index("optimizer step (global step)")]  # the axis's labels come before its title
    ticks = [t for t in axis if re.fullmatch(r"[\d.,]+[kM]?", t) and t != "0"]
    unit = {10**6: "M", 10**4: "k"}
    want = next((u for top, u in unit.items() if total >= top), "")
    assert len(ticks) >= 3, texts
    assert all(t.endswith(want) if want else t[-1].isdigit() for t in ticks), ticks
