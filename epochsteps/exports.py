"""Slide- and handout-ready files: charts as PNG / SVG / offline HTML, the step table as
CSV, the setup as JSON (and back), and `write_all` for `python -m epochsteps export`.

Charts are rendered by vl-convert (Vega in Rust/Deno): no browser, no network. The HTML
file inlines the Vega, Vega-Lite and Vega-Embed JavaScript that vl-convert bundles, so it
opens from a USB stick in a lecture hall without internet.
"""

from __future__ import annotations

import html
import json
from collections.abc import Callable, Mapping
from dataclasses import fields
from functools import lru_cache
from pathlib import Path

import numpy as np
import pandas as pd
import vl_convert as vlc

from .charts import META
from .conventions import CONVENTIONS
from .plan import Plan
from .setup import Setup, SetupError
from .text import duration, fmt, listing, plural

PNG_SCALE = 2  # crisp on a projector and in a PDF handout
EXPORT_WIDTH = 720  # px for charts the page sizes to its column ("container"); a 16:9 slide's content width
MAX_SETUP_FILE_BYTES = 5_000_000  # 100,000 metric values fit comfortably


# -- charts ------------------------------------------------------------------------
def _spec(chart) -> dict:
    """A Vega-Lite dict from an Altair chart (or a dict already)."""
    return chart if isinstance(chart, dict) else chart.to_dict()


@lru_cache(maxsize=1)
def _vl_version() -> str | None:
    """The Vega-Lite version Altair writes, if vl-convert has it (else vl-convert's latest)."""
    import altair as alt

    wanted = ".".join(alt.SCHEMA_VERSION.lstrip("v").split(".")[:2])
    return wanted if wanted in vlc.get_vegalite_versions() else None


def _fixed_width(spec: dict, width: int) -> dict:
    """`width: "container"` follows the page's column; a file has no column, so fix it."""
    out = dict(spec)
    if out.get("width") == "container":
        out["width"] = width
    for key in ("layer", "vconcat", "hconcat", "concat"):
        if isinstance(out.get(key), list):
            out[key] = [_fixed_width(sub, width) if isinstance(sub, dict) else sub for sub in out[key]]
    if isinstance(out.get("spec"), dict):
        out["spec"] = _fixed_width(out["spec"], width)
    return out


def chart_svg(chart, width: int = EXPORT_WIDTH) -> bytes:
    return vlc.vegalite_to_svg(_fixed_width(_spec(chart), width), vl_version=_vl_version()).encode("utf-8")


def chart_png(chart, scale: float = PNG_SCALE, width: int = EXPORT_WIDTH) -> bytes:
    return vlc.vegalite_to_png(_fixed_width(_spec(chart), width), vl_version=_vl_version(), scale=scale)


def is_placeholder(chart) -> bool:
    """A chart that only says there is nothing to draw (one text mark), e.g. early
    stopping when it is off: not worth a file."""
    spec = _spec(chart)
    if any(k in spec for k in ("vconcat", "hconcat", "concat")):
        return False
    # layers that draw (the meta table's invisible layer aside)
    drawn = [layer for layer in spec.get("layer", [spec]) if layer.get("data", {}).get("name") != META]
    marks = [layer.get("mark") for layer in drawn]
    return len(marks) == 1 and (marks[0].get("type") if isinstance(marks[0], dict) else marks[0]) == "text"


@lru_cache(maxsize=1)
def _js_bundle() -> str:
    # ~900 kB, 1-2 s to build: once per process.
    return vlc.javascript_bundle(vl_version=_vl_version())


_EMBED_OPTIONS = {
    "renderer": "svg",
    # "Save as SVG/PNG" works offline; the source/editor actions would open vega.github.io.
    "actions": {"export": True, "source": False, "compiled": False, "editor": False},
}


