"""The command line: the DESIGN.md contract, and bad input -> exit 2 with one line."""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from epochsteps.cli import build_parser, main

KEYS = {
    "batches_per_epoch", "last_batch_size", "optimizer_steps_per_epoch", "total_optimizer_steps",
    "epoch_end_global_steps", "eval_global_steps", "effective_batch_size", "samples_seen", "samples_dropped", "early_stop",
}


def run(argv, capsys):
    code = main(argv)
    out, err = capsys.readouterr()
    return code, out, err


def plan_json(argv, capsys):
    code, out, err = run(["plan", *argv, "--json"], capsys)
    assert code == 0, err
    return json.loads(out)


def test_textbook_case(capsys):
    d = plan_json(["--dataset-size", "10000", "--batch-size", "100", "--epochs", "10"], capsys)
    assert d["optimizer_steps_per_epoch"] == [100] * 10 and d["total_optimizer_steps"] == 1000
    assert KEYS <= set(d) and d["early_stop"] is None and "lr_per_step" not in d


def test_module_entry_point_runs():
    done = subprocess.run(
        [sys.executable, "-m", "epochsteps", "plan", "--dataset-size", "10000", "--batch-size", "100", "--epochs", "10"],
        capture_output=True, text=True, timeout=60,
    )
    assert done.returncode == 0 and "total optimizer steps: 1,000" in done.stdout


def test_early_stop_and_lr_keys(capsys):
    d = plan_json(
        ["--framework", "hf", "--dataset-size", "100", "--batch-size", "10", "--epochs", "5", "--patience", "1",
         "--metrics", "1.0,0.9,0.95,0.9,0.8", "--lr-schedule", "linear", "--lr", "1", "--warmup-steps", "2"],
        capsys,
    )
    assert d["early_stop"] == {"stopped": True, "stop_global_step": 30, "stop_epoch": 3, "evaluations_done": 3, "best_eval_index": 1}
    assert len(d["lr_per_step"]) == 30 and d["lr_per_step"][0] == 0.0


def test_readable_summary(capsys):
    code, out, _ = run(["plan", "--framework", "keras", "--dataset-size", "1000", "--batch-size", "32", "--grad-accum", "5", "--epochs", "3"], capsys)
    assert code == 0 and "total optimizer steps: 19" in out and "never applied" in out


@pytest.mark.parametrize(
    "argv",
    [
        [],
        ["plan"],
        ["plan", "--dataset-size", "10"],
        ["plan", "--dataset-size", "0", "--batch-size", "1"],
        ["plan", "--dataset-size", "-5", "--batch-size", "1"],
        ["plan", "--dataset-size", "ten", "--batch-size", "1"],
        ["plan", "--dataset-size", "1e400", "--batch-size", "1"],
        ["plan", "--dataset-size", "nan", "--batch-size", "1"],
        ["plan", "--dataset-size", "10000000000000", "--batch-size", "1"],
        ["plan", "--dataset-size", "10", "--batch-size", "1", "--epochs", "0"],
        ["plan", "--dataset-size", "10", "--batch-size", "1", "--epochs", "inf"],
        ["plan", "--dataset-size", "10", "--batch-size", "1", "--epochs", "2.5"],
        ["plan", "--dataset-size", "10", "--batch-size", "1", "--framework", "tensorflow"],
        ["plan", "--dataset-size", "10", "--batch-size", "1", "--bogus"],
        ["plan", "--dataset-size", "10", "--batch-size", "1", "--framework", "keras", "--drop-last"],
        ["plan", "--dataset-size", "10", "--batch-size", "1", "--framework", "keras", "--devices", "2"],
        ["plan", "--dataset-size", "10", "--batch-size", "1", "--framework", "hf", "--val-check-interval", "0.5"],
        ["plan", "--dataset-size", "10", "--batch-size", "1", "--framework", "hf", "--eval-every-steps", "2.5"],
        ["plan", "--dataset-size", "5", "--batch-size", "10", "--framework", "hf", "--drop-last"],
        ["plan", "--dataset-size", "10", "--batch-size", "1", "--framework", "hf", "--patience", "1", "--metrics", "1,0.5"],
        ["plan", "--dataset-size", "10", "--batch-size", "1", "--framework", "hf", "--patience", "1", "--metrics", "1,x,2"],
        ["plan", "--dataset-size", "10", "--batch-size", "1", "--patience", "1", "--metrics", "1,2"],
        ["plan", "--dataset-size", "10", "--batch-size", "1", "--metrics", "1,2"],
        ["plan", "--dataset-size", "10", "--batch-size", "1", "--framework", "lightning", "--val-check-interval", "11"],
        ["plan", "--dataset-size", "10", "--batch-size", "1", "--framework", "lightning", "--warmup-steps", "0.1", "--lr-schedule", "linear"],
        ["plan", "--dataset-size", "10", "--batch-size", "1", "--lr-schedule", "exponential"],
        ["plan", "--dataset-size", "10", "--batch-size", "1", "--grad-accum", "0"],
        ["plan", "--dataset-size", "10", "--batch-size", "1", "--lr", "0.1"],
        ["plan", "--dataset-size", "10", "--batch-size", "1", "--warmup-steps", "3"],
        ["plan", "--dataset-size", "10", "--batch-size", "1", "--framework", "pytorch", "--patience", "2", "--metrics", "1,2,3"],
    ],
)
def test_bad_input_exits_2_with_one_line(argv, capsys):
    code, out, err = run(argv, capsys)
    assert code == 2
    assert out == ""
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("epochsteps: error:") and "Traceback" not in err


