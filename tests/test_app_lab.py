"""The training lab on the page (AppTest): nothing trains until the learner asks (Train, or
"Keep training as I change the setup"); then "See it train" draws a real run of the current
setup and two batch sizes side by side, the lab's validation losses are a metric source for
early stopping, and a run happens only when its inputs change. A run trains in the page's
own script run, after the rest of the page is out. Expected numbers and sentences come from
the core (`epochsteps.training`, `epochsteps.lab_charts`), never typed in here.

Lab runs are stored for the whole process (bounded), so each test uses its own seed to see
its own runs trained.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import pyarrow as pa
import pytest
from streamlit.testing.v1 import AppTest

from conftest import headings

from epochsteps import controls as ctl
from epochsteps import explain, lab_charts, training
from epochsteps import urlstate as us
from epochsteps.setup import SetupError

APP = str(Path(__file__).resolve().parent.parent / "app.py")
MAX_ROWS = 5_000
PAGE_ROWS = 600  # a chart's rows on the page: about one per pixel of its plot


LAB_TRAINING = ("Training the lab model on this setup", "Training with batch")  # the lab's pending state


def run(query: dict | None = None, train: bool = False, keep: bool = False, advanced: bool = True) -> AppTest:
    """The page for `query`; `train` presses Train once, `keep` switches on keep-training first."""
    at = AppTest.from_file(APP, default_timeout=120)
    for key, value in (query or {}).items():
        at.query_params[key] = value
    if keep:
        at.session_state["lab_keep_training"] = True
    if advanced:
        at.session_state["advanced_open"] = True
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    if train:
        press_train(at)
    return at


def press_train(at: AppTest) -> AppTest:
    at.button(key="lab_train").click().run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def training_shown(at: AppTest) -> list[str]:
    """The texts of the lab's "still training" bars on the page."""
    return [p.proto.text for p in at.get("progress") if p.proto.text.startswith(LAB_TRAINING)]


def plain(text: str) -> str:
    """Page text as read: the page escapes Markdown in what it echoes."""
    return text.replace("\\", "")


def values_of(query: dict) -> dict:
    values, notices = us.parse_query(query)
    assert notices == []
    return values


def setup_of(query: dict):
    return ctl.values_to_setup(values_of(query)).setup


def specs(at: AppTest) -> list[dict]:
    """The page's chart specs, each title written out from the chart's meta table (the page
    sends titles as expressions that read it)."""
    out = []
    for chart in at.get("vega_lite_chart"):
        spec = json.loads(chart.proto.spec)
        for d in chart.proto.datasets:
            if d.name == "meta":
                row = pa.ipc.open_stream(d.data.data).read_all().to_pylist()[0]
                spec["title"] = {k: v for k, v in row.items() if k.startswith(("title", "panel"))}
        out.append(spec)
    return out


def lab_specs(at: AppTest) -> tuple[list[dict], list[dict]]:
    """(loss charts, comparison charts) on the page."""
    all_specs = specs(at)
    loss = [s for s in all_specs if "See it train" in json.dumps(s.get("title", ""))]
    compare = [s for s in all_specs if "concat" in s]
    return loss, compare


def texts(at: AppTest) -> str:
    return plain("\n".join(e.value for kind in ("markdown", "caption", "info") for e in at.get(kind)))


def pair_runs(setup, seed: int):
    small, large = training.batch_pair(setup)
    base = setup.replace(patience=None, metrics=())
    return training.train(base.replace(batch_size=small), seed), training.train(base.replace(batch_size=large), seed)


