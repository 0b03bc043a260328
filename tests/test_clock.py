"""Wall-clock time from a throughput (seconds per optimizer step or samples per second):
worked examples computed by hand in the comments, invariants with hypothesis, and the
duration formatter."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from epochsteps import Setup, SetupError, make_plan
from epochsteps.text import duration, listing
from epochsteps.tokens import TokenData

FAST = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def test_samples_per_second_short_last_batch_takes_less():
    # 1,000 samples in batches of 64: 15 full batches (960) and one of 40; at 100 samples/s an epoch takes 10 s
    p = make_plan(Setup(dataset_size=1000, batch_size=64, epochs=2, samples_per_second=100.0))
    d = p.to_dict()
    assert d["seconds_per_epoch"] == [10.0, 10.0] and d["seconds_total"] == 20.0
    assert p.seconds_at_step([0, 1, 15, 16, 17]) == pytest.approx([0, 0.64, 9.6, 10.0, 10.64])
    assert d["eval_seconds"] == [] and d["stop_seconds"] is None


def test_seconds_per_step_hf_with_a_short_step():
    # 976 samples on 2 devices, batch 8: 61 batches per device; accumulation 4: 15 full steps and one of 1 batch.
    # 2 s per full step -> 0.5 s per batch; an epoch: 61 x 0.5 = 30.5 s
    t = TokenData(1024, True, dataset_tokens=1_000_003)
    p = make_plan(Setup.from_tokens(t, framework="hf", batch_size=8, devices=2, grad_accum=4, epochs=3, seconds_per_step=2.0))
    d = p.to_dict()
    assert d["seconds_per_epoch"] == [30.5] * 3 and d["seconds_total"] == 91.5
    assert d["eval_seconds"] == [30.5, 61.0, 91.5]  # HF evaluates at each epoch end by default here
    assert p.seconds_at_step([1, 15, 16, 17]).tolist() == [2.0, 30.0, 30.5, 32.5]
    assert p.epoch_end_seconds.tolist() == [30.5, 61.0, 91.5]


def test_leftover_batches_take_time_after_the_last_step():
    # hand-written loop: 10 batches, accumulation 4 -> 2 steps; 4 s per step = 1 s per batch;
    # batches 9 and 10 never step but run: the epoch takes 10 s, its last step is at 8 s
    p = make_plan(Setup(dataset_size=100, batch_size=10, grad_accum=4, epochs=1, eval_every_steps=1, seconds_per_step=4.0))
    assert p.eval_seconds.tolist() == [4.0, 8.0]
    assert p.seconds_per_epoch.tolist() == [10.0] and p.seconds_at_step(2).tolist() == 8.0


def test_an_evaluation_mid_accumulation_is_timed_by_its_batches():
    # Lightning validates every 5 batches, accumulation 4: at batch 5 only step 1 is made (4 batches, 4 s)
    # but 5 batches of 10 samples have run: 5 s at 10 samples/s
    p = make_plan(Setup(framework="lightning", dataset_size=100, batch_size=10, grad_accum=4, val_check_interval=5, epochs=1,
                        samples_per_second=10.0))
    assert p.evaluations.global_step.tolist() == [1, 3]
    assert p.eval_seconds.tolist() == [5.0, 10.0]
    assert p.seconds_at_step([1, 2, 3]).tolist() == [4.0, 8.0, 10.0]


def test_keras_windows_across_epochs():
    # Keras, 10 batches per epoch, accumulation 3, 3 s per step (1 s per batch): step 4 ends at batch 12,
    # the 2nd batch of epoch 2
    p = make_plan(Setup(framework="keras", dataset_size=100, batch_size=10, grad_accum=3, epochs=2, seconds_per_step=3.0))
    assert p.seconds_at_step([3, 4, 6]).tolist() == [9.0, 12.0, 18.0]
    assert p.seconds_per_epoch.tolist() == [10.0, 10.0]


def test_padding_duplicates_take_time():
    # 10 samples on 3 devices, batch 2: DistributedSampler pads to 12; at 6 samples/s an epoch takes 2 s
    p = make_plan(Setup(dataset_size=10, batch_size=2, devices=3, epochs=1, samples_per_second=6.0))
    assert p.samples_seen == 12 and p.seconds_total == 2.0


def test_early_stop_moment_and_shorter_run():
    # HF evaluates at each epoch end (100 samples/epoch at 50 samples/s: 2 s); patience 1 fires at the 3rd evaluation
    base = Setup(framework="hf", dataset_size=1000, batch_size=100, epochs=10, samples_per_second=50.0)
    stopped = make_plan(base.replace(patience=1, metrics=(1.0, 0.9, 0.95, 0.96)))
    assert stopped.early_stop.stopped and stopped.to_dict()["stop_seconds"] == 60.0 == stopped.seconds_total
    assert stopped.eval_seconds.tolist() == [20.0, 40.0, 60.0]
    assert make_plan(base).seconds_total == 200.0


def test_no_time_keys_without_a_throughput():
    p = make_plan(Setup(dataset_size=100, batch_size=10))
    assert not {"seconds_per_epoch", "seconds_total", "eval_seconds", "stop_seconds"} & set(p.to_dict())
    with pytest.raises(ValueError, match="no throughput"):
        p.seconds_at_step(1)
    assert not any("not modelled" in n for n in p.notes)
    assert any("not modelled" in n for n in make_plan(Setup(dataset_size=100, batch_size=10, seconds_per_step=1.0)).notes)


@pytest.mark.parametrize(
    "kw, field, reason",
    [
        (dict(seconds_per_step=0.0), "seconds_per_step", "greater than 0"),
        (dict(seconds_per_step=-1.0), "seconds_per_step", "greater than 0"),
        (dict(seconds_per_step=float("nan")), "seconds_per_step", "finite"),
        (dict(seconds_per_step=float("inf")), "seconds_per_step", "finite"),
        (dict(seconds_per_step=True), "seconds_per_step", "finite"),
        (dict(seconds_per_step="2"), "seconds_per_step", "finite"),
        (dict(seconds_per_step=1e8), "seconds_per_step", "at most"),
        (dict(samples_per_second=0), "samples_per_second", "greater than 0"),
        (dict(samples_per_second=1e13), "samples_per_second", "at most"),
        (dict(seconds_per_step=1.0, samples_per_second=5.0), "samples_per_second", "not both"),
    ],
)
def test_bad_throughput_says_why(kw, field, reason):
    with pytest.raises(SetupError) as info:
        Setup(dataset_size=10, batch_size=2, **kw)
    assert info.value.field_name == field and reason in str(info.value)


def test_throughput_round_trips_through_the_dict():
    s = Setup(dataset_size=10, batch_size=2, seconds_per_step=0.25)
    assert Setup.from_dict(s.to_dict()) == s and s.timed and not Setup(dataset_size=10, batch_size=2).timed


# -- invariants --------------------------------------------------------------------------------
@st.composite
def timed_setups(draw):
    fw = draw(st.sampled_from(["pytorch", "pytorch-flush", "hf", "lightning", "keras"]))
    n = draw(st.integers(1, 3000))
    kw = dict(framework=fw, dataset_size=n, batch_size=draw(st.integers(1, max(1, min(2 * n, 300)))), grad_accum=draw(st.integers(1, 6)))
    kw["epochs"] = draw(st.sampled_from([None, 1, 2, 3, 7] + ([0.5, 2.25] if fw == "hf" else [])))
    if fw != "keras":
        kw["devices"] = draw(st.integers(1, 6))
        kw["drop_last"] = draw(st.booleans())
        kw["max_steps"] = draw(st.one_of(st.none(), st.integers(1, 300)))
    if fw in ("hf", "pytorch", "pytorch-flush"):
        kw["eval_every_steps"] = draw(st.one_of(st.none(), st.integers(1, 40)))
    if fw == "lightning":
        kw["val_check_interval"] = draw(st.one_of(st.none(), st.integers(1, 12), st.sampled_from([0.25, 0.5, 1.0])))
    if draw(st.booleans()):
        kw["seconds_per_step"] = draw(st.floats(1e-3, 1e3))
    else:
        kw["samples_per_second"] = draw(st.floats(1e-2, 1e6))
    if fw != "pytorch" or kw.get("eval_every_steps"):
        if draw(st.booleans()):
            kw["patience"] = draw(st.integers(0, 3))
            rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
            kw["metrics"] = tuple(float(v) for v in rng.choice([1.0, 0.9, 0.8, 0.95], 400))
    return Setup(**kw)


def plan_or_none(setup):
    try:
        p = make_plan(setup)
    except SetupError:
        return None
    es = p.early_stop
    return None if es is not None and es.metrics_ran_out_at is not None else p


@FAST
@given(timed_setups())
def test_times_add_up_and_run_forward(setup):
    p = plan_or_none(setup)
    assume(p is not None)
    total = p.seconds_total
    assert total == pytest.approx(float(np.sum(p.seconds_per_epoch)), rel=1e-12, abs=1e-12)
    assert (p.seconds_per_epoch >= 0).all() and len(p.seconds_per_epoch) == p.epochs_started
    if p.epochs_started:
        assert p.epoch_end_seconds[-1] == pytest.approx(total, rel=1e-12)
    ev = p.eval_seconds
    assert len(ev) == len(p.evaluations)
    assert (np.diff(ev) >= 0).all() and ((ev >= 0) & (ev <= total * (1 + 1e-12))).all()
    at = p.seconds_at_step(np.arange(p.total_optimizer_steps + 1))
    assert at[0] == 0 and (np.diff(at) >= 0).all() and at[-1] <= total * (1 + 1e-12)
    s = setup
    if s.samples_per_second is not None:
        assert total * s.samples_per_second == pytest.approx(p.samples_seen, rel=1e-12)
    else:
        assert total == pytest.approx(p.samples_seen / p.effective_batch_size * s.seconds_per_step, rel=1e-12)
        # a step of grad_accum full batches that runs no batch outside it takes seconds_per_step
        full = (
            (p.last_batch_sizes == s.batch_size).all()
            and (p.batches % s.grad_accum == 0).all()  # no epoch ends with a short window (it would take less)
            and int(p.batches.sum()) == p.total_optimizer_steps * s.grad_accum
        )
        if full and p.total_optimizer_steps:
            assert np.diff(at) == pytest.approx(s.seconds_per_step, rel=1e-9)
    stop = p.to_dict()["stop_seconds"]
    assert stop is None if p.early_stop is None or not p.early_stop.stopped else stop == total


@FAST
@given(timed_setups())
def test_early_stopping_only_shortens_the_run(setup):
    assume(setup.patience is not None)
    p = plan_or_none(setup)
    assume(p is not None)
    full = make_plan(setup.replace(patience=None, metrics=()))
    assert p.seconds_total <= full.seconds_total
    if p.early_stop.stopped and p.total_optimizer_steps < full.total_optimizer_steps:
        assert p.seconds_total < full.seconds_total
    # the evaluations both runs make happen at the same moments
    assert p.eval_seconds.tolist() == full.eval_seconds[: len(p.eval_seconds)].tolist()


# -- duration --------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "seconds, text",
    [
        (0, "0 s"), (0.0004, "under 1 ms"), (0.0123, "0.0123 s"), (1, "1 s"), (42.46, "42.5 s"), (59.4, "59.4 s"),
        (59.6, "1 min"), (61, "1 min 1 s"), (119.6, "2 min"), (3599.6, "1 h"), (3723.4, "1 h 2 min"),
        (86_399, "1 d"), (90_000, "1 d 1 h"), (1e9, "11,574 d 2 h"),
    ],
)
def test_duration_reads_in_the_two_largest_units(seconds, text):
    assert duration(seconds) == text


@pytest.mark.parametrize("bad", [-1, float("nan"), float("inf")])
def test_duration_refuses_what_is_not_a_duration(bad):
    with pytest.raises(ValueError):
        duration(bad)


@given(st.floats(0, 1e12))
def test_duration_is_close_and_never_reads_a_full_unit_of_the_next(seconds):
    size = {"d": 86_400, "h": 3_600, "min": 60, "s": 1}
    parts = duration(seconds).split()
    if parts[0] == "under":
        assert seconds < 0.001
        return
    value, unit = float(parts[0].replace(",", "")), parts[1]
    if unit == "s":  # three significant digits
        assert seconds < 60 and value == pytest.approx(seconds, rel=5e-3)
        return
    small_unit = {"d": "h", "h": "min", "min": "s"}[unit]
    small = int(parts[2]) if len(parts) == 4 else 0
    assert 0 <= small < size[unit] // size[small_unit] and value == int(value) >= 1
    assert abs(value * size[unit] + small * size[small_unit] - seconds) <= size[small_unit] / 2 + 1e-9 * seconds


def test_listing_takes_a_writer():
    assert listing([30.5, 61.0, 3600], form=duration) == "[30.5 s, 1 min 1 s, 1 h]"
