"""Altair charts of a training-lab run (`epochsteps.training`). No Streamlit here.

- `loss_chart(run)`: the training loss of every optimizer step (noisy), the mean of each epoch
  over it, epoch boundaries, the validation loss at each evaluation, the early stop and the
  best checkpoint;
- `comparison_chart(small, large)`: the same epochs with two batch sizes side by side, on a
  shared epoch axis: more, noisier steps against fewer, smoother ones;
- `comparison_sentence(small, large)`: what the learner sees there, in the runs' numbers.

Every chart keeps all its datasets together under `MAX_ROWS` rows (long per-step series keep
every k-th step, said in the subtitle) and has a `description` for screen readers. Style
(colours, titles, epoch rules) follows `epochsteps.charts`.
"""

from __future__ import annotations

import json
import math

import altair as alt
import numpy as np
import pandas as pd

from . import charts as ch
from .text import fmt, ordinal, plural
from .timeline import MAX_ROWS, nice_stride, significant
from .training import TrainingRun, step_noise

# rows per table, so that one chart's tables together stay within MAX_ROWS
STEP_ROWS = 2_500  # per-step losses kept in one chart
EPOCH_ROWS = 1_000
EVAL_ROWS = 1_000
MARK_ROWS = 200  # a loss chart's other tables: marks, legend entries, epoch rules and labels (at most about 140)
COMPARE_STEP_ROWS = 2_000  # per panel
COMPARE_EPOCH_ROWS = 400

SERIES = {
    "training loss per step": ("#9d9d9d", "stroke"),
    "training loss, epoch mean": ("#b279a2", "stroke"),
    "validation loss": ("#4c78a8", "circle"),
    "best checkpoint": ("#54a24b", "diamond"),
    "early stop": ("#f58518", "cross"),
}


# -- tables ------------------------------------------------------------------------------


def _kept(n: int, budget: int) -> tuple[np.ndarray, int]:
    """Indices 0..n-1 thinned to every k-th (k from 1, 2, 5, 10, ...) plus the last."""
    stride = nice_stride(n, budget - 1) if n > budget else 1
    idx = np.arange(stride - 1, n, stride)
    if n and (not len(idx) or idx[-1] != n - 1):
        idx = np.append(idx, n - 1)
    return idx, stride


def step_table(run: TrainingRun, budget: int = STEP_ROWS) -> pd.DataFrame:
    """One row per optimizer step (or per k-th step): step, fractional epoch, loss."""
    n = run.optimizer_steps
    idx, stride = _kept(n, budget)
    steps = idx + 1
    df = pd.DataFrame(
        {
            "step": steps,
            "epoch_frac": significant(run.plan.epoch_at(steps), 5),
            "loss": significant(run.train_loss_per_step[idx], 5),
        }
    )
    df.attrs.update(stride=stride, full_rows=n)
    return df


def epoch_table(run: TrainingRun, budget: int = EPOCH_ROWS) -> pd.DataFrame:
    """One row per epoch that ran a batch (thinned beyond `budget`): its step span and mean loss."""
    p = run.plan
    ok = np.flatnonzero(np.isfinite(run.train_loss_per_epoch))
    keep, stride = _kept(len(ok), budget)
    e = ok[keep]
    df = pd.DataFrame(
        {
            "epoch": e + 1,
            "from_step": p.epoch_start_global_steps[e],
            "to_step": p.epoch_end_global_steps[e],
            "from_epoch": e.astype(float),
            "to_epoch": (e + 1).astype(float),
            "loss": significant(run.train_loss_per_epoch[e], 5),
        }
    )
    df.attrs.update(stride=stride, full_rows=len(ok))
    return df


def eval_table(run: TrainingRun, budget: int = EVAL_ROWS) -> pd.DataFrame:
    """One row per evaluation (thinned beyond `budget`, best and last always kept)."""
    n = len(run.val_loss)
    keep, stride = _kept(n, budget)
    if run.best_eval_index is not None:
        keep = np.union1d(keep, [run.best_eval_index])
    steps = run.eval_global_steps[keep]
    df = pd.DataFrame(
        {
            "index": keep,
            "step": steps,
            "epoch_frac": significant(run.plan.epoch_at(steps), 5),
            "loss": significant(run.val_loss[keep], 5),
            "accuracy": significant(run.val_accuracy[keep], 4),
        }
    )
    df.attrs.update(stride=stride, full_rows=n)
    return df


# -- the run's loss chart ------------------------------------------------------------------
# Both charts are templates filled by named tables (see `epochsteps.charts`): a new run of the
# same shape sends the same spec with new data.


