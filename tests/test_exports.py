"""Exports: valid PNG / SVG / offline HTML, tables that add up to the plan, a setup file that
loads back (or fails with one clear reason), and `python -m epochsteps export`."""

import json
import re
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import altair as alt
import pandas as pd
import pytest

from epochsteps import Setup, SetupError, charts, exports, make_plan
from epochsteps.cli import build_parser, setup_from_args

ROOT = Path(__file__).resolve().parents[1]
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
SMALL = Setup(dataset_size=1_000, batch_size=64, epochs=3)
# a script, stylesheet, image, frame or module import that would fetch from the network
NETWORK_FETCH = re.compile(
    r"""<(?:script|link|img|iframe|source|embed)\b[^>]*\b(?:src|href)\s*=\s*["']?\s*(?:https?:)?//"""
    r"""|url\(\s*["']?\s*(?:https?:)?//|\bimport\s*\(?\s*["'](?:https?:)?//|@import""",
    re.IGNORECASE,
)


def _spec_in(html_text: str) -> dict:
    m = re.search(r'<script id="spec" type="application/json">(.*?)</script>', html_text, re.S)
    assert m, "the chart spec is not in the page"
    return json.loads(m.group(1))


@pytest.fixture(scope="module")
def timeline():
    return charts.step_timeline(make_plan(SMALL))


def test_png_and_svg_are_valid(timeline):
    png = exports.chart_png(timeline)
    assert png.startswith(PNG_SIGNATURE)
    width = int.from_bytes(png[16:20], "big")
    assert width >= exports.EXPORT_WIDTH * exports.PNG_SCALE  # "container" width fixed for a file
    root = ET.fromstring(exports.chart_svg(timeline))
    assert root.tag.endswith("svg")
    texts = " ".join(t.text or "" for t in root.iter() if t.tag.endswith("text"))
    assert "optimizer step" in texts  # the axis title was drawn


def test_html_is_standalone_with_the_spec_and_no_network_url(timeline):
    page = exports.chart_html(timeline, title="Step timeline", caption="48 steps")
    assert _spec_in(page) == timeline.to_dict()
    assert not NETWORK_FETCH.search(page), NETWORK_FETCH.search(page)
    assert "vegaEmbed" in page and len(page) > 500_000  # the libraries are inlined


def test_html_escapes_title_and_caption(timeline):
    page = exports.chart_html(timeline, title="</title><script>alert(1)</script>", caption='<img src=x onerror="alert(2)">')
    assert "<script>alert(1)" not in page and "<img src=x" not in page
    assert "&lt;/title&gt;&lt;script&gt;" in page


def test_spec_text_cannot_end_the_script_early():
    chart = (
        alt.Chart(pd.DataFrame({"label": ["</script><script>alert(1)</script>"], "x": [1]}))
        .mark_text()
        .encode(text="label", x="x")
    )
    page = exports.chart_html(chart)
    assert "</script><script>alert(1)" not in page
    assert _spec_in(page)["datasets"] == chart.to_dict()["datasets"]


@pytest.mark.browser
def test_html_draws_offline_in_chromium(tmp_path, timeline, browser):
    """Open the file with every network request blocked: the chart still draws.

    Uses the session's browser (conftest): a second sync_playwright in the same
    process would meet the first one's running event loop."""
    path = tmp_path / "timeline.html"
    path.write_text(exports.chart_html(timeline, title="Step timeline"), encoding="utf-8")
    requested, errors = [], []
    page = browser.new_page()
    try:
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)

        def block(route):
            if route.request.url.startswith("file:"):
                return route.continue_()
            requested.append(route.request.url)
            return route.abort()

        page.route("**/*", block)
        page.goto(path.as_uri())
        page.wait_for_selector("#chart svg .mark-rect path", state="attached", timeout=15_000)
        marks = page.locator("#chart svg .mark-rect path").count()
        width = page.evaluate("document.querySelector('#chart svg').getBoundingClientRect().width")
    finally:
        page.close()
    assert requested == [] and errors == []
    assert marks > 0 and width > 300  # a "container" width chart fills the page, not 0 px


def test_epoch_table_adds_up_to_the_plan():
    for setup in (
        SMALL.replace(drop_last=True),
        Setup(dataset_size=10_000, batch_size=100, epochs=10, max_steps=250),
        Setup(framework="keras", dataset_size=1_000, batch_size=64, epochs=4, grad_accum=3),
    ):
        plan = make_plan(setup)
        table = exports.epoch_table(plan)
        assert len(table) == plan.epochs_started
        assert table["optimizer_steps"].sum() == plan.total_optimizer_steps
        assert table["samples_seen"].sum() == plan.samples_seen
        assert table["samples_dropped"].sum() == plan.samples_dropped
        assert table["evaluations"].sum() == len(plan.evaluations)
        ran = table[table["optimizer_steps"] > 0]
        assert (ran["last_global_step"] - ran["first_global_step"] + 1 == ran["optimizer_steps"]).all()
        back = pd.read_csv(pd.io.common.BytesIO(exports.epochs_csv(plan)))
        assert list(back.columns) == list(table.columns) and len(back) == len(table)


