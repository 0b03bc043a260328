"""Altair chart builders for the page (and notebooks, exports). No Streamlit here.

Each builder takes a Plan, draws tables from `epochsteps.timeline` (so no dataset in
a spec has more than `timeline.MAX_ROWS` rows), and returns an Altair chart that:
- has a top-level `description` built from the plan's numbers (for screen readers);
- tells marks apart by shape or dash as well as colour;
- uses mid-tone colours and no black text, so it reads in light and dark themes;
- has width="container" and a fixed height, so it works from 390 px up.
Columns a layer does not draw are left out of its data to keep the spec small.
"""

from __future__ import annotations

import json
from typing import NamedTuple

import altair as alt
import numpy as np
import pandas as pd

from . import timeline as tl
from .plan import Plan
from .text import duration, fmt, plural

NEUTRAL = "#808080"  # contrast 3.9:1 on white, 4.8:1 on Streamlit's dark #0e1117
EPOCH_SCHEME = {"name": "viridis", "extent": [0.25, 0.85]}  # no near-black, no pale yellow
LABEL_ROOM_PX = 280  # width the epoch labels may use at 390 px

# one legend for all the marks on the step axis: colour, shape and dash together
MARKS = {
    "evaluation": ("#4c78a8", "circle", [1, 0]),
    "partial last batch": ("#e45756", "triangle-down", [1, 0]),
    "best checkpoint": ("#54a24b", "diamond", [1, 0]),
    "early stop": ("#f58518", "cross", [6, 3]),
    "max_steps cut": ("#b279a2", "square", [2, 2]),
    "checkpoint": ("#2f7f7a", "triangle-up", [1, 0]),
    "training-loss log": ("#9d755d", "triangle-right", [1, 0]),
}
ALWAYS_KEYED = ("checkpoint", "training-loss log")  # kinds whose lane is always on the timeline
SEGMENTS = {
    "full batch": ("#4c78a8", "square"),
    "partial last batch": ("#e45756", "triangle-down"),
    "dropped remainder": ("#9d755d", "cross"),
    "not run": ("#bab0ac", "stroke"),
    "padding duplicates": ("#f58518", "diamond"),
}
MARKER_KIND = {"best": "best checkpoint", "stop": "early stop", "max_steps": "max_steps cut"}


# -- helpers ------------------------------------------------------------------------------

def abbreviate(top: str) -> str:
    """A tick label expression in the unit of `top` (a Vega expression): 12,500 -> "12.5k";
    k, M, B, T as ML papers write them (Vega's "~s" would say "G"). A linear axis passes its
    largest value, so every label has the same unit (never "9,000" next to "10k")."""
    expr = "format(datum.value, ',~g')"  # below 10,000: the number in full
    for cut, power, unit in ((4, 3, "k"), (6, 6, "M"), (9, 9, "B"), (12, 12, "T")):  # innermost first
        expr = f"{top} >= 1e{cut} ? format(datum.value / 1e{power}, '.3~g') + '{unit}' : {expr}"
    return f"datum.value == 0 ? '0' : {expr}"


ABBREVIATE = abbreviate("abs(datum.value)")  # each label on its own: a log axis spans several units


def chart_rows(chart: alt.TopLevelMixin) -> int:
    """The largest number of rows any dataset of the chart's spec holds."""
    spec = chart.to_dict()
    sizes = [len(v) for v in spec.get("datasets", {}).values()]

    def walk(node):
        if isinstance(node, dict):
            data = node.get("data")
            if isinstance(data, dict) and isinstance(data.get("values"), list):
                sizes.append(len(data["values"]))
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(spec)
    return max(sizes, default=0)


# two legend columns where they fit, one on a phone (the plot is about 300 px wide at 390)
LEGEND_COLUMNS = alt.ExprRef(expr="width < 420 ? 1 : 2")


def full_legend(**options) -> alt.Legend:
    """The legend under the plot, listing every entry of its scale: for a scale that holds
    only the series the chart draws (`shown_legend` picks entries from a fixed scale)."""
    return alt.Legend(
        title=None,
        orient="bottom",
        direction="horizontal",
        columns=LEGEND_COLUMNS,
        symbolStrokeWidth=2,
        labelLimit=180,
        **options,
    )


def _per_mark(table: pd.DataFrame, mark: str) -> str:
    """ "one row per 37 steps" -> "one band per 37 steps"."""
    return table.attrs["aggregation"].replace("one row per", f"one {mark} per")


