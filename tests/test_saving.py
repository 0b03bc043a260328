"""Checkpoints, training-loss logs and Lightning's limits (#14): one example per rule, citing the
framework's source (numbers seen in real runs, tests/golden/saving.jsonl), then invariants."""

from __future__ import annotations

import time

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from epochsteps import Setup, SetupError, make_plan
from epochsteps.conventions.moments import MAX_MARKS_LISTED

FAST = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def plan(**kw):
    return make_plan(Setup(**kw))


def ck(p):
    return p.checkpoints.global_step.tolist()


def logs(p):
    return p.logs.global_step.tolist()


# -- HF Trainer ----------------------------------------------------------------------------
def test_hf_forces_a_save_at_the_final_step():
    # DefaultFlowCallback.on_step_end: global_step >= max_steps forces a "steps" save; logs are not forced
    p = plan(framework="hf", dataset_size=100, batch_size=8, grad_accum=3, epochs=2, save_steps=4, logging_steps=3, logging_first_step=True)
    assert p.total_optimizer_steps == 10
    assert ck(p) == [4, 8, 10] and p.checkpoints.reason == ("periodic", "periodic", "final_step")
    assert logs(p) == [1, 3, 6, 9]  # logging_first_step, then every 3; no log at the final step
    assert p.steps_after_last_checkpoint == 0


def test_hf_defaults_save_every_500_steps_and_at_the_end():
    p = plan(framework="hf", dataset_size=100_000, batch_size=8, epochs=1)  # 12,500 steps
    assert p.checkpoints.count == 25 and ck(p)[-1] == 12_500 and logs(p)[:2] == [500, 1000]


def test_hf_ratios_are_ceil_of_max_steps_times_ratio():
    # TrainerState.compute_steps: ceil(200 * 0.07) = ceil(14.000000000000002) = 15
    p = plan(framework="hf", dataset_size=1600, batch_size=8, epochs=1, save_steps=0.07, logging_steps=0.07)
    assert ck(p)[:2] == [15, 30] and logs(p)[:2] == [15, 30]


def test_hf_epoch_strategies_fire_at_the_end_of_a_cut_epoch():
    # on_epoch_end also runs for the last, partial epoch (max_steps 13 with 10 steps per epoch)
    p = plan(framework="hf", dataset_size=40, batch_size=4, epochs=3, max_steps=13, save_strategy="epoch", logging_strategy="epoch")
    assert ck(p) == [10, 13] and logs(p) == [10, 13]


def test_hf_logs_once_per_step():
    # _maybe_log_save_evaluate logs only when global_step > _globalstep_last_logged: a one-step epoch
    # logged by logging_first_step is not logged again at its end
    p = plan(framework="hf", dataset_size=40, batch_size=3, epochs=1, grad_accum=14, logging_strategy="epoch", logging_first_step=True)
    assert p.total_optimizer_steps == 1 and logs(p) == [1]


def test_hf_early_stop_is_not_a_final_step():
    # an early stop sets should_training_stop below max_steps: no forced save; "epoch" saves still come at the epoch end
    kw = dict(framework="hf", dataset_size=40, batch_size=4, epochs=4, eval_every_steps=3, patience=1, metrics=(1, 0.9, 0.95, 0.99))
    steps = plan(**kw, save_steps=4)
    assert steps.total_optimizer_steps == 9 and ck(steps) == [4, 8] and steps.steps_after_last_checkpoint == 1
    assert ck(plan(**kw, save_strategy="epoch")) == [9]


def test_hf_save_best_and_load_best():
    # save_strategy="best": a save iff _determine_best_metric found a strict improvement
    p = plan(framework="hf", dataset_size=40, batch_size=4, epochs=2, save_strategy="best", eval_every_steps=3,
             load_best_model_at_end=True, metrics=(1, 0.9, 0.95, 0.8, 0.7, 0.75, 0.74, 0.7))
    assert ck(p) == [3, 6, 12, 15] and p.saving.best_checkpoint_global_step == 15
    assert p.to_dict()["best_checkpoint_global_step"] == 15


