"""The page under Streamlit's AppTest: what a user sees, for defaults, presets, every
advanced control, the URL round trip and hostile URLs. Expected numbers come from the
core (`values_to_setup`), never typed in here."""

from __future__ import annotations

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from epochsteps import controls as ctl
from epochsteps import explain
from epochsteps import urlstate as us
from epochsteps.conventions import CONVENTIONS

APP = str(Path(__file__).resolve().parent.parent / "app.py")


def run(query: dict | None = None, advanced: bool = True) -> AppTest:
    """The page for `query`; `advanced` opens the Advanced panel (drawn only when open) as a user would."""
    at = AppTest.from_file(APP, default_timeout=60)
    for key, value in (query or {}).items():
        at.query_params[key] = value
    if advanced:
        at.session_state["advanced_open"] = True
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def metrics(at: AppTest) -> dict[str, str]:
    return {m.label: m.value for m in at.metric}


def charts(at: AppTest) -> list:
    return at.get("vega_lite_chart")


def unescaped(text: str) -> str:
    """Page text as read: the page escapes Markdown in everything it echoes."""
    return text.replace("\\", "")


def warnings(at: AppTest) -> str:
    return unescaped("\n".join(w.value for w in at.warning))


def expected_cards(values: dict) -> dict[str, str]:
    plan = ctl.values_to_setup(values).plan
    return {c.label: c.value for c in explain.metric_cards(plan)}


def test_defaults_show_the_textbook_case():
    at = run(advanced=False)
    shown = metrics(at)
    assert shown["Batches per epoch"] == "100"
    assert shown["Optimizer steps per epoch"] == "100"
    assert shown["Total optimizer steps"] == "1,000"
    assert shown == expected_cards(ctl.DEFAULTS)
    assert not at.warning
    formulas = [m.value for m in at.markdown if m.value.startswith("$$\n")]  # the formula opens the takeaways' element
    assert len(formulas) == 1 and "100" in formulas[0].split("$$")[1] and "\n- " in formulas[0]
    assert len(charts(at)) == 4  # timeline, inside one epoch, trade-off, learning rate (StepLR per epoch vs per batch)
    at.button(key="lab_train").click().run()  # the training lab trains only when asked
    assert len(charts(at)) == 6 and not at.exception  # its loss chart and the two batch sizes
    assert at.query_params == {}
    assert at.expander[0].proto.expanded is False  # Advanced starts collapsed
    assert [s.value for s in at.select_slider] == [10_000, 100, 10]


def test_every_chart_carries_its_numbers_as_text():
    at = run()
    captions = [c.value for c in at.caption]
    for spec_caption in ("Step timeline", "Inside epoch 1", "Batch-size trade-off", "Learning rate"):
        assert any(spec_caption in unescaped(c) for c in captions), spec_caption


def test_the_translator_marks_the_columns_that_differ():
    query = {"framework": "hf", "grad_accum": "3", "devices": "2", "dataset_size": "10001"}
    at = run(query)
    assert not at.dataframe  # the side-by-side table is built only when asked for
    at.session_state["translator_open"] = True
    at.run()
    table = explain.translator(ctl.values_to_setup(us.parse_query(query)[0]).setup)
    differs = table.attrs["differs"]
    assert differs  # samples seen: DistributedSampler pads to 10,002, accelerate pads the last batch, Keras pads nothing
    shown = at.dataframe[0].value
    same = [c for c in table.columns[1:] if c not in differs]
    assert list(shown.columns) == ["convention", *(f"≠ {c}" for c in differs), *same]  # the differences first
    assert shown.to_numpy().tolist() == table[["convention", *differs, *same]].to_numpy().tolist()


@pytest.mark.parametrize("name", list(ctl.PRESETS))
def test_every_preset(name):
    at = run()
    at.pills(key="preset").set_value(name).run()
    assert not at.exception
    values = ctl.preset_values(name)
    assert metrics(at) == expected_cards(values)
    assert at.number_input(key="dataset_size").value == values["dataset_size"]
    assert at.query_params == us.to_query(values)
    assert at.pills(key="preset").value is None  # a preset is an action, not a state
    assert len(charts(at)) >= 3
    assert not [i.value for i in at.info if "cannot be drawn" in i.value]


