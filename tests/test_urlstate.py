"""The page's controls: query parsing (untrusted), writing, presets, setup building."""

import math

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from epochsteps import Setup, make_plan
from epochsteps.controls import (
    BATCH_STOPS,
    CONTROLS,
    DATASET_STOPS,
    DEFAULTS,
    EPOCH_STOPS,
    PRESETS,
    applies,
    caveats,
    check_values,
    dead_end,
    nearest_stop,
    preset_values,
    values_to_setup,
)
from epochsteps.text import short_number
from epochsteps.urlstate import (
    MAX_NOTICES,
    parse_query,
    to_query,
)


def test_defaults_are_the_textbook_case():
    values, notices = parse_query({})
    assert notices == []
    assert values == DEFAULTS
    out = values_to_setup(values)
    assert out.explanation is None
    assert out.plan.batches_per_epoch_full == 100
    assert out.plan.total_optimizer_steps == 1_000
    assert to_query(values) == {}


def test_every_default_is_inside_its_own_range():
    for c in CONTROLS.values():
        if c.default is None or c.kind in ("bool", "choice", "text"):
            continue
        assert c.low <= c.default <= c.high, c.key
    for c in CONTROLS.values():
        if c.kind == "choice":
            assert c.default in c.allowed or (c.optional and c.default is None)


def test_slider_stops_reach_the_page_limits_and_increase():
    assert DATASET_STOPS[0] == 1 and DATASET_STOPS[-1] == 10**9
    assert EPOCH_STOPS[0] == 1 and EPOCH_STOPS[-1] == 10**4
    for stops in (DATASET_STOPS, BATCH_STOPS, EPOCH_STOPS):
        assert list(stops) == sorted(set(stops))
    # the defaults sit on a stop, so the slider shows them exactly
    for key in ("dataset_size", "batch_size", "epochs"):
        assert DEFAULTS[key] in CONTROLS[key].stops


@pytest.mark.parametrize(
    ("key", "value", "stop"),
    [
        ("dataset_size", 1_281_167, 1_000_000),
        ("dataset_size", 4_000, 5_000),
        ("epochs", 90, 100),
        ("batch_size", 100, 100),
        ("batch_size", 0, 1),
    ],
)
def test_nearest_stop_on_a_log_scale(key, value, stop):
    assert nearest_stop(key, value) == stop


def test_short_number_keeps_inexact_values_exact():
    assert short_number(1_000_000) == "1M"
    assert short_number(50_000) == "50k"
    assert short_number(2_000_000_000) == "2B"
    assert short_number(1_281_167) == "1,281,167"
    assert short_number(64) == "64"


@pytest.mark.parametrize(
    ("query", "expected_value", "phrase"),
    [
        ({"batch_size": "-5"}, ("batch_size", 1), "batch_size=-5 is below 1: using 1"),
        ({"batch_size": "0"}, ("batch_size", 1), "is below 1"),
        ({"dataset_size": "1e400"}, ("dataset_size", 10**9), "is above 1,000,000,000: using 1,000,000,000"),
        ({"dataset_size": "-inf"}, ("dataset_size", 1), "is below 1"),
        ({"epochs": "nan"}, ("epochs", 10), "epochs=nan is not a number: using 10"),
        ({"epochs": "inf"}, ("epochs", 10_000), "is above 10,000"),
        ({"epochs": "ten"}, ("epochs", 10), "is not a number"),
        ({"epochs": "2.5"}, ("epochs", 2), "is not a whole number: using 2"),
        ({"epochs": ""}, ("epochs", 10), "is not a number"),
        ({"framework": "tensorflow"}, ("framework", "pytorch"), "is not one of"),
        ({"drop_last": "maybe"}, ("drop_last", False), "is not true or false"),
        ({"noise": "0.9", "early_stopping": "true"}, ("noise", 0.5), "noise=0.9 is above 0.5: using 0.5"),
        ({"batch_size": ["64", "32"]}, ("batch_size", 64), "given 2 times: using the first (64)"),
        ({"framework": "keras", "drop_last": "true"}, ("drop_last", False), "framework=keras has no such argument"),
        ({"lr": "0.1"}, ("lr", None), "it needs an lr_schedule"),
        ({"patience": "5"}, ("patience", 3), "it needs early_stopping=true"),
        ({"framework": "keras", "lr_schedule": "linear"}, ("lr_schedule", "cosine"), "Keras has no built-in schedule"),
        ({"eval_every_steps": "2.5"}, ("eval_every_steps", 2.0), "whole number of steps"),
        ({"eval_every_steps": "0"}, ("eval_every_steps", None), "evaluation turned off"),
        ({"lr_schedule": "linear", "warmup_steps": "0.1"}, ("warmup_steps", 0.0), "a warmup ratio below 1 is an HF notion"),
        ({"framework": "lightning", "val_check_interval": "0"}, ("val_check_interval", 1.0), "must be above 0"),
        ({"framework": "lightning", "val_check_interval": "2.5"}, ("val_check_interval", 2), "neither a fraction"),
        ({"zzz": "1"}, ("dataset_size", 10_000), "not a control of this page, ignored: zzz"),
    ],
)
def test_hostile_values_are_clamped_or_ignored_with_a_notice(query, expected_value, phrase):
    values, notices = parse_query(query)
    key, value = expected_value
    assert values[key] == value
    assert type(values[key]) is type(value)
    assert any(phrase in n for n in notices), notices
    assert values_to_setup(values).setup is not None or values_to_setup(values).explanation


