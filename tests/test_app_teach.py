"""Teacher features on the page (AppTest): lesson mode from the URL (lesson=, hide=, lock=),
its guided task, "Check yourself", the Share panel and the Export panel with the setup
loader. Answers, links, snippets and files are the core's (`epochsteps.lessons`, `quiz`,
`share`, `exports`), never typed in here; URL text reaches the page only as plain text.
"""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
import streamlit.testing.v1.app_test as app_test_module
from streamlit.runtime.media_file_manager import MediaFileManager
from streamlit.testing.v1 import AppTest

from conftest import headings

from epochsteps import controls as ctl
from epochsteps import explain, exports, lessons, quiz, share
from epochsteps import urlstate as us
from epochsteps.conventions import CONVENTIONS

APP = str(Path(__file__).resolve().parent.parent / "app.py")
FALLBACK = "http://localhost:8501/"  # AppTest has no browser address: the page says it uses a stand-in


def run(query: dict | None = None, advanced: bool = True) -> AppTest:
    """The page for `query`; `advanced` opens the Advanced panel (drawn only when open) as a user would."""
    at = AppTest.from_file(APP, default_timeout=120)
    for key, value in (query or {}).items():
        at.query_params[key] = value
    if advanced:
        at.session_state["advanced_open"] = True
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def plain(text: str) -> str:
    return text.replace("\\", "")


def cards(at: AppTest) -> dict[str, str]:
    return {m.label: m.value for m in at.metric}


def expected_cards(values: dict) -> dict[str, str]:
    return {c.label: c.value for c in explain.metric_cards(ctl.values_to_setup(values).plan)}


def widget_keys(at: AppTest) -> set[str]:
    kinds = ("number_input", "select_slider", "checkbox", "selectbox", "text_input", "text_area", "slider", "radio", "pills")
    return {w.key for kind in kinds for w in at.get(kind)}


def markdown_text(at: AppTest) -> str:
    kinds = ("markdown", "caption", "warning", "info", "success", "error", "subheader", "header")
    return "\n".join(e.value for kind in kinds for e in at.get(kind))


def locked_lines(at: AppTest) -> list[str]:
    """Controls the link locks, shown as their values."""
    return [plain(m.value) for m in at.markdown if m.value.startswith(":material/lock:")]


def answer(at: AppTest, key_prefix: str, text: str) -> AppTest:
    box = next(t for t in at.text_input if t.key.startswith(key_prefix))
    box.set_value(text).run()
    assert not at.exception, [e.value for e in at.exception]
    return at


# -- lesson mode --------------------------------------------------------------------------------


