"""Self-check questions: answers are the core's numbers, parsing is tolerant, seeds are deterministic."""

import math
from decimal import Decimal

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from epochsteps import Setup, SetupError, make_plan, quiz

TEXTBOOK = Setup(dataset_size=10_000, batch_size=100, epochs=10)
RICH = Setup(
    dataset_size=1_000,
    batch_size=64,
    epochs=12,
    framework="hf",
    drop_last=True,
    patience=2,
    metrics=(1.0, 0.8, 0.7, 0.75, 0.74, 0.73, 0.72, 0.71, 0.7, 0.69, 0.68, 0.67),
)


@pytest.mark.parametrize(
    "text, value",
    [
        ("1000", 1000),
        ("1,000", 1000),
        ("1 000", 1000),
        ("1\u202f000", 1000),
        ("1_000", 1000),
        ("1e3", 1000),
        ("  16 steps ", 16),
        ("epoch 2", 2),
        ("2.5", Decimal("2.5")),
        ("2,5", Decimal("2.5")),
        ("1,281,167", 1_281_167),
        ("10,000,000,000,000", 10**13),
        (".5", Decimal("0.5")),
    ],
)
def test_parse_answer_tolerant(text, value):
    assert quiz.parse_answer(text) == value


@pytest.mark.parametrize("text", ["", "abc", "1 or 2", "12 34", "nan", "inf", "step 1,000 of epoch 2"])
def test_parse_answer_refuses_none_or_several_numbers(text):
    assert quiz.parse_answer(text) is None


def test_unreadable_answer_asks_for_one_number():
    q = quiz.question("total_steps", TEXTBOOK)
    v = quiz.check(q, "lots")
    assert v.correct is None and v.reasoning == "" and "one number" in v.feedback


@pytest.mark.parametrize("typed", ["1000", "1,000", "1 000", "1e3", "1000 steps"])
def test_textbook_total_accepts_every_spelling(typed):
    q = quiz.question("total_steps", TEXTBOOK)
    assert q.answer == 1_000  # 10,000 / 100 = 100 steps per epoch, x 10 epochs
    verdict = quiz.check(q, typed)
    assert verdict.correct is True
    assert "100 optimizer steps per epoch x 10 epoch(s) = 1,000" in verdict.reasoning


def test_wrong_answer_gets_the_core_number_and_reasoning_without_echoing_the_input():
    q = quiz.question("steps_per_epoch", Setup(dataset_size=1_000, batch_size=64, epochs=3))
    v = quiz.check(q, "<script>alert(15)</script>")
    assert v.correct is False
    assert "<" not in v.feedback and "script" not in v.feedback
    assert "15" in v.feedback and "16" in v.feedback
    assert "the last batch holds only 40 samples" in v.reasoning  # 1,000 - 15 x 64


def _setups():
    frameworks = st.sampled_from(["pytorch", "pytorch-flush", "hf", "lightning", "keras"])

    @st.composite
    def build(draw):
        fw = draw(frameworks)
        kw = dict(
            framework=fw,
            dataset_size=draw(st.integers(1, 5_000)),
            batch_size=draw(st.integers(1, 300)),
            epochs=draw(st.integers(1, 6)),
            grad_accum=draw(st.integers(1, 4)),
        )
        if fw != "keras":
            kw["devices"] = draw(st.integers(1, 4))
            kw["drop_last"] = draw(st.booleans())
        return Setup(**kw)

    return build()


@settings(max_examples=60, deadline=None)
@given(_setups(), st.integers(0, 10_000))
def test_answers_are_the_core_numbers(setup, seed):
    try:
        plan = make_plan(setup)
    except SetupError:
        assume(False)  # a setup the framework refuses has no questions to check
    expected = {
        "steps_per_epoch": int(plan.steps[0]) if plan.epochs_started else None,
        "total_steps": plan.total_optimizer_steps,
        "effective_batch": setup.batch_size * setup.devices * setup.grad_accum,
    }
    for kind, want in expected.items():
        q = quiz.question(kind, setup, seed)
        if want is None:
            assert q is None
            continue
        assert q.answer == want
        assert quiz.check(q, f"{want:,}").correct is True
        assert quiz.check(q, str(want + 1)).correct is False
    q = quiz.question("epoch_of_step", setup, seed)
    if plan.total_optimizer_steps == 0:
        assert q is None
        return
    step = int(q.prompt.split("optimizer step ")[1].split(" ")[0].replace(",", ""))
    e = q.answer - 1  # the epoch's own step range holds the step
    assert plan.epoch_start_global_steps[e] < step <= plan.epoch_end_global_steps[e]
    assert q.fraction == pytest.approx(float(plan.epoch_at(step)))
    assert quiz.check(q, str(q.answer)).correct is True


