"""Data in tokens: TokenData, the plan's token counts and the token budget (worked examples
computed by hand in the comments, then invariants with hypothesis)."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from epochsteps import Setup, SetupError, make_plan
from epochsteps.tokens import MAX_TOKENS, TokenData, steps_for_tokens

FAST = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


# -- TokenData -------------------------------------------------------------------------
def test_packing_drops_the_remainder_once():
    # 1,000,003 tokens in blocks of 1,024: 976 x 1,024 = 999,424, remainder 579
    t = TokenData(1024, True, dataset_tokens=1_000_003)
    assert (t.total_tokens, t.samples, t.tokens_per_sample) == (1_000_003, 976, 1024)
    assert (t.tokens_dropped, t.tokens_padded) == (579, 0)
    assert "579 tokens" in t.notes[0] and "group_texts" in t.notes[0] and "once" in t.notes[0]


def test_packing_documents_counts_their_tokens_together():
    # 3 documents of 700 tokens = 2,100 tokens; blocks of 512: 4 samples (2,048), 52 dropped
    t = TokenData(512, True, documents=3, tokens_per_document=700)
    assert (t.samples, t.tokens_dropped, t.tokens_padded) == (4, 52, 0)


def test_no_packing_truncates_long_documents():
    # 1,000 documents of 700 tokens at 512: each keeps 512, loses 188; 188,000 truncated
    t = TokenData(512, False, documents=1000, tokens_per_document=700)
    assert (t.samples, t.tokens_per_sample, t.tokens_dropped, t.tokens_padded) == (1000, 512, 188_000, 0)
    assert "mean length (700 tokens)" in t.notes[0]


def test_no_packing_pads_short_documents():
    # 1,000 documents of 300 tokens at 512: 212 padding tokens each
    t = TokenData(512, False, documents=1000, tokens_per_document=300)
    assert (t.samples, t.tokens_per_sample, t.tokens_dropped, t.tokens_padded) == (1000, 300, 0, 212_000)


@pytest.mark.parametrize(
    "kwargs, field, reason",
    [
        (dict(seq_len=512, packing=False, dataset_tokens=10_000), "dataset_tokens", "does not say how many documents"),
        (dict(seq_len=512, packing=True), "dataset_tokens", "give the data"),
        (dict(seq_len=512, packing=True, dataset_tokens=10, documents=2, tokens_per_document=5), "dataset_tokens", "not both"),
        (dict(seq_len=512, packing=False, documents=2), "tokens_per_document", "mean tokens"),
        (dict(seq_len=512, packing=False, tokens_per_document=5), "documents", "number of documents"),
        (dict(seq_len=0, packing=True, dataset_tokens=10), "seq_len", "from 1"),
        (dict(seq_len=2.5, packing=True, dataset_tokens=10), "seq_len", "whole number"),
        (dict(seq_len=True, packing=True, dataset_tokens=10), "seq_len", "whole number"),
        (dict(seq_len=8, packing="yes", dataset_tokens=10), "packing", "true or false"),
        (dict(seq_len=8, packing=True, dataset_tokens=-1), "dataset_tokens", "from 1"),
        (dict(seq_len=8, packing=True, dataset_tokens=MAX_TOKENS + 1), "dataset_tokens", "from 1"),
        (dict(seq_len=8, packing=True, dataset_tokens="1000"), "dataset_tokens", "whole number"),
        (dict(seq_len=8, packing=False, documents=10**12, tokens_per_document=10**4), "tokens_per_document", "exceed"),
        (dict(seq_len=1024, packing=True, dataset_tokens=1000), "seq_len", "no sample"),
        (dict(seq_len=1, packing=True, dataset_tokens=MAX_TOKENS), "seq_len", "at most"),
        (dict(seq_len=8, packing=True, dataset_tokens=100, token_budget=0), "token_budget", "from 1"),
    ],
)
def test_bad_token_data_says_why(kwargs, field, reason):
    with pytest.raises(SetupError) as info:
        TokenData(**kwargs)
    assert info.value.field_name == field and reason in str(info.value)


# -- Setup -------------------------------------------------------------------------------
def test_setup_from_tokens_counts_the_samples_and_checks_them():
    t = TokenData(1024, True, dataset_tokens=1_000_003)
    s = Setup.from_tokens(t, batch_size=8)
    assert s.dataset_size == 976 and s.tokens is t
    with pytest.raises(SetupError, match="976 samples"):
        Setup(dataset_size=1000, batch_size=8, tokens=t)
    with pytest.raises(SetupError, match="1,953 samples"):
        s.replace(tokens=TokenData(512, True, dataset_tokens=1_000_003))  # dataset_size left behind
    moved = s.with_tokens(TokenData(512, True, dataset_tokens=1_000_003))
    assert moved.dataset_size == 1953 and moved.with_tokens(None).tokens is None
    with pytest.raises(SetupError, match="TokenData"):
        Setup(dataset_size=10, batch_size=1, tokens={"seq_len": 8})


def test_setup_dict_round_trips_tokens():
    s = Setup.from_tokens(TokenData(512, False, documents=1000, tokens_per_document=300, token_budget=10**9), batch_size=8)
    d = s.to_dict()
    assert d["tokens"] == {
        "seq_len": 512, "packing": False, "dataset_tokens": None, "documents": 1000, "tokens_per_document": 300, "token_budget": 10**9,
    }
    assert Setup.from_dict(d) == s
    del d["dataset_size"]  # counted from the tokens when missing
    assert Setup.from_dict(d) == s


@pytest.mark.parametrize(
    "tokens, field",
    [("512", "tokens"), ({"seq_len": 512, "packing": True, "dataset_tokens": 10**6, "vocab": 5}, "vocab"), ({"packing": True}, "seq_len")],
)
def test_setup_from_dict_refuses_bad_tokens(tokens, field):
    with pytest.raises(SetupError) as info:
        Setup.from_dict({"batch_size": 8, "tokens": tokens})
    assert info.value.field_name == field


# -- the plan's token counts --------------------------------------------------------------
def packed(tokens, seq_len, budget=None, **kw):
    return make_plan(Setup.from_tokens(TokenData(seq_len, True, dataset_tokens=tokens, token_budget=budget), **kw))


def test_packed_hf_run():
    # 976 samples (see above) on 2 devices: 488 per device, 61 batches of 8; accumulation 4 -> 16 steps per epoch
    # (15 full + 1 of one batch); 3 epochs: 48 steps; every sample once per epoch: 2,928 samples x 1,024 tokens
    p = packed(1_000_003, 1024, framework="hf", batch_size=8, devices=2, grad_accum=4, epochs=3)
    d = p.to_dict()
    assert d["samples_from_tokens"] == 976 and d["total_optimizer_steps"] == 48
    assert d["tokens_per_optimizer_step"] == 8 * 2 * 4 * 1024 == 65_536
    assert d["tokens_trained"] == 2928 * 1024 == 2_998_272
    assert (d["tokens_dropped"], d["tokens_padded"], d["max_steps_for_token_budget"]) == (579, 0, None)
    # the short last step of each epoch: 48 full steps would be 3,145,728 tokens
    assert d["tokens_trained"] < 48 * d["tokens_per_optimizer_step"]
    assert "seconds_total" not in d


def test_ddp_padding_duplicates_train_tokens_too():
    # 10 documents of 100 tokens padded to 128, 3 devices, batch 2: DistributedSampler pads 10 to 12
    # (4 per rank, 2 duplicates), 2 batches per device; 12 samples x 100 real tokens = 1,200
    p = make_plan(Setup.from_tokens(TokenData(128, False, documents=10, tokens_per_document=100), batch_size=2, devices=3, epochs=1))
    d = p.to_dict()
    assert (d["samples_seen"], d["samples_duplicated"]) == (12, 2)
    assert d["tokens_trained"] == 1200 and d["tokens_per_optimizer_step"] == 2 * 3 * 128
    assert (d["tokens_dropped"], d["tokens_padded"]) == (0, 10 * 28)  # in the data, once


def test_leftover_batches_train_tokens_without_a_step():
    # hand-written loop, 10 batches, accumulation 4: 2 steps; batches 9 and 10 run but never step
    p = packed(100 * 16, 16, batch_size=10, grad_accum=4, epochs=1)
    assert p.total_optimizer_steps == 2 and p.tokens_trained == 100 * 16
    assert p.tokens_trained > p.total_optimizer_steps * p.tokens_per_optimizer_step


@pytest.mark.parametrize(
    "budget, steps",
    [
        (65_536 * 153 - 1, 153),  # just under 153 full steps
        (65_536 * 153, 153),  # exactly 153
        (65_536 * 153 + 1, 154),  # one token over: one more step
        (1, 1),
    ],
)
def test_token_budget_rounds_up_to_whole_steps(budget, steps):
    # effective batch 8 x 2 x 4 = 64 samples of 1,024 tokens: 65,536 tokens per optimizer step
    p = packed(1_000_003, 1024, budget, framework="hf", batch_size=8, devices=2, grad_accum=4)
    assert p.max_steps_for_token_budget == steps
    assert f"takes {steps:,} optimizer step{'s' if steps > 1 else ''}:" in " ".join(p.notes)


def test_token_budget_counts_real_tokens_not_padding():
    # documents of 300 tokens padded to 512, effective batch 8: a full step trains 2,400 real tokens
    s = Setup.from_tokens(TokenData(512, False, documents=1000, tokens_per_document=300, token_budget=2401), batch_size=8)
    p = make_plan(s)
    assert p.tokens_per_optimizer_step == 4096 and p.real_tokens_per_optimizer_step == 2400
    assert p.max_steps_for_token_budget == 2
    assert make_plan(s.with_tokens(TokenData(512, False, documents=1000, tokens_per_document=300, token_budget=2400))).max_steps_for_token_budget == 1


def test_token_budget_note_says_how_keras_stops():
    # Keras has no max_steps: 3 optimizer steps at accumulation 2 are 6 batches
    s = Setup.from_tokens(TokenData(4, True, dataset_tokens=400, token_budget=40), framework="keras", batch_size=2, grad_accum=2)
    p = make_plan(s)
    assert p.max_steps_for_token_budget == 3  # 40 / (2 x 2 x 4 = 16) = 2.5 -> 3
    assert "has no max_steps: that is 6 batches" in p.notes[-1]


def test_tokens_at_step():
    # pytorch loop, 100 packed samples of 16 tokens, batch 10, accumulation 2: step k has run 20k samples
    p = packed(1600, 16, batch_size=10, grad_accum=2, epochs=2)
    assert p.tokens_at_step([0, 1, 5, 6, 10]).tolist() == [0, 320, 1600, 1920, 3200]


def test_no_token_keys_without_tokens():
    d = make_plan(Setup(dataset_size=100, batch_size=10, epochs=1)).to_dict()
    assert not {"samples_from_tokens", "tokens_trained", "max_steps_for_token_budget"} & set(d)
    with pytest.raises(ValueError, match="no token data"):
        _ = make_plan(Setup(dataset_size=100, batch_size=10)).tokens_trained


# -- invariants ------------------------------------------------------------------------------
@st.composite
def token_setups(draw, packing=None):
    fw = draw(st.sampled_from(["pytorch", "pytorch-flush", "hf", "lightning", "keras"]))
    seq_len = draw(st.integers(1, 4096))
    pack = draw(st.booleans()) if packing is None else packing
    budget = draw(st.one_of(st.none(), st.integers(1, 10**12)))
    if pack and draw(st.booleans()):
        tokens = TokenData(seq_len, True, dataset_tokens=draw(st.integers(seq_len, seq_len * 3000)), token_budget=budget)
    else:
        docs = draw(st.integers(1, 3000))
        shortest = -(-seq_len // docs) if pack else 1  # packing needs one block at least
        tokens = TokenData(seq_len, pack, documents=docs, tokens_per_document=draw(st.integers(shortest, max(shortest, 8192))), token_budget=budget)
    n = tokens.samples
    kw = dict(framework=fw, batch_size=draw(st.integers(1, max(1, min(2 * n, 300)))), grad_accum=draw(st.integers(1, 6)))
    kw["epochs"] = draw(st.sampled_from([None, 1, 2, 3] + ([0.5, 2.25] if fw == "hf" else [])))
    if fw != "keras":
        kw["devices"] = draw(st.integers(1, 6))
        kw["drop_last"] = draw(st.booleans())
        kw["max_steps"] = draw(st.one_of(st.none(), st.integers(1, 300)))
    return Setup.from_tokens(tokens, **kw)


def plan_or_none(setup):
    try:
        return make_plan(setup)
    except SetupError:
        return None


def full_steps_only(p) -> bool:
    """Every optimizer step runs exactly grad_accum full batches and no batch runs outside a step."""
    every_batch_full = ((p.last_batch_sizes == p.setup.batch_size) | (p.batches == 0)).all()
    return bool(every_batch_full and int(p.batches.sum()) == p.total_optimizer_steps * p.setup.grad_accum)


@FAST
@given(token_setups(packing=True))
def test_packed_runs_of_full_steps_train_tokens_per_step_times_steps(setup):
    p = plan_or_none(setup)
    assume(p is not None)
    assume(full_steps_only(p))
    assert p.tokens_per_optimizer_step * p.total_optimizer_steps == p.tokens_trained


@FAST
@given(st.sampled_from(["pytorch", "pytorch-flush", "hf", "lightning"]), st.integers(1, 64), st.integers(1, 8), st.integers(1, 4),
       st.integers(1, 4), st.integers(1, 20), st.integers(0, 4095), st.integers(1, 3))
def test_data_that_fills_every_step_trains_exactly_steps_times_tokens(fw, seq_len, batch, devices, accum, steps, rest, epochs):
    # a packed dataset of exactly `steps` effective batches per epoch (plus a remainder shorter than a sample)
    tokens = TokenData(seq_len, True, dataset_tokens=steps * batch * devices * accum * seq_len + rest % seq_len)
    p = make_plan(Setup.from_tokens(tokens, framework=fw, batch_size=batch, devices=devices, grad_accum=accum, epochs=epochs))
    assert full_steps_only(p)
    assert p.total_optimizer_steps == steps * epochs
    assert p.tokens_per_optimizer_step * p.total_optimizer_steps == p.tokens_trained


@FAST
@given(token_setups())
def test_tokens_trained_never_exceed_what_the_batches_hold(setup):
    p = plan_or_none(setup)
    assume(p is not None)
    t = setup.tokens
    s = setup
    assert 0 <= p.tokens_trained <= int(p.batches.sum()) * s.batch_size * s.devices * t.seq_len
    assert (p.tokens_per_epoch >= 0).all() and int(p.tokens_per_epoch.sum()) == p.tokens_trained
    if int(p.batches.sum()) <= p.total_optimizer_steps * s.grad_accum:  # no batch runs outside an optimizer step
        assert p.tokens_trained <= p.total_optimizer_steps * p.tokens_per_optimizer_step
    assert t.samples * t.tokens_per_sample + t.tokens_dropped == t.total_tokens
    assert t.tokens_padded == t.samples * (t.seq_len - t.tokens_per_sample)
    steps = p.tokens_at_step(range(p.total_optimizer_steps + 1))
    assert (steps[1:] >= steps[:-1]).all() and steps[-1] <= p.tokens_trained


@FAST
@given(token_setups())
def test_the_budget_is_the_least_step_count_that_reaches_it(setup):
    p = plan_or_none(setup)
    assume(p is not None and setup.tokens.token_budget is not None)
    k, per, budget = p.max_steps_for_token_budget, p.real_tokens_per_optimizer_step, setup.tokens.token_budget
    assert k * per >= budget > (k - 1) * per
    if setup.tokens.packing:
        assert per == p.tokens_per_optimizer_step


@settings(max_examples=100, deadline=None)
@given(st.integers(1, 32), st.integers(1, 8), st.integers(1, 4), st.integers(1, 4), st.integers(1, 30), st.integers(1, 10**6))
def test_an_hf_run_with_the_budgets_max_steps_trains_the_budget(seq_len, batch, devices, accum, steps, budget):
    # HF Trainer on packed data that fills every step: max_steps = the budget's steps trains at least the budget, one fewer does not
    tokens = TokenData(seq_len, True, dataset_tokens=steps * batch * devices * accum * seq_len, token_budget=budget)
    s = Setup.from_tokens(tokens, framework="hf", batch_size=batch, devices=devices, grad_accum=accum)
    k = make_plan(s).max_steps_for_token_budget
    assert make_plan(s.replace(max_steps=k)).tokens_trained >= budget
    if k > 1:
        assert make_plan(s.replace(max_steps=k - 1)).tokens_trained < budget


def test_steps_for_tokens():
    assert [steps_for_tokens(t, 10) for t in (1, 9, 10, 11, 20, 21)] == [1, 1, 1, 2, 2, 3]
    assert steps_for_tokens(10**15, 1) == 10**15