def test_slider_and_exact_box_stay_in_sync():
    at = run()
    at.select_slider(key="batch_size_stop").set_value(128).run()
    assert at.number_input(key="batch_size").value == 128
    assert metrics(at)["Batches per epoch"] == expected_cards({**ctl.DEFAULTS, "batch_size": 128})["Batches per epoch"] == "79"
    at.number_input(key="dataset_size").set_value(1_281_167).run()
    assert at.select_slider(key="dataset_size_stop").value == 1_000_000
    assert at.query_params == {"dataset_size": "1281167", "batch_size": "128"}
    assert (
        metrics(at)["Total optimizer steps"]
        == expected_cards({**ctl.DEFAULTS, "batch_size": 128, "dataset_size": 1_281_167})["Total optimizer steps"]
    )


# (framework, widget kind, key, value): each advanced control moved once
ADVANCED = [
    ("pytorch", "selectbox", "framework", "hf"),
    ("pytorch", "number_input", "grad_accum", 3),
    ("pytorch", "number_input", "devices", 4),
    ("pytorch", "checkbox", "drop_last", True),
    ("pytorch", "number_input", "max_steps", 250),
    ("pytorch", "number_input", "eval_every_steps", 50.0),
    ("pytorch-flush", "number_input", "grad_accum", 3),
    ("hf", "number_input", "eval_every_steps", 0.25),
    ("lightning", "text_input", "val_check_interval_text", "0.5"),
    ("lightning", "number_input", "check_val_every_n_epoch", 2),
    ("keras", "number_input", "validation_freq", 2),
    ("keras", "number_input", "steps_per_epoch", 30),
    ("hf", "checkbox", "early_stopping", True),
    ("hf", "selectbox", "lr_schedule", "cosine"),
    ("keras", "selectbox", "lr_schedule", "cosine"),
]


@pytest.mark.parametrize(("framework", "kind", "key", "value"), ADVANCED)
def test_each_advanced_control(framework, kind, key, value):
    at = run({"framework": framework} if framework != "pytorch" else None)
    before = metrics(at)
    widget = getattr(at, kind)(key=key)
    if kind == "checkbox":
        widget.check()
    else:
        widget.set_value(value)
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    url_key = "val_check_interval" if key.endswith("_text") else key
    assert url_key in at.query_params
    values, notices = us.parse_query(dict(at.query_params))
    assert notices == []
    out = ctl.values_to_setup(values)
    if out.plan is not None and not ctl.dead_end(out.plan):
        assert metrics(at) == expected_cards(values)
    if key in ("grad_accum", "devices", "max_steps", "steps_per_epoch"):
        assert metrics(at) != before


def test_dependent_controls_appear_with_their_switch():
    at = run({"framework": "hf", "early_stopping": "true", "lr_schedule": "linear"})
    for key in ("patience", "min_delta", "lr", "warmup_steps", "seed"):
        at.number_input(key=key)  # raises if missing
    at.number_input(key="patience").set_value(1).run()
    at.number_input(key="warmup_steps").set_value(0.1).run()
    at.number_input(key="lr").set_value(0.001).run()
    at.slider(key="noise").set_value(0.1).run()
    at.slider(key="overfit_at").set_value(0.3).run()
    at.number_input(key="min_delta").set_value(0.01).run()
    at.number_input(key="seed").set_value(5).run()
    assert not at.exception
    q = at.query_params
    assert (q["patience"], q["warmup_steps"], q["lr"], q["noise"], q["overfit_at"]) == ("1", "0.1", "0.001", "0.1", "0.3")
    assert (q["min_delta"], q["seed"]) == ("0.01", "5")
    assert len(charts(at)) == 5  # the early-stopping chart too (the lab trains only when asked)
    values, _ = us.parse_query(dict(q))
    es = ctl.values_to_setup(values).plan.early_stop
    assert metrics(at)["Total optimizer steps"] == f"{es.stop_global_step:,}"


def test_keras_knobs_replace_the_loader_knobs():
    at = run({"framework": "keras"})
    keys = {w.key for w in at.number_input}
    assert {"validation_freq", "steps_per_epoch"} <= keys
    assert not {"devices", "max_steps", "eval_every_steps"} & keys
    assert [c.key for c in at.checkbox] == ["save_best_only", "early_stopping"]  # no drop_last: Keras has none
    assert at.selectbox(key="lr_schedule").options == ["none", *CONVENTIONS["keras"].lr_schedules]