def test_nothing_trains_until_asked(monkeypatch):
    calls: list[int] = []
    real = training.train
    monkeypatch.setattr(training, "train", lambda setup, seed=0, **kw: calls.append(seed) or real(setup, seed, **kw))
    at = run({"seed": "120"})
    assert calls == [] and lab_specs(at) == ([], [])
    assert "Press **Train** to train it on this setup" in texts(at)
    at.select_slider(key="batch_size_stop").set_value(64).run()  # a move costs the lab nothing
    at.select_slider(key="epochs_stop").set_value(3).run()
    assert calls == [] and not at.exception
    press_train(at)
    assert sorted(set(calls)) == [120] and len(calls) == 3  # the setup and its two batch sizes
    assert len(lab_specs(at)[0]) == 1 and len(lab_specs(at)[1]) == 1
    calls.clear()
    at.select_slider(key="batch_size_stop").set_value(128).run()  # a new setup: asked for again, not trained
    assert calls == [] and lab_specs(at) == ([], [])


def test_see_it_train_draws_the_run_of_the_current_setup():
    query = {"seed": "101"}
    at = run(query, train=True)
    headers = headings(at)
    assert headers.index("Early stopping") < headers.index("See it train") < headers.index("Framework translator")
    loss, compare = lab_specs(at)
    assert len(loss) == 1 and len(compare) == 1
    setup = setup_of(query)
    expected = training.train(setup, 101)
    assert expected.optimizer_steps == 1_000  # the textbook plan, every step a real update
    lines = [plain(m.value) for m in at.markdown]
    assert lab_charts.describe_run(expected) in lines  # the chart's numbers as text too
    sentence = lab_charts.comparison_sentence(*pair_runs(setup, 101))
    assert sentence in texts(at)
    assert "batch 25 made 4,000 optimizer steps and batch 400 made 250" in sentence
    assert at.query_params["seed"] == "101"


def test_a_new_seed_is_a_new_run_and_in_the_link():
    at = run({"seed": "102"}, keep=True)
    at.number_input(key="seed").set_value(103).run()
    assert not at.exception
    assert at.query_params["seed"] == "103"
    expected = training.train(setup_of({"seed": "103"}), 103)
    assert lab_charts.describe_run(expected) in [plain(c.value) for c in at.markdown]
    assert lab_charts.describe_run(training.train(setup_of({}), 102)) not in [plain(c.value) for c in at.markdown]


def test_runs_happen_only_when_their_inputs_change(monkeypatch):
    calls: list[tuple] = []
    real = training.train

    def counted(setup, seed=0, **kwargs):
        calls.append((setup.batch_size, seed, setup.drop_last))
        return real(setup, seed, **kwargs)

    def own(drop_last: bool) -> list[tuple]:
        return sorted(c for c in calls if c[0] in (25, 100, 400) and c[2] == drop_last)

    monkeypatch.setattr(training, "train", counted)
    at = run({"seed": "104"}, keep=True)
    assert own(False) == [(25, 104, False), (100, 104, False), (400, 104, False)]  # the setup and its two batch sizes
    calls.clear()
    at.run()
    assert own(False) == [] and not training_shown(at)  # a rerun with the same inputs trains nothing
    at.checkbox(key="drop_last").check().run()  # 10,000 / 100 has no short batch: the same schedule, a new setup
    assert not at.exception
    assert len(own(True)) == 3
    calls.clear()
    at.checkbox(key="drop_last").uncheck().run()
    assert own(False) == [] and not training_shown(at)  # seen before: from the bounded store, drawn at once
    assert len(lab_specs(at)[0]) == 1 and len(lab_specs(at)[1]) == 1


def test_early_stopping_settings_of_the_curve_do_not_retrain(monkeypatch):
    calls: list[int] = []
    real = training.train

    def counted(setup, seed=0, **kwargs):
        calls.append(setup.batch_size)
        return real(setup, seed, **kwargs)

    monkeypatch.setattr(training, "train", counted)
    at = run({"seed": "105", "framework": "hf", "early_stopping": "true"}, keep=True)
    assert calls
    calls.clear()
    at.slider(key="noise").set_value(0.1).run()  # changes the illustrative curve, not the lab's setup
    assert not at.exception and calls == [] and not training_shown(at)