def test_valid_values_pass_without_notices_and_keep_their_type():
    query = {
        "framework": "lightning",
        "dataset_size": "1,281,167",
        "batch_size": "256",
        "epochs": "90",
        "val_check_interval": "0.25",
        "check_val_every_n_epoch": "none",
        "lr_schedule": "cosine",
        "warmup_steps": "500",
        "embed": "true",
    }
    values, notices = parse_query(query)
    assert notices == []
    assert values["dataset_size"] == 1_281_167
    assert values["val_check_interval"] == 0.25 and isinstance(values["val_check_interval"], float)
    assert values["check_val_every_n_epoch"] is None
    assert values["warmup_steps"] == 500.0


def test_lightning_keeps_int_batches_apart_from_the_whole_epoch_fraction():
    every_batch, _ = parse_query({"framework": "lightning", "val_check_interval": "1"})
    whole_epoch, _ = parse_query({"framework": "lightning", "val_check_interval": "1.0"})
    assert every_batch["val_check_interval"] == 1 and isinstance(every_batch["val_check_interval"], int)
    assert isinstance(whole_epoch["val_check_interval"], float)
    assert to_query(every_batch)["val_check_interval"] == "1"
    assert to_query(whole_epoch)["val_check_interval"] == "1.0"
    a = values_to_setup(every_batch).plan
    b = values_to_setup(whole_epoch).plan
    assert len(a.evaluations) == 100 * len(b.evaluations)


def test_huge_strings_are_shortened_in_notices():
    values, notices = parse_query({"epochs": "9" * 5000, "x" * 5000: "1"})
    assert values["epochs"] == 10
    assert all(len(n) < 200 for n in notices)
    values, notices = parse_query({"early_stopping": "true", "metric_source": "pasted", "metrics_text": "1 " * 20_000})
    assert len(values["metrics_text"]) == CONTROLS["metrics_text"].high
    assert any("keeping the first" in n for n in notices)


def test_many_unknown_keys_give_a_bounded_list_of_notices():
    values, notices = parse_query({f"k{i}": "1" for i in range(1000)} | {"dataset_size": ["1", "2"], "batch_size": "-1"})
    assert len(notices) <= MAX_NOTICES
    assert any("995 more" in n for n in notices)


def test_to_query_writes_only_non_defaults_that_apply():
    values = {**DEFAULTS, "batch_size": 64, "patience": 7, "framework": "keras", "devices": 4, "validation_freq": 2}
    q = to_query(values)
    assert q == {"batch_size": "64", "framework": "keras", "validation_freq": "2"}


@pytest.mark.parametrize("name", list(PRESETS))
def test_every_preset_plans_and_round_trips(name):
    values = preset_values(name)
    assert check_values(values) == (values, [])
    out = values_to_setup(values)
    assert out.explanation is None, out.explanation
    again, notices = parse_query(to_query(values))
    assert notices == []
    assert again == values


def test_preset_numbers():
    plan = values_to_setup(preset_values("Textbook")).plan
    assert (plan.batches_per_epoch_full, plan.total_optimizer_steps) == (100, 1_000)
    plan = values_to_setup(preset_values("ImageNet-1k")).plan
    assert plan.batches_per_epoch_full == math.ceil(1_281_167 / 256)
    assert plan.total_optimizer_steps == 90 * math.ceil(1_281_167 / 256)
    llm = preset_values("LLM fine-tune")
    assert (llm["framework"], llm["devices"], llm["grad_accum"]) == ("hf", 4, 4)
    plan = values_to_setup(llm).plan
    assert plan.effective_batch_size == 8 * 4 * 4
    assert plan.total_optimizer_steps == plan.to_dict()["total_optimizer_steps"] > 0
    assert plan.setup.lr_schedule == "linear" and plan.setup.warmup_steps == 0.1


def test_setup_refusals_become_explanations():
    out = values_to_setup({**DEFAULTS, "early_stopping": True})  # pytorch loop without eval_every_steps
    assert out.setup is None and out.plan is None
    assert "eval_every_steps" in out.explanation and "Advanced" in out.explanation
    out = values_to_setup({**DEFAULTS, "framework": "hf", "drop_last": True, "batch_size": 20_000})
    assert out.explanation and "drop_last" in out.explanation
    out = values_to_setup({**DEFAULTS, "framework": "lightning", "val_check_interval": 500})
    assert out.explanation and "val_check_interval" in out.explanation


