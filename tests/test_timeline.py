"""Timeline tables: exact numbers cross-checked against the plan's per-epoch arrays and
an independent batch-by-batch replay; row budgets at ImageNet scale and at 10^9 x 10^4."""

import math

import numpy as np
import pytest

from epochsteps import Setup, illustrative_curve, make_plan
from epochsteps import timeline as tl

TEXTBOOK = Setup(dataset_size=10_000, batch_size=100, epochs=10)
IMAGENET = Setup(dataset_size=1_281_167, batch_size=256, epochs=90)
HUGE = Setup(dataset_size=10**9, batch_size=1, epochs=10**4)

SMALL = {
    "pytorch leftover window": Setup(dataset_size=1050, batch_size=100, epochs=3, grad_accum=3),
    "pytorch-flush": Setup(dataset_size=1050, batch_size=100, epochs=3, grad_accum=3, framework="pytorch-flush"),
    "pytorch max_steps cut": Setup(dataset_size=1050, batch_size=100, epochs=5, max_steps=23),
    "hf 2 devices": Setup(dataset_size=1050, batch_size=100, epochs=3, grad_accum=4, devices=2, framework="hf"),
    "hf fractional epochs": Setup(dataset_size=1050, batch_size=64, epochs=2.5, framework="hf"),
    "lightning padding": Setup(dataset_size=1001, batch_size=32, epochs=2, devices=3, framework="lightning"),
    "lightning drop_last": Setup(dataset_size=1001, batch_size=32, epochs=2, devices=3, drop_last=True, framework="lightning"),
    "keras windows across epochs": Setup(dataset_size=1050, batch_size=100, epochs=3, grad_accum=4, framework="keras"),
}


def replay(plan):
    """Batch by batch: (step, epoch, batch within epoch, samples so far, holds a partial last batch)."""
    s = plan.schedule
    a, b, w = s.grad_accum, s.batch_size, s.devices
    micro = []  # (epoch, index within epoch from 1, samples of this batch on all devices, is a partial last batch)
    for e in range(plan.epochs_started):
        n = int(plan.batches[e])
        for i in range(1, n + 1):
            size = int(plan.last_batch_sizes[e]) if i == n else b
            natural_last = i == n and n == plan.nominal_batches[e] and s.ends_pass[e]
            micro.append((e + 1, i, size * w, bool(natural_last and size < b)))
    rows, done, step = [], 0, 0
    if s.windows_cross_epochs:  # Keras: update g ends at micro-batch g * A
        for g in range(1, plan.total_optimizer_steps + 1):
            window = micro[(g - 1) * a : g * a]
            e, i, _, _ = micro[g * a - 1]
            samples = sum(m[2] for m in micro[: g * a])
            rows.append((g, e, i, samples, any(m[3] for m in window)))
        return rows
    for e in range(plan.epochs_started):
        epoch_micro = [m for m in micro if m[0] == e + 1]
        for j in range(1, int(plan.steps[e]) + 1):
            step += 1
            upto = min(len(epoch_micro), j * a)
            window = epoch_micro[(j - 1) * a : upto]
            samples = done + sum(m[2] for m in epoch_micro[:upto])
            rows.append((step, e + 1, upto, samples, any(m[3] for m in window)))
        done += int(plan.samples_per_epoch[e])
    return rows


@pytest.mark.parametrize("name", SMALL)
def test_step_table_matches_a_batch_by_batch_replay(name):
    plan = make_plan(SMALL[name])
    table = tl.step_table(plan)
    assert not table.attrs["aggregated"] and table.attrs["aggregation"] == "one row per step"
    expected = replay(plan)
    got = list(zip(table["step"], table["epoch"], table["batch"], table["samples"], table["partial"], strict=True))
    assert [tuple(int(v) for v in r[:4]) + (bool(r[4]),) for r in got] == expected
    np.testing.assert_allclose(table["epoch_frac"], plan.epoch_at(table["step"]), atol=1e-4)


@pytest.mark.parametrize("name", SMALL)
def test_step_table_agrees_with_the_per_epoch_arrays(name):
    plan = make_plan(SMALL[name])
    table = tl.step_table(plan)
    counts = np.bincount(table["epoch"], minlength=plan.epochs_started + 1)[1:]
    np.testing.assert_array_equal(counts, plan.steps)
    assert len(table) == plan.total_optimizer_steps


