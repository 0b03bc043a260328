"""The training lab: it makes exactly the planned updates, averages windows as each framework
does, stops where the core's early-stopping rules say on its own validation losses, keeps to
its budget, and is deterministic.

The reference trainer below is written independently of `epochsteps.training`: plain Python
loops over micro-batches in float64, in the shape of each framework's own loop
(framework-semantics.md: `(i + 1) % A` loops, HF `Trainer._run_epoch` dividing by the real
window size, Lightning's `ClosureResult` dividing by A, Keras' `_backend_apply_gradients`
averaging A gradients on a global counter, DistributedSampler padding).
"""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from epochsteps import Setup, SetupError, make_plan
from epochsteps.cli import main
from epochsteps.schedules import base_lr
from epochsteps.training import (
    LAB_LR,
    MAX_EPOCHS,
    MAX_OPTIMIZER_STEPS,
    MAX_TRAIN_SAMPLES,
    MAX_WORK,
    VAL_SIZE,
    batch_pair,
    compare_batch_sizes,
    fit_to_budget,
    make_task,
    run_cost,
    shuffle_rng,
    step_noise,
    train,
)

FRAMEWORKS = ("pytorch", "pytorch-flush", "hf", "lightning", "keras")


# -- an independent reference trainer ---------------------------------------------------


def _loss_and_grad(theta, x, ys):
    m = (x @ theta) * ys
    ell = np.logaddexp(0.0, -m)
    g = -(ys * np.exp(-m - ell)) @ x / len(ys)  # gradient of the batch mean
    return float(ell.mean()), g