@settings(max_examples=150, deadline=None)
@given(st.lists(st.sampled_from(
    ["plan", "--framework", "hf", "keras", "lightning", "--dataset-size", "--batch-size", "--epochs", "--max-steps",
     "--grad-accum", "--devices", "--drop-last", "--eval-every-steps", "--val-check-interval", "--patience",
     "--metrics", "--validation-freq", "--lr-schedule", "cosine", "--warmup-steps", "--json",
     "0", "1", "7", "-3", "2.5", "1e400", "nan", "abc", "", "1,2,3", "none", "\u00e9\u00e8", "9" * 40]
), max_size=14))
def test_fuzzed_arguments_never_traceback(argv):
    try:
        code = main(argv)
    except SystemExit as exc:  # argparse --help would exit 0; never an uncaught error
        code = exc.code
    assert code in (0, 2)


HELP_DEFAULT = re.compile(r"\[(default: [^\]]+|required)\]$")


def test_every_flag_of_every_subcommand_says_what_it_means_and_its_default():
    parser = build_parser()
    subparsers = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    assert {c.dest for c in subparsers._choices_actions} == set(subparsers.choices)
    assert all(c.help for c in subparsers._choices_actions)
    for name, sub in subparsers.choices.items():
        for action in sub._actions:
            if isinstance(action, argparse._HelpAction):
                continue
            text = " ".join((action.help or "").split())
            assert len(text) > 25 and HELP_DEFAULT.search(text), f"{name} {action.option_strings}: {text!r}"
    out = build_parser().format_help() + subparsers.choices["plan"].format_help()
    assert "--save-steps" in out and "HF TrainingArguments save_steps" in " ".join(out.split())


def test_checkpoint_and_log_keys(capsys):
    d = plan_json(["--framework", "hf", "--dataset-size", "100", "--batch-size", "8", "--grad-accum", "3", "--epochs", "2",
                   "--save-steps", "4", "--logging-steps", "3", "--logging-first-step", "--load-best-model-at-end",
                   "--eval-every-steps", "2", "--metrics", "1,0.9,0.8,0.95,0.99"], capsys)
    assert d["checkpoint_global_steps"] == [4, 8, 10] and d["checkpoint_count"] == 3 and d["steps_after_last_checkpoint"] == 0
    assert d["checkpoint_reasons"] == ["periodic", "periodic", "final_step"]
    assert d["log_global_steps"] == [1, 3, 6, 9] and d["log_count"] == 4
    assert d["best_checkpoint_global_step"] == 4  # the best evaluation (step 6) has no checkpoint of its own


@pytest.mark.parametrize(
    "argv",
    [
        ["--framework", "keras", "--save-steps", "3"],
        ["--framework", "hf", "--load-best-model-at-end", "--save-strategy", "epoch", "--eval-every-steps", "2"],
        ["--framework", "hf", "--save-strategy", "sometimes"],
        ["--framework", "lightning", "--limit-train-batches", "1.5"],
        ["--framework", "lightning", "--monitor", "val_loss\x1b[31m"],
        ["--framework", "keras", "--save-freq", "often"],
        ["--framework", "hf", "--save-strategy", "best"],  # needs --metrics for its evaluations
    ],
)
def test_bad_saving_input_exits_2_with_one_line(argv, capsys):
    code, out, err = run(["plan", "--dataset-size", "40", "--batch-size", "4", "--epochs", "2", *argv], capsys)
    assert code == 2 and out == "" and err.startswith("epochsteps: error: ") and len(err.strip().splitlines()) == 1