def test_partial_batch_is_held_by_no_step_when_the_leftover_window_never_steps():
    leftover = make_plan(SMALL["pytorch leftover window"])  # 11 batches, windows of 3: 2 leftover
    flush = make_plan(SMALL["pytorch-flush"])
    assert len(tl.partial_batch_steps(leftover)[1]) == 0
    epochs, steps = tl.partial_batch_steps(flush)
    np.testing.assert_array_equal(epochs, [1, 2, 3])
    np.testing.assert_array_equal(steps, flush.epoch_end_global_steps)


def test_textbook_has_one_row_per_step_and_no_partial_batch():
    plan = make_plan(TEXTBOOK)
    table = tl.step_table(plan)
    assert len(table) == 1000 and not table["partial"].any()
    ends = table.set_index("step").loc[plan.epoch_end_global_steps]
    np.testing.assert_array_equal(ends["samples"], np.cumsum(plan.samples_per_epoch))
    np.testing.assert_array_equal(ends["batch"], plan.batches)


def test_imagenet_step_table_is_bands_of_k_steps_that_never_cross_an_epoch():
    plan = make_plan(IMAGENET)
    table = tl.step_table(plan)
    assert table.attrs["aggregated"] and len(table) <= tl.ROW_BUDGET
    k = int(table["steps"].max())
    assert table.attrs["aggregation"] == f"one row per {k:,} steps"
    assert table["step_first"].iloc[0] == 1 and table["step_last"].iloc[-1] == plan.total_optimizer_steps
    np.testing.assert_array_equal(table["step_first"].iloc[1:].to_numpy(), table["step_last"].iloc[:-1].to_numpy() + 1)
    assert (table["epoch"] == table["epoch_last"]).all()
    per_epoch = table.groupby("epoch")["steps"].sum().to_numpy()
    np.testing.assert_array_equal(per_epoch, plan.steps)
    # 1,281,167 = 5,004 x 256 + 143: every epoch's last step holds the partial batch
    assert plan.last_batch_sizes[0] == 1_281_167 - 5_004 * 256
    np.testing.assert_array_equal(table.loc[table["partial"], "step_last"], plan.epoch_end_global_steps)
    last = table.groupby("epoch").tail(1)
    np.testing.assert_array_equal(last["samples"], np.cumsum(plan.samples_per_epoch))
    np.testing.assert_array_equal(last["batch_last"], plan.batches)


def test_huge_run_groups_epochs_and_covers_every_step():
    plan = make_plan(HUGE)
    table = tl.step_table(plan)
    assert len(table) <= tl.ROW_BUDGET
    assert table.attrs["aggregation"] == "one row per 5 epochs" and table.attrs["full_rows"] == 10**13
    assert int(table["steps"].sum()) == plan.total_optimizer_steps == 10**13
    np.testing.assert_array_equal(table["epoch"], np.arange(1, 10**4, 5))
    np.testing.assert_array_equal(table["samples"], np.cumsum(plan.samples_per_epoch)[4::5])


@pytest.mark.parametrize("budget", [10, 100, 5_000, 10**6])
def test_budget_is_clamped_and_respected(budget):
    plan = make_plan(IMAGENET)
    for table in (tl.step_table(plan, budget), tl.epoch_boundaries(plan, budget), tl.learning_rate(plan, budget)):
        assert len(table) <= min(max(budget, 10), tl.MAX_ROWS)


def test_epoch_boundaries_match_the_plan_and_thin_labels():
    plan = make_plan(IMAGENET)
    bounds = tl.epoch_boundaries(plan, max_labels=10)
    np.testing.assert_array_equal(bounds["step"], plan.epoch_end_global_steps)
    np.testing.assert_array_equal(bounds["step_start"], plan.epoch_start_global_steps)
    assert bounds["epoch"].iloc[2] == 3
    assert bounds.attrs["label_stride"] == 10
    assert list(bounds.loc[bounds["labelled"], "epoch"]) == list(range(10, 91, 10))


def test_epoch_boundaries_at_ten_thousand_epochs_are_thinned_and_keep_the_last():
    plan = make_plan(HUGE)
    bounds = tl.epoch_boundaries(plan)
    assert bounds.attrs["aggregated"] and len(bounds) <= tl.ROW_BUDGET
    assert bounds["epoch"].iloc[-1] == 10**4
    np.testing.assert_array_equal(bounds["step"], plan.epoch_end_global_steps[bounds["epoch"] - 1])
    assert bounds["labelled"].sum() <= 8