def _loader(perm, n, batch, devices, drop_last):
    """Per micro-step, the per-device batches (DistributedSampler(drop_last=False) padding by
    repeating the order, then DataLoader(batch, drop_last) on each rank)."""
    per_rank = -(-n // devices)
    padded = np.resize(perm, per_rank * devices)
    ranks = [padded[r::devices] for r in range(devices)]
    batches = per_rank // batch if drop_last else -(-per_rank // batch)
    return [[rank[i * batch : (i + 1) * batch] for rank in ranks] for i in range(batches)]


def reference(setup: Setup, seed: int = 0, momentum: float = 0.0):
    """Literal framework loops. Returns (step losses, params after each step, per-epoch mean losses)."""
    task = make_task(setup.dataset_size, seed)
    f = task.features_train.astype(np.float64)
    ys = 2.0 * task.y_train - 1.0
    rng = shuffle_rng(seed)
    fw, a = setup.framework, setup.grad_accum
    plan = make_plan(setup)
    lr_of = (lambda k: LAB_LR * float(plan.lr_at([k])[0]) / base_lr(setup)) if setup.lr_schedule else (lambda k: LAB_LR)
    theta = np.zeros(f.shape[1])
    velocity = np.zeros_like(theta)
    params, losses, epoch_means = [theta.copy()], [], []
    acc = np.zeros_like(theta)
    window_losses: list[float] = []
    gs = 0

    def micro(devs):
        per_dev = [_loss_and_grad(theta, f[idx], ys[idx]) for idx in devs]
        return float(np.mean([p[0] for p in per_dev])), np.mean([p[1] for p in per_dev], axis=0)  # DDP all-reduce mean

    def step():
        nonlocal theta, acc, velocity, gs, window_losses
        gs += 1
        velocity = momentum * velocity + acc
        theta = theta - lr_of(gs) * velocity
        params.append(theta.copy())
        losses.append(float(np.mean(window_losses)))
        acc = np.zeros_like(theta)
        window_losses = []

    if fw == "keras":
        epochs = int(setup.epochs or 1)
        counter = 0
        pass_batches: list = []  # what is left of the current pass over the data
        for _ in range(epochs):
            if not pass_batches:  # EpochIterator restarts (and reshuffles) only when exhausted
                pass_batches = _loader(rng.permutation(setup.dataset_size), setup.dataset_size, setup.batch_size, 1, False)
            take = len(pass_batches) if setup.steps_per_epoch is None else min(setup.steps_per_epoch, len(pass_batches))
            epoch_batches, pass_batches = pass_batches[:take], pass_batches[take:]
            ep = []
            for devs in epoch_batches:
                loss, g = micro(devs)
                ep.append(loss)
                window_losses.append(loss)
                acc = acc + g
                counter += 1
                if counter % a == 0:  # the raw counter never resets: windows cross epoch ends
                    acc = acc / a
                    step()
            epoch_means.append(float(np.mean(ep)))
        return np.array(losses), params, np.array(epoch_means)

    if fw == "hf":
        per_epoch = max(
            -(-len(_loader(np.arange(setup.dataset_size), setup.dataset_size, setup.batch_size, 1, setup.drop_last)) // a), 1
        )
        total = setup.max_steps if setup.max_steps is not None else math.ceil((setup.epochs or 3) * per_epoch)
        n_epochs, limit = -(-total // per_epoch), total
    else:
        n_epochs = int(setup.epochs or 1)
        limit = setup.max_steps
    for _ in range(n_epochs):
        perm = rng.permutation(setup.dataset_size)
        batches = _loader(perm, setup.dataset_size, setup.batch_size, setup.devices, setup.drop_last)
        n = len(batches)
        ep = []
        for i, devs in enumerate(batches):
            loss, g = micro(devs)
            ep.append(loss)
            window_losses.append(loss)
            if fw == "hf":
                start = (i // a) * a
                acc = acc + g / (min(start + a, n) - start)  # the real window size
                stepping = (i + 1) % a == 0 or i + 1 == n
            else:
                acc = acc + g / a  # (loss / A).backward(), partial windows included
                stepping = (i + 1) % a == 0 or (fw != "pytorch" and i + 1 == n)
            if stepping:
                step()
                if limit is not None and gs >= limit:
                    break
        epoch_means.append(float(np.mean(ep)) if ep else float("nan"))
        if limit is not None and gs >= limit:
            break
    return np.array(losses), params, np.array(epoch_means)


def _val_loss(theta):
    task = make_task(1, 0)
    m = (task.features_val.astype(np.float64) @ theta) * (2.0 * task.y_val - 1.0)
    return float(np.logaddexp(0.0, -m).mean())


CASES = [
    Setup(dataset_size=37, batch_size=7, epochs=3, grad_accum=4, framework="pytorch", eval_every_steps=1),
    Setup(dataset_size=37, batch_size=7, epochs=3, grad_accum=4, framework="pytorch-flush"),
    Setup(dataset_size=37, batch_size=7, epochs=3, grad_accum=4, framework="hf"),
    Setup(dataset_size=37, batch_size=7, epochs=3, grad_accum=4, framework="lightning", val_check_interval=2),
    Setup(dataset_size=37, batch_size=7, epochs=3, grad_accum=4, framework="keras"),
    Setup(dataset_size=91, batch_size=10, epochs=4, grad_accum=3, framework="keras", lr_schedule="cosine", warmup_steps=3),
    Setup(dataset_size=91, batch_size=10, epochs=5, grad_accum=2, framework="keras", steps_per_epoch=4, validation_freq=2),
    Setup(dataset_size=50, batch_size=4, epochs=2, devices=3, framework="pytorch"),
    Setup(dataset_size=50, batch_size=4, epochs=3, devices=3, drop_last=True, grad_accum=2, framework="lightning", max_steps=9),
    Setup(dataset_size=40, batch_size=6, epochs=2.5, grad_accum=3, framework="hf", lr_schedule="linear", warmup_steps=0.2),
    Setup(dataset_size=40, batch_size=6, framework="hf", max_steps=11, grad_accum=2, drop_last=True),
    Setup(dataset_size=23, batch_size=5, epochs=3, grad_accum=2, framework="pytorch", max_steps=4, lr_schedule="cosine"),
]


@pytest.mark.parametrize(
    "setup", CASES, ids=lambda s: f"{s.framework}-N{s.dataset_size}-B{s.batch_size}-A{s.grad_accum}-W{s.devices}"
)
def test_lab_matches_an_independent_literal_loop(setup):
    run = train(setup, seed=0)
    losses, params, epoch_means = reference(setup)
    plan = make_plan(setup)
    assert run.optimizer_steps == len(losses) == plan.total_optimizer_steps
    np.testing.assert_allclose(run.train_loss_per_step, losses, rtol=2e-5, atol=2e-6)
    np.testing.assert_allclose(run.train_loss_per_epoch, epoch_means, rtol=2e-5, atol=2e-6)
    np.testing.assert_allclose(run.params, params[-1], rtol=1e-4, atol=1e-5)
    expected_val = [_val_loss(params[g]) for g in plan.evaluations.global_step]
    np.testing.assert_allclose(run.val_loss, expected_val, rtol=2e-5, atol=2e-6)
    np.testing.assert_array_equal(run.eval_global_steps, plan.evaluations.global_step)
    np.testing.assert_allclose(run.param_norm, [np.linalg.norm(p) for p in params], rtol=1e-4, atol=1e-5)


def test_momentum_matches_the_reference():
    setup = Setup(dataset_size=37, batch_size=7, epochs=3, grad_accum=2, framework="hf")
    run = train(setup, seed=0, momentum=0.9)
    losses, params, _ = reference(setup, momentum=0.9)
    np.testing.assert_allclose(run.train_loss_per_step, losses, rtol=5e-5, atol=5e-6)
    np.testing.assert_allclose(run.params, params[-1], rtol=2e-4, atol=2e-5)
    assert not np.allclose(run.params, train(setup, seed=0).params)


def test_window_losses_differ_as_the_frameworks_average_them():
    """Same data, same shuffles, 6 batches per epoch and A=4: the partial window of two
    batches is divided by 2 (HF) or by 4 (Lightning), so the runs part at the second step."""
    hf = train(Setup(dataset_size=37, batch_size=7, epochs=2, grad_accum=4, framework="hf"))
    pl = train(Setup(dataset_size=37, batch_size=7, epochs=2, grad_accum=4, framework="lightning"))
    flush = train(Setup(dataset_size=37, batch_size=7, epochs=2, grad_accum=4, framework="pytorch-flush"))
    loop = train(Setup(dataset_size=37, batch_size=7, epochs=2, grad_accum=4, framework="pytorch"))
    assert hf.optimizer_steps == pl.optimizer_steps == flush.optimizer_steps == 4
    assert loop.optimizer_steps == 2  # floor(6 / 4) per epoch; the leftover never steps
    assert hf.train_loss_per_step[:2].tolist() == pl.train_loss_per_step[:2].tolist()
    assert hf.param_norm[1] == pl.param_norm[1]  # a full first window: the same update
    assert hf.param_norm[2] > pl.param_norm[2]  # HF's half window steps twice as hard
    np.testing.assert_array_equal(pl.params, flush.params)  # both divide by A


# -- the count of updates, for every convention ------------------------------------------


@st.composite
def small_setups(draw):
    fw = draw(st.sampled_from(FRAMEWORKS))
    n = draw(st.integers(1, 60))
    b = draw(st.integers(1, 16))
    kw = dict(framework=fw, dataset_size=n, batch_size=b, grad_accum=draw(st.integers(1, 5)))
    if fw == "keras":
        kw["epochs"] = draw(st.integers(1, 4))
        kw["steps_per_epoch"] = draw(st.none() | st.integers(1, 8))
        kw["validation_freq"] = draw(st.integers(1, 2))
    else:
        kw["devices"] = draw(st.integers(1, 3))
        kw["drop_last"] = draw(st.booleans())
        kw["max_steps"] = draw(st.none() | st.integers(1, 25))
        if fw == "hf":
            kw["epochs"] = draw(st.none() | st.sampled_from([1, 2, 3, 0.5, 1.5]))
            kw["eval_every_steps"] = draw(st.none() | st.integers(1, 4))
        else:
            kw["epochs"] = draw(st.integers(1, 4))
            if fw == "lightning":
                kw["val_check_interval"] = draw(st.none() | st.sampled_from([0.5, 1.0, 1, 2]))
            else:
                kw["eval_every_steps"] = draw(st.none() | st.integers(1, 4))
    kw["lr_schedule"] = draw(st.none() | st.sampled_from(["constant", "cosine"]))
    return Setup(**kw)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(small_setups(), st.integers(0, 3))
def test_updates_made_equal_the_plan_for_every_convention(setup, seed):
    try:
        plan = make_plan(setup)
    except SetupError:
        with pytest.raises(SetupError):
            train(setup, seed=seed)
        return
    run = train(setup, seed=seed)
    assert run.downsized is None
    assert run.optimizer_steps == plan.total_optimizer_steps
    assert len(run.train_loss_per_epoch) == plan.epochs_started
    assert len(run.val_loss) == len(plan.evaluations)
    assert np.isfinite(run.train_loss_per_step).all()
    ran = plan.batches > 0
    assert np.isfinite(run.train_loss_per_epoch[ran]).all() and np.isnan(run.train_loss_per_epoch[~ran]).all()
    # the reference models DistributedSampler but not accelerate's sharding
    if not (setup.framework == "hf" and setup.devices > 1):
        losses, _, _ = reference(setup, seed)
        assert len(losses) == run.optimizer_steps
        np.testing.assert_allclose(run.train_loss_per_step, losses, rtol=5e-5, atol=5e-6)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(small_setups(), st.integers(0, 4), st.floats(0, 0.05), st.integers(0, 2))
def test_early_stopping_stops_where_the_core_says(setup, patience, min_delta, seed):
    with_es = setup.replace(patience=patience, min_delta=min_delta)
    try:
        make_plan(with_es)
    except SetupError:
        return
    run = train(with_es, seed=seed)
    full = train(setup, seed=seed)  # the same run without early stopping
    core = make_plan(with_es.replace(metrics=tuple(full.val_loss.tolist())))
    es = core.early_stop
    assert run.early_stop == es
    assert run.optimizer_steps == es.stop_global_step == core.total_optimizer_steps
    assert len(run.val_loss) == es.evaluations_done
    # stopping changes nothing before the stop: the curves are a prefix of the full run's
    assert run.train_loss_per_step.tolist() == full.train_loss_per_step[: run.optimizer_steps].tolist()
    assert run.val_loss.tolist() == full.val_loss[: len(run.val_loss)].tolist()
    assert run.best_eval_index == es.best_eval_index
    assert run.setup.metrics == tuple(run.val_loss.tolist())


def test_early_stopping_fires_on_an_overfitting_run_in_every_convention():
    small = dict(dataset_size=300, batch_size=10, epochs=60, patience=3)
    for setup in (
        Setup(framework="hf", **small),
        Setup(framework="lightning", **small),
        Setup(framework="keras", **small),
        Setup(framework="pytorch", eval_every_steps=30, **small),
    ):
        run = train(setup)
        es = run.early_stop
        assert es.stopped, setup.framework
        full = train(setup.replace(patience=None))  # the whole curve, then the core decides on it
        assert run.optimizer_steps < full.optimizer_steps
        assert make_plan(setup.replace(metrics=tuple(full.val_loss.tolist()))).early_stop == es


def test_restore_best_weights():
    setup = Setup(dataset_size=300, batch_size=10, epochs=60, framework="hf", patience=3)
    plain = train(setup)
    best = train(setup, restore_best_weights=True)
    b = best.best_eval_index
    assert best.restored_best and not plain.restored_best
    assert b == best.early_stop.best_eval_index < len(best.val_loss) - 1
    assert best.final_val_loss == best.val_loss[b]
    assert plain.final_val_loss == plain.val_loss[-1] > best.final_val_loss
    assert best.final_val_accuracy == best.val_accuracy[b]
    # without patience the best checkpoint is the lowest validation loss
    no_es = train(setup.replace(patience=None, epochs=30), restore_best_weights=True)
    assert no_es.best_eval_index == int(np.argmin(no_es.val_loss))
    assert no_es.final_val_loss == no_es.val_loss.min()


# -- learning, overfitting, determinism --------------------------------------------------


def test_loss_goes_down_on_the_learnable_task():
    run = train(Setup(dataset_size=10_000, batch_size=100, epochs=10, framework="hf"))
    assert run.train_loss_per_epoch[-1] < run.train_loss_per_epoch[0] - 0.1
    assert run.val_loss[-1] < math.log(2) - 0.2  # well below chance (log 2)
    assert run.val_accuracy[-1] > 0.8
    assert run.param_norm[-1] > run.param_norm[0]


def test_a_small_dataset_overfits():
    run = train(Setup(dataset_size=300, batch_size=10, epochs=100, framework="hf"))
    best = int(np.argmin(run.val_loss))
    assert best < len(run.val_loss) - 20
    assert run.val_loss[-1] > run.val_loss[best] + 0.05
    assert run.train_loss_per_epoch[-1] < run.train_loss_per_epoch[best]  # training loss keeps falling


def test_same_seed_same_curves_bit_for_bit():
    setup = Setup(
        dataset_size=500,
        batch_size=16,
        epochs=4,
        grad_accum=3,
        framework="lightning",
        val_check_interval=0.5,
        lr_schedule="cosine",
    )
    a, b = train(setup, seed=7), train(setup, seed=7)
    da, db = a.to_dict(), b.to_dict()
    da.pop("seconds"), db.pop("seconds")
    assert json.dumps(da) == json.dumps(db)
    assert a.params.tobytes() == b.params.tobytes()
    c = train(setup, seed=8)
    assert c.train_loss_per_step.tolist() != a.train_loss_per_step.tolist()


def test_task_is_seeded_prefix_stable_and_read_only():
    small, big = make_task(100, 3), make_task(1000, 3)
    np.testing.assert_array_equal(small.x_train, big.x_train[:100])
    np.testing.assert_array_equal(small.y_train, big.y_train[:100])
    np.testing.assert_array_equal(small.features_val, big.features_val)
    assert small.features_train.shape == (100, big.features_train.shape[1]) and small.features_val.shape[0] == VAL_SIZE
    assert not make_task(100, 4).x_train.tolist() == small.x_train.tolist()
    assert 0.4 < big.y_train.mean() < 0.6
    with pytest.raises(ValueError):
        small.features_train[0, 0] = 1.0
    with pytest.raises(SetupError):
        make_task(MAX_TRAIN_SAMPLES + 1)


def test_a_task_is_what_drawing_its_own_samples_would_give():
    # tasks are views of one pool per seed: that is only right if each row is made on its own
    from epochsteps.training import _features, _fixed_parts, _spirals, _streams

    w, b = _fixed_parts(7)[:2]
    for n in (1, 17, 1_001, 12_345):
        *_, r_u, r_n = _streams(7)
        x, y = _spirals(r_u, r_n, n)
        task = make_task(n, 7)
        np.testing.assert_array_equal(task.x_train, x)
        np.testing.assert_array_equal(task.y_train, y)
        np.testing.assert_array_equal(task.features_train, _features(x, w, b))


def test_learning_rate_follows_the_plans_schedule():
    setup = Setup(dataset_size=200, batch_size=10, epochs=3, framework="hf", lr_schedule="linear", warmup_steps=5, lr=1e-4)
    run = train(setup)
    plan = make_plan(setup)
    expected = LAB_LR * plan.lr_at(np.arange(1, run.optimizer_steps + 1)) / 1e-4
    np.testing.assert_allclose(run.lr_per_step, expected)
    assert run.lr_per_step[0] < run.lr_per_step[5] > run.lr_per_step[-1]
    assert (train(setup.replace(lr_schedule=None, lr=None, warmup_steps=0.0)).lr_per_step == LAB_LR).all()


# -- budget ------------------------------------------------------------------------------


def test_a_setup_within_budget_runs_as_asked():
    setup = Setup(dataset_size=10_000, batch_size=100, epochs=10)
    assert fit_to_budget(setup) == (setup, None)


def test_imagenet_keeps_batches_per_epoch_and_cuts_epochs():
    setup = Setup(dataset_size=1_281_167, batch_size=256, epochs=90, framework="hf")
    run = train(setup)
    d = run.downsized
    fields = {name for name, _, _ in d.changes}
    assert fields == {"dataset_size", "batch_size", "epochs"}
    assert run.setup.dataset_size == MAX_TRAIN_SAMPLES
    req, ran = d.batches_per_epoch
    assert req == 5005 and abs(ran - req) <= req * 0.01
    assert run.optimizer_steps <= MAX_OPTIMIZER_STEPS
    assert run.plan.epochs_started == run.setup.epochs < 90
    text = d.text
    assert "1,281,167 -> 50,000" in text and "256 -> " in text and "90 -> " in text
    assert run.to_dict()["downsized"]["changes"]["epochs"] == {"requested": 90, "run": run.setup.epochs}


def test_one_epoch_over_budget_keeps_the_epochs_with_fewer_samples():
    setup = Setup(dataset_size=10**9, batch_size=1, epochs=3)
    new, d = fit_to_budget(setup)
    plan = make_plan(new)
    assert plan.epochs_started == 3 and new.batch_size == 1
    assert plan.total_optimizer_steps <= MAX_OPTIMIZER_STEPS
    assert plan.total_optimizer_steps > MAX_OPTIMIZER_STEPS * 0.99
    assert "even one epoch is over budget" in d.text and f"({new.dataset_size:,}) at batch 1" in d.text


def test_max_steps_budget_and_warmup_shrink_together():
    setup = Setup(
        dataset_size=10_000, batch_size=10, framework="hf", max_steps=100_000, lr_schedule="linear", warmup_steps=10_000
    )
    new, d = fit_to_budget(setup)
    assert new.max_steps == MAX_OPTIMIZER_STEPS
    assert new.warmup_steps == 2_000  # a tenth of the run, as asked
    assert {name for name, _, _ in d.changes} == {"max_steps", "warmup_steps"}


def test_work_budget_counts_validation_too():
    setup = Setup(dataset_size=10_000, batch_size=100, epochs=20, framework="hf", eval_every_steps=1)
    cost = run_cost(make_plan(setup))
    assert cost.steps < MAX_OPTIMIZER_STEPS and cost.work == 20 * 10_000 + 2000 * VAL_SIZE > MAX_WORK
    new, d = fit_to_budget(setup)
    assert run_cost(make_plan(new)).fits() and new.epochs < 20
    assert "sample passes" in d.text


def test_cadence_in_batches_shrinks_with_the_epoch():
    setup = Setup(dataset_size=10**8, batch_size=1, epochs=2, framework="lightning", val_check_interval=10**7)
    new, d = fit_to_budget(setup)
    plan = make_plan(new)
    assert len(plan.evaluations) == 2 * 10  # ten validations per epoch, as asked
    assert new.val_check_interval < 10**7


huge_setups = st.builds(
    lambda fw, n, b, e, a, w, ms: Setup(
        framework=fw,
        dataset_size=n,
        batch_size=b,
        epochs=e,
        grad_accum=a,
        devices=1 if fw == "keras" else w,
        max_steps=None if fw == "keras" else ms,
    ),
    st.sampled_from(FRAMEWORKS),
    st.integers(1, 10**10),
    st.integers(1, 10**6),
    st.integers(1, 10**4),
    st.integers(1, 64),
    st.integers(1, 16),
    st.none() | st.integers(1, 10**7),
)


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(huge_setups)
def test_any_setup_fits_the_budget_or_is_refused(setup):
    try:
        make_plan(setup)
    except SetupError:
        return
    try:
        new, d = fit_to_budget(setup)
    except SetupError as exc:  # only when no smaller copy exists; said in one line
        assert "budget" in str(exc)
        return
    cost = run_cost(make_plan(new))
    assert cost.fits()
    assert (
        cost.samples <= MAX_TRAIN_SAMPLES
        and cost.steps <= MAX_OPTIMIZER_STEPS
        and cost.epochs <= MAX_EPOCHS
        and cost.work <= MAX_WORK
    )
    if d is None:
        assert new == setup
    else:
        assert d.changes and all(getattr(setup, f) == old and getattr(new, f) == now for f, old, now in d.changes)
        assert new.framework == setup.framework and new.grad_accum == setup.grad_accum


def test_caps_hold_in_a_real_run():
    run = train(Setup(dataset_size=200_000, batch_size=16, epochs=20, framework="lightning"))
    assert run.setup.dataset_size <= MAX_TRAIN_SAMPLES
    assert run.optimizer_steps <= MAX_OPTIMIZER_STEPS
    assert run.downsized is not None and run.downsized.optimizer_steps[1] == run.optimizer_steps


# -- helpers for the page ---------------------------------------------------------------


def test_small_batches_make_more_noisier_steps():
    setup = Setup(dataset_size=2_000, batch_size=50, epochs=5, framework="hf")
    small, large = batch_pair(setup)
    assert (small, large) == (12, 200)
    a, b = compare_batch_sizes(setup, small, large)
    assert a.optimizer_steps == 5 * math.ceil(2000 / 12) and b.optimizer_steps == 5 * 10
    assert step_noise(a) > 2 * step_noise(b)
    assert a.plan.epochs_started == b.plan.epochs_started == 5


def test_batch_pair_stays_in_range():
    assert batch_pair(Setup(dataset_size=10, batch_size=10)) == (2, 10)
    assert batch_pair(Setup(dataset_size=1, batch_size=1)) == (1, 2)
    s, l_ = batch_pair(Setup(dataset_size=10**6, batch_size=4))
    assert (s, l_) == (1, 16)


# -- command line ------------------------------------------------------------------------

ARGS = ["train", "--dataset-size", "400", "--batch-size", "20", "--epochs", "30", "--framework", "keras"]


def test_cli_json(capsys):
    assert main([*ARGS, "--patience", "2", "--seed", "3", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    for key in (
        "optimizer_steps",
        "train_loss_per_step",
        "train_loss_per_epoch",
        "eval_global_steps",
        "val_loss",
        "val_accuracy",
        "early_stop",
        "downsized",
        "seconds",
    ):
        assert key in out
    assert len(out["train_loss_per_step"]) == out["optimizer_steps"] and out["downsized"] is None
    core = make_plan(
        Setup(dataset_size=400, batch_size=20, epochs=30, framework="keras", patience=2, metrics=tuple(out["val_loss"]))
    )
    assert out["early_stop"] == core.early_stop.to_dict()
    assert out["optimizer_steps"] == core.total_optimizer_steps
    run = train(Setup(dataset_size=400, batch_size=20, epochs=30, framework="keras", patience=2), seed=3)
    assert out["train_loss_per_step"] == run.train_loss_per_step.tolist()


def test_cli_summary_and_downsizing(capsys):
    assert main(["train", "--dataset-size", "1e6", "--batch-size", "32", "--epochs", "3", "--framework", "hf"]) == 0
    out = capsys.readouterr().out
    new, _ = fit_to_budget(Setup(dataset_size=10**6, batch_size=32, epochs=3, framework="hf"))
    assert "optimizer steps made:" in out and "smaller copy" in out and f"1,000,000 -> {new.dataset_size:,}" in out
    assert f"trained {new.dataset_size:,} samples, batch {new.batch_size:,}" in out
    assert main([*ARGS, "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["early_stop"] is None


@pytest.mark.parametrize(
    "argv",
    [
        ["train", "--dataset-size", "0", "--batch-size", "1"],
        ["train", "--dataset-size", "100", "--batch-size", "10", "--patience", "2"],  # a pytorch loop never evaluates
        [*ARGS, "--patience", "2", "--metrics", "1,2,3"],
        [*ARGS, "--seed", "-1"],
        [*ARGS, "--momentum", "1.5"],
        [*ARGS, "--devices", "2"],
    ],
)
def test_cli_errors_exit_2_with_one_line(argv, capsys):
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("epochsteps: error:") and err.count("\n") == 1


def test_progress_is_reported_a_bounded_number_of_times():
    calls: list[float] = []
    run = train(Setup(dataset_size=1_000, batch_size=10, epochs=7, framework="hf"), progress=calls.append)
    assert run.optimizer_steps == 700
    assert 10 <= len(calls) <= 21 and calls == sorted(calls) and calls[-1] == 1.0
    stopped: list[float] = []
    es = train(Setup(dataset_size=300, batch_size=10, epochs=60, framework="hf", patience=3), progress=stopped.append)
    assert es.early_stop.stopped and stopped[-1] < 1.0  # fractions of the planned steps


def test_the_kernels_are_loaded_once_with_the_types_a_run_passes():
    """load_kernels (before a run's clock starts) compiles the very signatures train calls: a
    run never compiles (about 1 s, and it would count in its `seconds`)."""
    import epochsteps.training as tr

    tr.load_kernels()
    for setup in (
        Setup(dataset_size=300, batch_size=7, epochs=3, framework="keras", grad_accum=3),
        Setup(dataset_size=1_000, batch_size=10, epochs=2, framework="pytorch", grad_accum=3, patience=1, eval_every_steps=5),
    ):
        train(setup, momentum=0.5)
    assert len(tr._sgd_steps.signatures) == 1 and len(tr._micro_batches.signatures) == 1