def test_many_epochs_group_alike_epochs_exactly():
    huge = make_plan(Setup(dataset_size=10**12, batch_size=1, epochs=10**6))
    table = exports.epoch_table(huge, max_rows=10_000)
    assert len(table) == 1 and table["epochs"].iloc[0] == 10**6
    assert table["last_global_step"].iloc[-1] == huge.total_optimizer_steps == 10**18
    plan = make_plan(Setup(dataset_size=1_000, batch_size=64, epochs=20, max_steps=250, eval_every_steps=7))
    grouped, full = exports.epoch_table(plan, max_rows=3), exports.epoch_table(plan)
    assert 3 < len(grouped) < len(full) == plan.epochs_started
    assert grouped["epochs"].sum() == plan.epochs_started
    for col in ("optimizer_steps", "samples_seen", "evaluations"):
        assert (grouped[col] * grouped["epochs"]).sum() == full[col].sum()
    assert (grouped["epoch"].iloc[1:].to_numpy() == grouped["epoch_last"].iloc[:-1].to_numpy() + 1).all()


def test_max_steps_table_shows_the_cut_epoch():
    table = exports.epoch_table(make_plan(Setup(dataset_size=10_000, batch_size=100, epochs=10, max_steps=250)))
    assert table["optimizer_steps"].tolist() == [100, 100, 50]
    assert table["completed"].tolist() == [True, True, False]


def test_steps_csv_is_the_timeline_table():
    import io

    back = pd.read_csv(io.BytesIO(exports.steps_csv(make_plan(SMALL))))
    assert len(back) == 48 and back["step"].tolist() == list(range(1, 49))
    assert set(back["aggregation"]) == {"one row per step"}


def _same(a: Setup, b: Setup) -> bool:
    """Equal setups; NaN metric values compare equal to NaN."""
    return a.replace(metrics=()) == b.replace(metrics=()) and json.dumps(a.metrics) == json.dumps(b.metrics)


@pytest.mark.parametrize(
    "setup",
    [
        SMALL,
        Setup(
            framework="lightning",
            dataset_size=5_000,
            batch_size=32,
            epochs=4,
            val_check_interval=1.0,
            patience=1,
            metrics=(1.0, 0.9, float("nan"), 0.95),
        ),
        Setup(framework="keras", dataset_size=600, batch_size=50, epochs=5, validation_freq=(1, 3), steps_per_epoch=7),
        Setup(
            framework="hf",
            dataset_size=50_000,
            batch_size=8,
            devices=4,
            grad_accum=4,
            epochs=2.5,
            lr_schedule="linear",
            lr=5e-5,
            warmup_steps=0.1,
        ),
    ],
)
def test_setup_json_round_trips_and_so_does_the_command(setup):
    back = exports.load_setup(exports.setup_json(setup))
    assert _same(back, setup)
    assert type(back.val_check_interval) is type(setup.val_check_interval)  # Lightning: 1.0 is not 1
    assert _same(exports.load_setup(exports.setup_json(setup).encode("utf-8")), setup)
    args = build_parser().parse_args(["plan", *exports.cli_flags(setup)])
    assert _same(setup_from_args(args), setup)
    assert make_plan(setup_from_args(args)).total_optimizer_steps == make_plan(setup).total_optimizer_steps


@pytest.mark.parametrize(
    "data, field, reason",
    [
        ("{not json", "setup_file", "is not valid JSON"),
        (b"\x89PNG\r\n\x1a\n\x00\x00", "setup_file", "not a UTF-8 text file"),
        ("[1, 2]", "setup", "JSON object"),
        ('{"dataset_size": 10, "batch_size": 2, "warp": 9}', "warp", "not a setup field"),
        ('{"dataset_size": -1, "batch_size": 2}', "dataset_size", "from 1"),
        ('{"batch_size": 2}', "dataset_size", "required"),
        ("[" * 100_000, "setup_file", ""),
        (b" " * (exports.MAX_SETUP_FILE_BYTES + 1), "setup_file", "too large"),
    ],
)
def test_bad_setup_file_gives_one_clear_error(data, field, reason):
    with pytest.raises(SetupError) as info:
        exports.load_setup(data)
    assert info.value.field_name == field and reason in str(info.value)
    assert "\n" not in str(info.value)


def test_summary_has_the_numbers_with_separators():
    plan = make_plan(Setup(dataset_size=1_281_167, batch_size=256, epochs=90))
    md = exports.summary_markdown(plan)
    assert "| Dataset size | 1,281,167 samples |" in md
    assert "| Batches per epoch (per device) | 5,005 |" in md
    assert "| Total optimizer steps | 450,450 |" in md
    assert "python -m epochsteps plan --dataset-size 1281167 --batch-size 256 --epochs 90" in md