def _label_count(n_epochs: int) -> int:
    """How many epoch labels fit in LABEL_ROOM_PX at about 6.5 px per character."""
    chars = len(f"{n_epochs:,}")
    return max(3, min(12, LABEL_ROOM_PX // int(6.5 * chars + 12)))


def _epoch_bounds(plan: Plan) -> pd.DataFrame:
    return tl.epoch_boundaries(plan, max_labels=_label_count(plan.epochs_started))


def epoch_caption(plan: Plan) -> str:
    """The subtitle line that says the numbers over the plot are epochs (and how thinned they are)."""
    bounds = _epoch_bounds(plan)
    stride = bounds.attrs.get("label_stride", 1)
    return "Numbers on top are epochs" + (f" (one in {stride:,} labelled)" if stride > 1 else "")


# -- charts as a fixed spec filled by tables ---------------------------------------------------
#
# Each chart is a template (layers, encodings, scales: the same for every setup of one
# `shape`) plus tables named after its datasets. Whatever changes with the numbers (titles,
# axis ranges, which legend entries show) is read from the one-row "meta" table by Vega
# expressions. The page sends a template once; on a slider move the browser swaps the
# data of the chart it already has instead of building a new one, and the server builds
# no Altair objects for a new setup.

META = "meta"
EMPTY = "empty"
TITLE_STYLE = {"anchor": "start", "fontSize": 13, "subtitleColor": NEUTRAL, "offset": 16}
# constant lists that expressions cut with slice(): axis ticks at powers of 2 and of 10
POWERS_OF_2 = [2**k for k in range(48)]
POWERS_OF_10 = [10**k for k in range(19)]


class Drawing(NamedTuple):
    """A chart for one plan: which template (`kind`, `shape`), the tables that fill it (by
    dataset name, "meta" included), its titles (slot -> title, subtitle lines) and description."""

    kind: str
    shape: tuple
    tables: dict[str, pd.DataFrame]
    titles: dict[str, tuple[str, ...]]
    description: str


def meta(field: str) -> str:
    """A Vega expression for a field of the chart's meta table."""
    return f"data('{META}')[0].{field}"


def make_drawing(kind, shape, tables, titles: dict[str, tuple[str, ...]], description, **numbers) -> Drawing:
    """A Drawing whose meta table holds `numbers` and each title slot's lines."""
    row = dict(numbers)
    for slot, lines in titles.items():
        row[slot], row[f"{slot}_subtitle"] = lines[0], "|".join(lines[1:])
    return Drawing(kind, shape, {**tables, META: pd.DataFrame([row])}, titles, description)


def titled_drawing(kind, shape, tables, title, subtitle, description, **numbers) -> Drawing:
    """A Drawing with one title slot, "title", and its `subtitle` lines (see `make_drawing`)."""
    return make_drawing(kind, shape, tables, {"title": (title, *subtitle)}, description, **numbers)


def title_slot(slot: str = "title") -> alt.TitleParams:
    """A title whose lines are the meta table's `slot` and `slot`_subtitle (see `_fill_titles`)."""
    return alt.TitleParams(text=alt.ExprRef(expr=meta(slot)), **TITLE_STYLE)


def _fill_titles(node, titles: dict | None) -> None:
    """Title slots written out from `titles`, or (None) read live from the meta table."""
    if isinstance(node, dict):
        title = node.get("title")
        if isinstance(title, dict) and isinstance(title.get("text"), dict):
            slot = title["text"]["expr"].removeprefix(meta(""))
            if titles is None:
                title["subtitle"] = {"expr": f"split({meta(slot + '_subtitle')}, '|')"}
            else:
                title["text"], title["subtitle"] = titles[slot][0], list(titles[slot][1:])
        for value in node.values():
            _fill_titles(value, titles)
    elif isinstance(node, list):
        for value in node:
            _fill_titles(value, titles)


def named(name: str) -> alt.Chart:
    """A chart on the dataset `name`: a template's layer, filled by the drawing's table of that name."""
    return alt.Chart(alt.NamedData(name=name))


def meta_layer() -> alt.Chart:
    """An invisible layer that keeps the meta table in the compiled spec for the expressions
    (every template adds it once)."""
    return named(META).mark_point(opacity=0, aria=False)


def steps_axis(field: str = "step") -> alt.X:
    """The optimizer-step axis from 0 to the meta table's `total`."""
    return alt.X(
        f"{field}:Q",
        title="optimizer step (global step)",
        scale=alt.Scale(domain=alt.ExprRef(expr=f"[0, max(1, {meta('total')})]"), nice=False),
        axis=alt.Axis(labelOverlap="greedy", grid=False, labelExpr=abbreviate(meta("total")), tickMinStep=1),
    )


def shown_legend() -> alt.Legend:
    """The merged colour/shape legend, listing only the kinds in the meta table's `kinds`
    (never none: Vega sizes a legend with no entries as infinitely large)."""
    return full_legend(values=alt.ExprRef(expr=f"{meta('kinds')} ? split({meta('kinds')}, '|') : []"))


def _kind_scales(table: dict) -> tuple[alt.Scale, alt.Scale]:
    """Colour and shape over every kind of `table`, so each kind keeps its look."""
    kinds = list(table)
    return (
        alt.Scale(domain=kinds, range=[table[k][0] for k in kinds]),
        alt.Scale(domain=kinds, range=[table[k][1] for k in kinds]),
    )


def epoch_tables(plan: Plan) -> dict[str, pd.DataFrame]:
    """Epoch-end rules (strong, and faint between labelled ones) and the epoch labels, each
    label centred on its epoch and kept inside the plot."""
    bounds = {c: _epoch_bounds(plan)[c].to_numpy() for c in ("epoch", "step_start", "step", "samples", "labelled")}
    n, labelled = len(bounds["epoch"]), bounds["labelled"]
    dense, max_rules = 40, 120
    strong = np.ones(n, dtype=bool) if n <= dense else labelled
    faint = ~labelled if dense < n <= max_rules else np.zeros(n, dtype=bool)
    total = plan.total_optimizer_steps
    mid = np.clip((bounds["step_start"][labelled] + bounds["step"][labelled]) / 2, 0.025 * total, 0.975 * total)

    def rules(keep):  # numpy masks, one frame each: pandas indexing cost more than the rest of the table
        return pd.DataFrame({c: bounds[c][keep] for c in ("epoch", "step", "samples")})

    return {
        "epoch_rules": rules(strong),
        "epoch_rules_faint": rules(faint),
        "epoch_labels": pd.DataFrame({"epoch": bounds["epoch"][labelled], "mid": mid}),
    }


def epoch_template(label_y=None) -> list[alt.Chart]:
    """The layers that draw `epoch_tables`: faint and strong epoch-end rules and the epoch
    labels (at `label_y`, default just above the plot)."""
    tip = [
        alt.Tooltip("epoch:Q", title="end of epoch", format=","),
        alt.Tooltip("step:Q", title="global step", format=","),
        alt.Tooltip("samples:Q", title="samples so far", format=","),
    ]
    return [
        named("epoch_rules_faint").mark_rule(color=NEUTRAL, strokeWidth=1, opacity=0.25).encode(x="step:Q", tooltip=tip),
        named("epoch_rules").mark_rule(color=NEUTRAL, strokeWidth=1, opacity=0.7).encode(x="step:Q", tooltip=tip),
        named("epoch_labels")
        .mark_text(color=NEUTRAL, fontSize=11, baseline="middle")
        .encode(x="mid:Q", text=alt.Text("epoch:Q", format=","), y=label_y if label_y is not None else alt.value(-8)),
    ]


def empty_drawing(kind: str, message: str, description: str, height: int = 80) -> Drawing:
    """A chart of `kind` that only says `message` (no optimizer step, no evaluation, ...)."""
    return make_drawing(kind, (EMPTY, height), {"message": pd.DataFrame({"message": [message]})}, {}, description)


def _empty_template(height: int) -> alt.LayerChart:
    text = named("message").mark_text(color=NEUTRAL, fontSize=13).encode(text="message:N")
    return alt.layer(text, meta_layer()).properties(width="container", height=height)


def template(kind: str, shape: tuple) -> alt.LayerChart:
    """The chart of `kind` with no data: its layers read the tables by name."""
    if shape and shape[0] == EMPTY:
        return _empty_template(*shape[1:])
    return TEMPLATES[kind](*shape)


# Tables that may be empty. Vega gives an empty mark container the role of a picture with no
# label (axe: svg-img-alt), so their marks stay out of the accessibility tree; what they show
# is in the description under each chart.
OPTIONAL_TABLES = frozenset(
    {"epoch_rules_faint", "points", "special", "rules", "current", "warmup", "span", "marks", "evals", "stop", "lane_notes"}
)


def _quiet_optional(node) -> None:
    if isinstance(node, dict):
        if node.get("data", {}).get("name") in OPTIONAL_TABLES and "mark" in node:
            mark = node["mark"] if isinstance(node["mark"], dict) else {"type": node["mark"]}
            node["mark"] = {**mark, "aria": False}
            if isinstance(mark.get("point"), dict):  # a line's point overlay is a mark of its own
                node["mark"]["point"] = {**mark["point"], "aria": False}
        for value in node.values():
            _quiet_optional(value)
    elif isinstance(node, list):
        for value in node:
            _quiet_optional(value)


def records(df: pd.DataFrame) -> list[dict]:
    """A table as the list of rows a Vega-Lite dataset holds (what `chart` inlines into a spec)."""
    return alt.utils.data.to_values(df)["values"]


def chart(drawing: Drawing) -> alt.TopLevelMixin:
    """The drawing as a self-contained Altair chart (notebooks, exports, tests): its tables
    inline and its titles written out."""
    spec = template(drawing.kind, drawing.shape).to_dict()
    _fill_titles(spec, drawing.titles)
    _quiet_optional(spec)
    spec["description"] = drawing.description
    spec["datasets"] = {name: records(df) for name, df in drawing.tables.items()}
    cls = alt.LayerChart if "layer" in spec else alt.ConcatChart if "concat" in spec else alt.Chart
    return cls.from_dict(spec, validate=False)  # to_dict() validates it whole


def live_spec(kind: str, shape: tuple) -> dict:
    """The template as a Vega-Lite dict whose titles are read from the meta table, for a page
    that sends the tables separately (and swaps them on the next setup of this shape). Not validated
    here: `chart` validates the same template whole, and the tests draw every shape."""
    spec = template(kind, shape).to_dict(validate=False)
    _fill_titles(spec, None)
    _quiet_optional(spec)
    return spec


# -- step timeline ---------------------------------------------------------------------------


def step_timeline(plan: Plan, budget: int | None = None, max_partial_marks: int = 24) -> alt.LayerChart:
    """x is the optimizer step; bands filled by epoch, epoch rules and labels, the step
    holding each partial last batch, evaluations, best checkpoint, early stop and the
    max_steps cut."""
    return chart(timeline_drawing(plan, budget, max_partial_marks))


def timeline_drawing(plan: Plan, budget: int | None = None, max_partial_marks: int = 24) -> Drawing:
    total = plan.total_optimizer_steps
    desc = describe_timeline(plan)
    if total == 0:
        return empty_drawing("timeline", "No optimizer step is taken in this setup.", desc)
    table = tl.step_table(plan, budget)
    ev = tl.evaluation_points(plan, budget)
    saves = tl.moment_points(plan, plan.checkpoints, budget)
    logs = tl.moment_points(plan, plan.logs, budget)
    clock = tl.clock_points(plan)
    lanes = (
        ("epoch", "optimizer steps")
        + (("evaluations",) if len(ev) else ())
        + ("checkpoints", "logs")  # always: a run that saves or logs nothing should show it
        + ((CLOCK_LANE,) if len(clock) else ())
    )
    empty = [(lane, note) for lane, rows, note in (("checkpoints", saves, "none written"), ("logs", logs, "none logged")) if not len(rows)]
    lane_notes = pd.DataFrame(empty, columns=["lane", "note"])
    aggregated = bool(table.attrs["aggregated"])
    if aggregated:
        bands = table.drop(columns=["partial", "epoch_last", "steps"])
        x0, x1 = bands["step_first"] - 1, bands["step_last"]
    else:
        bands = table.drop(columns=["partial"])
        x0, x1 = bands["step"] - 1, bands["step"]
    if len(bands) > 150:
        # dense bands: each overlaps half of the next, which is drawn on top, so no
        # anti-aliasing seams darken the strip; the pointer still finds the right band
        x1 = x1 + (x1 - x0) / 2
    bands = bands.assign(x0=x0, x1=x1)

    epochs, steps = tl.partial_batch_steps(plan)
    if len(steps) > max_partial_marks:  # one per labelled epoch is enough to see the pattern
        stride = _epoch_bounds(plan).attrs["label_stride"]
        keep = epochs % stride == 0
        epochs, steps = epochs[keep], steps[keep]
    groups = [  # (kind, lane, steps, fractional epochs): one frame from arrays, not a frame per group
        ("partial last batch", "optimizer steps", steps, np.round(plan.epoch_at(steps), 4) if len(steps) else np.zeros(0)),
        *((kind, lane, rows["step"].to_numpy(), rows["epoch_frac"].to_numpy())
          for kind, lane, rows in (("evaluation", "evaluations", ev), ("checkpoint", "checkpoints", saves), ("training-loss log", "logs", logs))),
    ]  # fmt: skip
    sizes = [len(g[2]) for g in groups]
    points = pd.DataFrame(
        {
            "kind": np.repeat([g[0] for g in groups], sizes).astype(object),
            "step": np.concatenate([np.asarray(g[2], dtype=np.int64) for g in groups]),
            "epoch_frac": np.concatenate([np.asarray(g[3], dtype=np.float64) for g in groups]),
            "lane": np.repeat([g[1] for g in groups], sizes).astype(object),
        }
    )
    marks = tl.markers(plan)
    special = marks.assign(
        kind=marks["kind"].map(MARKER_KIND),
        lane=["optimizer steps" if k == "max_steps" else "evaluations" for k in marks["kind"]],
    )[["kind", "step", "epoch_frac", "label", "lane"]]
    # the checkpoint and log lanes are always drawn, so their key always is: the legend is never
    # empty (Vega sizes an empty legend as infinite) and one template serves every setup of a lane set
    present = set(points["kind"]) | set(special["kind"]) | set(ALWAYS_KEYED)
    sub = f"Aggregated view: {_per_mark(table, 'band')}" if aggregated else "One band per optimizer step"
    title = f"{plural(total, 'optimizer step')} over {plural(round(plan.epochs_run, 2), 'epoch')}"
    return titled_drawing(
        "timeline",
        (aggregated, lanes),
        {
            "bands": bands,
            **epoch_tables(plan),
            "points": points,
            "special": special,
            "rules": special[special["kind"] != "best checkpoint"],
            "lane_notes": lane_notes,
            **({"clock": clock} if len(clock) else {}),
        },
        title,
        (sub, epoch_caption(plan)),
        desc,
        total=total,
        kinds="|".join(k for k in MARKS if k in present),
    )


CLOCK_LANE = "wall clock"


def _clock_layers(lane) -> list[alt.Chart]:
    """The wall-clock lane: a tick and the time at each round moment of the run."""
    tips = [alt.Tooltip("label:N", title="wall clock"), alt.Tooltip("step:Q", title="during optimizer step", format=",.0f")]
    clock = named("clock").encode(x="step:Q", y=lane(CLOCK_LANE), tooltip=tips)
    return [
        clock.mark_tick(color=NEUTRAL, orient="vertical", size=8, thickness=1, yOffset=-7),
        clock.mark_text(color=NEUTRAL, fontSize=11, baseline="top", dy=-1).encode(text="label:N"),
    ]


def _timeline_template(aggregated: bool, lanes: tuple[str, ...]) -> alt.LayerChart:
    def lane(name):
        return alt.Y(
            datum=name,
            type="nominal",
            scale=alt.Scale(domain=list(lanes)),
            axis=alt.Axis(title=None, labelColor=NEUTRAL, ticks=False, domain=False),
        )

    # fill, not colour: the epoch scale is quantitative, the marks' legend is nominal
    fill = alt.Fill("epoch:Q", scale=alt.Scale(scheme=EPOCH_SCHEME, domainMin=1), legend=None)
    if aggregated:
        tip = [
            alt.Tooltip("step_first:Q", title="from step", format=","),
            alt.Tooltip("step_last:Q", title="to step", format=","),
            alt.Tooltip("epoch:Q", title="epoch", format=","),
            alt.Tooltip("epoch_frac:Q", title="epoch (fractional) at the last step", format=",.3f"),
            alt.Tooltip("batch_first:Q", title="batch within epoch, from", format=","),
            alt.Tooltip("batch_last:Q", title="batch within epoch, to", format=","),
            alt.Tooltip("samples:Q", title="samples so far", format=","),
        ]
    else:
        tip = [
            alt.Tooltip("step:Q", title="step", format=","),
            alt.Tooltip("epoch:Q", title="epoch", format=","),
            alt.Tooltip("epoch_frac:Q", title="epoch (fractional)", format=",.3f"),
            alt.Tooltip("batch:Q", title="batch within epoch", format=","),
            alt.Tooltip("samples:Q", title="samples so far", format=","),
        ]
    bands = (
        named("bands")
        .mark_rect(clip=True, opacity=1)
        .encode(x=steps_axis("x0"), x2="x1:Q", y=lane("optimizer steps"), fill=fill, tooltip=tip)
    )
    color_scale, shape_scale = _kind_scales(MARKS)
    enc = {
        "color": alt.Color("kind:N", scale=color_scale, legend=shown_legend()),
        "shape": alt.Shape("kind:N", scale=shape_scale, legend=shown_legend()),
    }
    tips = [
        alt.Tooltip("kind:N", title="mark"),
        alt.Tooltip("step:Q", format=","),
        alt.Tooltip("epoch_frac:Q", title="epoch (fractional)", format=",.3f"),
    ]
    y_lane = alt.Y("lane:N", scale=alt.Scale(domain=list(lanes)))
    points = named("points").mark_point(size=80, filled=True, opacity=0.9).encode(x="step:Q", y=y_lane, tooltip=tips, **enc)
    special = (
        named("special")
        .mark_point(size=170, filled=True, opacity=1, stroke=NEUTRAL, strokeWidth=1)
        .encode(x="step:Q", y=y_lane, tooltip=["label:N", *tips[1:]], **enc)
    )
    # dashes as conditions, not a scale: a legendless dash scale makes Vega-Lite warn of a legend conflict
    dashed = [{"test": f"datum.kind === {json.dumps(k)}", "value": m[2]} for k, m in MARKS.items() if m[2] != [1, 0]]
    dash = alt.StrokeDashValue(value=[1, 0], condition=dashed)
    rules = (
        named("rules")
        .mark_rule(strokeWidth=2)
        .encode(
            x="step:Q",
            color=enc["color"],  # the points' legend: one legend setting per channel, or Vega warns of a conflict
            strokeDash=dash,
            tooltip=["label:N", *tips[1:]],
        )
    )
    clock = _clock_layers(lane) if CLOCK_LANE in lanes else []
    # a lane with no moment says so in words
    notes = named("lane_notes").mark_text(color=NEUTRAL, fontSize=11, fontStyle="italic", align="left").encode(
        x=alt.value(6), y=alt.Y("lane:N", scale=alt.Scale(domain=list(lanes))), text="note:N"
    )
    layers = [bands, *epoch_template(label_y=lane("epoch")), points, special, rules, notes, *clock, meta_layer()]
    return alt.layer(*layers).properties(width="container", title=title_slot(), height=40 * len(lanes) + 10)


# -- inside one epoch -------------------------------------------------------------------------


def inside_epoch(plan: Plan, epoch: int = 1, budget: int | None = None, height: int = 70) -> alt.LayerChart:
    """The samples of one epoch as a strip of batches (one block = a batch on every
    device; neighbours alternate in shade). The partial last batch, dropped remainder,
    padding duplicates and batches not run have their own colour, and a marker of
    their own shape above the strip so that even a few samples out of 10^9 show."""
    return chart(inside_epoch_drawing(plan, epoch, budget, height))


def inside_epoch_drawing(plan: Plan, epoch: int = 1, budget: int | None = None, height: int = 70) -> Drawing:
    table = tl.inside_epoch(plan, epoch, budget)
    e = table.attrs.get("epoch", 1)
    full = table["kind"] == "full batch"
    blocks = table.assign(odd=~full | (np.cumsum(full) % 2 == 1))  # shade alternates between runs of full batches
    special = blocks[~full][["kind", "start", "end", "samples"]]
    special = special.assign(mid=(special["start"] + special["end"]) / 2)
    sub = f"Aggregated view: {_per_mark(table, 'block')}" if table.attrs["aggregated"] else "One block per batch"
    return titled_drawing(
        "inside",
        (height,),
        {"blocks": blocks, "special": special},
        f"Inside epoch {e:,}",
        (sub,),
        describe_inside_epoch(plan, table),
        top=int(blocks["end"].max()),
        kinds="|".join(k for k in tl.SEGMENT_KINDS if (table["kind"] == k).any()),
    )


def _inside_epoch_template(height: int) -> alt.LayerChart:
    color_scale, shape_scale = _kind_scales(SEGMENTS)
    color = alt.Color("kind:N", scale=color_scale, legend=shown_legend())
    x = alt.X(
        "start:Q",
        title="sample position in the epoch (all devices)",
        scale=alt.Scale(domain=alt.ExprRef(expr=f"[0, {meta('top')}]"), nice=False),
        axis=alt.Axis(labelOverlap="greedy", grid=False, labelExpr=abbreviate(meta("top")), tickMinStep=1),
    )
    tips = [
        alt.Tooltip("kind:N", title="segment"),
        alt.Tooltip("batch_first:Q", title="from batch", format=","),
        alt.Tooltip("batch_last:Q", title="to batch", format=","),
        alt.Tooltip("per_device:Q", title="samples per device per batch", format=","),
        alt.Tooltip("samples:Q", title="samples", format=","),
    ]
    opacity = alt.Opacity("odd:O", scale=alt.Scale(domain=[True, False], range=[1.0, 0.65]), legend=None)
    # later segments (padding) are drawn over the batches they repeat into
    blocks = (
        named("blocks")
        .mark_rect()
        .encode(x=x, x2="end:Q", y=alt.value(24), y2=alt.value(height), color=color, opacity=opacity, tooltip=tips)
    )
    special = (
        named("special")
        .mark_point(size=110, filled=True, opacity=1)
        .encode(
            x="mid:Q",
            y=alt.value(10),
            color=color,
            shape=alt.Shape("kind:N", scale=shape_scale, legend=shown_legend()),
            tooltip=[alt.Tooltip("kind:N", title="segment"), alt.Tooltip("samples:Q", title="samples", format=",")],
        )
    )
    return alt.layer(blocks, special, meta_layer()).properties(width="container", title=title_slot(), height=height)


# -- batch-size trade-off ---------------------------------------------------------------------


def _decades(low: float, high: float) -> tuple[int, int]:
    """First and last power of ten around [low, high]."""
    return int(np.floor(np.log10(max(low, 1)))), int(np.ceil(np.log10(max(high, 1))))


def batch_size_tradeoff(plan: Plan) -> alt.LayerChart:
    """Total optimizer steps against batch size (log-log), the current batch marked."""
    return chart(tradeoff_drawing(plan))


def tradeoff_drawing(plan: Plan) -> Drawing:
    table = tl.batch_size_tradeoff(plan)
    table = table[table["steps"] > 0]
    desc = describe_tradeoff(plan, table)
    if table.empty:
        return empty_drawing("tradeoff", "No batch size takes an optimizer step here.", desc)
    bmax, smax = int(table["batch_size"].max()), int(table["steps"].max())
    cur = table[table["current"]]
    current = pd.DataFrame(
        {
            "batch_size": cur["batch_size"].to_numpy(),
            "steps": cur["steps"].to_numpy(),
            "label": [f"your batch {int(b):,}: {int(s):,} steps" for b, s in zip(cur["batch_size"], cur["steps"], strict=True)],
        }
    )
    # steps fall as the batch grows: the free corners are above-right and below-left of the point
    right_half = bool(len(cur)) and bool(np.log(int(cur["batch_size"].iloc[0])) > np.log(bmax) / 2)
    low, high = _decades(table["steps"].min(), smax)
    s = plan.setup
    # the planned run: the curve counts steps before early stopping
    epochs = f"{s.epochs:,g} epoch{'s' if s.epochs != 1 else ''}" if s.max_steps is None else f"max_steps {s.max_steps:,}"

    return titled_drawing(
        "tradeoff",
        (),
        {"curve": table.drop(columns=["current"]), "current": current},
        "Total optimizer steps by batch size",
        (
            f"{s.dataset_size:,} samples, {epochs}, as {s.framework} counts",
            *(["Steps as planned, before early stopping"] if s.patience is not None else []),
            "Log scales; the diamond is your batch size",
        ),
        desc,
        powers=int(np.log2(bmax)) + 1,
        decade_low=low,
        decade_high=high,
        right_half=right_half,
    )


def _tradeoff_template() -> alt.LayerChart:
    x = alt.X(
        "batch_size:Q",
        title="batch size (per device)",
        scale=alt.Scale(type="log", base=2),
        axis=alt.Axis(
            labelOverlap="greedy",
            labelExpr=ABBREVIATE,
            values=alt.ExprRef(expr=f"slice({POWERS_OF_2}, 0, {meta('powers')})"),
        ),
    )
    y = alt.Y(
        "steps:Q",
        title="total optimizer steps",
        scale=alt.Scale(type="log"),
        axis=alt.Axis(
            labelOverlap="greedy",
            labelExpr=ABBREVIATE,
            values=alt.ExprRef(expr=f"slice({POWERS_OF_10}, {meta('decade_low')}, {meta('decade_high')} + 1)"),
        ),
    )
    tips = [
        alt.Tooltip("batch_size:Q", title="batch size", format=","),
        alt.Tooltip("steps:Q", title="total optimizer steps", format=","),
        alt.Tooltip("steps_per_epoch:Q", title="steps in epoch 1", format=","),
        alt.Tooltip("batches_per_epoch:Q", title="batches per epoch", format=","),
        alt.Tooltip("effective_batch:Q", title="effective batch", format=","),
        alt.Tooltip("samples_dropped:Q", title="samples dropped", format=","),
    ]
    blue, orange = MARKS["evaluation"][0], MARKS["early stop"][0]
    right = meta("right_half")
    return alt.layer(
        named("curve").mark_line(color=blue, strokeWidth=2).encode(x=x, y=y),
        named("curve").mark_point(filled=True, size=40, color=blue, shape="circle").encode(x=x, y=y, tooltip=tips),
        named("current")
        .mark_point(shape="diamond", size=240, filled=True, color=orange, opacity=1)
        .encode(x=x, y=y, tooltip=["label:N"]),
        named("current")
        .mark_text(
            color=NEUTRAL,
            fontSize=12,
            align=alt.ExprRef(expr=f"{right} ? 'right' : 'left'"),
            dx=alt.ExprRef(expr=f"{right} ? -14 : 14"),
            dy=alt.ExprRef(expr=f"{right} ? 16 : -12"),
        )
        .encode(x=x, y=y, text="label:N"),
        meta_layer(),
    ).properties(width="container", title=title_slot(), height=240)


# -- learning rate ---------------------------------------------------------------------------

LR_PALETTE = {"lr": ("#4c78a8", [1, 0]), "per_epoch": ("#54a24b", [6, 3]), "per_batch": ("#e45756", [2, 2])}


def learning_rate(
    plan: Plan,
    budget: int | None = None,
    gamma: float = 0.1,
    step_size: int | None = None,
    compare: bool | None = None,
    height: int = 220,
) -> alt.LayerChart:
    """The setup's schedule per optimizer step (warmup end marked) and, for the PyTorch
    loops, StepLR stepped per epoch (dashed) versus per batch (dotted, the bug)."""
    return chart(learning_rate_drawing(plan, budget, gamma, step_size, compare, height))


def learning_rate_drawing(
    plan: Plan,
    budget: int | None = None,
    gamma: float = 0.1,
    step_size: int | None = None,
    compare: bool | None = None,
    height: int = 220,
) -> Drawing:
    total = plan.total_optimizer_steps
    table = tl.learning_rate(plan, budget, gamma=gamma, step_size=step_size, compare=compare) if total else pd.DataFrame()
    desc = describe_learning_rate(plan, table)
    schedule = plan.setup.lr_schedule
    compared = "per_epoch" in table
    if not total or (schedule is None and not compared):
        message = "Choose a learning-rate schedule to see it here." if total else "No optimizer step is taken."
        return empty_drawing("lr", message, desc)
    columns = (["lr"] if schedule is not None else []) + (["per_epoch", "per_batch"] if compared else [])
    w = table.attrs.get("warmup_end", 0)
    warm = [w] if schedule is not None and 0 < w <= total else []
    parts = [f"Aggregated view: {table.attrs['aggregation']}" if table.attrs["aggregated"] else "Every optimizer step"]
    if compared:
        parts.append(f"StepLR(step_size={table.attrs['step_size']:,}, gamma={table.attrs['gamma']:g})")
    parts.append(epoch_caption(plan))
    return titled_drawing(
        "lr",
        (schedule, compared, height),
        {
            **epoch_tables(plan),
            "lr": table[["step", "epoch_frac", *columns]],
            "warmup": pd.DataFrame({"step": warm, "label": [f"full rate from step {v:,}" for v in warm]}),
        },
        "Learning rate over optimizer steps",
        tuple(parts),
        desc,
        total=total,
    )


def _learning_rate_template(schedule: str | None, compared: bool, height: int) -> alt.LayerChart:
    series = {}
    if schedule is not None:
        series["lr"] = f"{schedule} schedule"
    if compared:
        series["per_epoch"] = "StepLR per epoch"
        series["per_batch"] = "StepLR per batch (bug)"
    names = list(series.values())
    color = alt.Color(
        "series:N", title=None, scale=alt.Scale(domain=names, range=[LR_PALETTE[k][0] for k in series]), legend=full_legend()
    )
    dash = alt.StrokeDash(
        "series:N", title=None, scale=alt.Scale(domain=names, range=[LR_PALETTE[k][1] for k in series]), legend=full_legend()
    )
    y = alt.Y("value:Q", title="learning rate", axis=alt.Axis(format="~g"))
    x = steps_axis()
    tips = [
        alt.Tooltip("series:N", title="line"),
        alt.Tooltip("step:Q", format=","),
        alt.Tooltip("epoch_frac:Q", title="epoch (fractional)", format=",.3f"),
        alt.Tooltip("value:Q", title="learning rate", format=".3~e"),
    ]
    # fold the short column names, then name the series once in an expression
    name_expr = " : ".join(f"datum.key === '{k}' ? '{v}'" for k, v in series.items()) + " : ''"
    layers = epoch_template()
    for cols, interpolate in ((["lr"], "linear"), (["per_epoch", "per_batch"], "step-after")):
        cols = [c for c in cols if c in series]
        if cols:
            layers.append(
                named("lr")  # one dataset shared by both layers
                .transform_fold(cols, as_=["key", "value"])
                .transform_calculate(series=name_expr)
                .mark_line(strokeWidth=2, interpolate=interpolate)
                .encode(x=x, y=y, color=color, strokeDash=dash, tooltip=tips)
            )
    layers.append(
        named("warmup").mark_rule(color=NEUTRAL, strokeDash=[4, 4], strokeWidth=1.5).encode(x="step:Q", tooltip=["label:N"])
    )
    layers.append(
        named("warmup")
        .mark_text(color=NEUTRAL, align="left", dx=4, fontSize=11)
        .encode(x="step:Q", y=alt.value(height * 0.55), text="label:N")
    )
    return alt.layer(*layers, meta_layer()).properties(width="container", title=title_slot(), height=height)


# -- early stopping ---------------------------------------------------------------------------

ES_SERIES = {
    "validation metric": ("#4c78a8", "circle"),
    "best so far": ("#54a24b", "stroke"),
    "best checkpoint": ("#54a24b", "diamond"),
    "early stop": ("#f58518", "cross"),
}


def early_stopping(plan: Plan, budget: int | None = None) -> alt.LayerChart:
    """The metric at each evaluation against the global step, the best-so-far line
    (dashed), the patience window (shaded), best checkpoint (diamond) and stop (cross)."""
    return chart(early_stopping_drawing(plan, budget))


def early_stopping_drawing(plan: Plan, budget: int | None = None) -> Drawing:
    table = tl.early_stopping(plan, budget)
    desc = describe_early_stopping(plan, table)
    shown = table[table["value"].notna()]
    if shown.empty:
        msg = "No evaluation in this run." if table.empty else "No metric values: paste some or use the illustrative curve."
        return empty_drawing("early", msg, desc)
    cols = ["index", "step", "epoch_frac", "value", "best_so_far"]
    window = shown[shown["patience"]]
    best = shown[shown["best"]]
    span = pd.DataFrame({"from": [], "to": [], "label": []})
    if len(window) and len(best):
        label = f"patience {plan.setup.patience}: {len(window):,} evaluation{'s' if len(window) != 1 else ''} without improvement"
        span = pd.DataFrame({"from": [int(best["step"].iloc[0])], "to": [int(window["step"].max())], "label": [label]})
    stop = shown[shown["stop"]]
    marks = pd.concat([best[cols].assign(series="best checkpoint"), stop[cols].assign(series="early stop")], ignore_index=True)
    sub = f"Aggregated view: {table.attrs['aggregation']}" if table.attrs["aggregated"] else f"{len(table):,} evaluations"
    return titled_drawing(
        "early",
        (),
        {
            **epoch_tables(plan),
            "span": span,
            "metric": shown[cols],
            # a hidden point per series keeps the merged legend's shapes complete
            "legend": pd.DataFrame({"series": list(ES_SERIES), "value": np.nan, "step": np.nan}),
            "marks": marks,
        },
        "Early stopping: the validation metric at each evaluation",
        (sub, epoch_caption(plan)),
        desc,
        total=max(plan.total_optimizer_steps, int(shown["step"].max())),
        # the metric axis's ends, given: Vega warns of an infinite extent for each table with no value
        value_low=float(shown["value"].min()),
        value_high=float(shown["value"].max()),
    )


def _early_stopping_template() -> alt.LayerChart:
    x = steps_axis()
    ends = alt.ExprRef(expr=f"[{meta('value_low')}, {meta('value_high')}]")
    y = alt.Y("value:Q", title="validation metric", scale=alt.Scale(domain=ends, zero=False))
    tips = [
        alt.Tooltip("number:Q", title="evaluation", format=","),
        alt.Tooltip("step:Q", format=","),
        alt.Tooltip("epoch_frac:Q", title="epoch (fractional)", format=",.3f"),
        alt.Tooltip("value:Q", title="metric", format=".4~g"),
        alt.Tooltip("best_so_far:Q", title="best so far", format=".4~g"),
    ]
    names = list(ES_SERIES)
    color = alt.Color("series:N", scale=alt.Scale(domain=names, range=[c for c, _ in ES_SERIES.values()]), legend=full_legend())
    shape = alt.Shape("series:N", scale=alt.Scale(domain=names, range=[s for _, s in ES_SERIES.values()]), legend=full_legend())
    metric = named("metric").transform_calculate(number="datum.index + 1")
    layers = [
        named("span").mark_rect(color=NEUTRAL, opacity=0.18).encode(x=alt.X("from:Q"), x2="to:Q", tooltip=["label:N"]),
        *epoch_template(),
        named("span")
        .mark_text(color=NEUTRAL, align="right", dx=-4, fontSize=11)
        .encode(x="to:Q", y=alt.value(12), text="label:N"),
        metric.transform_calculate(series="'validation metric'")
        .mark_line(strokeWidth=2, point=alt.OverlayMarkDef(filled=True, size=30))
        .encode(x=x, y=y, color=color, tooltip=tips),
        metric.transform_calculate(series="'best so far'")
        .mark_line(strokeWidth=1.5, strokeDash=[6, 3], interpolate="step-after")
        .encode(x=x, y=alt.Y("best_so_far:Q"), color=color),
        named("legend").mark_point(opacity=0).encode(x=x, y=y, color=color, shape=shape),
        named("marks")
        .transform_calculate(number="datum.index + 1")
        .mark_point(size=200, filled=True, opacity=1)
        .encode(x=x, y=y, color=color, shape=shape, tooltip=[alt.Tooltip("series:N", title="mark"), *tips]),
        meta_layer(),
    ]
    return alt.layer(*layers).properties(width="container", title=title_slot(), height=240)


TEMPLATES = {
    "timeline": _timeline_template,
    "inside": _inside_epoch_template,
    "tradeoff": _tradeoff_template,
    "lr": _learning_rate_template,
    "early": _early_stopping_template,
}


# -- descriptions: the key numbers of each chart as text ---------------------------------------


def describe_timeline(plan: Plan) -> str:
    total = plan.total_optimizer_steps
    n = plan.epochs_started
    parts = [f"Step timeline: {plural(total, 'optimizer step')} over {plural(round(plan.epochs_run, 2), 'epoch')}"]
    if n:
        per = plan.steps
        parts.append(f"{plural(int(per[0]), 'step')} in epoch 1" + ("" if (per == per[0]).all() else f", {fmt(int(per[-1]))} in the last"))
    epochs, steps = tl.partial_batch_steps(plan)
    if len(steps):
        parts.append(
            f"the partial last batch of epoch 1 is in step {int(steps[0]):,}"
            if epochs[0] == 1
            else f"{plural(len(steps), 'step')} hold a partial last batch"
        )
    if len(plan.evaluations):
        parts.append(f"{plural(len(plan.evaluations), 'evaluation')}, the first at step {fmt(int(plan.evaluations.global_step[0]))}")
    cks = plan.checkpoints
    if cks.count:
        parts.append(f"{plural(cks.count, 'checkpoint')}, the last at step {fmt(cks.last_global_step)}")
    else:
        parts.append("no checkpoint written")
    parts.append(plural(plan.logs.count, "training-loss log") if plan.logs.count else "no training-loss log")
    for row in tl.markers(plan).itertuples():
        parts.append(f"{row.label} (epoch {row.epoch_frac:,.2f})")
    clock = tl.clock_points(plan)
    if len(clock):
        parts.append(f"the wall-clock lane marks every {duration(clock.attrs['every'])}, to {clock['label'].iloc[-1]}")
    return "; ".join(parts) + "."


def describe_inside_epoch(plan: Plan, table: pd.DataFrame) -> str:
    sched = plan.schedule
    e = table.attrs.get("epoch", 1)
    rows = {k: table[table["kind"] == k] for k in tl.SEGMENT_KINDS}
    full = int((rows["full batch"]["batch_last"] - rows["full batch"]["batch_first"] + 1).sum())
    parts = [
        f"Inside epoch {e:,}: {plural(sched.dataset_size, 'sample')}, batch size {sched.batch_size:,}"
        + (f" on each of {sched.devices:,} devices" if sched.devices > 1 else "")
    ]
    parts.append(f"{full:,} full batches")
    if len(rows["partial last batch"]):
        parts.append(f"a partial last batch of {plural(int(rows['partial last batch']['per_device'].iloc[0]), 'sample')} per device")
    if len(rows["dropped remainder"]):
        parts.append(f"{plural(int(rows['dropped remainder']['samples'].sum()), 'sample')} dropped (drop_last)")
    if len(rows["padding duplicates"]):
        parts.append(
            f"{int(rows['padding duplicates']['samples'].sum()):,} padding duplicates so every device gets the same count"
        )
    if len(rows["not run"]):
        parts.append(f"{plural(int(rows['not run']['samples'].sum()), 'sample')} not reached because training stopped")
    return "; ".join(parts) + "."


def describe_tradeoff(plan: Plan, table: pd.DataFrame) -> str:
    if table.empty:
        return "Batch-size trade-off: no batch size takes an optimizer step."
    first, last = table.iloc[0], table.iloc[-1]
    text = (
        f"Batch-size trade-off for {plan.setup.dataset_size:,} samples: batch {int(first['batch_size']):,} takes "
        f"{int(first['steps']):,} optimizer steps, batch {int(last['batch_size']):,} takes {int(last['steps']):,}"
    )
    cur = table[table["current"]]
    if len(cur):
        text += f"; your batch {int(cur['batch_size'].iloc[0]):,} takes {int(cur['steps'].iloc[0]):,}"
    return text + "."


def describe_learning_rate(plan: Plan, table: pd.DataFrame) -> str:
    if table.empty:
        return "Learning rate: no optimizer step is taken."
    parts = []
    if plan.setup.lr_schedule is not None:
        lr = table["lr"]
        parts.append(
            f"Learning rate ({plan.setup.lr_schedule}) over {plan.total_optimizer_steps:,} optimizer steps: peak {lr.max():.3g}, last step {lr.iloc[-1]:.3g}"
        )
        w = table.attrs.get("warmup_end", 0)
        if w:
            parts.append(f"warmup ends: step {w:,} is the first at the full rate")
    else:
        parts.append("Learning rate: no schedule chosen")
    if "per_epoch" in table:
        size, gamma = table.attrs["step_size"], table.attrs["gamma"]
        base = table.attrs["base_lr"]
        parts.append(
            f"StepLR(step_size={size:,}, gamma={gamma:g}) from {base:g}: stepped per epoch it ends at {table['per_epoch'].iloc[-1]:.3g}; "
            f"stepped per batch by mistake it drops after {size:,} optimizer steps and ends at {table['per_batch'].iloc[-1]:.3g}"
        )
    return "; ".join(parts) + "."


def describe_early_stopping(plan: Plan, table: pd.DataFrame) -> str:
    es = plan.early_stop
    n = len(plan.evaluations)
    text = f"Early stopping: {plural(n, 'evaluation')}"
    if es is None:
        return text + "; early stopping is off."
    if es.best_eval_index is not None:
        i = es.best_eval_index
        row = table[table["index"] == i]
        if len(row):
            text += f"; best metric {row['value'].iloc[0]:.4g} at evaluation {i + 1:,}, step {int(row['step'].iloc[0]):,}, epoch {int(row['epoch'].iloc[0]):,}"
    if es.stopped:
        text += f"; patience {plan.setup.patience} ran out: training stopped at step {es.stop_global_step:,} in epoch {es.stop_epoch:,}"
    elif es.metrics_ran_out_at is not None:
        text += f"; the metric values ran out at evaluation {es.metrics_ran_out_at:,}"
    else:
        text += f"; patience {plan.setup.patience} never ran out, training ran to step {es.stop_global_step:,}"
    return text + "."
