"""Lesson mode: built-in tasks hide and lock what they say, hide=/lock= reject unknown
names, and hostile URL text only ever comes back inside a plain-text notice."""

import math

import pytest

from epochsteps import controls, lessons, urlstate
from epochsteps.lessons import LESSONS, parse_lesson_params

HOSTILE = ["<script>alert(1)</script>", "**bold** [link](https://evil.example)", "<img src=x onerror=alert(1)>"]


def _lesson_text(lesson) -> str:
    return " ".join([lesson.title, lesson.intro, *(p.prompt for p in lesson.parts)])


def _setup(values):
    out = controls.values_to_setup(values)
    assert out.setup is not None, out.explanation
    return out.setup


@pytest.mark.parametrize("key", list(LESSONS))
def test_every_lesson_is_consistent_and_answerable(key):
    lesson = LESSONS[key]
    names = set(controls.CONTROLS)
    assert set(lesson.preset) <= names and set(lesson.editable) <= names and set(lesson.locked) <= names
    assert not set(lesson.editable) & set(lesson.locked)
    assert lesson.hidden == names - set(lesson.editable) - set(lesson.locked)
    for part in lesson.parts:
        # a task may only ask the learner to move a control they can see and move
        assert set(part.requires) <= set(lesson.editable)
        values = {**lessons.lesson_values(key), **part.requires}
        q = part.question(_setup(values))
        assert q is not None and q.answer >= 0


def test_steps_per_epoch_lesson_matches_the_issue():
    mode = parse_lesson_params({"lesson": "steps-per-epoch"})
    assert mode.lesson is LESSONS["steps-per-epoch"] and mode.notices == ()
    assert mode.shows("drop_last") and not mode.is_locked("drop_last")
    assert mode.is_locked("batch_size") and mode.is_locked("dataset_size") and mode.shows("batch_size")
    assert not mode.shows("grad_accum") and not mode.shows("devices") and not mode.shows("lr_schedule")
    values, _ = mode.apply(controls.DEFAULTS)
    first, second, dropped = mode.lesson.parts
    assert first.ready(values) and not second.ready(values)
    assert "drop_last" in second.todo()
    assert first.question(_setup(values)).answer == math.ceil(1_000 / 64)
    values["drop_last"] = True
    assert second.ready(values)
    assert second.question(_setup(values)).answer == 1_000 // 64
    assert dropped.question(_setup(values)).answer == 1_000 - 15 * 64


def test_effective_batch_lesson():
    mode = parse_lesson_params({"lesson": "effective-batch"})
    values, _ = mode.apply(controls.DEFAULTS)
    assert values["devices"] == 4 and values["grad_accum"] == 8
    assert {"devices", "grad_accum", "batch_size"} <= mode.locked
    assert mode.lesson.parts[0].question(_setup(values)).answer == 8 * 4 * 8


def test_early_stopping_lesson_earliest_epoch():
    mode = parse_lesson_params({"lesson": "early-stopping"})
    values, _ = mode.apply(controls.DEFAULTS)
    assert values["patience"] == 3 and values["check_val_every_n_epoch"] == 2
    earliest, actual = mode.lesson.parts
    assert earliest.question(_setup(values)).answer == 2 * (3 + 1)  # evaluation 4, every 2 epochs
    q = actual.question(_setup(values))
    assert q.answer >= 8  # never before the earliest possible stop


def test_locked_and_hidden_values_win_over_the_url_editable_ones_do_not():
    mode = parse_lesson_params({"lesson": "steps-per-epoch"})
    url_values = {**controls.DEFAULTS, "batch_size": 128, "epochs": 7, "grad_accum": 4}
    values, notices = mode.apply(url_values, given={"batch_size", "epochs", "grad_accum"})
    assert values["batch_size"] == 64  # locked
    assert values["epochs"] == 7  # editable: the link's value stays
    assert values["grad_accum"] == controls.DEFAULTS["grad_accum"] == 1  # hidden: the lesson's world
    assert len(notices) == 2 and "64" in notices[0] and "1" in notices[1]


def test_hide_and_lock_from_the_link_keep_the_links_values():
    mode = parse_lesson_params({"lesson": "steps-per-epoch", "lock": "epochs"})
    assert mode.is_locked("epochs")
    values, notices = mode.apply({**controls.DEFAULTS, "epochs": 7}, given={"epochs"})
    assert values["epochs"] == 7 and notices == ()


def test_hide_and_lock_lists():
    mode = parse_lesson_params({"hide": " epochs, Devices ,,grad-accum", "lock": "batch_size,epochs"})
    assert mode.lesson is None and mode.active
    assert mode.hidden == {"epochs", "devices", "grad_accum"}
    assert mode.locked == {"batch_size"}  # hidden wins over locked
    assert mode.notices == ()
    assert parse_lesson_params(mode.query()).hidden == mode.hidden


def test_unknown_control_names_are_rejected_with_a_notice():
    mode = parse_lesson_params({"hide": "epochs,warp_drive,batch_size", "lock": "nope"})
    assert mode.hidden == {"epochs", "batch_size"} and mode.locked == frozenset()
    assert len(mode.notices) == 2
    assert "warp_drive" in mode.notices[0] and "hide" in mode.notices[0]
    assert "nope" in mode.notices[1] and "lock" in mode.notices[1]


def test_unknown_lesson_shows_the_full_page():
    mode = parse_lesson_params({"lesson": "quantum"})
    assert mode.lesson is None and not mode.active and mode.hidden == frozenset()
    assert len(mode.notices) == 1 and "quantum" in mode.notices[0] and "steps-per-epoch" in mode.notices[0]


@pytest.mark.parametrize("hostile", HOSTILE)
@pytest.mark.parametrize("param", ["lesson", "hide", "lock"])
def test_hostile_values_come_back_only_as_plain_text_notices(param, hostile):
    mode = parse_lesson_params({param: hostile})
    assert mode.lesson is None and mode.hidden == frozenset() and mode.locked == frozenset()
    assert mode.notices_are_plain_text is True
    assert all(isinstance(n, str) for n in mode.notices)
    shown = " ".join(mode.notices)
    assert hostile[:10] in shown  # quoted so the teacher sees what went wrong ...
    assert len(mode.notices) == 1 and len(mode.notices[0]) < 700  # ... once, shortened
    for lesson in LESSONS.values():  # and never reaches the built-in lesson text
        assert hostile[:10] not in _lesson_text(lesson)


def test_control_characters_and_long_values_are_neutralised():
    mode = parse_lesson_params({"lesson": "a\x1b[31mred\nline" + "x" * 5_000})
    text = mode.notices[0]
    assert "\x1b" not in text and "\n" not in text and len(text) < 400


def test_repeated_parameters_use_the_first_like_urlstate():
    assert parse_lesson_params({"lesson": ["effective-batch", "steps-per-epoch"]}).lesson.key == "effective-batch"
    assert parse_lesson_params({"lesson": []}).lesson is None


def test_too_many_names_are_cut():
    mode = parse_lesson_params({"hide": ",".join(["epochs"] * 500)})
    assert mode.hidden == {"epochs"} and any("first" in n for n in mode.notices)


def test_split_params_keeps_lesson_keys_away_from_the_control_parser():
    controls, lesson = lessons.split_params({"lesson": "effective-batch", "hide": "epochs", "batch_size": "64"})
    assert lesson == {"lesson": "effective-batch", "hide": "epochs"}
    values, notices = urlstate.parse_query(controls)
    assert notices == [] and values["batch_size"] == 64