def test_epoch_of_step_judges_the_epoch_number_only():
    q = quiz.question("epoch_of_step", TEXTBOOK, step=250)
    assert q.answer == 3 and q.fraction == pytest.approx(2.5)
    assert quiz.check(q, "3").correct
    fractional = quiz.check(q, "2.5")  # 2.5 epochs are done: the step is in epoch 3, not "epoch 2.5"
    assert fractional.correct is False and "2.50 epochs are done, so it is in epoch 3" in fractional.feedback
    assert quiz.check(q, "2").correct is False and quiz.check(q, "4").correct is False
    # the first step of an epoch: 3.01 epochs are done at step 301, so it is in epoch 4 and "3" is wrong
    first = quiz.question("epoch_of_step", TEXTBOOK, step=301)
    assert first.answer == 4 and quiz.check(first, "4").correct
    assert quiz.check(first, "3").correct is False and quiz.check(first, "5").correct is False
    last = quiz.question("epoch_of_step", TEXTBOOK, step=300)  # the last step of epoch 3
    assert last.answer == 3 and quiz.check(last, "4").correct is False


@settings(max_examples=40, deadline=None)
@given(st.integers(1, 4), st.integers(1, 5), st.sampled_from(["lightning", "keras", "hf"]))
def test_earliest_stop_is_patience_plus_one_evaluations(every, patience, framework):
    """Evaluations every `every` epochs: the first sets the best, so the earliest stop is at
    evaluation patience + 1. (Patience 0 differs between frameworks: the core's rules decide.)"""
    kw = {
        "lightning": {"check_val_every_n_epoch": every},
        "keras": {"validation_freq": every},
        "hf": {"eval_every_steps": 10 * every},
    }[framework]
    s = Setup(framework=framework, dataset_size=1_000, batch_size=100, epochs=every * (patience + 3), **kw)
    q = quiz.question("earliest_stop", s, patience=patience, ask="epoch")
    evaluation = patience + 1
    assert q.answer == every * evaluation
    step = quiz.question("earliest_stop", s, patience=patience, ask="step")
    assert step.answer == 10 * every * evaluation  # 10 steps per epoch


def test_earliest_stop_when_patience_never_runs_out():
    s = Setup(framework="lightning", dataset_size=1_000, batch_size=100, epochs=4)
    q = quiz.question("earliest_stop", s, patience=5, ask="epoch")
    assert q.answer == 4 and "too few" in q.reasoning


def test_early_stop_follows_the_replay():
    q = quiz.question("early_stop", RICH)
    es = make_plan(RICH).early_stop
    # best 0.7 at evaluation 3; 0.75 and 0.74 do not improve: patience 2 runs out at evaluation 5
    assert es.stopped and es.stop_epoch == 5
    assert q.answer == 5
    assert "evaluation 3 (0.7)" in q.reasoning and "evaluation 5" in q.reasoning
    assert quiz.question("early_stop", TEXTBOOK) is None  # no patience, no question


def test_last_batch_and_dropped_samples():
    s = Setup(dataset_size=1_000, batch_size=64, epochs=2)
    assert quiz.question("last_batch", s).answer == 1_000 - 15 * 64
    assert quiz.question("samples_dropped", s) is None  # drop_last off
    assert quiz.question("samples_dropped", s.replace(drop_last=True)).answer == 40


def test_five_kinds_and_deterministic_for_a_seed():
    a = quiz.questions(RICH, seed=7)
    b = quiz.questions(RICH, seed=7)
    assert [(q.kind, q.prompt, q.answer) for q in a] == [(q.kind, q.prompt, q.answer) for q in b]
    kinds = {q.kind for q in a}
    assert {"steps_per_epoch", "total_steps", "effective_batch", "epoch_of_step", "early_stop", "earliest_stop"} <= kinds
    orders = {tuple(q.kind for q in quiz.questions(RICH, seed=s)) for s in range(6)}
    assert len(orders) > 1  # the seed changes the order


def test_reasoning_uses_thousands_separators_at_imagenet_scale():
    s = Setup(dataset_size=1_281_167, batch_size=256, epochs=90)
    q = quiz.question("total_steps", s)
    assert q.answer == math.ceil(1_281_167 / 256) * 90
    assert f"{q.answer:,}" in q.reasoning and "5,005 optimizer steps per epoch" in q.reasoning


def test_questions_at_the_largest_scale_are_quick():
    import time

    s = Setup(dataset_size=10**12, batch_size=1, epochs=10**4, framework="hf")
    t = time.perf_counter()
    qs = quiz.questions(s, seed=1)
    assert time.perf_counter() - t < 5
    total = next(q for q in qs if q.kind == "total_steps")
    assert total.answer == 10**16 and quiz.check(total, "1e16").correct


def test_unknown_kind_is_refused():
    with pytest.raises(ValueError, match="unknown question kind"):
        quiz.question("vibes", TEXTBOOK)


def test_feedback_has_no_space_before_the_full_stop_when_the_answer_has_no_unit():
    from epochsteps import Setup

    q = quiz.Question("which epoch", "What epoch?", 6, "", "reason", Setup(dataset_size=10, batch_size=1, epochs=6))
    assert quiz.check(q, "5").feedback.endswith("the answer is 6.")
    assert quiz.check(q, "6").feedback == "Right: 6."
