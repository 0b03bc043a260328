"""The command line: the DESIGN.md contract, and bad input -> exit 2 with one line."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from epochsteps.cli import main

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
