"""Tidy tables the charts draw, each bounded by a row budget.

Every table is a pandas DataFrame with `attrs`:
- `aggregated` (bool): rows stand for more than one thing (steps, epochs, batches);
- `aggregation` (str): what one row is, e.g. "one row per step", "one row per 37 steps";
- `full_rows` (int): how many rows the table would have unaggregated.

Nothing here is O(total steps): the plan is per epoch, and per-step numbers are
computed only for the (at most `budget`) steps a table keeps, so a run of 10^9
samples x 10^4 epochs costs a few milliseconds.
"""

from __future__ import annotations

import math
from functools import lru_cache

import numpy as np
import pandas as pd

from .conventions import CONVENTIONS
from .conventions.base import Events
from .plan import Plan, make_plan
from .schedules import base_lr
from .setup import MAX_BATCH_SIZE, Setup, SetupError
from .text import duration

ROW_BUDGET = 2_000  # rows of a table when the caller names no budget
MAX_ROWS = 5_000  # no chart sends more rows than this (Altair raises MaxRowsError beyond); the page and lab_charts use it too


def _budget(budget: int | None) -> int:
    """Clamp a requested budget to [10, MAX_ROWS]."""
    return ROW_BUDGET if budget is None else max(10, min(int(budget), MAX_ROWS))


def _table(columns: dict, how: str, aggregated: bool, full_rows: int) -> pd.DataFrame:
    df = pd.DataFrame(columns)
    df.attrs.update(aggregated=bool(aggregated), aggregation=how, full_rows=int(full_rows))
    return df


def significant(values, digits: int = 6) -> np.ndarray:
    """Round to `digits` significant digits (keeps JSON specs short)."""
    return np.array([float(f"{v:.{digits}g}") for v in np.asarray(values, dtype=np.float64)])


def _per(count: int, unit: str, plural: str) -> str:
    return f"one row per {unit}" if count == 1 else f"one row per {count:,} {plural}"


def nice_stride(count: int, target: int) -> int:
    """Smallest of 1, 2, 5, 10, 20, 50, ... that keeps count / stride <= target."""
    stride = 1
    while count / stride > max(1, target):
        stride = _next_nice(stride)
    return stride


def _next_nice(stride: int) -> int:
    mantissa = stride // 10 ** int(math.log10(stride))
    return stride * 5 // 2 if mantissa == 2 else stride * 2


# -- per step, on demand ---------------------------------------------------------------


def _micro_starts(plan: Plan) -> np.ndarray:
    """Batches (per device) run before each epoch."""
    return np.concatenate(([0], np.cumsum(plan.batches)))[:-1].astype(np.int64)


def _samples_before(plan: Plan) -> np.ndarray:
    """Samples run (all devices) before each epoch."""
    return np.concatenate(([0], np.cumsum(plan.samples_per_epoch)))[:-1].astype(np.int64)


def _short(plan: Plan) -> np.ndarray:
    """How many samples per device each epoch's last batch lacks (0 when it is full)."""
    return np.where(plan.last_batch_sizes >= 0, plan.schedule.batch_size - plan.last_batch_sizes, 0)


def at_steps(plan: Plan, steps) -> dict[str, np.ndarray]:
    """For optimizer steps g (1-based), the 1-based epoch, the batch within that epoch
    reached when the step is taken, the samples run so far (all devices) and the
    fractional epoch. Vectorised and O(len(steps))."""
    g = np.asarray(steps, dtype=np.int64)
    sched = plan.schedule
    if not plan.epochs_started or not len(g):
        z = np.zeros(g.shape, dtype=np.int64)
        return {"epoch": z + 1, "batch": z, "samples": z, "epoch_frac": np.zeros(g.shape)}
    a = sched.grad_accum
    if sched.windows_cross_epochs:
        # Keras: update g ends at micro-batch g * A, wherever the epoch boundary is
        micro_end = np.cumsum(plan.batches)
        e = np.minimum(np.searchsorted(micro_end, g * a, side="left"), plan.epochs_started - 1)
        batch = g * a - _micro_starts(plan)[e]
    else:
        e = np.minimum(np.searchsorted(plan.epoch_end_global_steps, g, side="left"), plan.epochs_started - 1)
        batch = np.minimum(plan.batches[e], (g - plan.epoch_start_global_steps[e]) * a)
    batch = np.clip(batch, 0, plan.batches[e])
    within = batch * sched.batch_size - np.where(batch == plan.batches[e], _short(plan)[e], 0)
    samples = _samples_before(plan)[e] + within * sched.devices
    return {"epoch": e + 1, "batch": batch, "samples": samples, "epoch_frac": plan.epoch_at(g)}


