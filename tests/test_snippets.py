"""`python -m epochsteps snippet [--runnable]`: the code the page hands out, and the scripts
that run it on the real frameworks.

tests/golden/snippets.jsonl is what those scripts printed when scripts/oracle/check_snippets.py
ran them with torch, transformers, lightning and keras: each line holds the setup, the sha256
of the script and the framework's JSON. A script that changes must be run again (its hash
no longer matches), and every recorded output must still be today's plan.
"""

from __future__ import annotations

import ast
import hashlib
import json
import math
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from epochsteps import Setup, make_plan
from epochsteps.cli import main, runnable_script
from epochsteps.conventions import CONVENTIONS
from epochsteps.explain import code_snippet
from epochsteps.setup import FRAMEWORKS, SetupError

CASES = [json.loads(line) for line in (Path(__file__).parent / "golden" / "snippets.jsonl").read_text().splitlines() if line.strip()]


def predicted(setup: Setup) -> dict:
    """The three numbers a runnable script prints, read off the plan's JSON."""
    d = make_plan(setup).to_dict(include_lr=False)
    es = d["early_stop"]
    return {
        "total_optimizer_steps": d["total_optimizer_steps"],
        "eval_global_steps": d["eval_global_steps"],
        "stop_global_step": es["stop_global_step"] if es is not None and es["stopped"] else None,
    }


def run(argv, capsys):
    code = main(argv)
    out, err = capsys.readouterr()
    return code, out, err


# -- the recording -----------------------------------------------------------------------------


def test_the_recording_covers_the_grid_the_issue_asks_for():
    setups = [Setup.from_dict(c["setup"]) for c in CASES]
    assert len(CASES) >= 100 and {s.framework for s in setups} == set(FRAMEWORKS)
    assert {s.patience for s in setups} >= {0, 1, 3} and any(s.mode == "max" for s in setups)
    assert any(s.min_delta for s in setups) and any(s.start_from_epoch for s in setups)
    assert any(s.framework == "hf" and s.epochs is not None and s.epochs != int(s.epochs) for s in setups)
    assert any(s.framework == "hf" and s.eval_every_steps is not None and s.eval_every_steps < 1 for s in setups)
    assert any(isinstance(s.val_check_interval, float) for s in setups) and any(isinstance(s.val_check_interval, int) for s in setups)
    assert any(s.check_val_every_n_epoch != 1 for s in setups)
    assert any(s.validation_freq != 1 for s in setups) and any(s.steps_per_epoch for s in setups)
    assert {s.lr_schedule for s in setups} >= {"linear", "cosine", "constant_with_warmup"}
    assert any(p.early_stop is not None and p.early_stop.stopped for p in map(make_plan, setups))


@pytest.mark.parametrize("case", CASES, ids=[f"{i}-{c['flags'][:80]}" for i, c in enumerate(CASES)])
def test_recorded_framework_output_is_todays_plan_for_todays_script(case):
    setup = Setup.from_dict(case["setup"])
    script = runnable_script(setup, make_plan(setup))
    assert hashlib.sha256(script.encode()).hexdigest() == case["sha256"], "the script changed: run scripts/oracle/check_snippets.py"
    assert case["result"] == predicted(setup)
    # the docstring tells the learner what to expect, and it is the same JSON
    assert json.dumps(predicted(setup)) in script


# -- every script and snippet is code ----------------------------------------------------------