def test_hf_load_best_needs_the_best_step_saved():
    # _save_checkpoint points best_model_checkpoint at checkpoint-{best_global_step} only if it exists:
    # the best evaluation (step 4) is saved; an evaluation at a step without a save is never loaded
    kw = dict(framework="hf", dataset_size=40, batch_size=4, grad_accum=3, epochs=2.5, save_steps=4, eval_every_steps=2, load_best_model_at_end=True)
    assert plan(**kw, metrics=(1, 0.5, 0.95, 0.8, 0.7)).saving.best_checkpoint_global_step == 4
    assert plan(**kw, metrics=(0.5, 0.9, 0.95, 0.8, 0.7)).saving.best_checkpoint_global_step is None
    assert "best_checkpoint_global_step" not in plan(framework="hf", dataset_size=40, batch_size=4).to_dict()


@pytest.mark.parametrize(
    ("kw", "words"),
    [
        (dict(save_strategy="epoch", eval_every_steps=2), "strategy to match"),  # TrainingArguments._validate_args
        (dict(save_steps=3, eval_every_steps=2), "round multiple"),
        (dict(save_steps=10, eval_every_steps=0.3), "mixing ratio and absolute"),
        (dict(save_steps=0.3, eval_every_steps=0.2), "not a multiple"),
    ],
)
def test_hf_refuses_load_best_without_matching_saves(kw, words):
    with pytest.raises(SetupError, match=words):
        plan(framework="hf", dataset_size=40, batch_size=4, epochs=2, load_best_model_at_end=True, metrics=(1.0,) * 9, **kw)


def test_hf_load_best_accepts_a_ratio_multiple():
    # 10 % 0.25 == 0 and 0.5 % 0.25 == 0 pass __post_init__ as floats
    for save, every in ((10, 0.25), (0.5, 0.25)):
        plan(framework="hf", dataset_size=40, batch_size=4, epochs=2, load_best_model_at_end=True, save_steps=save, eval_every_steps=every, metrics=(1.0,) * 9)


@pytest.mark.parametrize(
    ("kw", "words"),
    [
        (dict(save_steps=2.5), "save_steps must be an integer"),
        (dict(logging_steps=3.5), "logging_steps must be an integer"),
        (dict(logging_steps=0), "non-zero --logging_steps"),
        (dict(eval_strategy="no", patience=1, metrics=(1.0,)), "EarlyStoppingCallback requires"),
        (dict(eval_strategy="steps", logging_strategy="epoch", logging_steps=0), "non-zero --eval_steps or --logging_steps"),
    ],
)
def test_hf_refusals(kw, words):
    with pytest.raises(SetupError, match=words):
        plan(framework="hf", dataset_size=40, batch_size=4, epochs=2, **kw)


def test_hf_eval_strategy():
    base = dict(framework="hf", dataset_size=40, batch_size=4, epochs=2)
    assert len(plan(**base, eval_strategy="no").evaluations) == 0
    # an unset eval_steps falls back to logging_steps (TrainingArguments.__post_init__)
    assert plan(**base, eval_strategy="steps", logging_steps=3).evaluations.global_step.tolist() == [3, 6, 9, 12, 15, 18, 20]
    ignored = plan(**base, eval_strategy="epoch", eval_every_steps=3)
    assert ignored.evaluations.global_step.tolist() == [10, 20] and any("ignores" in n for n in ignored.notes)
    # zero batches with max_steps: one empty epoch whose on_epoch_end saves checkpoint-0, and no log at step 0
    empty = plan(framework="hf", dataset_size=3, batch_size=4, drop_last=True, max_steps=5, save_strategy="epoch", logging_strategy="epoch")
    assert ck(empty) == [0] and logs(empty) == []


