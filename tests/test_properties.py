"""Invariants of the plan over the whole input space (hypothesis)."""

from __future__ import annotations

import numpy as np
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from epochsteps import FRAMEWORKS, Setup, SetupError, make_plan
from epochsteps.loading import accelerate_shard, distributed_sampler

FAST = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@st.composite
def setups(draw, frameworks=FRAMEWORKS, big=False):
    fw = draw(st.sampled_from(frameworks))
    n = draw(st.integers(1, 10**12 if big else 5000))
    b = draw(st.integers(1, max(1, min(n * 2, 10**6 if big else 600))))
    kw = dict(framework=fw, dataset_size=n, batch_size=b, grad_accum=draw(st.integers(1, 9)))
    if fw == "hf":
        kw["epochs"] = draw(st.sampled_from([None, 1, 2, 3, 0.5, 2.25, 7]))
    else:
        kw["epochs"] = draw(st.sampled_from([None, 1, 2, 3, 7]))
    if fw != "keras":
        kw["devices"] = draw(st.integers(1, 8))
        kw["drop_last"] = draw(st.booleans())
        kw["max_steps"] = draw(st.one_of(st.none(), st.integers(1, 500)))
    else:
        kw["steps_per_epoch"] = draw(st.one_of(st.none(), st.integers(1, 50)))
    return Setup(**kw)


def plan_or_none(setup):
    try:
        return make_plan(setup)
    except SetupError:
        return None


@FAST
@given(setups())
def test_counts_add_up_and_are_never_negative(setup):
    p = plan_or_none(setup)
    assume(p is not None)
    d = p.to_dict()
    assert sum(d["optimizer_steps_per_epoch"]) == d["total_optimizer_steps"]
    assert d["epoch_end_global_steps"] == np.cumsum(d["optimizer_steps_per_epoch"]).tolist()
    for key in ("batches_per_epoch", "optimizer_steps_per_epoch", "eval_global_steps"):
        assert all(v >= 0 for v in d[key])
    for key in ("total_optimizer_steps", "samples_seen", "samples_dropped", "samples_duplicated"):
        assert d[key] >= 0
    assert len(d["batches_per_epoch"]) == len(d["last_batch_size"]) == len(d["optimizer_steps_per_epoch"])
    assert all((s is None) == (b == 0) for s, b in zip(d["last_batch_size"], d["batches_per_epoch"], strict=True))
    assert all(1 <= s <= setup.batch_size for s in d["last_batch_size"] if s is not None)
    assert d["effective_batch_size"] == setup.batch_size * setup.grad_accum * setup.devices
    # evaluations happen in run order, within the run
    assert d["eval_global_steps"] == sorted(d["eval_global_steps"])
    assert all(g <= d["total_optimizer_steps"] for g in d["eval_global_steps"])


@FAST
@given(setups())
def test_samples_seen_never_exceed_what_the_loader_yields(setup):
    p = plan_or_none(setup)
    assume(p is not None)
    per_epoch_cap = p.batches_per_epoch_full * setup.batch_size * setup.devices
    assert (p.samples_per_epoch <= per_epoch_cap).all()
    # every step consumes at most its window: steps x accumulation <= batches run (+ windows spanning epochs in Keras)
    micro = int(p.batches.sum())
    assert p.total_optimizer_steps * setup.grad_accum <= micro + (setup.grad_accum - 1) * (setup.framework in ("hf", "lightning", "pytorch-flush")) * p.epochs_started
    # a completed epoch uses or drops every sample exactly once (padding counted apart)
    done = p.completed
    if setup.framework != "keras" and done.any():
        seen = p.samples_per_epoch[done] - p.duplicated_per_epoch[done]
        assert (seen + p.dropped_per_epoch[done] == setup.dataset_size).all()


@FAST
@given(setups(), st.integers(2, 8))
def test_more_devices_or_accumulation_never_add_steps(setup, factor):
    p = plan_or_none(setup)
    assume(p is not None)
    more_accum = plan_or_none(setup.replace(grad_accum=setup.grad_accum * factor))
    if more_accum is not None:
        assert more_accum.total_optimizer_steps <= p.total_optimizer_steps
    if setup.framework != "keras":
        more_devices = plan_or_none(setup.replace(devices=setup.devices * factor))
        if more_devices is not None and more_devices.total_optimizer_steps:
            assert more_devices.total_optimizer_steps <= p.total_optimizer_steps


@FAST
@given(setups())
def test_max_steps_is_never_exceeded(setup):
    p = plan_or_none(setup)
    assume(p is not None and setup.max_steps is not None)
    assert p.total_optimizer_steps <= setup.max_steps


@FAST
@given(setups(), st.lists(st.floats(0, 2, allow_nan=False), min_size=0, max_size=40), st.integers(0, 4))
def test_early_stopping_only_shortens_the_run(setup, metrics, patience):
    base = plan_or_none(setup)
    assume(base is not None and setup.framework != "pytorch" and setup.framework != "pytorch-flush")
    stopped = plan_or_none(setup.replace(patience=patience, metrics=tuple(metrics)))
    assume(stopped is not None)
    es = stopped.early_stop
    assert es.stop_global_step == stopped.total_optimizer_steps <= base.total_optimizer_steps
    assert es.evaluations_done == len(stopped.evaluations) <= len(base.evaluations)
    assert es.stop_epoch == stopped.epochs_started
    if es.best_eval_index is not None:
        assert 0 <= es.best_eval_index < max(es.evaluations_done, 1) or setup.framework == "lightning"
    if es.metrics_ran_out_at is not None:
        assert es.metrics_ran_out_at == len(metrics) and not es.stopped


@settings(max_examples=200, deadline=None)
@given(setups(big=True))
def test_huge_setups_do_not_overflow(setup):
    p = plan_or_none(setup)
    assume(p is not None)
    d = p.to_dict(include_lr=False)
    assert d["total_optimizer_steps"] == int(np.sum(np.array(d["optimizer_steps_per_epoch"], dtype=object)))
    assert d["samples_seen"] >= 0 and d["samples_seen"] <= setup.dataset_size * 2 * max(p.epochs_started, 1) + setup.batch_size * setup.devices * p.epochs_started


def test_plan_at_10_to_12_samples():
    p = make_plan(Setup(dataset_size=10**12, batch_size=1, epochs=10**4, framework="hf", grad_accum=3))
    assert p.total_optimizer_steps == 10**4 * -(-(10**12) // 3)
    assert p.samples_seen == 10**16


@settings(max_examples=300, deadline=None)
@given(st.integers(1, 10**6), st.integers(1, 5000), st.integers(1, 64), st.booleans())
def test_loaders_agree_without_drop_last(n, b, w, drop):
    # §1.4: without drop_last DistributedSampler and accelerate give the same per-rank count
    if not drop:
        assert distributed_sampler(n, b, w, drop).batches == accelerate_shard(n, b, w, drop).batches
    else:
        assert accelerate_shard(n, b, w, drop).batches <= distributed_sampler(n, b, w, drop).batches