@st.composite
def setups(draw):
    fw = draw(st.sampled_from(FRAMEWORKS))
    values = dict(
        framework=fw,
        dataset_size=draw(st.integers(1, 200)),
        batch_size=draw(st.integers(1, 40)),
        epochs=draw(st.one_of(st.none(), st.integers(1, 4), st.sampled_from([0.5, 2.25]))),
        grad_accum=draw(st.integers(1, 5)),
        devices=draw(st.sampled_from([1, 1, 1, 2])),
        drop_last=draw(st.booleans()),
        max_steps=draw(st.one_of(st.none(), st.integers(1, 40))),
    )
    if fw in ("pytorch", "pytorch-flush", "hf"):
        values["eval_every_steps"] = draw(st.sampled_from([None, 1, 3] + ([0.25] if fw == "hf" else [])))
    if fw == "lightning":
        values["val_check_interval"] = draw(st.sampled_from([None, 2, 0.5, 1.0]))
        values["check_val_every_n_epoch"] = draw(st.sampled_from([1, 2, None]))
    if fw == "keras":
        values.update(devices=1, drop_last=False, max_steps=None)
        values["validation_freq"] = draw(st.sampled_from([1, 2, (1, 3)]))
        values["steps_per_epoch"] = draw(st.one_of(st.none(), st.integers(1, 6)))
        values["start_from_epoch"] = draw(st.integers(0, 2))
    if draw(st.booleans()):
        values["patience"] = draw(st.integers(0, 3))
        values["mode"] = draw(st.sampled_from(["min", "max"]))
        values["min_delta"] = draw(st.sampled_from([0.0, 0.01]))
        values["metrics"] = tuple(draw(st.lists(st.sampled_from([1.0, 0.5, 0.25, math.nan, math.inf]), min_size=200, max_size=200)))
    if draw(st.booleans()):
        values["lr_schedule"] = draw(st.sampled_from(["constant", "cosine"] if fw == "keras" else ["linear", "cosine", "constant_with_warmup"]))
        values["warmup_steps"] = float(draw(st.sampled_from([0, 2])))
    return Setup(**values)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(setups())
def test_every_runnable_script_and_snippet_compiles(setup):
    try:
        plan = make_plan(setup)
    except SetupError:
        return
    snippet = code_snippet(setup, setup.framework)
    compile(snippet, "<snippet>", "exec")
    if setup.devices > 1:
        with pytest.raises(SetupError, match="one device"):
            runnable_script(setup, plan)
        return
    if plan.early_stop is not None and plan.early_stop.metrics_ran_out_at is not None:
        with pytest.raises(SetupError, match="needs a value"):
            runnable_script(setup, plan)
        return
    script = runnable_script(setup, plan)
    tree = ast.parse(script)
    last = tree.body[-1]
    assert isinstance(last, ast.Expr) and ast.unparse(last.value.func) == "print", "the JSON is printed last"
    assert ast.get_docstring(tree).count(json.dumps(predicted(setup))) == 1


# -- the command line -----------------------------------------------------------------------------

TEXTBOOK = ["--dataset-size", "10000", "--batch-size", "100", "--epochs", "10"]


@pytest.mark.parametrize("framework", FRAMEWORKS)
def test_cli_snippet_prints_the_pages_code(framework, capsys):
    argv = ["--framework", framework, *TEXTBOOK]
    code, out, err = run(["snippet", *argv], capsys)
    assert code == 0 and err == ""
    assert out == code_snippet(Setup(framework=framework, dataset_size=10_000, batch_size=100, epochs=10), framework)
    assert "1,000 optimizer steps" in out


def test_cli_snippet_runnable_prints_a_script(capsys):
    argv = ["--framework", "hf", "--dataset-size", "100", "--batch-size", "8", "--epochs", "3", "--eval-every-steps", "5",
            "--patience", "1", "--metrics", "1,0.9,0.95,0.96,0.5,0.4,0.3,0.2"]  # fmt: skip
    code, out, err = run(["snippet", *argv, "--runnable"], capsys)
    assert code == 0 and err == ""
    setup = Setup(framework="hf", dataset_size=100, batch_size=8, epochs=3.0, eval_every_steps=5, patience=1,
                  metrics=(1.0, 0.9, 0.95, 0.96, 0.5, 0.4, 0.3, 0.2))  # fmt: skip
    assert out == runnable_script(setup, make_plan(setup))
    assert '{"total_optimizer_steps": 15, "eval_global_steps": [5, 10, 15], "stop_global_step": 15}' in out
    for piece in ("per_device_train_batch_size=8", "eval_steps=5", "EarlyStoppingCallback(early_stopping_patience=1", "use_cpu=True"):
        assert piece in out
    compile(out, "<runnable>", "exec")