def test_nice_stride():
    assert [tl.nice_stride(n, 8) for n in (8, 9, 17, 90, 10**4)] == [1, 2, 5, 20, 2000]


def early_stop_setup(**kw):
    base = Setup(dataset_size=1050, batch_size=100, epochs=20, eval_every_steps=5, **kw)
    n = len(make_plan(base).evaluations)
    return base.replace(patience=3, metrics=illustrative_curve(n, overfit_at=0.4))


def test_evaluations_and_markers_come_from_the_plan():
    plan = make_plan(early_stop_setup())
    es = plan.early_stop
    assert es.stopped
    ev = tl.evaluation_points(plan)
    np.testing.assert_array_equal(ev["step"], plan.evaluations.global_step)
    np.testing.assert_array_equal(ev["epoch"], plan.evaluations.epoch + 1)
    np.testing.assert_array_equal(ev["metric"], plan.setup.metrics[: len(ev)])
    marks = tl.markers(plan).set_index("kind")
    assert marks.loc["stop", "step"] == es.stop_global_step == plan.total_optimizer_steps
    assert marks.loc["stop", "epoch"] == es.stop_epoch
    assert marks.loc["best", "step"] == plan.evaluations.global_step[es.best_eval_index]
    assert "max_steps" not in marks.index


def test_max_steps_marker_only_when_it_cuts():
    cut = make_plan(Setup(dataset_size=1050, batch_size=100, epochs=5, max_steps=23))
    marks = tl.markers(cut)
    assert list(marks["kind"]) == ["max_steps"] and marks["step"].iloc[0] == 23 == cut.total_optimizer_steps
    assert marks["epoch"].iloc[0] == 3  # 11 steps per epoch
    assert tl.markers(make_plan(Setup(dataset_size=1050, batch_size=100, epochs=2, max_steps=500))).empty


def test_evaluations_are_thinned_keeping_the_best_and_last():
    setup = Setup(dataset_size=100_000, batch_size=10, epochs=1, eval_every_steps=2)
    n = len(make_plan(setup).evaluations)
    values = list(illustrative_curve(n))
    values[1234] = -1.0  # the best, off the even grid
    plan = make_plan(setup.replace(patience=10**6, metrics=tuple(values)))
    ev = tl.evaluation_points(plan)
    assert ev.attrs["aggregated"] and len(ev) <= tl.ROW_BUDGET and ev.attrs["full_rows"] == n
    assert 1234 in set(ev["index"]) and ev["index"].iloc[-1] == n - 1
    assert ev.loc[ev["index"] == 1234, "metric"].iloc[0] == -1.0


def test_early_stopping_table():
    plan = make_plan(early_stop_setup())
    es = plan.early_stop
    table = tl.early_stopping(plan)
    values = np.array(plan.setup.metrics[: len(table)])
    np.testing.assert_array_equal(table["value"], values)
    np.testing.assert_array_equal(table["best_so_far"], np.minimum.accumulate(values))
    assert list(table.index[table["best"]]) == [es.best_eval_index]
    assert list(table.index[table["stop"]]) == [len(plan.evaluations) - 1]
    # min_delta 0: the patience window is the `patience` evaluations after the best
    assert list(table.index[table["patience"]]) == list(
        range(es.best_eval_index + 1, es.best_eval_index + 1 + plan.setup.patience)
    )


def test_early_stopping_mode_max_and_no_metrics():
    setup = early_stop_setup()
    plan = make_plan(setup.replace(mode="max", metrics=tuple(-v for v in setup.metrics)))
    table = tl.early_stopping(plan)
    np.testing.assert_array_equal(table["best_so_far"], np.maximum.accumulate(table["value"]))
    plain = tl.early_stopping(make_plan(Setup(dataset_size=1050, batch_size=100, epochs=2, framework="hf")))
    assert len(plain) == 2 and plain["value"].isna().all() and not plain["patience"].any()


def segments(table, kind):
    return table[table["kind"] == kind]