def slowed(monkeypatch, seconds: float, calls: list | None = None):
    """training.train taking `seconds` longer (and reporting progress half-way through the wait)."""
    real = training.train

    def slow(setup, seed=0, progress=None, **kwargs):
        if calls is not None:
            calls.append((setup.batch_size, seed))
        time.sleep(seconds / 2)
        if progress is not None:
            progress(0.5)
        time.sleep(seconds / 2)
        return real(setup, seed, progress=progress, **kwargs)

    monkeypatch.setattr(training, "train", slow)
    return real


def test_a_slow_lab_run_is_drawn_in_the_same_script_run(monkeypatch):
    slowed(monkeypatch, 0.5)
    at = run({"seed": "107", "dataset_size": "100", "batch_size": "10", "epochs": "1"})
    started = time.perf_counter()
    press_train(at)
    assert time.perf_counter() - started >= 1.0  # the run of the setup, then the pair's two
    assert not at.get("progress")  # the bar is gone once its chart is drawn
    assert len(lab_specs(at)[0]) == 1 and len(lab_specs(at)[1]) == 1
    assert "Framework translator" in headings(at)


def test_a_move_to_a_slow_setup_draws_its_new_runs(monkeypatch):
    query = {"seed": "112", "dataset_size": "1281167", "batch_size": "256", "epochs": "90"}
    at = run(query, keep=True)
    real = slowed(monkeypatch, 1.0)
    at.select_slider(key="batch_size_stop").set_value(512).run()
    assert not at.exception, [e.value for e in at.exception]
    assert at.number_input(key="batch_size").value == 512
    setup = setup_of({**query, "batch_size": "512"})
    expected = real(setup.replace(metrics=()), 112)
    assert lab_charts.describe_run(expected) in [plain(m.value) for m in at.markdown]
    loss, compare = lab_specs(at)
    assert len(loss) == 1 and len(compare) == 1
    assert not at.get("progress")


@pytest.mark.parametrize(
    ("error", "says", "seed"),
    [
        (SetupError("dataset_size", 5, "a reason the lab gives"), "The training lab cannot run this setup: ", "114"),
        (RuntimeError("a bug"), "The training lab could not run this setup.", "115"),
    ],
    ids=["setup-error", "unexpected"],
)
def test_an_error_in_the_lab_is_a_message_on_the_page(monkeypatch, error, says, seed):
    def failing(setup, seed=0, **kwargs):
        raise error

    monkeypatch.setattr(training, "train", failing)
    at = run({"seed": seed}, train=True)
    infos = [plain(i.value) for i in at.info]
    assert any(i.startswith(says) for i in infos), infos
    assert "a bug" not in "\n".join(infos)  # no exception text, no traceback
    assert lab_specs(at) == ([], [])


def test_a_downsized_run_says_what_it_changed():
    query = {**us.to_query(ctl.preset_values("ImageNet-1k")), "seed": "108"}
    at = run(query, train=True)
    setup = setup_of(query)
    _, down = training.fit_to_budget(setup.replace(metrics=()))
    assert down is not None
    infos = [plain(i.value) for i in at.info]
    assert down.text in infos
    assert "1,281,167 -> 50,000" in down.text
    loss, _ = lab_specs(at)
    assert "A smaller copy of your setup" in json.dumps(loss[0]["title"])


def test_the_lab_is_a_third_metric_source():
    query = {"framework": "hf", "early_stopping": "true", "metric_source": "lab", "seed": "109"}
    at = run(query)
    radio = at.radio(key="metric_source")
    assert radio.options == ["Illustrative curve", "Values from my run", "From the training run"]
    assert radio.value == "lab"
    assert at.query_params["metric_source"] == "lab" and at.query_params["seed"] == "109"
    assert "has not trained this setup yet" in texts(at)  # until asked, no run and no losses
    press_train(at)
    setup = setup_of(query)
    assert setup.metrics == ()  # the page fills in the lab's losses
    lab = training.train(setup, 109)
    assert lab.downsized is None and len(lab.val_loss) == 10
    # the whole page follows the lab's real validation losses, as with pasted values
    expected = {c.label: c.value for c in explain.metric_cards(lab.plan)}
    assert {m.label: m.value for m in at.metric} == expected
    assert f"at each of its {len(lab.val_loss):,} evaluations" in texts(at)
    early = [s for s in specs(at) if "Early stopping" in json.dumps(s.get("title", ""))]
    assert len(early) == 1
    assert not at.warning