def test_dead_ends_are_explained():
    plan = values_to_setup({**DEFAULTS, "batch_size": 20_000, "drop_last": True}).plan
    assert plan.total_optimizer_steps == 0
    text = dead_end(plan)
    assert "0 batches" in text and "10,000" in text
    plan = values_to_setup({**DEFAULTS, "batch_size": 5_000, "grad_accum": 4}).plan
    assert "No optimizer step" in dead_end(plan)
    assert dead_end(values_to_setup(DEFAULTS).plan) is None
    big = values_to_setup({**DEFAULTS, "batch_size": 20_000}).plan
    assert dead_end(big) is None and "larger than the dataset" in caveats(big)[0]
    assert caveats(values_to_setup(DEFAULTS).plan) == []


def test_early_stopping_reads_one_curve_value_per_evaluation():
    values = {**DEFAULTS, "framework": "hf", "early_stopping": True, "patience": 2}
    out = values_to_setup(values)
    base = make_plan(Setup(dataset_size=10_000, batch_size=100, epochs=10, framework="hf"))
    assert len(out.setup.metrics) == len(base.evaluations) == 10
    assert out.plan.early_stop is not None
    assert values_to_setup({**values, "seed": 1}).setup.metrics != out.setup.metrics


def test_pasted_values_report_bad_tokens_and_run_out():
    values = {
        **DEFAULTS,
        "framework": "hf",
        "early_stopping": True,
        "metric_source": "pasted",
        "metrics_text": "1.0, 0.9; abc 0.8\n1e400",
    }
    out = values_to_setup(values)
    assert out.setup.metrics == (1.0, 0.9, 0.8)
    assert any("'abc'" in n and "1e400" in n for n in out.notes)
    assert out.plan.early_stop.metrics_ran_out_at == 3
    empty = values_to_setup({**values, "metrics_text": ""})
    assert any("No values pasted" in n for n in empty.notes)


def test_hidden_knobs_do_not_reach_the_setup():
    values = {**DEFAULTS, "framework": "keras", "drop_last": True, "devices": 8, "max_steps": 5, "val_check_interval": 0.5}
    out = values_to_setup(values)
    assert out.explanation is None
    assert out.setup.devices == 1 and out.setup.drop_last is False and out.setup.max_steps is None
    assert not applies("devices", values) and applies("validation_freq", values)


# -- fuzz ----------------------------------------------------------------------------

TEXTS = st.one_of(
    st.sampled_from(
        [
            "",
            "0",
            "-1",
            "1",
            "2.5",
            "1e400",
            "-1e400",
            "nan",
            "inf",
            "-inf",
            "1e9",
            "1,000",
            "true",
            "none",
            "0.5",
            "99999999999999999999",
            "hf",
            "lightning",
            "keras",
            "pasted",
            "cosine",
        ]
    ),
    st.text(max_size=30),
    st.integers(-(10**15), 10**15).map(str),
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
)
KEYS = st.one_of(st.sampled_from(list(CONTROLS)), st.text(max_size=10))
QUERIES = st.dictionaries(KEYS, st.one_of(TEXTS, st.lists(TEXTS, max_size=3)), max_size=12)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(QUERIES)
def test_fuzz_any_query_gives_a_setup_or_an_explanation(query):
    values, notices = parse_query(query)
    assert set(values) == set(CONTROLS)
    assert len(notices) <= MAX_NOTICES
    out = values_to_setup(values)
    assert (out.setup is None) == (out.plan is None) == (out.explanation is not None)
    if out.plan is not None:
        assert out.plan.total_optimizer_steps >= 0
        dead_end(out.plan)
    # what the page writes back reads again without a word
    again, again_notices = parse_query(to_query(values))
    assert again_notices == []
    assert to_query(again) == to_query(values)


@settings(max_examples=200, deadline=None)
@given(
    st.fixed_dictionaries(
        {
            "dataset_size": st.integers(1, 10**9),
            "batch_size": st.integers(1, 10**9),
            "epochs": st.integers(1, 10**4),
            "framework": st.sampled_from(["pytorch", "pytorch-flush", "hf", "lightning", "keras"]),
            "grad_accum": st.integers(1, 64),
            "drop_last": st.booleans(),
        }
    )
)
def test_fuzz_round_trip_of_valid_values(changes):
    values, notices = check_values({**DEFAULTS, **changes})
    assert notices == []
    again, notices = parse_query(to_query(values))
    assert notices == []
    for key in values:
        if applies(key, values):
            assert again[key] == values[key], key