def _color_shape(kinds: list[str], legend: alt.Legend) -> tuple[alt.Color, alt.Shape]:
    scale_c = alt.Scale(domain=kinds, range=[SERIES[k][0] for k in kinds])
    scale_s = alt.Scale(domain=kinds, range=[SERIES[k][1] for k in kinds])
    return alt.Color("series:N", scale=scale_c, legend=legend), alt.Shape("series:N", scale=scale_s, legend=legend)


def _series(name: str) -> str:
    return json.dumps(name)  # a constant column, as a calculate expression


def loss_chart(run: TrainingRun, height: int = 260) -> alt.TopLevelMixin:
    """Loss per optimizer step with the epoch means over it, the validation loss at each
    evaluation, epoch boundaries, the early stop and the best checkpoint."""
    return ch.chart(loss_drawing(run, height))


def loss_drawing(run: TrainingRun, height: int = 260, budget: int = STEP_ROWS) -> ch.Drawing:
    desc = describe_run(run)
    if run.optimizer_steps == 0:
        return ch.empty_drawing("lab_loss", "No optimizer step was made in this run.", desc)
    plan = run.plan
    budget = min(budget, MAX_ROWS - EPOCH_ROWS - EVAL_ROWS - MARK_ROWS)  # more would take the chart's tables past MAX_ROWS
    steps, epochs, evals = step_table(run, budget), epoch_table(run), eval_table(run)
    kinds = ["training loss per step", "training loss, epoch mean"]
    if len(evals):
        kinds.append("validation loss")
    best, es = run.best_eval_index, run.early_stop
    special = []
    if best is not None:
        kinds.append("best checkpoint")
        special.append(evals[evals["index"] == best].assign(series="best checkpoint"))
    stop = pd.DataFrame({"step": [], "label": []})
    if es is not None and es.stopped:
        kinds.append("early stop")
        special.append(evals.iloc[[-1]].assign(series="early stop"))  # the evaluation the stop read
        stop = pd.DataFrame({"step": [es.stop_global_step], "label": [f"early stop at step {es.stop_global_step:,}"]})
    sub = [_rows_note(steps, "step"), ch.epoch_caption(plan)]
    # the loss axis's ends, given: Vega warns of an infinite extent for each table with no loss (no evaluations, the legend's)
    losses = np.concatenate([steps["loss"], epochs["loss"], evals["loss"]]).astype(float)
    losses = losses[np.isfinite(losses)]
    low, high = (float(losses.min()), float(losses.max())) if len(losses) else (0.0, 1.0)
    if run.downsized is not None:
        sub.insert(0, "A smaller copy of your setup (see the note below)")
    return ch.titled_drawing(
        "lab_loss",
        (height,),
        {
            **ch.epoch_tables(plan),
            "steps": steps,
            "epochs": epochs[["epoch", "from_step", "to_step", "loss"]],
            "evals": evals,
            "special": pd.concat(special, ignore_index=True) if special else evals.iloc[:0].assign(series=""),
            "stop": stop,
            # a hidden point per series keeps the merged colour-and-shape legend complete
            "legend": pd.DataFrame({"series": list(SERIES), "loss": np.nan, "step": np.nan}),
        },
        "See it train: the loss at every optimizer step",
        sub,
        desc,
        total=run.optimizer_steps,
        kinds="|".join(kinds),
        loss_low=low,
        loss_high=high,
    )