def test_a_lesson_link_opens_the_guided_task_with_its_controls_locked_and_hidden():
    at = run({"lesson": "steps-per-epoch"})
    lesson = lessons.LESSONS["steps-per-epoch"]
    assert not at.warning  # lesson= is not reported as an unknown control
    assert headings(at)[0] == f"Lesson: {lesson.title}"
    assert locked_lines(at) == [
        ":material/lock: Dataset size (samples): **1,000**",
        ":material/lock: Batch size (per device): **64**",
        ":material/lock: Framework convention: **PyTorch loop**",
    ]
    keys = widget_keys(at)
    assert {"epochs", "epochs_stop", "drop_last"} <= keys  # free to move
    assert not {"dataset_size", "batch_size_stop", "framework"} & keys  # locked: no widget to move
    assert not {"grad_accum", "devices", "max_steps", "lr_schedule", "early_stopping", "preset", "seed"} & keys
    assert at.query_params["lesson"] == "steps-per-epoch"
    values = lessons.lesson_values("steps-per-epoch")
    # the answers stay hidden (cards, charts, translator) until the learner has answered
    assert cards(at) == {} and not at.get("vega_lite_chart") and "Framework translator" not in headings(at)
    assert any(i.value == lessons.HIDDEN_UNTIL_ANSWERED for i in at.info)
    # task 1 is answered against the core; task 2 waits for drop_last
    first, second, _ = lesson.parts
    question = first.question(ctl.values_to_setup(values).setup)
    assert f"*{second.todo()}*" in [plain(m.value) for m in at.markdown]
    answer(at, "lesson_1", str(question.answer + 1))
    assert "Not quite" in plain(at.error[0].value) and cards(at) == {}  # a wrong answer reveals nothing
    answer(at, "lesson_1", str(question.answer))
    assert plain(at.success[0].value) == f"Right: {question.answer:,} optimizer steps."
    assert plain(question.reasoning) in plain(markdown_text(at))
    assert cards(at) == expected_cards(values) and at.get("vega_lite_chart")  # answered: the page shows it
    at.checkbox(key="drop_last").check().run()
    dropped = {**values, "drop_last": True}
    q2 = second.question(ctl.values_to_setup(dropped).setup)
    assert q2.answer != question.answer  # drop_last changes the count
    assert f"*{second.todo()}*" not in [plain(m.value) for m in at.markdown]
    assert cards(at) == {}  # task 2 is open now: hidden again until it is answered
    answer(at, "lesson_2", f"{q2.answer:,}")
    assert any(plain(s.value) == f"Right: {q2.answer:,} optimizer steps." for s in at.success)
    answer(at, "lesson_3", "0")  # task 3 (samples dropped) is ready too, answered wrong
    assert cards(at) == {}
    at.toggle(key="lesson_show_answers").set_value(True).run()  # the learner gives up: the page shows it all
    assert not at.exception and cards(at) == expected_cards(dropped)


def test_a_task_answered_from_the_charts_shows_them():
    """The early-stopping lesson's second task is read off the validation curve: once the
    first is answered the page shows its charts, with the second still open."""
    at = run({"lesson": "early-stopping"})
    lesson = lessons.LESSONS["early-stopping"]
    first, second = lesson.parts
    assert not first.looks and second.looks
    assert cards(at) == {} and not at.get("vega_lite_chart")
    setup = ctl.values_to_setup(lessons.lesson_values("early-stopping")).setup
    answer(at, "lesson_1", str(first.question(setup).answer))
    assert cards(at) == expected_cards(lessons.lesson_values("early-stopping")) and at.get("vega_lite_chart")
    assert "Early stopping" in headings(at)


def test_hide_and_lock_lists_keep_the_links_values():
    at = run({"hide": "devices,grad_accum", "lock": "epochs", "batch_size": "64"})
    assert not at.warning
    keys = widget_keys(at)
    assert "devices" not in keys and "grad_accum" not in keys and "drop_last" in keys
    assert locked_lines(at) == [":material/lock: Epochs: **10**"] and "epochs" not in keys
    assert at.number_input(key="batch_size").value == 64
    assert (at.query_params["hide"], at.query_params["lock"]) == ("grad_accum,devices", "epochs")  # in the page's order
    # a preset moves the free controls only: the locked epochs stay at the link's value
    at.pills(key="preset").set_value("MNIST").run()
    assert not at.exception
    expected = {**ctl.preset_values("MNIST"), "epochs": ctl.DEFAULTS["epochs"]}
    assert cards(at) == expected_cards(expected)
    assert locked_lines(at) == [f":material/lock: Epochs: **{ctl.DEFAULTS['epochs']}**"]
    assert at.query_params["lock"] == "epochs"


def test_a_lesson_sets_its_own_controls_and_says_so_in_plain_text():
    at = run({"lesson": "effective-batch", "batch_size": "64"})
    lesson = lessons.LESSONS["effective-batch"]
    assert f":material/lock: Batch size (per device): **{lesson.preset['batch_size']}**" in locked_lines(at)
    notices = [t.value for t in at.text]
    assert any("is set by this lesson: using 8" in n for n in notices)
    first = lesson.parts[0]
    question = first.question(ctl.values_to_setup(lessons.lesson_values("effective-batch")).setup)
    answer(at, "lesson_1", str(question.answer))
    assert at.success and str(f"{question.answer:,}") in at.success[0].value


HOSTILE = "<img src=x onerror=alert(1)>[x](javascript:alert(2))"