def _script_json(value) -> str:
    """JSON safe inside <script>: no `</script>`, `<!--` or line separators can end it early."""
    text = json.dumps(value, allow_nan=False)
    return (
        text.replace("<", "\\u003c")
        .replace(">", "\\u003e")
        .replace("&", "\\u0026")
        .replace("\u2028", "\\u2028")
        .replace("\u2029", "\\u2029")
    )


def chart_html(chart, title: str = "epochsteps chart", caption: str = "") -> str:
    """A standalone HTML page that draws `chart` with no network access.

    `title` and `caption` are escaped: they may carry numbers or labels from the user.
    """
    spec = _spec(chart)
    bundle = _js_bundle()
    if "</script" in bundle.lower():  # would end the inline script early
        raise RuntimeError("vl-convert's JavaScript bundle cannot be inlined")
    t = html.escape(title, quote=True)
    cap = f'\n<p class="caption">{html.escape(caption, quote=True)}</p>' if caption else ""
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{t}</title>
<style>
body {{ font-family: system-ui, sans-serif; margin: 1.5rem; color: #222; }}
h1 {{ font-size: 1.2rem; }}
.caption {{ max-width: 60rem; }}
/* vega-embed makes its div inline-block, which gives width "container" charts 0 px */
#chart.vega-embed {{ display: block; width: 100%; max-width: 60rem; }}
</style>
<script>{bundle}</script>
</head>
<body>
<h1>{t}</h1>
<div id="chart" role="img" aria-label="{html.escape(caption or title, quote=True)}"></div>{cap}
<script id="spec" type="application/json">{_script_json(spec)}</script>
<script>
vegaEmbed("#chart", JSON.parse(document.getElementById("spec").textContent), {_script_json(_EMBED_OPTIONS)})
  .catch(function (e) {{ document.getElementById("chart").textContent = "The chart could not be drawn: " + e; }});
</script>
</body>
</html>
"""


# -- tables ------------------------------------------------------------------------
def epoch_table(plan: Plan, max_rows: int | None = None) -> pd.DataFrame:
    """One row per epoch that started: where its optimizer steps fall and what it used.

    With more than `max_rows` epochs, consecutive epochs that are alike in every column
    share one row (`epoch` to `epoch_last`, `epochs` of them; per-epoch values, global
    steps of the first and last epoch): exact, and a million identical epochs are one row.
    """
    n = plan.epochs_started
    evals = np.bincount(plan.evaluations.epoch, minlength=n)[:n] if len(plan.evaluations) else np.zeros(n, dtype=np.int64)
    sizes = plan.last_batch_sizes
    per_epoch = {
        "batches_per_device": plan.batches,
        "last_batch_size": pd.arrays.IntegerArray(np.maximum(sizes, 0), sizes < 0),
        "optimizer_steps": plan.steps,
        "samples_seen": plan.samples_per_epoch,
        "samples_dropped": plan.dropped_per_epoch,
        "completed": plan.completed,
        "evaluations": evals,
    }
    if plan.setup.tokens is not None:
        per_epoch["tokens_trained"] = plan.tokens_per_epoch
    if plan.setup.timed:
        per_epoch["seconds"] = plan.seconds_per_epoch
    first_step = np.where(plan.steps > 0, plan.epoch_start_global_steps + 1, 0)
    last_step = np.where(plan.steps > 0, plan.epoch_end_global_steps, 0)
    ends_at = {"end_seconds": plan.epoch_end_seconds} if plan.setup.timed else {}
    if max_rows is None or n <= max_rows:
        return pd.DataFrame(
            {"epoch": np.arange(1, n + 1), **per_epoch, "first_global_step": first_step, "last_global_step": last_step, **ends_at}
        )
    keys = [plan.batches, sizes, plan.steps, plan.samples_per_epoch, plan.dropped_per_epoch, plan.completed, evals]
    change = np.zeros(n, dtype=bool)
    change[0] = True
    for k in keys:
        change[1:] |= k[1:] != k[:-1]
    starts = np.flatnonzero(change)
    ends = np.append(starts[1:], n) - 1
    return pd.DataFrame(
        {
            "epoch": starts + 1,
            "epoch_last": ends + 1,
            "epochs": ends - starts + 1,
            **{name: values[starts] for name, values in per_epoch.items()},
            "first_global_step": first_step[starts],
            "last_global_step": last_step[ends],
            **{name: values[ends] for name, values in ends_at.items()},
        }
    )


def table_csv(table: pd.DataFrame) -> bytes:
    return table.to_csv(index=False).encode("utf-8")


MAX_EPOCH_ROWS = 10_000  # beyond this, alike epochs share a row in epochs.csv


def epochs_csv(plan: Plan, max_rows: int | None = MAX_EPOCH_ROWS) -> bytes:
    """Exact, one row per epoch (alike epochs grouped beyond `max_rows`)."""
    return table_csv(epoch_table(plan, max_rows))


def steps_csv(plan: Plan) -> bytes:
    """The table the step timeline draws: one row per optimizer step up to its row budget,
    bands of steps or epochs beyond it (the `aggregation` column says which)."""
    from . import timeline

    table = timeline.step_table(plan)
    return table_csv(table.assign(aggregation=table.attrs.get("aggregation", "")))


# -- setup as JSON -----------------------------------------------------------------
def setup_json(setup: Setup) -> str:
    # NaN/inf metrics (a diverged run) are written as JSON's NaN/Infinity extension, which json.loads reads back.
    return json.dumps(setup.to_dict(), indent=2) + "\n"


def load_setup(data: str | bytes) -> Setup:
    """A Setup from `setup_json` output. Anything else raises SetupError with one clear reason."""
    if isinstance(data, (bytes, bytearray)):
        if len(data) > MAX_SETUP_FILE_BYTES:
            raise SetupError("setup_file", f"{len(data):,} bytes", f"is too large (at most {MAX_SETUP_FILE_BYTES:,} bytes)")
        try:
            data = bytes(data).decode("utf-8-sig")
        except UnicodeDecodeError:
            raise SetupError(
                "setup_file", "binary data", "is not a UTF-8 text file; load the .json file epochsteps saved"
            ) from None
    if len(data) > MAX_SETUP_FILE_BYTES:
        raise SetupError("setup_file", f"{len(data):,} characters", f"is too large (at most {MAX_SETUP_FILE_BYTES:,})")
    try:
        value = json.loads(data)
    except json.JSONDecodeError as exc:
        raise SetupError("setup_file", f"line {exc.lineno} column {exc.colno}", f"is not valid JSON ({exc.msg})") from None
    except RecursionError:
        raise SetupError("setup_file", "deeply nested data", "is not a setup file") from None
    return Setup.from_dict(value)


# -- summary -----------------------------------------------------------------------
def cli_flags(setup: Setup) -> list[str]:
    """The `python -m epochsteps` flags that rebuild `setup` (defaults left out)."""
    out = []
    for f in fields(setup):
        value = getattr(setup, f.name)
        if f.name == "mode" or value == f.default or (f.name == "metrics" and not value):
            continue
        if f.name == "dataset_size" and setup.tokens is not None:
            continue  # the CLI counts it from the tokens
        if f.name == "tokens":
            out += _token_flags(value)
            continue
        flag = "--" + f.name.replace("_", "-")
        if isinstance(value, bool):
            out.append(flag)
        elif value is None:
            out += [flag, "none"]
        elif isinstance(value, tuple):
            out += [flag, ",".join(map(repr, value))]
        else:
            out += [flag, repr(value) if isinstance(value, float) else str(value)]  # repr keeps 1.0 a float (Lightning)
    return out


def _token_flags(tokens) -> list[str]:
    out = []
    for name, value in tokens.to_dict().items():
        flag = "--" + name.replace("_", "-")
        if value is True:
            out.append(flag)
        elif value is not None and value is not False:
            out += [flag, str(value)]
    return out


def summary_markdown(plan: Plan, files: list[str] | None = None) -> str:
    """The key numbers of `plan` for a slide or handout, with thousands separators."""
    s = plan.setup
    steps = plan.steps
    if len(steps) and (steps == steps[0]).all():
        per_epoch = fmt(steps[0])
    elif len(steps):
        per_epoch = f"{fmt(steps.min())} to {fmt(steps.max())} (first epoch: {fmt(steps[0])})"
    else:
        per_epoch = "0"
    resolved = CONVENTIONS[s.framework].epochs(s)
    epochs = fmt(s.epochs) if s.epochs is not None else ("none (max_steps)" if resolved is None else f"{fmt(resolved)} (the default)")
    rows = [
        ("Framework", CONVENTIONS[s.framework].label),
        ("Dataset size", f"{fmt(s.dataset_size)} samples"),
        ("Batch size", f"{fmt(s.batch_size)} per device"),
        ("Devices x gradient accumulation", f"{fmt(s.devices)} x {fmt(s.grad_accum)}"),
        ("Effective batch", f"{fmt(plan.effective_batch_size)} samples per optimizer step"),
        ("drop_last", "on" if s.drop_last else "off"),
        ("Batches per epoch (per device)", fmt(plan.batches_per_epoch_full)),
        ("Optimizer steps per epoch", per_epoch),
        ("Epochs requested / started", f"{epochs} / {fmt(plan.epochs_started)}"),
        ("Total optimizer steps", fmt(plan.total_optimizer_steps)),
        ("Samples seen / dropped", f"{fmt(plan.samples_seen)} / {fmt(plan.samples_dropped)}"),
        ("Evaluations", fmt(len(plan.evaluations))),
    ]
    if s.max_steps is not None:
        rows.append(("max_steps", fmt(s.max_steps)))
    rows += _token_rows(plan) + _time_rows(plan)
    es = plan.early_stop
    if es is not None:
        if es.stopped:
            text = f"fires at step {fmt(es.stop_global_step)} in epoch {fmt(es.stop_epoch)} (planned: {fmt(plan.planned_optimizer_steps)} steps)"
        elif es.metrics_ran_out_at is not None:
            text = f"not decided: the metric values run out at evaluation {fmt(es.metrics_ran_out_at + 1)}"
        else:
            text = f"does not fire (patience {fmt(s.patience)}); training ends at step {fmt(es.stop_global_step)}"
        rows.append(("Early stopping", text))
    if s.timed and plan.stop_seconds is not None:
        rows.append(("Early stop at", duration(plan.stop_seconds)))
    lines = [
        "# Epochs vs steps: the numbers",
        "",
        "| Quantity | Value |",
        "|---|---|",
        *[f"| {k} | {v} |" for k, v in rows],
    ]
    if plan.notes:
        lines += ["", "Notes:", "", *[f"- {note}" for note in plan.notes]]
    if files:
        lines += ["", "Files:", "", *[f"- `{name}`" for name in files]]
    if s.mode == "min" and len(s.metrics) <= 20:  # the CLI has no --mode; long metric lists live in setup.json
        lines += ["", "Reproduce:", "", "```bash", "python -m epochsteps plan " + " ".join(cli_flags(s)), "```"]
    return "\n".join(lines) + "\n"


def _token_rows(plan: Plan) -> list[tuple[str, str]]:
    t = plan.setup.tokens
    if t is None:
        return []
    if t.dataset_tokens is not None:
        data = f"{fmt(t.total_tokens)} tokens"
    else:
        data = f"{fmt(t.documents)} documents x {fmt(t.tokens_per_document)} tokens = {fmt(t.total_tokens)} tokens"
    how = "packed into" if t.packing else "one document per sample:"
    rows = [
        ("Data in tokens", f"{data}, {how} {fmt(t.samples)} samples of {fmt(t.seq_len)} tokens"),
        ("Tokens dropped / padding", f"{fmt(t.tokens_dropped)} / {fmt(t.tokens_padded)}"),
        ("Tokens per optimizer step", fmt(plan.tokens_per_optimizer_step)),
        ("Tokens trained", fmt(plan.tokens_trained)),
    ]
    if t.token_budget is not None:
        rows.append(("Token budget", f"{fmt(t.token_budget)} tokens: max_steps {fmt(plan.max_steps_for_token_budget)}"))
    return rows


def _time_rows(plan: Plan) -> list[tuple[str, str]]:
    s = plan.setup
    if not s.timed:
        return []
    given = f"{fmt(s.seconds_per_step)} s per optimizer step" if s.seconds_per_step is not None else f"{fmt(s.samples_per_second)} samples per second"
    per_epoch = plan.seconds_per_epoch
    if len(per_epoch) and (per_epoch == per_epoch[0]).all():
        epoch_time = duration(per_epoch[0])
    else:
        epoch_time = listing(per_epoch.tolist(), form=duration)
    rows = [("Throughput", given), ("Time per epoch", epoch_time), ("Training time", duration(plan.seconds_total))]
    if len(plan.evaluations):
        rows.append(("Evaluations at", listing(plan.eval_seconds.tolist(), form=duration)))
    return rows


# -- everything into a directory ---------------------------------------------------
def default_charts(plan: Plan) -> dict[str, object]:
    """Every chart of the page for `plan`, by file stem."""
    from . import charts

    builders: Mapping[str, Callable] = {
        "step_timeline": charts.step_timeline,
        "inside_epoch": charts.inside_epoch,
        "batch_size_tradeoff": charts.batch_size_tradeoff,
        "learning_rate": charts.learning_rate,
        "early_stopping": charts.early_stopping,
    }
    return {name: build(plan) for name, build in builders.items()}


CHART_TITLES = {
    "step_timeline": "Step timeline",
    "inside_epoch": "Inside one epoch",
    "batch_size_tradeoff": "Batch size trade-off",
    "learning_rate": "Learning rate over steps",
    "early_stopping": "Early stopping",
}


def describe(plan: Plan) -> str:
    """One sentence with the plan's key numbers (caption, alt text)."""
    s = plan.setup
    return (
        f"{plural(s.dataset_size, 'sample')}, batch {fmt(s.batch_size)}, effective batch {fmt(plan.effective_batch_size)},"
        f" {CONVENTIONS[s.framework].label}: {plural(plan.batches_per_epoch_full, 'batch', 'batches')} per epoch,"
        f" {plural(round(plan.epochs_run, 2), 'epoch')}, {plural(plan.total_optimizer_steps, 'optimizer step')} in total."
    )


def write_all(plan: Plan, out_dir: str | Path, charts: Mapping[str, object] | None = None) -> list[Path]:
    """Write every chart as .svg, .png and .html, then steps.csv, epochs.csv, setup.json
    and summary.md; return the written paths in that order.

    `charts` (file stem -> Altair chart or Vega-Lite dict) defaults to `default_charts(plan)`;
    a chart that only says there is nothing to draw (`is_placeholder`) is skipped.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    charts = default_charts(plan) if charts is None else charts
    written: list[Path] = []

    def put(name: str, data: bytes | str) -> None:
        path = out / name
        path.write_bytes(data if isinstance(data, bytes) else data.encode("utf-8"))
        written.append(path)

    for stem, chart in charts.items():
        if chart is None or is_placeholder(chart):
            continue
        spec = _spec(chart)  # convert once for the three formats
        title = CHART_TITLES.get(stem, stem.replace("_", " ").capitalize())
        put(f"{stem}.svg", chart_svg(spec))
        put(f"{stem}.png", chart_png(spec))
        put(f"{stem}.html", chart_html(spec, title=title, caption=spec.get("description") or describe(plan)))
    put("steps.csv", steps_csv(plan))
    put("epochs.csv", epochs_csv(plan))
    put("setup.json", setup_json(plan.setup))
    put("summary.md", summary_markdown(plan, files=[p.name for p in written]))
    return written