@pytest.mark.parametrize("name", SMALL)
def test_inside_epoch_adds_up_to_the_plan(name):
    plan = make_plan(SMALL[name])
    table = tl.inside_epoch(plan)
    consumed = table[table["kind"].isin(["full batch", "partial last batch"])]
    assert int(consumed["samples"].sum()) == plan.samples_per_epoch[0]
    assert int(segments(table, "dropped remainder")["samples"].sum()) == plan.dropped_per_epoch[0]
    assert int(segments(table, "padding duplicates")["samples"].sum()) == plan.duplicated_per_epoch[0]
    laid = table[table["kind"] != "padding duplicates"]
    np.testing.assert_array_equal(laid["start"].iloc[1:].to_numpy(), laid["end"].iloc[:-1].to_numpy())
    full = segments(table, "full batch")
    partial = segments(table, "partial last batch")
    assert int((full["batch_last"] - full["batch_first"] + 1).sum()) + len(partial) == plan.batches[0]
    if len(partial):
        assert partial["per_device"].iloc[0] == plan.last_batch_sizes[0] < plan.schedule.batch_size


def test_inside_epoch_drop_last_and_nothing_left():
    plan = make_plan(Setup(dataset_size=10_050, batch_size=100, epochs=1, drop_last=True))
    table = tl.inside_epoch(plan)
    assert len(segments(table, "full batch")) == 100
    dropped = segments(table, "dropped remainder")
    assert dropped["start"].iloc[0] == 10_000 and dropped["samples"].iloc[0] == 50
    nothing = tl.inside_epoch(make_plan(Setup(dataset_size=50, batch_size=100, epochs=1, drop_last=True)))
    assert list(nothing["kind"]) == ["dropped remainder"] and nothing["samples"].iloc[0] == 50


def test_inside_epoch_cut_by_max_steps_shows_what_was_not_run():
    plan = make_plan(Setup(dataset_size=1050, batch_size=100, epochs=5, max_steps=23))
    table = tl.inside_epoch(plan, epoch=3)
    assert table.attrs["epoch"] == 3
    not_run = segments(table, "not run")
    assert not_run["batch_first"].iloc[0] == plan.batches[2] + 1 == 2
    assert not_run["end"].iloc[0] == 1050


def test_inside_epoch_aggregates_large_datasets():
    for setup, runs in ((IMAGENET, 6), (HUGE, 10)):
        plan = make_plan(setup)
        table = tl.inside_epoch(plan)
        assert table.attrs["aggregated"] and len(table) <= runs + 1
        full = segments(table, "full batch")
        assert int((full["batch_last"] - full["batch_first"] + 1).sum()) == plan.batches[0] - (len(table) - len(full))
    assert segments(tl.inside_epoch(make_plan(IMAGENET)), "partial last batch")["per_device"].iloc[0] == 143


def test_batch_size_tradeoff_matches_make_plan():
    setup = Setup(dataset_size=50_000, batch_size=96, epochs=3, grad_accum=2, framework="hf")
    table = tl.batch_size_tradeoff(make_plan(setup))
    powers = [2**k for k in range(int(math.log2(50_000)) + 1)]
    assert list(table["batch_size"]) == sorted(powers + [96])
    assert list(table.loc[table["current"], "batch_size"]) == [96]
    for row in table.itertuples():
        other = make_plan(setup.replace(batch_size=row.batch_size))
        assert row.steps == other.total_optimizer_steps
        assert row.effective_batch == row.batch_size * 2


def test_a_batch_size_move_reuses_the_other_sizes_what_ifs():
    """The curve is the same for every batch size of one setup: a move of the batch size alone
    works out no what-if plan again (they are cached, bounded)."""
    setup = Setup(dataset_size=1_000_003, batch_size=96, epochs=7, grad_accum=3, framework="lightning")
    first = tl.batch_size_tradeoff(make_plan(setup))
    made = tl._what_if.cache_info().misses
    moved = tl.batch_size_tradeoff(make_plan(setup.replace(batch_size=128)))
    assert tl._what_if.cache_info().misses == made  # 128 is a power of 2: on the curve already
    assert tl._what_if.cache_info().maxsize is not None
    assert list(moved["steps"]) == list(first[first["batch_size"] != 96]["steps"])
    assert list(moved.loc[moved["current"], "batch_size"]) == [128]