def test_hostile_lesson_parameters_render_as_plain_text():
    at = run({"lesson": HOSTILE, "hide": HOSTILE, "lock": "**bold**,epochs"})
    assert not [h.value for h in at.header if h.value.startswith("Lesson:")]  # the full page, no lesson
    shown = [t.value for t in at.text]
    mode = lessons.parse_lesson_params({"lesson": HOSTILE, "hide": HOSTILE, "lock": "**bold**,epochs"})
    assert shown == list(mode.notices) and len(shown) == 3  # each notice, verbatim, as plain text
    assert any("onerror" in n for n in shown) and any("**bold**" in n for n in shown)
    rendered = markdown_text(at)
    for token in ("onerror", "javascript:", "**bold**"):
        assert token not in rendered
    for element in at.get("html"):
        assert "onerror" not in element.proto.body
    assert locked_lines(at) == [":material/lock: Epochs: **10**"]  # the known name still works


# -- check yourself -------------------------------------------------------------------------------


def test_check_yourself_questions_come_from_the_core_and_are_judged_by_it():
    at = run()
    assert not [t for t in at.text_input if t.key.startswith("quiz_")]  # generated only when opened
    at.session_state["quiz_open"] = True
    at.run()
    setup = ctl.values_to_setup(ctl.DEFAULTS).setup
    questions = quiz.questions(setup, 0)[:3]
    assert len(questions) == 3
    shown = plain(markdown_text(at))
    for q in questions:
        assert plain(q.prompt) in shown
    first = questions[0]
    answer(at, "quiz_1", str(first.answer))
    assert plain(at.success[0].value).startswith("Right:")
    assert plain(first.reasoning) in plain(markdown_text(at))
    answer(at, "quiz_2", str(questions[1].answer + 7))
    assert plain(at.error[0].value) == plain(quiz.check(questions[1], str(questions[1].answer + 7)).feedback)
    answer(at, "quiz_3", "twelve")
    assert "Type one number" in plain(markdown_text(at))
    at.button(key="quiz_more").click().run()
    again = plain(markdown_text(at))
    for q in quiz.questions(setup, 1)[:3]:
        assert plain(q.prompt) in again


# -- share ----------------------------------------------------------------------------------------


def codes(at: AppTest) -> list[str]:
    return [c.value for c in at.code]


@pytest.mark.parametrize(
    "query",
    [
        {**us.to_query(ctl.preset_values("LLM fine-tune")), "early_stopping": "true", "seed": "3"},
        {"lesson": "steps-per-epoch", "hide": "epochs"},
    ],
    ids=["every-control", "lesson"],
)
def test_share_panel_gives_the_link_the_iframe_and_the_image(query):
    at = run(query)
    assert not codes(at)  # written only while the panel is open
    at.session_state["share_panel"] = True
    at.run()
    values, _ = us.parse_query({k: v for k, v in query.items() if k not in lessons.LESSON_KEYS})
    mode = lessons.parse_lesson_params({k: v for k, v in query.items() if k in lessons.LESSON_KEYS})
    values, _ = mode.apply(values, given=frozenset(query) & frozenset(ctl.CONTROLS))
    wanted = {**us.to_query(values), **mode.query()}
    link = share.share_url(FALLBACK, wanted)
    for key, value in us.to_query(values).items():
        assert f"{key}=" in link and key in at.query_params and at.query_params[key] == value
    shown = codes(at)
    assert link in shown
    controls = 3 - (not mode.shows("epochs"))
    embed = share.iframe_snippet(share.embed_url(FALLBACK, wanted), height=share.recommended_height(controls, 1))
    assert embed in shown and "embed=true" in embed and "embed_options=light_theme" in embed
    plan = ctl.values_to_setup(values).plan
    assert share.image_snippet("step_timeline.png", share.alt_text(plan), link=link) in shown
    assert any("replace http://localhost:8501/" in m.value for m in at.markdown)
    assert "step_timeline.png" in [d.proto.label for d in at.get("download_button")]
    if "lesson" in query:
        assert "lesson=steps-per-epoch" in link and "hide=epochs" in link