def test_pasted_values_report_bad_tokens_and_where_they_run_out():
    at = run({"framework": "hf", "early_stopping": "true", "metric_source": "pasted"})
    at.text_area(key="metrics_text").set_value("1.0, 0.8 oops 0.7").run()
    assert not at.exception
    assert "'oops'" in warnings(at)
    info = unescaped("\n".join(i.value for i in at.info))
    assert "ran out at evaluation 4" in info and "global step 400" in info


def test_turn_on_early_stopping_for_a_loop_sets_an_evaluation_cadence():
    at = run()
    at.button(key="es_on").click().run()
    assert not at.exception and not at.warning
    assert at.query_params["early_stopping"] == "true"
    assert at.query_params["eval_every_steps"] == "100"  # one evaluation per epoch's steps, from the plan
    assert len(charts(at)) == 5


def test_try_this_applies_its_change():
    at = run()
    prompt = [i.value for i in at.info if "Try this" in i.value][0]
    at.button(key="try_this").click().run()
    assert not at.exception
    assert at.query_params  # something moved off the defaults
    assert prompt not in [i.value for i in at.info]


def test_url_round_trip():
    values = {**ctl.preset_values("LLM fine-tune"), "early_stopping": True, "patience": 2, "seed": 7, "eval_every_steps": 100.0}
    query = us.to_query(values)
    at = run(query)
    assert not at.warning
    assert at.number_input(key="batch_size").value == 8
    assert at.number_input(key="devices").value == 4
    assert at.selectbox(key="framework").value == "hf"
    assert at.selectbox(key="lr_schedule").value == "linear"
    assert at.number_input(key="eval_every_steps").value == 100.0
    assert at.query_params == query
    assert metrics(at) == expected_cards(values)


def test_lightning_interval_text_keeps_int_and_fraction_apart():
    at = run({"framework": "lightning", "val_check_interval": "0.25"})
    assert at.text_input(key="val_check_interval_text").value == "0.25"
    at.text_input(key="val_check_interval_text").set_value("10").run()
    assert at.query_params["val_check_interval"] == "10"
    at.text_input(key="val_check_interval_text").set_value("abc").run()
    assert "is not a number" in warnings(at)
    assert "val_check_interval" not in at.query_params


HOSTILE = [
    ({"batch_size": "-5"}, "batch_size=-5 is below 1: using 1"),
    ({"batch_size": "0"}, "is below 1"),
    ({"dataset_size": "1e400"}, "is above 1,000,000,000"),
    ({"epochs": "nan"}, "is not a number"),
    ({"epochs": "inf"}, "is above 10,000"),
    ({"dataset_size": "abc"}, "is not a number"),
    ({"epochs": "9" * 5000}, "too long"),
    ({"batch_size": ["64", "32"]}, "given 2 times: using the first"),
    ({"hack": "1", "x" * 300: "y"}, "not a control of this page"),
    ({"framework": "tensorflow"}, "is not one of"),
    ({"framework": "keras", "drop_last": "true"}, "has no such argument"),
    ({"framework": "keras", "lr_schedule": "linear"}, "Keras has no built-in schedule"),
    ({"lr": "0.1"}, "it needs an lr_schedule"),
    ({"early_stopping": "maybe"}, "is not true or false"),
    ({"framework": "lightning", "val_check_interval": "-1"}, "must be above 0"),
    ({"batch_size": "[x](http://evil.example) :red[boo] $x$"}, "is not a number"),
]


@pytest.mark.parametrize(("query", "phrase"), HOSTILE)
def test_hostile_urls_give_a_notice_and_no_exception(query, phrase):
    at = run(query)
    text = warnings(at)
    assert phrase in text
    assert "](http" not in "\n".join(w.value for w in at.warning)  # echoed link text is escaped, never a link
    assert len(charts(at)) >= 3  # the page still draws
    # the URL is cleaned to what the page uses
    values, notices = us.parse_query(dict(at.query_params))
    assert notices == []


def test_link_notices_go_away_after_a_move():
    at = run({"batch_size": "-5"})
    assert at.warning
    at.select_slider(key="epochs_stop").set_value(20).run()
    assert not at.warning


def test_dead_end_explains_instead_of_drawing():
    at = run({"batch_size": "20000", "drop_last": "true"})
    assert "0 batches" in warnings(at)
    assert charts(at) == []
    assert metrics(at)["Total optimizer steps"] == "0"


def test_framework_refusal_is_an_explanation_not_a_traceback():
    at = run({"framework": "hf", "batch_size": "20000", "drop_last": "true"})
    assert "cannot run" in warnings(at) and "drop_last" in warnings(at)
    assert charts(at) == []
    at = run({"early_stopping": "true"})  # a hand-written loop with no evaluation cadence
    assert "eval_every_steps" in warnings(at)