# -- Lightning --------------------------------------------------------------------------------
def test_lightning_default_checkpoint_follows_validation():
    # ModelCheckpoint(): every_n_epochs=1; in on_train_epoch_end with val_check_interval 1.0, else after each validation
    assert ck(plan(framework="lightning", dataset_size=40, batch_size=4, epochs=3)) == [10, 20, 30]
    mid = plan(framework="lightning", dataset_size=40, batch_size=4, epochs=2, val_check_interval=0.5, grad_accum=3)
    assert ck(mid) == [1, 4, 5, 8] and mid.checkpoints.reason[0] == "validation"
    # the epoch end after max_steps still saves (on_train_epoch_end runs for the cut epoch) ...
    assert ck(plan(framework="lightning", dataset_size=40, batch_size=4, epochs=3, max_steps=15)) == [10, 15]
    # ... but no validation runs at the cut, so nothing is saved there in validation-end mode
    assert ck(plan(framework="lightning", dataset_size=40, batch_size=4, epochs=3, max_steps=13, val_check_interval=0.5)) == [5, 10]


def test_lightning_monitored_batch_trigger_defers_and_rereads():
    # on_train_batch_end: before the first validation the save is deferred to it (step 1, not a multiple of 2);
    # a refused step-8 trigger is retried on the next batch after a validation improved the metric;
    # the trigger on the epoch's last batch waits for a validation that never comes
    p = plan(framework="lightning", dataset_size=40, batch_size=4, epochs=2, val_check_interval=0.3, grad_accum=2,
             every_n_train_steps=2, monitor="val_loss", metrics=(1, 0.9, 0.8, 0.85, 0.7, 0.6))
    assert ck(p) == [1, 4, 6, 8] and p.steps_after_last_checkpoint == 2


def test_lightning_save_last_only_when_nothing_else_was_written():
    # on_train_end: save_last writes last.ckpt if no checkpoint was written at all
    p = plan(framework="lightning", dataset_size=40, batch_size=4, epochs=2, every_n_epochs=3, save_last=True)
    assert ck(p) == [20] and p.checkpoints.reason == ("last",)
    assert ck(plan(framework="lightning", dataset_size=40, batch_size=4, epochs=3, save_top_k=0, save_last=True)) == [30]
    assert ck(plan(framework="lightning", dataset_size=40, batch_size=4, epochs=3, save_top_k=0)) == []


def test_lightning_refusals():
    base = dict(framework="lightning", dataset_size=40, batch_size=4, epochs=2)
    with pytest.raises(SetupError, match="mutually exclusive"):
        plan(**base, every_n_train_steps=3, every_n_epochs=1)
    with pytest.raises(SetupError, match="No quantity for top_k"):
        plan(**base, save_top_k=3)
    with pytest.raises(SetupError, match="< 1"):
        plan(**base, limit_train_batches=0.05)
    with pytest.raises(SetupError, match=r"\[0.0, 1.0\] or an int"):
        plan(**base, limit_train_batches=1.5)


def test_lightning_logs_count_optimizer_steps():
    # should_update_logs reads _batches_that_stepped + 1 after an optimizer step: with accumulation 3 the
    # 20 batches make 8 steps, and every 3rd step (not batch) is logged
    p = plan(framework="lightning", dataset_size=40, batch_size=4, epochs=2, grad_accum=3, log_every_n_steps=3)
    assert p.total_optimizer_steps == 8 and logs(p) == [3, 6]
    assert logs(plan(framework="lightning", dataset_size=40, batch_size=4, epochs=2, log_every_n_steps=0)) == []


def test_lightning_min_epochs_defers_early_stopping_and_logs_every_step():
    # the stop fires at epoch 2; _can_stop_early waits for 4 epochs; should_stop makes every step log
    p = plan(framework="lightning", dataset_size=40, batch_size=4, epochs=8, patience=1, min_epochs=4,
             metrics=(1.0,) * 10, log_every_n_steps=3)
    assert p.early_stop.stopped and p.total_optimizer_steps == 40 and p.epochs_started == 4
    assert logs(p) == [3, 6, 9, 12, 15, 18, *range(21, 41)]