# -- export and load --------------------------------------------------------------------------------


@pytest.fixture
def media(monkeypatch) -> list[MediaFileManager]:
    """The media file managers AppTest creates (one per run): they hold the deferred downloads."""
    made: list[MediaFileManager] = []

    class Recorded(MediaFileManager):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            made.append(self)

    monkeypatch.setattr(app_test_module, "MediaFileManager", Recorded)
    return made


def download(at: AppTest, media: list[MediaFileManager], key: str) -> bytes:
    """What clicking the download button `key` gives: its deferred callable, run now."""
    button = next(d for d in at.get("download_button") if d.proto.id.endswith(f"-{key}"))
    file_id = button.proto.deferred_file_id
    assert file_id, "the file is made when clicked, not on every rerun"
    data = media[-1]._deferred_callables[file_id]["callable"]()
    return data.encode() if isinstance(data, str) else data


def test_exports_are_made_only_when_asked_and_are_valid(media):
    at = run({"framework": "hf", "early_stopping": "true"})
    export_keys = {"export_png", "export_svg", "export_html", "export_steps", "export_epochs", "export_setup"}
    assert not export_keys & {d.proto.id.rsplit("-", 1)[-1] for d in at.get("download_button")}
    assert not at.get("file_uploader")
    at.session_state["export_open"] = True
    at.run()
    assert export_keys <= {d.proto.id.rsplit("-", 1)[-1] for d in at.get("download_button")}
    options = at.selectbox(key="export_chart").options
    assert "Step timeline" in options and "Early stopping" in options
    assert not any(o.startswith("Training lab") for o in options)  # the lab has not trained this setup
    at.button(key="lab_train").click().run()  # trained at the end of that run, after the export section
    at.run()
    options = at.selectbox(key="export_chart").options
    assert "Training lab: loss at every optimizer step" in options and "Training lab: two batch sizes, same epochs" in options
    png = download(at, media, "export_png")
    assert png.startswith(b"\x89PNG\r\n\x1a\n")
    ET.fromstring(download(at, media, "export_svg"))  # parses as XML
    page = download(at, media, "export_html").decode()
    assert "vegaEmbed" in page and "Step timeline" in page and "<script src=" not in page
    plan = ctl.values_to_setup(us.parse_query({"framework": "hf", "early_stopping": "true"})[0]).plan
    assert download(at, media, "export_steps") == exports.steps_csv(plan)
    assert download(at, media, "export_epochs") == exports.epochs_csv(plan)
    assert exports.load_setup(download(at, media, "export_setup")) == plan.setup
    at.selectbox(key="export_chart").set_value("lab_loss").run()
    assert download(at, media, "export_png").startswith(b"\x89PNG")
    at.selectbox(key="export_chart").set_value("lab_compare").run()
    assert b"<svg" in download(at, media, "export_svg")


def test_a_saved_setup_loads_back():
    values = {**ctl.preset_values("LLM fine-tune"), "early_stopping": True, "patience": 2, "eval_every_steps": 100.0}
    setup = ctl.values_to_setup(values).setup
    at = run()
    at.session_state["export_open"] = True
    at.run()
    at.file_uploader(key="setup_file").set_value(("setup.json", exports.setup_json(setup).encode(), "application/json")).run()
    assert not at.exception, [e.value for e in at.exception]
    assert at.number_input(key="batch_size").value == 8 and at.number_input(key="devices").value == 4
    assert at.selectbox(key="framework").value == "hf"
    assert cards(at) == expected_cards(values)
    assert any(plain(s.value).startswith("Setup loaded") for s in at.success)
    assert at.query_params["metric_source"] == "pasted"  # the file carries the metric values themselves