def test_summary_reports_early_stopping():
    plan = make_plan(
        Setup(framework="hf", dataset_size=1_000, batch_size=100, epochs=10, patience=1, metrics=(1.0, 0.9, 0.95, 0.96))
    )
    assert f"fires at step {plan.early_stop.stop_global_step:,} in epoch 3 (planned: 100 steps)" in exports.summary_markdown(plan)


def test_write_all_skips_placeholder_charts(tmp_path):
    plan = make_plan(SMALL)  # no early stopping, no schedule: nothing to draw there
    files = exports.write_all(plan, tmp_path)
    names = [f.name for f in files]
    assert "step_timeline.png" in names and "early_stopping.png" not in names
    assert exports.is_placeholder(charts.early_stopping(plan))
    assert names[-4:] == ["steps.csv", "epochs.csv", "setup.json", "summary.md"]
    summary = (tmp_path / "summary.md").read_text()
    assert all(f"`{n}`" in summary for n in names[:-1])


def _run_export(*args):
    return subprocess.run(
        [sys.executable, "-m", "epochsteps", "export", *args], cwd=ROOT, capture_output=True, text=True, timeout=300
    )


def test_cli_export_writes_what_it_promises(tmp_path):
    out = tmp_path / "handout"
    r = _run_export(
        "--out",
        str(out),
        "--framework",
        "hf",
        "--dataset-size",
        "1000",
        "--batch-size",
        "64",
        "--epochs",
        "4",
        "--patience",
        "1",
        "--metrics",
        "1,0.9,0.95,0.97",
        "--lr-schedule",
        "cosine",
        "--warmup-steps",
        "5",
    )
    assert r.returncode == 0, r.stderr
    listed = [Path(line) for line in r.stdout.splitlines()]
    assert sorted(p.name for p in out.iterdir()) == sorted(p.name for p in listed)
    for stem in ("step_timeline", "inside_epoch", "batch_size_tradeoff", "learning_rate", "early_stopping"):
        assert (out / f"{stem}.png").read_bytes().startswith(PNG_SIGNATURE)
        assert ET.parse(out / f"{stem}.svg").getroot().tag.endswith("svg")
        page = (out / f"{stem}.html").read_text(encoding="utf-8")
        assert _spec_in(page)["$schema"].startswith("https://vega.github.io/schema/vega-lite/")
        assert not NETWORK_FETCH.search(page)
    setup = exports.load_setup((out / "setup.json").read_bytes())
    assert (setup.framework, setup.dataset_size, setup.patience, setup.metrics) == ("hf", 1_000, 1, (1.0, 0.9, 0.95, 0.97))
    plan = make_plan(setup)
    assert f"| Total optimizer steps | {plan.total_optimizer_steps:,} |" in (out / "summary.md").read_text()
    assert pd.read_csv(out / "epochs.csv")["optimizer_steps"].sum() == plan.total_optimizer_steps


@pytest.mark.parametrize(
    "args, message",
    [
        (["--dataset-size", "100", "--batch-size", "10"], "--out"),
        (["--out", "{tmp}", "--dataset-size", "0", "--batch-size", "10"], "dataset_size"),
        (["--out", "{tmp}/file.txt/sub", "--dataset-size", "100", "--batch-size", "10"], "cannot write"),
    ],
)
def test_cli_export_bad_input_exits_2_with_one_line(tmp_path, args, message):
    (tmp_path / "file.txt").write_text("x")
    r = _run_export(*[a.replace("{tmp}", str(tmp_path)) for a in args])
    assert r.returncode == 2 and r.stdout == ""
    assert len(r.stderr.strip().splitlines()) == 1 and message in r.stderr


def test_readme_notebook_lines_draw_the_timeline():
    """The README's five notebook lines run as they are (no Jupyter needed) and give a chart."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split("## Use from Python (notebooks)", 1)[1].split("\n## ", 1)[0]
    code = re.search(r"```python\n(.*?)```", section, re.S).group(1)
    lines = [line for line in code.splitlines() if line.strip() and not line.lstrip().startswith("#")]
    assert len(lines) == 5
    namespace: dict = {}
    exec(compile(code, "README.md", "exec"), namespace)  # noqa: S102 -- running the README's own lines is the test
    chart = namespace["chart"]
    assert isinstance(chart, alt.TopLevelMixin)
    spec = chart.to_dict()
    assert "optimizer step" in json.dumps(spec)
    assert spec["width"] == 700  # "container" collapses in JupyterLab (vega/altair#2057)
    assert chart._repr_mimebundle_() is not None  # what Jupyter calls to draw it


@pytest.mark.parametrize(
    "setup",
    [
        Setup(dataset_size=10_000, batch_size=100, epochs=10),  # no mark on the timeline but the lanes' keys
        Setup(dataset_size=1_050, batch_size=100, epochs=3, max_steps=25),
    ],
)
def test_every_default_chart_draws_to_png_at_a_finite_size(setup):
    for stem, chart in exports.default_charts(make_plan(setup)).items():
        if not exports.is_placeholder(chart):
            png = exports.chart_png(chart)
            assert png.startswith(b"\x89PNG"), stem
