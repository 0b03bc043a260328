"""The command line's token and time flags: every flag, the JSON keys, the summary lines,
and every bad combination -> exit 2 with one line."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from epochsteps import Setup, exports, make_plan
from epochsteps.cli import build_parser, main, setup_from_args
from epochsteps.tokens import TokenData

TOKEN_KEYS = {"samples_from_tokens", "tokens_per_optimizer_step", "tokens_trained", "tokens_dropped", "tokens_padded", "max_steps_for_token_budget"}
TIME_KEYS = {"seconds_per_epoch", "seconds_total", "eval_seconds", "checkpoint_seconds", "stop_seconds"}
PACKED = ["--dataset-tokens", "1000003", "--packing", "--seq-len", "1024"]


def run(argv, capsys):
    code = main(argv)
    out, err = capsys.readouterr()
    return code, out, err


def plan_json(argv, capsys):
    code, out, err = run(["plan", *argv, "--json"], capsys)
    assert code == 0, err
    return json.loads(out)


def test_packed_tokens_need_no_dataset_size(capsys):
    d = plan_json([*PACKED, "--framework", "hf", "--batch-size", "8", "--devices", "2", "--grad-accum", "4", "--epochs", "3"], capsys)
    assert TOKEN_KEYS <= set(d) and not TIME_KEYS & set(d)
    assert d["samples_from_tokens"] == 976 and d["total_optimizer_steps"] == 48
    assert (d["tokens_per_optimizer_step"], d["tokens_trained"], d["tokens_dropped"], d["tokens_padded"]) == (65_536, 2_998_272, 579, 0)
    assert d["max_steps_for_token_budget"] is None


def test_documents_without_packing(capsys):
    d = plan_json(["--documents", "1000", "--tokens-per-document", "300", "--seq-len", "512", "--batch-size", "8", "--epochs", "2"], capsys)
    assert d["samples_from_tokens"] == 1000 and d["samples_seen"] == 2000
    assert (d["tokens_trained"], d["tokens_dropped"], d["tokens_padded"]) == (600_000, 0, 212_000)


def test_token_budget_gives_max_steps(capsys):
    # 65,536 tokens per step: 10,000,000 / 65,536 = 152.6 -> 153
    d = plan_json([*PACKED, "--framework", "hf", "--batch-size", "8", "--devices", "2", "--grad-accum", "4", "--token-budget", "1e7"], capsys)
    assert d["max_steps_for_token_budget"] == 153


def test_dataset_size_may_repeat_the_samples(capsys):
    assert plan_json([*PACKED, "--dataset-size", "976", "--batch-size", "8"], capsys)["samples_from_tokens"] == 976


@pytest.mark.parametrize(
    "flags, per_epoch",
    [(["--seconds-per-step", "0.64"], 10.0), (["--samples-per-second", "100"], 10.0)],
)
def test_time_flags(flags, per_epoch, capsys):
    # 1,000 samples in batches of 64 (15 full and one of 40): 0.64 s per step = 100 samples/s
    d = plan_json(["--dataset-size", "1000", "--batch-size", "64", "--epochs", "2", "--eval-every-steps", "8", *flags], capsys)
    assert TIME_KEYS <= set(d) and not TOKEN_KEYS & set(d)
    assert d["seconds_per_epoch"] == pytest.approx([per_epoch] * 2) and d["seconds_total"] == pytest.approx(2 * per_epoch)
    # evaluations after steps 8, 16, 24, 32: 512, 1,000, 1,512 and 2,000 samples run
    assert d["eval_seconds"] == pytest.approx([5.12, 10.0, 15.12, 20.0])
    assert d["stop_seconds"] is None


def test_checkpoint_seconds(capsys):
    # a save every 5 steps of 64 samples, 0.64 s a step (100 samples/s): after 320, 640 and 960
    # samples, then step 20 is the 4th step of epoch 2 (1,000 + 4 x 64 = 1,256 samples run)
    d = plan_json(["--dataset-size", "1000", "--batch-size", "64", "--epochs", "2", "--save-every-steps", "5",
                   "--seconds-per-step", "0.64"], capsys)
    assert d["checkpoint_global_steps"] == [5, 10, 15, 20, 25, 30]
    assert d["checkpoint_seconds"] == pytest.approx([3.2, 6.4, 9.6, 12.56, 15.76, 18.96])
    code, out, _ = run(["plan", "--dataset-size", "1000", "--batch-size", "64", "--epochs", "2", "--save-every-steps", "5",
                        "--seconds-per-step", "0.64"], capsys)
    assert code == 0 and "checkpoints at: [3.2 s, 6.4 s" in out


def test_stop_seconds(capsys):
    d = plan_json(["--framework", "hf", "--dataset-size", "1000", "--batch-size", "100", "--epochs", "10", "--patience", "1",
                   "--metrics", "1,0.9,0.95,0.96", "--samples-per-second", "50"], capsys)
    assert d["stop_seconds"] == d["seconds_total"] == 60.0 and d["eval_seconds"] == [20.0, 40.0, 60.0]


def test_summary_has_token_and_time_lines(capsys):
    code, out, _ = run(["plan", *PACKED, "--framework", "hf", "--batch-size", "8", "--devices", "2", "--grad-accum", "4",
                        "--epochs", "3", "--token-budget", "10000000", "--seconds-per-step", "2"], capsys)
    assert code == 0
    assert "tokens: 1,000,003 -> 976 samples of 1,024 (packed); dropped: 579; padding: 0" in out
    assert "tokens per optimizer step: 65,536; tokens trained: 2,998,272" in out
    assert "token budget 10,000,000: max_steps 153" in out
    assert "time per epoch: [30.5 s, 30.5 s, 30.5 s]; training time: 1 min 32 s" in out
    assert "evaluations at: [30.5 s, 1 min 1 s, 1 min 32 s]" in out


def test_summary_without_new_flags_is_unchanged(capsys):
    _, out, _ = run(["plan", "--dataset-size", "100", "--batch-size", "10"], capsys)
    assert "tokens" not in out and "time" not in out


@pytest.mark.parametrize(
    "argv, says",
    [
        (["--batch-size", "8"], "--dataset-size is required"),
        (["--dataset-tokens", "1000", "--batch-size", "8"], "needs --seq-len"),
        (["--packing", "--batch-size", "8"], "needs --seq-len"),
        (["--token-budget", "100", "--dataset-size", "10", "--batch-size", "8"], "needs --seq-len"),
        (["--documents", "10", "--batch-size", "8"], "needs --seq-len"),
        (["--seq-len", "8", "--batch-size", "8"], "give the data"),
        (["--seq-len", "8", "--packing", "--batch-size", "8"], "give the data"),
        (["--seq-len", "8", "--dataset-size", "10", "--batch-size", "8"], "give the data"),
        (["--dataset-tokens", "1000", "--seq-len", "8", "--batch-size", "8"], "does not say how many documents"),
        (["--dataset-tokens", "1000", "--documents", "3", "--tokens-per-document", "9", "--seq-len", "8", "--packing", "--batch-size", "8"], "not both"),
        (["--documents", "10", "--seq-len", "8", "--batch-size", "8"], "mean tokens per document"),
        (["--tokens-per-document", "10", "--seq-len", "8", "--batch-size", "8"], "number of documents"),
        ([*PACKED, "--dataset-size", "1000", "--batch-size", "8"], "976 samples"),
        (["--dataset-tokens", "100", "--packing", "--seq-len", "1024", "--batch-size", "8"], "no sample"),
        (["--dataset-tokens", "0", "--packing", "--seq-len", "8", "--batch-size", "8"], "dataset_tokens=0"),
        (["--dataset-tokens", "-5", "--packing", "--seq-len", "8", "--batch-size", "8"], "dataset_tokens=-5"),
        (["--dataset-tokens", "lots", "--packing", "--seq-len", "8", "--batch-size", "8"], "not a whole number"),
        (["--dataset-tokens", "1e400", "--packing", "--seq-len", "8", "--batch-size", "8"], "not a whole number"),
        (["--dataset-tokens", "1e16", "--packing", "--seq-len", "8", "--batch-size", "8"], "dataset_tokens="),
        (["--dataset-tokens", "1e15", "--packing", "--seq-len", "1", "--batch-size", "8"], "at most"),
        ([*PACKED, "--seq-len", "0", "--batch-size", "8"], "seq_len=0"),
        ([*PACKED, "--seq-len", "2.5", "--batch-size", "8"], "not a whole number"),
        ([*PACKED, "--token-budget", "0", "--batch-size", "8"], "token_budget=0"),
        ([*PACKED, "--token-budget", "nan", "--batch-size", "8"], "not a whole number"),
        (["--documents", "1e12", "--tokens-per-document", "1e4", "--seq-len", "8", "--batch-size", "8"], "exceed"),
        (["--dataset-size", "10", "--batch-size", "2", "--seconds-per-step", "0"], "seconds_per_step=0"),
        (["--dataset-size", "10", "--batch-size", "2", "--seconds-per-step", "-1"], "seconds_per_step=-1"),
        (["--dataset-size", "10", "--batch-size", "2", "--seconds-per-step", "inf"], "not a finite number"),
        (["--dataset-size", "10", "--batch-size", "2", "--seconds-per-step", "nan"], "not a finite number"),
        (["--dataset-size", "10", "--batch-size", "2", "--seconds-per-step", "fast"], "not a number"),
        (["--dataset-size", "10", "--batch-size", "2", "--samples-per-second", "0"], "samples_per_second=0"),
        (["--dataset-size", "10", "--batch-size", "2", "--samples-per-second", "1e20"], "at most"),
        (["--dataset-size", "10", "--batch-size", "2", "--seconds-per-step", "1", "--samples-per-second", "5"], "not both"),
        (["--dataset-tokens", "\u202e<script>", "--packing", "--seq-len", "8", "--batch-size", "8"], "not a whole number"),
    ],
)
def test_bad_token_or_time_input_exits_2_with_one_line(argv, says, capsys):
    for command in ("plan", "export", "train"):
        extra = ["--out", "/nonexistent-dir-never-written"] if command == "export" else []
        code, out, err = run([command, *extra, *argv], capsys)
        assert code == 2 and out == "", (command, err)
        lines = err.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("epochsteps: error:") and "Traceback" not in err
        assert says in lines[0], (command, lines[0])


def test_train_takes_the_token_and_time_flags(capsys):
    code, out, err = run(["train", *PACKED, "--batch-size", "8", "--epochs", "1", "--seconds-per-step", "2", "--json"], capsys)
    assert code == 0, err
    d = json.loads(out)
    assert d["run_setup"]["dataset_size"] == 976 and d["run_setup"]["tokens"] is None
    assert any("976 samples" in n for n in d["notes"])


def test_export_writes_the_token_and_time_figures(tmp_path, capsys):
    code, out, err = run(["export", "--out", str(tmp_path), *PACKED, "--batch-size", "64", "--epochs", "2", "--token-budget", "1e6",
                          "--samples-per-second", "12.5"], capsys)
    assert code == 0, err
    md = (tmp_path / "summary.md").read_text()
    assert "| Tokens trained | 1,998,848 |" in md and "| Token budget | 1,000,000 tokens: max_steps 16 |" in md
    assert "| Training time | 2 min 36 s |" in md  # 1,952 samples / 12.5 per second = 156.16 s
    assert "--dataset-tokens 1000003 --token-budget 1000000 --samples-per-second 12.5" in md
    setup = json.loads((tmp_path / "setup.json").read_text())
    assert setup["tokens"]["dataset_tokens"] == 1_000_003 and setup["samples_per_second"] == 12.5
    header = (tmp_path / "epochs.csv").read_text().splitlines()[0].split(",")
    assert {"tokens_trained", "seconds", "end_seconds"} <= set(header)


@settings(max_examples=150, deadline=None)
@given(st.lists(st.sampled_from(
    ["plan", "--dataset-size", "--batch-size", "--dataset-tokens", "--documents", "--tokens-per-document", "--seq-len", "--packing",
     "--token-budget", "--seconds-per-step", "--samples-per-second", "--framework", "hf", "--json",
     "0", "1", "7", "512", "1e6", "-3", "2.5", "1e400", "nan", "inf", "abc", "", "\u00e9", "9" * 40]
), max_size=14))
def test_fuzzed_token_and_time_flags_never_traceback(argv):
    try:
        code = main(argv)
    except SystemExit as exc:
        code = exc.code
    assert code in (0, 2)


# -- exports: setup.json, the reproduce command, summary.md, epochs.csv ---------------------------
ROUND_TRIP = [
    Setup.from_tokens(TokenData(1024, True, dataset_tokens=1_000_003), framework="hf", batch_size=8, devices=2, grad_accum=4, epochs=2.5),
    Setup.from_tokens(TokenData(512, True, documents=300, tokens_per_document=700, token_budget=10**9), batch_size=4, seconds_per_step=0.125),
    Setup.from_tokens(TokenData(512, False, documents=1000, tokens_per_document=300), framework="lightning", batch_size=16, epochs=3,
                      samples_per_second=1234.5),
    Setup(framework="keras", dataset_size=600, batch_size=50, epochs=5, seconds_per_step=3.0),
]


@pytest.mark.parametrize("setup", ROUND_TRIP)
def test_setup_json_and_the_command_round_trip(setup):
    assert exports.load_setup(exports.setup_json(setup)) == setup
    flags = exports.cli_flags(setup)
    assert ("--dataset-size" in flags) == (setup.tokens is None)  # counted from the tokens
    assert setup_from_args(build_parser().parse_args(["plan", *flags])) == setup


def test_summary_markdown_has_the_token_and_time_rows():
    plan = make_plan(ROUND_TRIP[2])
    md = exports.summary_markdown(plan)
    # 1,000 documents padded from 300 to 512 tokens; 3 epochs of 1,000 samples at 1,234.5 samples/s
    assert "| Data in tokens | 1,000 documents x 300 tokens = 300,000 tokens, one document per sample: 1,000 samples of 512 tokens |" in md
    assert "| Tokens dropped / padding | 0 / 212,000 |" in md
    assert "| Tokens per optimizer step | 8,192 |" in md and "| Tokens trained | 900,000 |" in md
    assert "| Throughput | 1,234.5 samples per second |" in md
    assert "| Time per epoch | 0.81 s |" in md and "| Training time | 2.43 s |" in md
    assert "| Evaluations at | [0.81 s, 1.62 s, 2.43 s] |" in md
    assert "Token budget" not in md and "Early stop at" not in md
    plain = exports.summary_markdown(make_plan(Setup(dataset_size=100, batch_size=10)))
    assert "Tokens" not in plain and "Throughput" not in plain


def test_epoch_table_columns_and_grouping():
    plan = make_plan(Setup.from_tokens(TokenData(16, True, dataset_tokens=1600 + 5), batch_size=32, epochs=5, samples_per_second=20.0))
    table = exports.epoch_table(plan)
    # 100 samples of 16 tokens per epoch; 5 s per epoch
    assert table["tokens_trained"].tolist() == [1600] * 5 and table["seconds"].tolist() == [5.0] * 5
    assert table["end_seconds"].tolist() == [5.0, 10.0, 15.0, 20.0, 25.0]
    grouped = exports.epoch_table(plan, max_rows=1)
    assert len(grouped) == 1 and grouped["end_seconds"].tolist() == [25.0] and grouped["seconds"].tolist() == [5.0]
    assert "seconds" not in exports.epoch_table(make_plan(Setup(dataset_size=100, batch_size=10)))