def test_batch_larger_than_the_dataset_is_explained():
    at = run({"batch_size": "20000"})
    assert any("larger than the dataset" in unescaped(i.value) for i in at.info)
    assert len(charts(at)) >= 3


@pytest.mark.parametrize(
    "query", [{}, us.to_query(ctl.preset_values("ImageNet-1k")), {"dataset_size": "1000000000", "epochs": "10000"}]
)
def test_no_chart_sends_more_than_5000_rows(query):
    import pyarrow as pa

    at = run(query)
    for chart in charts(at):
        for dataset in chart.proto.datasets:
            assert pa.ipc.open_stream(dataset.data.data).read_all().num_rows <= 5_000


def test_keras_start_from_epoch():
    at = run({"framework": "keras", "early_stopping": "true", "patience": "1"})
    at.number_input(key="start_from_epoch").set_value(4).run()
    assert not at.exception
    assert at.query_params["start_from_epoch"] == "4"
    values, notices = us.parse_query(dict(at.query_params))
    assert notices == [] and metrics(at) == expected_cards(values)
    assert any("start_from_epoch=4" in unescaped(m.value) for m in at.markdown)  # the takeaway names it


def core_charts(at: AppTest) -> dict[str, tuple[str, list[bytes]]]:
    """The explainer's charts by accessible name: (spec, the Arrow bytes of each table)."""
    out = {}
    for chart in charts(at):
        if chart.proto.alt.endswith("(its numbers are in the text under it)"):
            out[chart.proto.alt] = (chart.proto.spec, [d.data.data for d in chart.proto.datasets])
    return out


@pytest.mark.parametrize("preset", ["odd-sized", "ImageNet-1k"])
def test_a_batch_size_move_sends_the_same_specs_with_new_tables(preset):
    """The browser keeps a chart whose spec is unchanged and swaps its data: a slider move must
    change the tables, not the spec (titles and axis ranges are read from the tables)."""
    # 10,001 samples: a partial last batch at every stop
    at = run({"dataset_size": "10001"} if preset == "odd-sized" else us.to_query(ctl.preset_values(preset)))
    before = core_charts(at)
    assert len(before) >= 4
    slider = at.select_slider(key="batch_size_stop")
    stops = list(ctl.BATCH_STOPS)
    slider.set_value(stops[stops.index(slider.value) + 1]).run()
    assert not at.exception
    after = core_charts(at)
    assert after.keys() == before.keys()
    for name, (spec, tables) in before.items():
        assert after[name][0] == spec, name
        assert after[name][1] != tables, name


# -- tokens and wall-clock time (#15) ----------------------------------------------------------


def test_tokens_mode_puts_a_token_slider_where_the_dataset_slider_was():
    query = {"data_unit": "tokens", "dataset_tokens": "1000000000", "seq_len": "2048", "batch_size": "8", "grad_accum": "4"}
    at = run(query)
    sliders = [s.key for s in at.select_slider]
    assert "dataset_tokens_stop" in sliders and "dataset_size_stop" not in sliders
    values, notices = us.parse_query(query)
    assert notices == []
    plan = ctl.values_to_setup(values).plan
    shown = metrics(at)
    assert shown == expected_cards(values)  # the token cards too, from the core
    assert shown["Tokens per optimizer step"] == f"{plan.tokens_per_optimizer_step:,}" == "65,536"
    assert shown["Tokens trained"] == f"{plan.tokens_trained:,}"
    assert {k: at.query_params[k] for k in query} == query  # the URL keeps every token input
    at.checkbox(key="packing").uncheck().run()  # without packing a document is a sample: documents and their mean length
    assert not at.exception
    sliders = [s.key for s in at.select_slider]
    assert "documents_stop" in sliders and "dataset_tokens_stop" not in sliders
    assert at.number_input(key="tokens_per_document") is not None
    assert at.query_params["packing"] == "false"
    at.segmented_control(key="data_unit").set_value("samples").run()
    assert "dataset_size_stop" in [s.key for s in at.select_slider] and "Tokens trained" not in metrics(at)


