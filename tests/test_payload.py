"""What each rerun sends to the browser, measured on the real protobuf messages.

The page runs under AppTest; every ForwardMsg the script enqueues is captured and its
serialized size summed. Budgets (DESIGN.md): no chart dataset over 5,000 rows, the whole
page under 1 MB, at the defaults, at ImageNet scale and at the extremes. The figures are
written to test-output/payload.json for the notes.
"""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow as pa
import pytest
from streamlit.testing.v1 import AppTest
from streamlit.testing.v1 import local_script_runner as lsr

from epochsteps.timeline import MAX_ROWS  # no chart sends more rows (Altair's limit)

ROOT = Path(__file__).resolve().parent.parent
APP = str(ROOT / "app.py")
MAX_PAGE_BYTES = 1_000_000

# name -> query string; the extremes are the page's own limits (controls.CONTROLS).
SETTINGS = {
    "defaults": {},
    "imagenet": {"dataset_size": "1281167", "batch_size": "256", "epochs": "90"},
    "extreme_1e9_b1_1e4": {"dataset_size": "1000000000", "batch_size": "1", "epochs": "10000"},
    "extreme_everything_on": {
        "dataset_size": "1000000000", "batch_size": "1", "epochs": "10000", "framework": "hf",
        "eval_every_steps": "10000000", "early_stopping": "true", "patience": "10000",
        "lr_schedule": "cosine", "lr": "0.001", "warmup_steps": "0.1", "grad_accum": "3", "devices": "7",
    },
    "many_evaluations": {
        "dataset_size": "1000000", "batch_size": "1", "epochs": "1", "framework": "hf", "eval_every_steps": "20",
        "early_stopping": "true", "patience": "10000", "lr_schedule": "linear",
    },
    "lightning_many_validations": {
        "dataset_size": "1000000000", "batch_size": "1000", "epochs": "1", "framework": "lightning",
        "val_check_interval": "1000", "early_stopping": "true", "patience": "100",
    },
    "keras_extreme": {"dataset_size": "1000000000", "batch_size": "1", "epochs": "10000", "framework": "keras", "lr_schedule": "cosine"},
    "tiny": {"dataset_size": "1", "batch_size": "1", "epochs": "1"},
    "tiny_huge_batch": {"dataset_size": "1", "batch_size": "1000000000", "epochs": "10000"},
    "pasted_20k_chars": {
        "framework": "hf", "early_stopping": "true", "metric_source": "pasted", "patience": "10000",
        "dataset_size": "1000000", "batch_size": "1", "epochs": "1", "eval_every_steps": "20", "metrics_text": ",".join(["0.5"] * 5000)[:20000],
    },
}  # fmt: skip


@pytest.fixture
def captured(monkeypatch):
    """Every ForwardMsg list AppTest parses, in order (one list per run)."""
    runs: list[list] = []
    real = lsr.parse_tree_from_messages

    def spy(messages):
        runs.append(list(messages))
        return real(messages)

    monkeypatch.setattr(lsr, "parse_tree_from_messages", spy)
    return runs


def chart_figures(at: AppTest) -> list[dict]:
    """Per chart: bytes of spec and data, and rows of each dataset (Arrow or inline values)."""
    out = []
    for chart in at.get("vega_lite_chart"):
        proto = chart.proto
        rows = [pa.ipc.open_stream(d.data.data).read_all().num_rows for d in proto.datasets]
        spec = json.loads(proto.spec)
        rows += [len(v) for v in spec.get("datasets", {}).values() if isinstance(v, list)]
        values = spec.get("data", {}).get("values") if isinstance(spec.get("data"), dict) else None
        if isinstance(values, list):
            rows.append(len(values))
        out.append({"title": str(spec.get("title", ""))[:60], "bytes": proto.ByteSize(), "rows": rows})
    return out


def dataframe_rows(at: AppTest) -> list[int]:
    return [pa.ipc.open_stream(d.proto.arrow_data.data).read_all().num_rows for d in at.dataframe]


def measure(name: str, query: dict, captured: list) -> dict:
    at = AppTest.from_file(APP, default_timeout=60)
    for key, value in query.items():
        at.query_params[key] = value
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    messages = captured[-1]
    return {
        "setting": name,
        "page_bytes": sum(m.ByteSize() for m in messages),
        "messages": len(messages),
        "charts": chart_figures(at),
        "dataframe_rows": dataframe_rows(at),
    }


RESULTS: dict[str, dict] = {}


@pytest.mark.parametrize("name", list(SETTINGS))
def test_rerun_payload_is_within_budget(name, captured):
    fig = measure(name, SETTINGS[name], captured)
    RESULTS[name] = fig
    assert fig["page_bytes"] > 0 and fig["messages"] > 10  # really measured the page
    for chart in fig["charts"]:
        assert chart["rows"], chart  # every chart's data is accounted for
        assert max(chart["rows"]) <= MAX_ROWS, (name, chart)
    assert all(n <= MAX_ROWS for n in fig["dataframe_rows"])
    assert fig["page_bytes"] < MAX_PAGE_BYTES, (name, fig["page_bytes"])
    if name != "tiny_huge_batch":
        assert fig["charts"], "the page drew no chart"  # the budget is measured on a page that draws
    _write()


def test_a_slider_move_at_imagenet_scale_stays_within_budget(captured):
    """A rerun resends the page; after a move (here to batch 1, the most steps) it stays within the budget too."""
    at = AppTest.from_file(APP, default_timeout=60)
    for key, value in SETTINGS["imagenet"].items():
        at.query_params[key] = value
    at.run()
    first = sum(m.ByteSize() for m in captured[-1])
    at.select_slider(key="batch_size_stop").set_value(1).run()
    assert not at.exception
    moved = sum(m.ByteSize() for m in captured[-1])
    RESULTS["imagenet_then_batch_1"] = {"setting": "imagenet, then batch 1", "page_bytes": moved, "charts": chart_figures(at)}
    _write()
    assert at.number_input(key="batch_size").value == 1  # the move happened
    assert first < MAX_PAGE_BYTES and moved < MAX_PAGE_BYTES
    assert all(max(c["rows"]) <= MAX_ROWS for c in RESULTS["imagenet_then_batch_1"]["charts"])


def _write() -> None:
    out = ROOT / "test-output"
    out.mkdir(exist_ok=True)
    (out / "payload.json").write_text(json.dumps(RESULTS, indent=1))