def test_the_lab_source_with_a_downsized_run_shows_the_smaller_run():
    query = {**us.to_query(ctl.preset_values("ImageNet-1k")), "framework": "hf", "early_stopping": "true"}
    query.update({"metric_source": "lab", "seed": "110"})
    at = run(query, train=True)
    setup = setup_of(query)
    _, down = training.fit_to_budget(setup.replace(metrics=()))
    shown = texts(at)
    assert "The lab trained a smaller copy of this setup" in shown and down.text in shown
    assert len([s for s in specs(at) if "Early stopping" in json.dumps(s.get("title", ""))]) == 1


def test_nothing_trains_on_a_dead_end():
    at = run({"dataset_size": "10", "batch_size": "64", "drop_last": "true"}, keep=True)
    assert "See it train" not in headings(at)
    assert lab_specs(at) == ([], [])


def test_lab_charts_stay_within_the_row_budget_at_the_extremes():
    at = run({"dataset_size": "1000000000", "batch_size": "1", "epochs": "10000", "seed": "111"}, train=True)
    loss, compare = lab_specs(at)
    assert len(loss) == 1 and len(compare) == 1
    step_rows = {}
    for chart in at.get("vega_lite_chart"):
        for dataset in chart.proto.datasets:
            rows = pa.ipc.open_stream(dataset.data.data).read_all().num_rows
            assert rows <= MAX_ROWS
            if dataset.name.startswith("steps"):
                step_rows[dataset.name] = rows
    # 20,000 real steps each: on the page about one point per pixel of the plot (exports keep lab_charts.STEP_ROWS)
    assert 300 <= step_rows.pop("steps") <= PAGE_ROWS
    assert step_rows.keys() == {"steps_0", "steps_1"} and all(150 <= n <= PAGE_ROWS // 2 for n in step_rows.values())


def test_a_made_lab_is_drawn_in_its_place_and_one_training_last(monkeypatch):
    """The lab's charts go to the browser in page order once they are made (a setup seen
    before); while they train, after everything else, so the page's own sections are not
    held up behind the training."""
    import streamlit.testing.v1.local_script_runner as lsr

    sent: list[list] = []  # each run's messages, in the order the page sent them
    real = lsr.parse_tree_from_messages

    def spy(messages):
        sent.append(list(messages))
        return real(messages)

    monkeypatch.setattr(lsr, "parse_tree_from_messages", spy)

    def order() -> list[str]:
        """Headings and lab charts in the order the last run sent them."""
        out = []
        for m in sent[-1]:
            if m.HasField("delta") and m.delta.HasField("new_element"):
                e = m.delta.new_element
                kind = e.WhichOneof("type")
                if kind == "heading":
                    out.append(e.heading.body)
                elif kind == "markdown" and e.markdown.body.startswith("## "):  # a section's title and text in one element
                    out.append(e.markdown.body.split("\n", 1)[0][3:])
                elif kind == "vega_lite_chart":
                    meta = [d for d in e.vega_lite_chart.datasets if d.name == "meta"]
                    row = pa.ipc.open_stream(meta[0].data.data).read_all().to_pylist()[0] if meta else {}
                    if "See it train" in json.dumps(row):
                        out.append("lab chart")
        return out

    at = run({"seed": "117", "dataset_size": "1000", "batch_size": "16", "epochs": "2"}, train=True)
    first = order()
    assert first.index("lab chart") > first.index("Glossary")  # trained in this run: drawn last
    at.run()
    assert not at.exception
    again = order()
    assert again.index("See it train") < again.index("lab chart") < again.index("Framework translator")