def test_lightning_min_steps_stops_mid_epoch_with_a_validation_of_its_own():
    # _should_check_val_fx validates the batch where min_steps is reached, then the epoch loop stops
    p = plan(framework="lightning", dataset_size=40, batch_size=4, epochs=8, patience=1, min_steps=13,
             val_check_interval=0.5, metrics=(1.0,) * 10, log_every_n_steps=4)
    assert p.evaluations.global_step.tolist() == [5, 10, 13] and p.total_optimizer_steps == 13
    assert ck(p) == [5, 10, 13] and logs(p) == [4, 8, 11, 12, 13]


def test_lightning_limit_train_batches():
    # _parse_num_batches: an int keeps min(L, k), a float int(L * f); accumulation steps on the limited last batch
    p = plan(framework="lightning", dataset_size=40, batch_size=4, epochs=3, limit_train_batches=7, grad_accum=3)
    assert p.batches.tolist() == [7, 7, 7] and p.steps.tolist() == [3, 3, 3] and p.last_batch_sizes.tolist() == [4, 4, 4]
    assert plan(framework="lightning", dataset_size=40, batch_size=4, epochs=3, limit_train_batches=0.55).batches.tolist() == [5, 5, 5]
    assert plan(framework="lightning", dataset_size=40, batch_size=4, epochs=3, limit_train_batches=0).epochs_started == 0


# -- Keras and the hand-written loops -------------------------------------------------------------
def test_keras_save_freq_counts_batches():
    # ModelCheckpoint._should_save_on_batch counts micro-batches: with accumulation 4 saves share a step count
    p = plan(framework="keras", dataset_size=40, batch_size=8, epochs=2, grad_accum=4, save_freq=1)
    assert ck(p) == [0, 0, 0, 1, 1, 1, 1, 2, 2, 2] and p.checkpoints.count == 10
    assert ck(plan(framework="keras", dataset_size=100, batch_size=8, epochs=2, grad_accum=3, save_freq=5)) == [1, 3, 5, 6, 8]
    assert ck(plan(framework="keras", dataset_size=100, batch_size=8, epochs=2)) == []
    assert logs(plan(framework="keras", dataset_size=100, batch_size=8, epochs=3)) == [13, 26, 39]  # History, per epoch


def test_keras_save_best_only_saves_epochs_without_a_value():
    # _should_save_model: no monitored value (validation_freq 2) -> warn and save anyway
    p = plan(framework="keras", dataset_size=40, batch_size=4, epochs=4, save_best_only=True, validation_freq=2, metrics=(1, 0.9))
    assert ck(p) == [10, 20, 30, 40]
    q = plan(framework="keras", dataset_size=40, batch_size=4, epochs=4, save_best_only=True, metrics=(1, 0.9, 0.95, 0.8))
    assert ck(q) == [10, 20, 40] and q.checkpoints.reason == ("best",) * 3


def test_hand_written_loop_saves_every_k_steps_and_not_at_the_end():
    p = plan(framework="pytorch", dataset_size=100, batch_size=8, epochs=2, grad_accum=3, save_every_steps=3)
    assert p.total_optimizer_steps == 8 and ck(p) == [3, 6] and p.steps_after_last_checkpoint == 2 and logs(p) == []
    assert plan(framework="pytorch", dataset_size=100, batch_size=8, epochs=2).steps_after_last_checkpoint == 26


@pytest.mark.parametrize(
    ("fw", "kw"),
    [("keras", dict(save_steps=3)), ("hf", dict(every_n_train_steps=3)), ("hf", dict(min_epochs=3)),
     ("lightning", dict(save_strategy="epoch")), ("pytorch", dict(save_freq=3)), ("lightning", dict(save_every_steps=2))],
)
def test_a_framework_refuses_another_ones_knob(fw, kw):
    with pytest.raises(SetupError, match="has no such argument"):
        plan(framework=fw, dataset_size=40, batch_size=4, epochs=2, **kw)


def test_metrics_are_read_by_best_checkpoint_rules():
    with pytest.raises(SetupError, match="set patience"):
        Setup(dataset_size=40, batch_size=4, metrics=(1.0,))
    Setup(framework="keras", dataset_size=40, batch_size=4, save_best_only=True, metrics=(1.0,))
    with pytest.raises(SetupError, match="validation metric"):
        Setup(framework="lightning", dataset_size=40, batch_size=4, monitor="train_loss")