@pytest.mark.parametrize(
    ("content", "says"),
    [
        (b"not json at all", "is not valid JSON"),
        (b"\xff\xfe\x00binary", "is not a UTF-8 text file"),
        (json.dumps({"dataset_size": -3, "batch_size": 1}).encode(), "dataset_size"),
        (json.dumps([1, 2, 3]).encode(), "setup"),
    ],
    ids=["text", "binary", "out-of-range", "not-a-setup"],
)
def test_a_bad_setup_file_gives_a_clear_message(content, says):
    at = run()
    at.session_state["export_open"] = True
    at.run()
    before = cards(at)
    at.file_uploader(key="setup_file").set_value(("setup.json", content, "application/json")).run()
    assert not at.exception, [e.value for e in at.exception]
    message = plain(at.error[0].value)
    assert message.startswith("That file could not be loaded") and says in message
    assert cards(at) == before


def test_each_snippet_has_its_runnable_script(media):
    at = run({"framework": "hf", "early_stopping": "true"})
    at.session_state["translator_open"] = True
    at.run()
    plan = ctl.values_to_setup(us.parse_query({"framework": "hf", "early_stopping": "true"})[0]).plan
    for name in CONVENTIONS:
        script = download(at, media, f"runnable_{name}").decode()
        assert script == explain.runnable_script(plan.setup, name)  # what `snippet --runnable` prints for that framework
        compile(script, name, "exec")
        assert script.rstrip().splitlines()[-1].startswith("print(json.dumps(")
    several = run({"devices": "4"})
    several.session_state["translator_open"] = True
    several.run()
    offered = {d.proto.id.rsplit("-runnable_", 1)[-1] for d in several.get("download_button") if "-runnable_" in d.proto.id}
    assert offered == {"keras"}  # Keras takes the global batch in one process; the others need 4 devices
    assert sum("runs on one device" in c.value for c in several.caption) == 4


LOGS = Path(__file__).resolve().parent / "data" / "logs"


def test_a_pasted_hf_banner_opens_the_page_on_its_plan():
    from epochsteps.readlog import read_log

    text = (LOGS / "hf_info_accum_leftover.log").read_text()
    at = run()
    assert not at.text_area and not [b for b in at.button if b.key == "log_read"]  # the closed panel is not written
    at.session_state["log_panel"] = True
    at.run()
    at.session_state["log_text"] = text
    at.button(key="log_read").click().run()
    assert not at.exception
    reading = read_log(text)
    assert reading.plan is not None
    plan = reading.plan
    cards = {m.label: m.value for m in at.metric}
    assert cards["Total optimizer steps"] == f"{plan.total_optimizer_steps:,}"  # the page opened on the log's setup
    assert at.number_input(key="dataset_size").value == plan.setup.dataset_size
    assert at.number_input(key="grad_accum").value == plan.setup.grad_accum
    shown = "\n".join(m.value for m in at.markdown).replace("\\", "")
    assert all(note in shown for note in reading.notes)
    for printed in reading.printed:
        assert f"{printed.label} = **{printed.value}**: {printed.meaning}" in shown


def test_a_pasted_log_that_does_not_fix_the_setup_keeps_the_page_and_garbage_is_one_sentence():
    at = run({"batch_size": "64"})
    at.session_state["log_panel"] = True
    at.run()
    at.session_state["log_text"] = (LOGS / "keras_v1.log").read_text()
    at.button(key="log_read").click().run()
    assert not at.exception
    assert at.number_input(key="batch_size").value == 64  # Keras never prints the batch size: the page keeps its own
    assert any("does not determine the whole setup" in i.value for i in at.info)
    hostile = '<script>alert("x")</script> <img src=x onerror=alert(1)> $$\\frac{1}{0}$$ [link](javascript:alert(1))'
    at.session_state["log_text"] = hostile
    at.button(key="log_read").click().run()
    assert not at.exception
    warned = [w.value for w in at.warning]
    assert warned and "<script>" not in "".join(warned) and "javascript" not in "".join(warned)  # nothing of the text echoed as markup
    at.session_state["log_panel"] = False
    at.run()
    at.session_state["log_panel"] = True
    at.run()
    assert at.text_area(key="log_text").value == hostile  # closing the panel keeps what was pasted