def test_batch_size_tradeoff_ignores_early_stopping_and_skips_refusals():
    plan = make_plan(early_stop_setup())
    table = tl.batch_size_tradeoff(plan)
    current = table[table["current"]]
    assert current["steps"].iloc[0] == plan.planned_optimizer_steps > plan.total_optimizer_steps
    # HF refuses a loader with no batch (drop_last, batch > dataset) without max_steps
    hf = tl.batch_size_tradeoff(make_plan(Setup(dataset_size=1000, batch_size=10, epochs=1, drop_last=True, framework="hf")))
    assert hf["batch_size"].max() == 512


@pytest.mark.parametrize(
    "knobs",
    [
        # HF refuses load_best_model_at_end when the save and eval strategies differ: resetting the
        # evaluation alone used to make every other batch size a refusal (a one-point chart)
        dict(framework="hf", eval_strategy="steps", eval_every_steps=100, save_strategy="steps", save_steps=200, load_best_model_at_end=True),
        dict(framework="lightning", val_check_interval=40, monitor="val_loss", save_top_k=2, patience=2, metrics=(1.0, 0.9, 0.95, 0.97)),
        dict(framework="keras", save_freq="epoch", save_best_only=True, validation_freq=2, steps_per_epoch=50),
        dict(framework="pytorch", save_every_steps=30, eval_every_steps=20, lr_schedule="cosine", seconds_per_step=0.5),
    ],
)
def test_batch_size_tradeoff_keeps_what_counts_steps_and_nothing_else(knobs):
    setup = Setup(dataset_size=10_000, batch_size=32, epochs=3, grad_accum=2, **knobs)
    plan = make_plan(setup)
    table = tl.batch_size_tradeoff(plan)
    assert len(table) >= 13  # 1 .. 8,192 (and 32): no size refused for a knob that is not about batch size
    for row in table.itertuples():
        alone = Setup(**{k: getattr(setup, k) for k in tl.STEP_KNOBS}).replace(batch_size=row.batch_size)
        assert row.steps == make_plan(alone).planned_optimizer_steps
        if row.batch_size == 32:
            assert row.steps == plan.planned_optimizer_steps  # the knobs left out change no step count


def test_step_lr_is_torch_steplr():
    # framework-semantics.md 5: stepped per update, step_size=3, gamma=0.5
    np.testing.assert_allclose(tl.step_lr(1.0, 0.5, 3, np.arange(8)), [1, 1, 1, 0.5, 0.5, 0.5, 0.25, 0.25])


def test_learning_rate_samples_the_important_steps():
    setup = IMAGENET.replace(lr_schedule="cosine", warmup_steps=500, lr=0.1)
    plan = make_plan(setup)
    table = tl.learning_rate(plan)
    steps = set(table["step"])
    assert len(table) <= tl.ROW_BUDGET and table.attrs["aggregated"]
    assert tl.warmup_end_step(plan) == 501
    assert {1, 500, 501, plan.total_optimizer_steps} <= steps
    assert set(plan.epoch_end_global_steps) <= steps
    np.testing.assert_allclose(table["lr"], plan.lr_at(table["step"]), rtol=1e-5)
    assert table["lr"].max() == pytest.approx(0.1)
    # StepLR(step_size=30, gamma=0.1): per epoch, epochs 31..60 use 0.01; per batch, update 31 already does
    size = table.attrs["step_size"]
    assert size == 30
    epoch0 = np.searchsorted(plan.epoch_end_global_steps, table["step"]) // size
    np.testing.assert_allclose(table["per_epoch"], 0.1 * 0.1**epoch0, rtol=1e-5)
    np.testing.assert_allclose(table["per_batch"], tl.step_lr(0.1, 0.1, 30, table["step"] - 1), rtol=1e-5)
    assert {30, 31, 60, 61} <= steps  # the per-batch staircase's first drops are sampled
    first_of_epoch_31 = plan.epoch_start_global_steps[30] + 1
    assert first_of_epoch_31 in steps


def test_learning_rate_compare_only_for_pytorch_loops():
    hf = tl.learning_rate(make_plan(Setup(dataset_size=1000, batch_size=10, epochs=2, framework="hf", lr_schedule="linear")))
    assert "per_epoch" not in hf and len(hf) == 200
    plain = tl.learning_rate(make_plan(TEXTBOOK))
    assert plain["lr"].isna().all() and "per_batch" in plain