# -- scale and invariants ----------------------------------------------------------------------
def test_a_billion_logged_steps_stay_cheap():
    t0 = time.perf_counter()
    p = plan(framework="lightning", dataset_size=10**12, batch_size=1000, epochs=1, log_every_n_steps=1, every_n_train_steps=1)
    assert p.logs.count == p.checkpoints.count == 10**9 == p.total_optimizer_steps
    assert len(p.logs.global_step) == MAX_MARKS_LISTED and p.logs.truncated and p.steps_after_last_checkpoint == 0
    d = p.to_dict()
    assert d["log_count"] == 10**9 and len(d["log_global_steps"]) == MAX_MARKS_LISTED
    assert time.perf_counter() - t0 < 2


@st.composite
def saving_setups(draw, frameworks=("pytorch", "pytorch-flush", "hf", "lightning", "keras"), early=None):
    fw = draw(st.sampled_from(frameworks))
    n = draw(st.integers(1, 3000))
    kw = dict(framework=fw, dataset_size=n, batch_size=draw(st.integers(1, 64)), grad_accum=draw(st.integers(1, 6)))
    kw["epochs"] = draw(st.sampled_from([1, 2, 3, 5] + ([0.5, 2.5] if fw == "hf" else [])))
    if fw != "keras":
        kw["max_steps"] = draw(st.one_of(st.none(), st.integers(1, 400)))
        kw["drop_last"] = draw(st.booleans())
    rng = np.random.default_rng(draw(st.integers(0, 10_000)))
    metrics = tuple(float(v) for v in rng.choice([1.0, 0.9, 0.8, 0.85, 0.5, 0.7], 400))
    if draw(st.booleans()) if early is None else early:
        kw.update(patience=draw(st.integers(0, 3)), metrics=metrics)
    if fw in ("pytorch", "pytorch-flush"):
        kw["save_every_steps"] = draw(st.integers(1, 20))
        if "patience" in kw:
            kw["eval_every_steps"] = draw(st.integers(1, 10))
    elif fw == "hf":
        kw["save_strategy"] = draw(st.sampled_from(["no", "epoch", "steps", "best"]))
        kw["save_steps"] = draw(st.sampled_from([1, 3, 7, 0.1, 0.5]))
        kw["logging_strategy"] = draw(st.sampled_from(["no", "epoch", "steps"]))
        kw["logging_steps"] = draw(st.sampled_from([1, 2, 5, 0.25]))
        kw["logging_first_step"] = draw(st.booleans())
        kw["eval_every_steps"] = draw(st.sampled_from([None, 2, 5, 0.3]))
        kw["metrics"] = metrics
    elif fw == "lightning":
        kw["val_check_interval"] = draw(st.sampled_from([None, 0.25, 0.5, 1, 2]))
        trigger = draw(st.sampled_from(["none", "steps", "epochs"]))
        if trigger == "steps":
            kw["every_n_train_steps"] = draw(st.integers(1, 7))
        elif trigger == "epochs":
            kw["every_n_epochs"] = draw(st.integers(1, 3))
        if draw(st.booleans()):
            kw.update(monitor="val_loss", save_top_k=draw(st.sampled_from([-1, 0, 1, 2, 3])), metrics=metrics)
        kw["save_last"] = draw(st.booleans())
        kw["log_every_n_steps"] = draw(st.integers(0, 9))
        kw["min_epochs"] = draw(st.one_of(st.none(), st.integers(0, 6)))
        kw["min_steps"] = draw(st.one_of(st.none(), st.integers(0, 60)))
        kw["limit_train_batches"] = draw(st.sampled_from([None, 1, 3, 0.5, 1.0]))
    else:
        kw["save_freq"] = draw(st.sampled_from([None, "epoch", 1, 4, 9]))
        kw["save_best_only"] = draw(st.booleans())
        kw["metrics"] = metrics
    try:
        return Setup(**kw)
    except SetupError:
        return None