def test_cli_runnable_refuses_several_devices_with_one_line(capsys):
    argv = ["--framework", "lightning", "--dataset-size", "1000", "--batch-size", "8", "--devices", "4", "--epochs", "2"]
    code, out, err = run(["snippet", *argv, "--runnable"], capsys)
    assert code == 2 and out == ""
    assert len(err.strip().splitlines()) == 1 and err.startswith("epochsteps: error: devices=4: a runnable script runs on one device")
    # without --runnable the multi-device code is there, with its launch
    code, out, _ = run(["snippet", *argv], capsys)
    assert code == 0 and 'strategy="ddp"' in out and "devices=4" in out


@pytest.mark.parametrize(
    "argv",
    [
        ["--framework", "keras", "--dataset-size", "100", "--batch-size", "8", "--drop-last"],  # Keras has no drop_last
        ["--dataset-size", "0", "--batch-size", "8"],
        ["--dataset-size", "ten", "--batch-size", "8"],
        ["--dataset-size", "100", "--batch-size", "8", "--epochs", "3", "--eval-every-steps", "2", "--patience", "1", "--metrics", "1,0.9"],
        ["--dataset-size", "100", "--batch-size", "8", "--patience", "1"],  # a hand-written loop without evaluations
    ],
)
@pytest.mark.parametrize("runnable", [[], ["--runnable"]])
def test_cli_snippet_refusals_exit_2_with_one_line(argv, runnable, capsys):
    code, out, err = run(["snippet", *argv, *runnable], capsys)
    assert code == 2 and out == "" and len(err.strip().splitlines()) == 1 and err.startswith("epochsteps: error: ")


def test_snippet_help_describes_runnable(capsys):
    with pytest.raises(SystemExit):
        main(["snippet", "--help"])
    out = capsys.readouterr().out
    assert "--runnable" in out and "one-device script" in out


# -- the lines the snippets got wrong ---------------------------------------------------------------


def test_pytorch_snippet_lines_that_were_wrong():
    loop = "\n".join(
        CONVENTIONS["pytorch"].snippet(
            s := Setup(dataset_size=64, batch_size=8, epochs=2, grad_accum=3, max_steps=20, eval_every_steps=1, patience=0,
                       metrics=(1.0,) * 10, lr_schedule="linear", devices=2),  # fmt: skip
            make_plan(s),
            s,
        )
    )
    assert "bad_evals >= patience" in loop and "if stop:" not in loop  # stop is tested with max_steps
    assert "if global_step >= max_steps or stop:" in loop  # no break before an evaluation has missed
    assert "total_steps = max_steps" in loop  # the page's learning-rate chart plans max_steps, not the loop's 4 steps
    assert make_plan(s).schedule.lr_horizon == 20
    assert "model = DDP(model)" in loop and "dist.init_process_group()" in loop and "torchrun --nproc_per_node=2" in loop


@pytest.mark.parametrize("framework", ["hf", "lightning", "keras", "pytorch"])
def test_closing_comment_says_where_early_stopping_ends(framework):
    s = Setup(framework=framework, dataset_size=100, batch_size=10, epochs=6, patience=1, metrics=(1.0, 0.9, 0.95, 0.97, 0.9, 0.9),
              eval_every_steps=10 if framework in ("hf", "pytorch") else None)  # fmt: skip
    plan = make_plan(s)
    assert plan.early_stop.stopped and plan.total_optimizer_steps == 30 < plan.planned_optimizer_steps == 60
    text = code_snippet(s, framework)
    assert "30" in text.splitlines()[-1] and "60 optimizer steps in total" not in text