def partial_batch_steps(plan: Plan) -> tuple[np.ndarray, np.ndarray]:
    """(1-based epochs, global steps): the optimizer step whose window holds each epoch's
    partial last batch. A window that never steps (a hand-written loop's leftover
    batches under accumulation) holds it in no step, so that epoch is left out."""
    sched = plan.schedule
    if not plan.epochs_started:
        z = np.zeros(0, dtype=np.int64)
        return z, z
    lbs = plan.last_batch_sizes
    partial = plan.completed & sched.ends_pass[: plan.epochs_started] & (lbs >= 0) & (lbs < sched.batch_size)
    a = sched.grad_accum
    if sched.windows_cross_epochs:
        step = -(-np.cumsum(plan.batches) // a)
        ok = partial & (step <= plan.total_optimizer_steps)
    else:
        step = plan.epoch_start_global_steps + -(-plan.batches // a)
        ok = partial & (step <= plan.epoch_end_global_steps)
    epochs = np.nonzero(ok)[0]
    return epochs + 1, step[ok].astype(np.int64)


# -- the step timeline ---------------------------------------------------------------


def step_table(plan: Plan, budget: int | None = None) -> pd.DataFrame:
    """One row per optimizer step while the run fits the budget; beyond it, bands of
    k steps that never cross an epoch end, or (many epochs) bands of whole epochs.

    Per step: step, epoch, epoch_frac, batch, samples, partial.
    Bands: step_first, step_last, steps, epoch, epoch_last, epoch_frac (at step_last),
    batch_first, batch_last, samples (at step_last), partial (any step in the band).
    """
    budget = _budget(budget)
    total = plan.total_optimizer_steps
    _, partial_steps = partial_batch_steps(plan)
    if total <= budget:
        g = np.arange(1, total + 1, dtype=np.int64)
        at = at_steps(plan, g)
        cols = {
            "step": g,
            "epoch": at["epoch"],
            "epoch_frac": np.round(at["epoch_frac"], 4),
            "batch": at["batch"],
            "samples": at["samples"],
            "partial": np.isin(g, partial_steps),
        }
        return _table(cols, "one row per step", False, total)
    steps, starts = plan.steps, plan.epoch_start_global_steps
    n_epochs = plan.epochs_started
    k = math.ceil(total / max(1, budget - n_epochs)) if n_epochs <= budget // 2 else None
    if k is not None and k < int(steps.max()):
        chunks = -(-steps // k)
        e = np.repeat(np.arange(n_epochs), chunks)
        j = np.arange(len(e)) - np.repeat(np.cumsum(chunks) - chunks, chunks)
        first = starts[e] + j * k + 1
        last = np.minimum(starts[e] + (j + 1) * k, plan.epoch_end_global_steps[e])
        epoch_last = e + 1
        how = _per(k, "step", "steps")
    else:
        per = 1 if n_epochs <= budget else math.ceil(n_epochs / budget)
        lo = np.arange(0, n_epochs, per)
        hi = np.minimum(lo + per, n_epochs) - 1
        first = starts[lo] + 1
        last = plan.epoch_end_global_steps[hi]
        keep = last >= first  # epochs without a step have nothing to draw
        first, last, lo, hi = first[keep], last[keep], lo[keep], hi[keep]
        e, epoch_last = lo, hi + 1
        how = _per(per, "epoch", "epochs")
    at_first, at_last = at_steps(plan, first), at_steps(plan, last)
    held = np.searchsorted(partial_steps, last, side="right") - np.searchsorted(partial_steps, first, side="left")
    cols = {
        "step_first": first,
        "step_last": last,
        "steps": last - first + 1,
        "epoch": at_first["epoch"],
        "epoch_last": np.maximum(epoch_last, at_last["epoch"]),
        "epoch_frac": np.round(at_last["epoch_frac"], 4),
        "batch_first": at_first["batch"],
        "batch_last": at_last["batch"],
        "samples": at_last["samples"],
        "partial": held > 0,
    }
    return _table(cols, how, True, total)


def epoch_boundaries(plan: Plan, budget: int | None = None, max_labels: int = 8) -> pd.DataFrame:
    """One row per epoch that started (every k-th beyond the budget, the last kept):
    epoch (1-based), step_start, step (global step at its end), samples (so far at its
    end), completed and labelled (a thinned set for the chart to write the number of)."""
    budget = _budget(budget)
    n = plan.epochs_started
    every = max(1, math.ceil(n / budget))
    idx = np.arange(every - 1, n, every)
    if n and (not len(idx) or idx[-1] != n - 1):
        idx = np.append(idx, n - 1)
    epoch = idx + 1
    stride = nice_stride(n, max_labels) if n else 1
    stride = max(stride, every)
    labelled = (epoch % stride == 0) | (n <= max_labels)
    cols = {
        "epoch": epoch,
        "step_start": plan.epoch_start_global_steps[idx],
        "step": plan.epoch_end_global_steps[idx],
        "samples": np.cumsum(plan.samples_per_epoch)[idx] if n else np.zeros(0, dtype=np.int64),
        "completed": plan.completed[idx],
        "labelled": labelled,
    }
    how = "one row per epoch" if every == 1 else f"one row per {every:,} epochs"
    df = _table(cols, how, every > 1, n)
    df.attrs["label_stride"] = int(stride)
    return df


def _thin(n: int, budget: int, keep=()) -> np.ndarray:
    """Indices 0..n-1, evenly thinned to about `budget`, always keeping first, last and `keep`."""
    if n <= budget:
        return np.arange(n)
    extra = np.array([k for k in keep if k is not None and 0 <= k < n], dtype=np.int64)
    base = np.round(np.linspace(0, n - 1, max(2, budget - len(extra)))).astype(np.int64)
    return np.unique(np.concatenate([base, extra]))


def _eval_epoch_frac(plan: Plan, ev: Events) -> np.ndarray:
    if not len(ev):
        return np.zeros(0)
    nominal = np.maximum(plan.nominal_batches[ev.epoch], 1)
    return ev.epoch + ev.batches_done / nominal


def metric_values(plan: Plan) -> np.ndarray:
    """The metric of each evaluation of the plan (NaN where none was given)."""
    n = len(plan.evaluations)
    values = np.full(n, np.nan)
    given = np.asarray(plan.setup.metrics, dtype=np.float64)[:n]
    values[: len(given)] = given
    return values


def evaluation_points(plan: Plan, budget: int | None = None) -> pd.DataFrame:
    """One row per evaluation (thinned beyond the budget, best and last kept):
    index (from 0), step (global step), epoch (1-based), epoch_frac, metric (NaN if none)."""
    budget = _budget(budget)
    ev = plan.evaluations
    best = plan.early_stop.best_eval_index if plan.early_stop else None
    idx = _thin(len(ev), budget, keep=(best,))
    sub = ev.take(idx)
    cols = {
        "index": idx,
        "step": sub.global_step,
        "epoch": sub.epoch + 1,
        "epoch_frac": np.round(_eval_epoch_frac(plan, sub), 4),
        "metric": metric_values(plan)[idx],
    }
    thinned = len(idx) < len(ev)
    return _table(
        cols,
        f"{len(idx):,} of {len(ev):,} evaluations, evenly spaced" if thinned else "one row per evaluation",
        thinned,
        len(ev),
    )


def moment_points(plan: Plan, marks, budget: int | None = None) -> pd.DataFrame:
    """Checkpoint or log moments (`plan.checkpoints`, `plan.logs`) as step and epoch_frac, thinned
    evenly beyond the budget (first and last kept)."""
    idx = _thin(len(marks.global_step), _budget(budget))
    nominal = np.maximum(plan.schedule.nominal_batches[marks.epoch[idx]], 1) if len(idx) else np.zeros(0)
    cols = {"step": marks.global_step[idx], "epoch_frac": np.round(marks.epoch[idx] + marks.batches_done[idx] / nominal, 4)}
    thinned = len(idx) < marks.count
    return _table(cols, f"{len(idx):,} of {marks.count:,} moments" if thinned else "one row per moment", thinned, marks.count)


# Round wall-clock intervals, in seconds, for the timeline's clock lane
CLOCK_INTERVALS = (1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 10800, 21600, 43200,
                   86400, 2 * 86400, 7 * 86400, 14 * 86400, 28 * 86400)  # fmt: skip


def clock_points(plan: Plan, max_marks: int = 6, grid: int = 2_000) -> pd.DataFrame:
    """Where the run's wall clock reads each round interval (the largest count of them at most
    `max_marks`): the moment, its label and the optimizer step it falls at (fractional: a
    moment falls inside a step). Empty without a throughput or a step. The step is read off
    the exact clock at `grid` + 1 evenly spread steps, so it is within total / grid of exact."""
    total = plan.total_optimizer_steps
    if not plan.setup.timed or total == 0:
        return _table({"step": np.zeros(0), "seconds": np.zeros(0), "label": []}, "no clock", False, 0)
    steps = np.unique(np.linspace(0, total, min(total, grid) + 1).round().astype(np.int64))
    seconds = plan.seconds_at_step(steps)
    end = float(seconds[-1])
    every = next((i for i in CLOCK_INTERVALS if end / i <= max_marks), None)
    if every is None:  # months and more: whole multiples of four weeks
        every = CLOCK_INTERVALS[-1] * math.ceil(end / CLOCK_INTERVALS[-1] / max_marks)
    moments = every * np.arange(1, int(end // every) + 1, dtype=np.float64)
    table = _table(
        {"step": np.interp(moments, seconds, steps), "seconds": moments, "label": [duration(m) for m in moments]},
        "one row per round moment",
        False,
        len(moments),
    )
    table.attrs["every"] = every
    return table


def markers(plan: Plan) -> pd.DataFrame:
    """Special points on the step axis: the best checkpoint ("best"), where early
    stopping ended the run ("stop") and the max_steps cut ("max_steps"), each with
    step, epoch (1-based), epoch_frac and a short label."""
    rows = []
    es = plan.early_stop
    if es is not None and es.best_eval_index is not None and es.best_eval_index < len(plan.evaluations):
        i = es.best_eval_index
        step = int(plan.evaluations.global_step[i])
        rows.append(("best", step, int(plan.evaluations.epoch[i]) + 1, f"best checkpoint (evaluation {i + 1:,})"))
    if es is not None and es.stopped:
        rows.append(("stop", es.stop_global_step, es.stop_epoch, f"early stop at step {es.stop_global_step:,}"))
    cap = plan.setup.max_steps
    if cap is not None and cap <= plan.planned_optimizer_steps and cap <= plan.total_optimizer_steps:
        epoch = int(at_steps(plan, [cap])["epoch"][0])
        rows.append(("max_steps", cap, epoch, f"max_steps {cap:,}"))
    kinds, steps, epochs, labels = (list(c) for c in zip(*rows, strict=True)) if rows else ([], [], [], [])
    cols = {
        "kind": kinds,
        "step": np.asarray(steps, dtype=np.int64),
        "epoch": np.asarray(epochs, dtype=np.int64),
        "epoch_frac": np.round(plan.epoch_at(np.asarray(steps, dtype=np.int64)), 4) if rows else np.zeros(0),
        "label": labels,
    }
    return _table(cols, "one row per marker", False, len(rows))


# -- inside one epoch --------------------------------------------------------------------

SEGMENT_KINDS = ("full batch", "partial last batch", "dropped remainder", "not run", "padding duplicates")


def inside_epoch(plan: Plan, epoch: int = 1, budget: int | None = None, runs: int = 10) -> pd.DataFrame:
    """The samples of one epoch (1-based) as a strip, all devices together: one round
    is one batch on each device. Columns: kind, batch_first, batch_last (1-based), start,
    end (sample positions; padding duplicates are appended after the dataset), per_device
    (samples per device in each batch of the segment), samples (end - start).

    Up to `budget` batches each get a row; beyond that, full batches are grouped into
    about `runs` runs of a round number of batches, so the table stays tiny at any N.
    """
    budget = _budget(budget)
    sched = plan.schedule
    n, b, w = sched.dataset_size, sched.batch_size, sched.devices
    if not plan.epochs_started:
        cols = {
            "kind": ["dropped remainder"],
            "batch_first": [0],
            "batch_last": [0],
            "start": [0],
            "end": [n],
            "per_device": [0],
            "samples": [n],
        }
        return _table(cols, "one row per segment", False, 1)
    e = min(max(1, int(epoch)), plan.epochs_started) - 1
    ran = int(plan.batches[e])
    last = int(plan.last_batch_sizes[e])
    seen = int(plan.samples_per_epoch[e])
    dup = int(plan.duplicated_per_epoch[e])
    dropped = int(plan.dropped_per_epoch[e])
    n_full = ran - 1 if ran and last < b else ran
    rows: list[tuple] = []
    if n_full <= budget:
        how, per_run = "one row per batch", 1
    else:
        per_run = nice_stride(n_full, runs)
        how = f"one row per {per_run:,} batches"
    firsts = np.arange(0, n_full, per_run)
    for f in firsts:
        lo, hi = int(f), min(int(f) + per_run, n_full)
        rows.append(("full batch", lo + 1, hi, lo * b * w, hi * b * w, b))
    if n_full < ran:
        rows.append(("partial last batch", ran, ran, n_full * b * w, seen, last))
    end = seen
    if dropped:
        rows.append(("dropped remainder", 0, 0, end, end + dropped, 0))
        end += dropped
    unreached = n - (seen - dup) - dropped
    if unreached > 0 and ran == plan.nominal_batches[e] and sched.drops_remainder:
        # a loader with no batch at all: the whole dataset is the remainder
        rows.append(("dropped remainder", 0, 0, end, end + unreached, 0))
    elif unreached > 0:
        rows.append(("not run", ran + 1, int(plan.nominal_batches[e]), end, end + unreached, b))
    if dup:
        rows.append(("padding duplicates", 0, 0, seen - dup, seen, 0))
    kinds, bf, bl, start, stop, per_dev = (list(c) for c in zip(*rows, strict=True)) if rows else ([],) * 6
    start_a, stop_a = np.asarray(start, dtype=np.int64), np.asarray(stop, dtype=np.int64)
    cols = {
        "kind": kinds,
        "batch_first": np.asarray(bf, dtype=np.int64),
        "batch_last": np.asarray(bl, dtype=np.int64),
        "start": start_a,
        "end": stop_a,
        "per_device": np.asarray(per_dev, dtype=np.int64),
        "samples": stop_a - start_a,
    }
    df = _table(cols, how, per_run > 1, ran + 3)
    df.attrs["epoch"] = e + 1
    return df


# -- batch-size trade-off ------------------------------------------------------------------


def batch_sizes(dataset_size: int, current: int) -> list[int]:
    """Powers of 2 from 1 to the dataset size (and the framework's limit), plus the current one."""
    top = min(dataset_size, MAX_BATCH_SIZE)
    sizes = {2**i for i in range(int(math.log2(top)) + 1)} | {int(current)}
    return sorted(sizes)


# the Setup fields a run's planned steps depend on (the rest shape evaluation, stopping, saving, LR and time)
STEP_KNOBS = ("dataset_size", "batch_size", "epochs", "framework", "max_steps", "grad_accum", "devices",
              "drop_last", "steps_per_epoch", "tokens", "limit_train_batches")  # fmt: skip


def batch_size_tradeoff(plan: Plan) -> pd.DataFrame:
    """Planned optimizer steps (before early stopping) for each batch size, with the knobs
    the planned steps depend on as in the plan's setup; sizes the framework refuses are
    skipped. Every other knob (evaluation, early stopping, LR, checkpoints, logs, time) is
    left at its default and checkpoints and logs are not worked out, clear of refusals that
    have nothing to do with batch size.
    Columns: batch_size, steps, steps_per_epoch, batches_per_epoch, effective_batch,
    samples_dropped (per run), current."""
    setup = plan.setup
    knobs = tuple((name, getattr(setup, name)) for name in STEP_KNOBS if name != "batch_size")
    rows = []
    for size in batch_sizes(setup.dataset_size, setup.batch_size):
        row = _counts(plan) if size == setup.batch_size and plan.early_stop is None else _what_if(knobs, size)
        if row is not None:
            rows.append((size, *row, size == setup.batch_size))
    names = ("batch_size", "steps", "steps_per_epoch", "batches_per_epoch", "effective_batch", "samples_dropped", "current")
    cols = {name: [r[i] for r in rows] for i, name in enumerate(names)}
    return _table(cols, "one row per batch size", False, len(rows))


def _counts(p: Plan) -> tuple[int, ...]:
    per_epoch = int(p.schedule.steps[0]) if len(p.schedule.steps) else 0
    return p.planned_optimizer_steps, per_epoch, p.batches_per_epoch_full, p.effective_batch_size, p.samples_dropped


@lru_cache(maxsize=1024)  # a move of the batch size alone asks again for every other size's what-if
def _what_if(knobs: tuple[tuple[str, object], ...], batch_size: int) -> tuple[int, ...] | None:
    """The counts (`_counts`) of a setup with these STEP_KNOBS and this batch size, every other
    knob at its default; None where the framework refuses it. The Setup is made only when
    not cached (making one checks every field)."""
    try:
        return _counts(make_plan(Setup(**dict(knobs), batch_size=batch_size), saving=False))
    except SetupError:
        return None


# -- learning rate ---------------------------------------------------------------------------


def step_lr(base: float, gamma: float, step_size: int, calls) -> np.ndarray:
    """`torch.optim.lr_scheduler.StepLR` in closed form: after `calls` calls of
    `scheduler.step()`, lr = base * gamma ** floor(calls / step_size)
    (torch/optim/lr_scheduler.py, `StepLR._get_closed_form_lr`). `step_size` counts
    scheduler calls, whatever the loop calls it after: epochs or optimizer steps."""
    calls = np.asarray(calls, dtype=np.int64)
    return base * np.power(float(gamma), (calls // int(step_size)).astype(np.float64))


def warmup_end_step(plan: Plan) -> int:
    """The first optimizer step that uses the full rate after warmup (0 without warmup).

    The convention says how many optimizer steps run below the full rate (a per-step
    LambdaLR gives update k the multiplier of k - 1 completed steps; Keras counts warmup in
    micro-batches), so the full rate starts at the next one."""
    s = plan.setup
    if not s.warmup_steps or s.lr_schedule in (None, "constant"):
        return 0
    return CONVENTIONS[s.framework].warmup_updates(s, plan.schedule) + 1


def sample_steps(plan: Plan, budget: int | None = None, extra=()) -> np.ndarray:
    """At most `budget` optimizer steps from 1 to the last, always holding step 1, the
    last step, the end of warmup, epoch ends (thinned when there are very many) and
    `extra`; the rest evenly spaced."""
    budget = _budget(budget)
    total = plan.total_optimizer_steps
    if total <= budget:
        return np.arange(1, total + 1, dtype=np.int64)
    w = warmup_end_step(plan)
    ends = plan.epoch_end_global_steps
    ends = ends[_thin(len(ends), budget // 4)]
    extra = np.asarray(extra, dtype=np.int64)[: budget // 4]
    must = np.concatenate(([1, total, w - 1, w], ends, ends + 1, extra))
    must = np.unique(must[(must >= 1) & (must <= total)])
    room = max(2, budget - len(must))
    even = np.round(np.linspace(1, total, room)).astype(np.int64)
    out = np.unique(np.concatenate([must, even]))
    if len(out) > budget:  # drop evenly spaced ones that are not required
        spare = np.setdiff1d(out, must)
        out = np.unique(np.concatenate([must, spare[_thin(len(spare), max(0, budget - len(must)))]]))
    return out[:budget] if len(out) > budget else out


def default_step_size(plan: Plan) -> int:
    """StepLR step_size for the comparison: a third of the epochs (torchvision's ImageNet
    recipe: 90 epochs, step_size 30), at least 1."""
    return max(1, plan.epochs_started // 3)


def learning_rate(
    plan: Plan, budget: int | None = None, gamma: float = 0.1, step_size: int | None = None, compare: bool | None = None
) -> pd.DataFrame:
    """Sampled learning rate per optimizer step: step, epoch_frac, lr (the setup's
    schedule via plan.lr_at; NaN without one) and, for the PyTorch loops (or when
    `compare`), `per_epoch` / `per_batch`: StepLR stepped once per epoch, as intended,
    versus once per optimizer step (the classic bug). Sampled steps include every step
    where either StepLR line changes, while that stays within the budget."""
    budget = _budget(budget)
    if compare is None:  # the StepLR lesson is about a loop the user writes
        compare = CONVENTIONS[plan.setup.framework].writes_the_loop
    size = step_size or default_step_size(plan)
    extra = np.zeros(0, dtype=np.int64)
    if compare and plan.epochs_started:
        # per batch: update k uses k - 1 calls, so it changes at k = j * size + 1
        visible = max(1, int(math.ceil(math.log(1e-4) / math.log(gamma)))) if 0 < gamma < 1 else 1
        j = np.arange(1, min(visible, budget // 8) + 1)
        per_batch_changes = np.concatenate((j * size, j * size + 1))
        # per epoch: changes at the first update of epochs size, 2 * size, ...
        epochs = np.arange(size, plan.epochs_started, size)
        per_epoch_changes = plan.epoch_start_global_steps[epochs[: budget // 8]]
        extra = np.concatenate((per_batch_changes, per_epoch_changes, per_epoch_changes + 1))
    g = sample_steps(plan, budget, extra)
    cols = {"step": g, "epoch_frac": np.round(plan.epoch_at(g), 4)}
    cols["lr"] = significant(plan.lr_at(g)) if plan.setup.lr_schedule is not None else np.full(len(g), np.nan)
    if compare:
        base = base_lr(plan.setup)
        e0 = at_steps(plan, g)["epoch"] - 1
        cols["per_epoch"] = significant(step_lr(base, gamma, size, e0))
        cols["per_batch"] = significant(step_lr(base, gamma, size, g - 1))
    total = plan.total_optimizer_steps
    df = _table(cols, "one row per step" if len(g) == total else f"{len(g):,} sampled steps of {total:,}", len(g) < total, total)
    df.attrs.update(step_size=size, gamma=gamma, warmup_end=warmup_end_step(plan), base_lr=base_lr(plan.setup))
    return df


# -- early stopping --------------------------------------------------------------------------


def early_stopping(plan: Plan, budget: int | None = None) -> pd.DataFrame:
    """The metric at each evaluation: index, step, epoch (1-based), epoch_frac, value,
    best_so_far (running best for the mode), best (the framework's best checkpoint),
    patience (counts toward patience: after the best, up to the stop), stop (the
    evaluation after which the run stopped). Thinned beyond the budget (best, stop and
    the ends kept)."""
    budget = _budget(budget)
    ev = plan.evaluations
    n = len(ev)
    values = metric_values(plan)
    running = np.fmax.accumulate(values) if plan.setup.mode == "max" else np.fmin.accumulate(values)
    es = plan.early_stop
    best = es.best_eval_index if es is not None else None
    stop = n - 1 if es is not None and es.stopped and n else None
    if es is not None and es.metrics_ran_out_at is not None:
        counted_to = es.metrics_ran_out_at - 1
    else:
        counted_to = stop if stop is not None else n - 1
    index = np.arange(n)
    patience = (index > best) & (index <= counted_to) if best is not None else np.zeros(n, dtype=bool)
    idx = _thin(n, budget, keep=(best, stop))
    sub = ev.take(idx)
    cols = {
        "index": idx,
        "step": sub.global_step,
        "epoch": sub.epoch + 1,
        "epoch_frac": np.round(_eval_epoch_frac(plan, sub), 4),
        "value": values[idx],
        "best_so_far": running[idx],
        "best": idx == (-1 if best is None else best),
        "patience": patience[idx],
        "stop": idx == (-1 if stop is None else stop),
    }
    thinned = len(idx) < n
    df = _table(cols, f"{len(idx):,} of {n:,} evaluations" if thinned else "one row per evaluation", thinned, n)
    df.attrs.update(patience=plan.setup.patience, best_index=best, stop_index=stop)
    return df