@FAST
@given(saving_setups())
def test_checkpoints_and_logs_are_moments_of_the_run(setup):
    assume(setup is not None)
    try:
        p = make_plan(setup)
    except SetupError:
        assume(False)
    total = p.total_optimizer_steps
    for marks in (p.checkpoints, p.logs):
        gs = marks.global_step
        assert len(gs) == min(marks.count, MAX_MARKS_LISTED) == len(marks.reason) == len(marks.epoch) == len(marks.batches_done)
        assert np.all(np.diff(gs) >= 0) and np.all((gs >= 0) & (gs <= total))
        assert marks.last_global_step == (int(gs[-1]) if marks.count else None) or marks.truncated
        # each moment sits inside an epoch that ran, no later than the batches it ran
        assert np.all(marks.epoch < p.epochs_started) and np.all(marks.batches_done <= p.batches[marks.epoch])
    if setup.framework != "keras":  # Keras counts batches, and an epoch can end without an update
        assert np.all(np.diff(p.checkpoints.global_step) > 0)
        assert np.all(np.diff(p.logs.global_step) > 0) and np.all(p.logs.global_step >= 1)
    last = p.checkpoints.last_global_step
    assert p.steps_after_last_checkpoint == total - (last or 0)
    d = p.to_dict()
    assert d["checkpoint_global_steps"] == p.checkpoints.global_step.tolist() and d["log_count"] == p.logs.count


@FAST
@given(saving_setups(early=False))
def test_logs_count_optimizer_steps_not_batches(setup):
    assume(setup is not None)
    try:
        p = make_plan(setup)
    except SetupError:
        assume(False)
    total = p.total_optimizer_steps
    if setup.framework == "lightning":
        every = 50 if setup.log_every_n_steps is None else setup.log_every_n_steps
        assert p.logs.count == (total // every if every else 0)
    elif setup.framework == "hf" and setup.logging_strategy == "steps":
        every = int(np.ceil(p.schedule.lr_horizon * setup.logging_steps)) if setup.logging_steps < 1 else int(setup.logging_steps)
        first = setup.logging_first_step and total >= 1 and every != 1
        assert p.logs.count == total // every + first
    elif setup.framework == "keras":
        assert p.logs.count == p.epochs_started


@FAST
@given(saving_setups(frameworks=("lightning",), early=True))
def test_lightning_minimums_are_never_cut_short_by_early_stopping(setup):
    assume(setup is not None)
    try:
        p = make_plan(setup)
        free = make_plan(setup.replace(patience=None, metrics=() if setup.monitor is None else setup.metrics))
    except SetupError:
        assume(False)
    assume(p.early_stop.metrics_ran_out_at is None)
    planned_epochs, planned_steps = free.epochs_started, free.total_optimizer_steps
    min_epochs = setup.min_epochs if setup.min_epochs is not None else (1 if setup.min_steps is not None else 0)
    assert p.epochs_started >= min(min_epochs, planned_epochs)
    assert p.total_optimizer_steps >= min(setup.min_steps or 0, planned_steps)
    assert p.total_optimizer_steps <= planned_steps


@pytest.mark.parametrize(
    ("fw", "kw", "low", "high"),
    [("hf", dict(save_strategy="best", eval_every_steps=3), [3], [3, 6, 12, 18, 24]),  # greater_is_better
     ("keras", dict(save_best_only=True), [10], [10, 20, 40]),  # ops.greater in mode max
     ("lightning", dict(monitor="val_acc"), [10], [10, 20, 40])],  # torch.gt in mode max
)
def test_best_checkpoints_follow_the_mode(fw, kw, low, high):
    metrics = (0.1, 0.2, 0.15, 0.3, 0.25, 0.4, 0.35, 0.5)
    assert ck(plan(framework=fw, dataset_size=40, batch_size=4, epochs=4, metrics=metrics, **kw)) == low
    assert ck(plan(framework=fw, dataset_size=40, batch_size=4, epochs=4, metrics=metrics, mode="max", **kw)) == high