def test_a_throughput_gives_training_times_and_both_at_once_keep_one():
    at = run({"seconds_per_step": "1.5"})
    values, _ = us.parse_query({"seconds_per_step": "1.5"})
    assert metrics(at) == expected_cards(values)
    assert "Training time" in metrics(at) and at.query_params["seconds_per_step"] == "1.5"
    both = run({"seconds_per_step": "1.5", "samples_per_second": "300"})
    assert "two ways to give the same throughput" in warnings(both)
    assert "samples_per_second" not in both.query_params


@pytest.mark.parametrize(
    ("query", "says"),
    [
        ({"data_unit": "bytes"}, "data_unit=bytes"),
        ({"data_unit": "tokens", "seq_len": "-3"}, "seq_len=-3"),
        ({"data_unit": "tokens", "dataset_tokens": "1e30"}, "dataset_tokens=1e30"),
        ({"seconds_per_step": "nan"}, "seconds_per_step=nan"),
    ],
)
def test_hostile_token_and_time_values_are_named(query, says):
    at = run(query)
    assert says in warnings(at)
    assert metrics(at)["Total optimizer steps"]


# -- checkpoints, logs and Lightning's limits (#14) ----------------------------------------------


def lanes_of(at: AppTest) -> list[str]:
    """The step timeline's lanes, from its template (the first chart)."""
    import json

    spec = json.loads(charts(at)[0].proto.spec)
    return next(layer["encoding"]["y"]["scale"]["domain"] for layer in spec["layer"] if layer.get("encoding", {}).get("y", {}).get("field") == "lane")


@pytest.mark.parametrize(
    ("framework", "lanes"),
    [
        ("hf", ["epoch", "optimizer steps", "evaluations", "checkpoints", "logs"]),
        ("lightning", ["epoch", "optimizer steps", "evaluations", "checkpoints", "logs"]),
        ("keras", ["epoch", "optimizer steps", "evaluations", "checkpoints", "logs"]),  # "none written": no ModelCheckpoint unless added
        ("pytorch", ["epoch", "optimizer steps", "checkpoints", "logs"]),  # "none written", "none logged"
    ],
)
def test_checkpoint_and_log_lanes_and_the_unsaved_steps_card(framework, lanes):
    at = run({"framework": framework})
    assert lanes_of(at) == lanes
    values, _ = us.parse_query({"framework": framework})
    plan = ctl.values_to_setup(values).plan
    assert metrics(at)["Steps after the last checkpoint"] == f"{plan.steps_after_last_checkpoint:,}"
    assert metrics(at) == expected_cards(values)


def test_checkpoint_knobs_round_trip_through_the_url():
    query = {"framework": "hf", "save_steps": "300", "logging_steps": "0.1", "logging_first_step": "true", "save_strategy": "steps"}
    at = run(query)
    assert {k: at.query_params[k] for k in query} == query
    values, notices = us.parse_query(query)
    assert notices == []
    plan = ctl.values_to_setup(values).plan
    assert plan.checkpoints.global_step.tolist() == [300, 600, 900, 1000]  # and the forced save at the final step
    assert metrics(at) == expected_cards(values)
    lightning = run({"framework": "lightning", "limit_train_batches": "0.5", "log_every_n_steps": "10", "min_epochs": "3"})
    assert lightning.text_input(key="limit_train_batches_text").value == "0.5"
    assert lightning.query_params["limit_train_batches"] == "0.5"
    keras = run({"framework": "keras", "save_freq": "epoch", "save_best_only": "true"})
    assert metrics(keras)["Steps after the last checkpoint"] is not None and not keras.exception


@pytest.mark.parametrize(
    ("query", "says"),
    [
        ({"framework": "hf", "save_strategy": "sometimes"}, "save_strategy=sometimes"),
        ({"framework": "hf", "save_steps": "-2"}, "save_steps=-2"),
        ({"framework": "lightning", "limit_train_batches": "lots"}, "limit_train_batches=lots"),
        ({"framework": "keras", "save_best_only": "maybe"}, "save_best_only=maybe"),
        ({"framework": "pytorch", "save_every_steps": "1e40"}, "save_every_steps=1e40"),
    ],
)
def test_hostile_checkpoint_values_are_named(query, says):
    at = run(query)
    assert says in warnings(at) and not at.exception


def test_a_knob_the_framework_refuses_says_why():
    at = run({"framework": "hf", "load_best_model_at_end": "true", "save_strategy": "steps", "save_steps": "30", "eval_every_steps": "20"})
    assert not at.exception  # HF's __post_init__: save_steps must be a multiple of eval_steps
    shown = warnings(at)
    assert "multiple" in shown and "save_steps" in shown