@pytest.mark.parametrize(
    "setup",
    [
        Setup(dataset_size=1000, batch_size=10, epochs=2, framework="hf", lr_schedule="linear", warmup_steps=0.1),
        Setup(
            dataset_size=1000, batch_size=10, epochs=2, framework="pytorch", lr_schedule="cosine", warmup_steps=7, grad_accum=2
        ),
        Setup(
            dataset_size=1000, batch_size=10, epochs=2, framework="lightning", lr_schedule="constant_with_warmup", warmup_steps=7
        ),
        Setup(dataset_size=1000, batch_size=10, epochs=2, framework="keras", lr_schedule="cosine", warmup_steps=30, grad_accum=4),
        Setup(dataset_size=1000, batch_size=10, epochs=2, framework="keras", lr_schedule="cosine", warmup_steps=31, grad_accum=4),
    ],
    ids=lambda s: f"{s.framework}-{s.warmup_steps:g}",
)
def test_warmup_end_is_the_first_step_at_the_peak(setup):
    plan = make_plan(setup)
    w = tl.warmup_end_step(plan)
    lr = plan.lr_at(np.arange(1, plan.total_optimizer_steps + 1))
    assert w == int(np.argmax(lr)) + 1
    assert lr[w - 2] < lr[w - 1]


def test_empty_plan_gives_empty_tables():
    plan = make_plan(Setup(dataset_size=10, batch_size=32, epochs=2, drop_last=True, framework="lightning"))
    assert plan.epochs_started == 0
    assert tl.step_table(plan).empty and tl.epoch_boundaries(plan).empty and tl.markers(plan).empty
    assert list(tl.inside_epoch(plan)["kind"]) == ["dropped remainder"]


def test_huge_tables_stay_small(benchmark):
    plan = make_plan(HUGE)

    def build():
        return [f(plan) for f in (tl.step_table, tl.epoch_boundaries, tl.inside_epoch, tl.learning_rate, tl.early_stopping)]

    tables = benchmark.pedantic(build, rounds=3, iterations=1)
    assert max(len(t) for t in tables) <= tl.ROW_BUDGET


def test_tradeoff_with_a_learning_rate_set():
    # the LR knobs are reset together: an lr without a schedule is refused by Setup
    from epochsteps import Setup, make_plan
    from epochsteps.timeline import batch_size_tradeoff

    p = make_plan(Setup(framework="hf", dataset_size=1000, batch_size=32, epochs=3, lr_schedule="linear", lr=0.1))
    table = batch_size_tradeoff(p)
    assert len(table) > 5 and table.loc[table["current"], "steps"].tolist() == [p.planned_optimizer_steps]


def test_clock_marks_round_moments_at_the_step_they_fall_in():
    # 360 steps of 10 s: an hour, marked every 10 minutes at steps 60, 120, ... 360
    plan = make_plan(Setup(dataset_size=1000, batch_size=100, epochs=36, seconds_per_step=10))
    clock = tl.clock_points(plan)
    assert clock.attrs["every"] == 600
    assert clock["label"].tolist() == ["10 min", "20 min", "30 min", "40 min", "50 min", "1 h"]
    assert np.allclose(clock["step"], [60, 120, 180, 240, 300, 360])


def test_clock_follows_short_batches_and_has_no_lane_without_a_throughput():
    # 1,000 samples in batches of 64: a short last batch (40) takes 40/64 of a step's time
    plan = make_plan(Setup(dataset_size=1000, batch_size=64, epochs=40, samples_per_second=100))
    clock = tl.clock_points(plan)
    assert 1 <= len(clock) <= 6 and (np.diff(clock["seconds"]) == clock.attrs["every"]).all()
    # the exact clock at the whole steps around each mark brackets its moment
    for step, seconds in zip(clock["step"], clock["seconds"], strict=True):
        lo, hi = plan.seconds_at_step([math.floor(step), math.ceil(step)])
        assert lo <= seconds <= hi
    assert len(tl.clock_points(make_plan(Setup(dataset_size=1000, batch_size=64, epochs=4)))) == 0
    # a run of years still gets a handful of marks
    long = make_plan(Setup(dataset_size=10**9, batch_size=1, epochs=100, seconds_per_step=1))
    assert 1 <= len(tl.clock_points(long)) <= 6