def _loss_template(height: int) -> alt.LayerChart:
    x = ch.steps_axis()
    ends = alt.ExprRef(expr=f"[{ch.meta('loss_low')}, {ch.meta('loss_high')}]")
    y = alt.Y("loss:Q", title="loss (log loss)", scale=alt.Scale(domain=ends, zero=False))
    color, shape = _color_shape(list(SERIES), ch.shown_legend())
    eval_tips = [
        alt.Tooltip("number:Q", title="evaluation", format=","),
        alt.Tooltip("step:Q", title="global step", format=","),
        alt.Tooltip("epoch_frac:Q", title="epoch (fractional)", format=",.3f"),
        alt.Tooltip("loss:Q", title="validation loss", format=".4f"),
        alt.Tooltip("accuracy:Q", title="validation accuracy", format=".1%"),
    ]
    layers = [
        *ch.epoch_template(),
        ch.named("steps")
        .transform_calculate(series=_series("training loss per step"))
        .mark_line(strokeWidth=1, opacity=0.6)
        .encode(
            x=x,
            y=y,
            color=color,
            tooltip=[
                alt.Tooltip("step:Q", title="optimizer step", format=","),
                alt.Tooltip("epoch_frac:Q", title="epoch (fractional)", format=",.3f"),
                alt.Tooltip("loss:Q", title="training loss", format=".4f"),
            ],
        ),
        ch.named("epochs")
        .transform_calculate(series=_series("training loss, epoch mean"))
        .mark_rule(strokeWidth=3)
        .encode(
            x=alt.X("from_step:Q"),
            x2="to_step:Q",
            y=y,
            color=color,
            tooltip=[
                alt.Tooltip("epoch:Q", format=","),
                alt.Tooltip("loss:Q", title="mean training loss", format=".4f"),
                alt.Tooltip("from_step:Q", title="after step", format=","),
                alt.Tooltip("to_step:Q", title="to step", format=","),
            ],
        ),
        ch.named("evals")
        .transform_calculate(number="datum.index + 1", series=_series("validation loss"))
        .mark_line(strokeWidth=2, point=alt.OverlayMarkDef(filled=True, size=28))
        .encode(x=x, y=y, color=color, tooltip=eval_tips),
        ch.named("stop")
        .mark_rule(color=SERIES["early stop"][0], strokeDash=[6, 3], strokeWidth=2)
        .encode(x=alt.X("step:Q"), tooltip=[alt.Tooltip("label:N", title="")]),
        ch.named("special")
        .transform_calculate(number="datum.index + 1")
        .mark_point(size=180, filled=True, opacity=1)
        .encode(x=x, y=y, color=color, shape=shape, tooltip=[alt.Tooltip("series:N", title="mark"), *eval_tips]),
        ch.named("legend").mark_point(opacity=0).encode(x=x, y=y, color=color, shape=shape),
        ch.meta_layer(),
    ]
    return alt.layer(*layers).properties(width="container", height=height, title=ch.title_slot())


def _rows_note(table: pd.DataFrame, unit: str) -> str:
    n = table.attrs["full_rows"]
    stride = table.attrs["stride"]
    if stride == 1:
        return f"{n:,} {unit}s, each one parameter update"
    return f"{n:,} {unit}s; every {ordinal(stride)} shown"


def describe_run(run: TrainingRun) -> str:
    """The loss chart's description, with the run's numbers."""
    p = run.plan
    s = run.setup
    parts = [
        f"Training lab ({s.framework}): {plural(run.optimizer_steps, 'optimizer step')} over {plural(round(p.epochs_run, 2), 'epoch')},"
        f" {s.dataset_size:,} samples at an effective batch of {p.effective_batch_size:,}"
    ]
    e = run.train_loss_per_epoch[np.isfinite(run.train_loss_per_epoch)]
    if len(e):
        parts.append(f"mean training loss {e[0]:.3f} in the first epoch and {e[-1]:.3f} in the last")
    if len(run.val_loss):
        parts.append(f"{plural(len(run.val_loss), 'evaluation')}, validation loss from {run.val_loss[0]:.3f} to {run.val_loss[-1]:.3f}")
        b = run.best_eval_index
        if b is not None:
            parts.append(
                f"best checkpoint at evaluation {b + 1:,} (step {int(run.eval_global_steps[b]):,}, loss {run.val_loss[b]:.3f})"
            )
    else:
        parts.append("no evaluation scheduled")
    es = run.early_stop
    if es is not None:
        parts.append(
            f"early stopping fired at step {es.stop_global_step:,} in epoch {es.stop_epoch:,}"
            if es.stopped
            else f"early stopping never fired (patience {s.patience})"
        )
    return "; ".join(parts) + "."


# -- two batch sizes -------------------------------------------------------------------------


def comparison_chart(
    small: TrainingRun, large: TrainingRun, width: int = 300, height: int = 200, columns: int = 2
) -> alt.TopLevelMixin:
    """The two runs side by side (`columns=1` stacks them), sharing the epoch axis and the loss
    scale: per-step loss and epoch means."""
    return ch.chart(comparison_drawing(small, large, width, height, columns))


def comparison_drawing(
    small: TrainingRun, large: TrainingRun, width: int = 300, height: int = 200, columns: int = 2, budget: int = COMPARE_STEP_ROWS
) -> ch.Drawing:
    tables, titles = {}, {}
    budget = min(budget, (MAX_ROWS - 1) // 2 - COMPARE_EPOCH_ROWS)  # two panels of steps and epoch means, one meta row
    for i, run in enumerate((small, large)):
        steps = step_table(run, budget)
        ep = epoch_table(run, COMPARE_EPOCH_ROWS).rename(columns={"from_epoch": "epoch_frac"})
        tables[f"steps_{i}"] = steps
        tables[f"epochs_{i}"] = ep[["epoch", "epoch_frac", "to_epoch", "loss"]]
        stride = steps.attrs["stride"]
        titles[f"panel_{i}"] = (
            f"batch {run.setup.batch_size:,}: {run.optimizer_steps:,} steps",
            f"spread of the step loss around its epoch mean: {step_noise(run):.3f}",
            *([] if stride == 1 else [f"every {ordinal(stride)} step shown"]),  # a line of its own: fits at 390 px
        )
    epochs = max(small.plan.epochs_started, large.plan.epochs_started, 1)
    return ch.make_drawing(
        "lab_compare", (width, height, columns), tables, titles, comparison_sentence(small, large), epochs=epochs
    )


def _compare_template(width: int, height: int, columns: int) -> alt.ConcatChart:
    x = alt.X(
        "epoch_frac:Q",
        title="epoch",
        scale=alt.Scale(domain=alt.ExprRef(expr=f"[0, {ch.meta('epochs')}]"), nice=False),
        axis=alt.Axis(tickMinStep=1, format=",~f"),
    )
    y = alt.Y("loss:Q", title="training loss", scale=alt.Scale(zero=False))
    kinds = ["training loss per step", "training loss, epoch mean"]
    color, _ = _color_shape(kinds, ch.full_legend())
    panels = []
    for i in range(2):
        line = (
            ch.named(f"steps_{i}")
            .transform_calculate(series=_series(kinds[0]))
            .mark_line(strokeWidth=1, opacity=0.7)
            .encode(
                x=x,
                y=y,
                color=color,
                tooltip=[
                    alt.Tooltip("step:Q", title="optimizer step", format=","),
                    alt.Tooltip("epoch_frac:Q", title="epoch", format=",.3f"),
                    alt.Tooltip("loss:Q", title="training loss", format=".4f"),
                ],
            )
        )
        means = (
            ch.named(f"epochs_{i}")
            .transform_calculate(series=_series(kinds[1]))
            .mark_rule(strokeWidth=3)
            .encode(
                x=x,
                x2="to_epoch:Q",
                y=y,
                color=color,
                tooltip=[alt.Tooltip("epoch:Q", format=","), alt.Tooltip("loss:Q", title="mean loss", format=".4f")],
            )
        )
        layers = [line, means] + ([ch.meta_layer()] if i == 0 else [])
        panels.append(alt.layer(*layers).properties(width=width, height=height, title=ch.title_slot(f"panel_{i}")))
    return alt.concat(*panels, columns=columns).resolve_scale(y="shared", color="shared")


ch.TEMPLATES.update(lab_loss=_loss_template, lab_compare=_compare_template)  # charts.template() finds them by kind


def comparison_sentence(small: TrainingRun, large: TrainingRun) -> str:
    """What the side-by-side shows, in the two runs' numbers."""
    bs, bl = small.setup.batch_size, large.setup.batch_size
    ns, nl = small.optimizer_steps, large.optimizer_steps
    epochs = small.plan.epochs_started
    same = epochs == large.plan.epochs_started
    ratio = ns / nl if nl else math.inf
    noise_s, noise_l = step_noise(small), step_noise(large)
    head = f"Over the same {epochs:,} epoch{'s' if epochs != 1 else ''}" if same else "Over their epochs"
    text = (
        f"{head}, batch {bs:,} made {ns:,} optimizer steps and batch {bl:,} made {nl:,}"
        + (f" ({_times(ratio)} fewer)" if nl and ratio > 1 else "")
        + f". Each step of the small batch averages the loss of only {small.plan.effective_batch_size:,} samples,"
        f" so its loss jumps around the epoch mean by {noise_s:.3f} (root mean square)"
        f" against {noise_l:.3f} with batch {bl:,}: more steps, noisier; fewer steps, smoother."
    )
    text += (
        f" After training, the validation loss is {small.final_val_loss:.3f} with batch {bs:,}"
        f" and {large.final_val_loss:.3f} with batch {bl:,}."
    )
    if small.downsized is not None or large.downsized is not None:
        text += " (The lab ran smaller copies of these setups to stay within its budget.)"
    return text


def _times(ratio: float) -> str:
    return f"{fmt(round(ratio, 0 if ratio >= 10 else 1))}x"
