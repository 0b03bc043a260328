"""Read my log (#15): real output of the HF Trainer, Lightning and Keras, captured by
scripts/oracle/capture_logs.py, read back to the setup and counts the run really had.

Each fixture tests/data/logs/<case>.log (one pipe, carriage returns and ANSI codes as the
framework wrote them) or <case>.screen.txt (a terminal's final text) has a sidecar <case>.json
with the true setup and the counts taken by callbacks inside the run.
"""

from __future__ import annotations

import io
import json
import math
import re
import time
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from epochsteps.cli import main
from epochsteps.conventions import CONVENTIONS
from epochsteps.readlog import MAX_CHARS, LogError, LogReading, normalise, read_log

LOGS = Path(__file__).parent / "data" / "logs"
FIXTURES = sorted(p for p in LOGS.iterdir() if p.suffix == ".log" or p.name.endswith(".screen.txt"))
HOSTILE = sorted((LOGS / "hostile").iterdir())
KEYS = {"framework", "setup", "unknown", "printed", "printed_meaning", "batches_per_epoch", "total_optimizer_steps", "epochs_run", "notes", "plan"}

# What each run's text determines (names of setup keys), and whether it determines the
# batches per epoch, the total optimizer steps and the plan. Everything else must be null.
FULL_HF = {"dataset_size", "batch_size", "grad_accum", "devices", "epochs", "drop_last"}
EXPECTED = {
    "hf_info_basic": (FULL_HF, True, True, True),
    "hf_info_accum_leftover": (FULL_HF, True, True, True),
    "hf_info_fractional": (FULL_HF - {"epochs"}, True, True, True),  # 2.5 epochs or max_steps=20: the text cannot tell
    "hf_info_max_steps": (FULL_HF - {"epochs"} | {"max_steps"}, True, True, True),
    "hf_info_drop_last_accum": (FULL_HF, True, True, True),  # drop_last told by the logged epoch fractions
    "hf_info_drop_last": (FULL_HF, True, True, True),
    "hf_info_ddp2": (FULL_HF - {"drop_last"}, False, True, False),  # 15 or 16 batches per rank make the same 4 steps
    "hf_info_ddp2_drop_last": (FULL_HF, True, True, True),
    "hf_info_early_stop": (FULL_HF, True, True, True),
    "hf_explicit_format": (FULL_HF, True, True, True),
    "hf_default_fractional": (set(), False, True, False),
    "hf_default_plain": ({"epochs"}, False, True, False),
    "hf_default_early_stop": (set(), False, True, False),
    "hf_default_max_steps": (set(), False, True, False),
    "hf_info_no_bar_early_stop": (FULL_HF - {"drop_last"}, False, True, False),
    "hf_info_iterable": ({"batch_size", "grad_accum", "devices", "max_steps"}, False, True, False),  # no dataset size  # the final epoch tells the steps that ran
    "hf457_info_accum_leftover": (FULL_HF, True, True, True),
    "hf457_info_drop_last": (FULL_HF, True, True, True),  # no "Num update steps per epoch": the final epoch value decides
    "hf457_default_fractional": (set(), False, True, False),
    "hf451_info_accum_leftover": (FULL_HF - {"epochs"}, True, True, True),
    "pl_basic": ({"devices", "epochs"}, True, False, False),
    "pl_rich_default": ({"devices", "epochs"}, True, False, False),
    "pl_accum": ({"devices", "epochs"}, True, False, False),
    "pl_max_steps": ({"devices", "max_steps", "grad_accum"}, True, True, False),
    "pl_max_steps_only": ({"devices", "max_steps", "grad_accum"}, True, True, False),
    "pl_small_val_es": ({"devices"}, True, False, False),  # TQDM never shows max_epochs; early stopping ended the run
    "pl_ddp2": ({"devices", "epochs"}, True, False, False),
    "pl_rich_val_es": ({"devices", "epochs"}, True, False, False),  # Rich shows max_epochs - 1
    "pl_limit": ({"devices", "epochs"}, True, False, False),
    "pl_no_bar": ({"devices", "epochs"}, True, False, False),
    # a random setup (limit_train_batches=0.25, max_steps=27): EarlyStopping re-checks a stale value after max_steps
    "pl_rich_max_steps_es": ({"devices", "epochs", "max_steps", "grad_accum"}, True, True, False),
    "keras_v1": ({"epochs"}, True, False, False),
    "keras_v2_val": ({"epochs"}, True, False, False),
    "keras_auto_accum": ({"epochs"}, True, False, False),  # prints exactly what a run without accumulation prints
    "keras_steps_per_epoch": ({"epochs", "steps_per_epoch"}, False, False, False),
    "keras_steps_over": ({"epochs", "steps_per_epoch"}, False, False, False),
    "keras_es": ({"epochs"}, True, False, False),
    "keras_one_epoch": ({"epochs"}, True, False, False),
    "keras_initial_epoch_evaluate": ({"epochs"}, True, False, False),
}


def case_of(path: Path) -> str:
    return path.name.split(".")[0]


def truth_of(path: Path) -> dict:
    return json.loads((LOGS / f"{case_of(path)}.json").read_text())


def read(path: Path) -> LogReading:
    return read_log(path.read_text(encoding="utf-8"))


def true_batches(truth: dict) -> int | None:
    """Batches per epoch per device: len(dataloader) (HF, Lightning); Keras' epochs as they ran."""
    run = truth["run"]
    if truth["framework"] == "keras":
        per = set(run["batches_run_per_epoch"])
        return per.pop() if len(per) == 1 else None
    return run["batches_per_epoch"]


def test_every_case_has_a_fixture_and_an_expectation():
    cases = {case_of(p) for p in FIXTURES}
    assert cases == set(EXPECTED)
    assert {p.stem for p in LOGS.glob("*.json")} == cases
    assert len([p for p in FIXTURES if p.name.endswith(".screen.txt")]) >= 8


@pytest.mark.parametrize("path", FIXTURES, ids=lambda p: p.name)
def test_fixture_reads_to_its_true_setup_and_counts(path):
    truth, reading = truth_of(path), read(path)
    determined, has_batches, has_total, has_plan = EXPECTED[case_of(path)]
    assert reading.framework == truth["framework"]
    owned = CONVENTIONS[reading.framework].owns
    for key, value in reading.setup.items():
        if key in determined:
            want = truth["setup"].get(key)
            want = 1 if want is None and key == "grad_accum" else want
            assert value == want, (key, value, want)
        else:
            assert value is None, (key, value)
    assert set(reading.unknown) == {k for k, v in reading.setup.items() if v is None and k in owned}
    assert (reading.batches_per_epoch is not None) == has_batches
    if has_batches:
        assert reading.batches_per_epoch == true_batches(truth)
    assert (reading.total_optimizer_steps is not None) == has_total
    if has_total:
        assert reading.total_optimizer_steps == truth["run"]["total_optimizer_steps"]
    if reading.epochs_run is not None:
        assert reading.epochs_run == truth["run"]["epochs_run"]
    assert (reading.plan is not None) == has_plan


@pytest.mark.parametrize("path", [p for p in FIXTURES if EXPECTED[case_of(p)][3]], ids=lambda p: p.name)
def test_plan_from_a_log_is_the_run_the_framework_made(path):
    truth, plan = truth_of(path), read(path).plan
    run = truth["run"]
    assert plan.batches_per_epoch_full == run["batches_per_epoch"]
    assert plan.planned_optimizer_steps == run["max_steps"]  # state.max_steps, before any early stop
    if not run["stopped_early"]:
        assert plan.total_optimizer_steps == run["total_optimizer_steps"]
        assert plan.batches.tolist() == run["batches_run_per_epoch"]
        assert plan.epochs_started == run["epochs_run"]


@pytest.mark.parametrize("path", FIXTURES, ids=lambda p: p.name)
def test_reading_is_plain_json_the_page_can_show(path):
    d = read(path).to_dict()
    assert set(d) == KEYS
    text = json.dumps(d, allow_nan=False)
    assert not re.search(r"<[A-Za-z/!?]|&#|\x1b", text)  # plain text: no tag, entity or escape
    assert all(isinstance(n, str) and n and "\n" not in n for n in d["notes"])
    assert set(d["printed"]) == set(d["printed_meaning"]) and d["printed"]


def notes(name: str) -> str:
    path = LOGS / f"{name}.log"
    return "\n".join(read(path).notes)


@pytest.mark.parametrize(
    "name, phrases",
    [
        # HF: Num Epochs is ceil(num_train_epochs); the last epoch is cut
        ("hf_info_fractional", ["“Num Epochs = 3” counts the epochs the Trainer starts", "stops after 4 of its 8 steps (16 of its 32 batches)"]),
        # HF 4.52+ steps on the leftover window; a (i + 1) % A loop does not
        ("hf_info_accum_leftover", ["leftover window of 2 batches", "7 steps per epoch", "`(i + 1) % 5` loop takes 6"]),
        ("hf_info_max_steps", ["max_steps=10 overrides num_train_epochs", "“Num Epochs = 2” is ceil(10 / 8)"]),
        ("hf_info_ddp2", ["effective batch (32 × 4 × 2)", "with it each device gets 15 batches per epoch, without it 16"]),
        ("hf_info_early_stop", ["ends at 35 of 70 steps", "“Total optimization steps = 70” and “Num Epochs = 10” overstate the run"]),
        ("hf_default_early_stop", ["ends at 52 of 130 steps"]),
        ("hf_info_iterable", ["“Num Epochs = 9,223,372,036,854,775,807” is sys.maxsize: the dataset has no length"]),
        ("hf_info_no_bar_early_stop", ["final “epoch” 4 means 20 optimizer steps ran, not the 40 planned"]),
        ("hf_default_fractional", ["final “epoch” 2.692 ends inside epoch 3", "need not be the num_train_epochs asked"]),
        ("hf_info_drop_last", ["only drop_last=True fits", "12 batches per device per epoch, the other 13"]),
        ("hf451_info_accum_leftover", ["older than 4.52 planned floor(32 / 5) = 6 steps per epoch", "(18 = 3 × 6)"]),
        # Lightning: the bar counts batches, from epoch 0; its total can mix batches and steps
        ("pl_accum", ["counts training batches per device, not optimizer steps", "does not print accumulate_grad_batches", "96 optimizer steps"]),
        ("pl_max_steps_only", ["epoch 0 shows a total of 20 but ran 32 batches", "only 4 makes max_steps=20"]),
        ("pl_rich_default", ["“Epoch 2/2” counts from 0 on both sides: epoch 3 of max_epochs=3"]),
        ("pl_small_val_es", ["EarlyStopping ended training after 5 epochs (val_metric did not improve in the last 2 checks)"]),
        ("pl_rich_max_steps_es", ["when max_steps=27 had ended training", "only 1 makes max_steps=27 end where the bar stops"]),
        ("pl_ddp2", ["Each of the 2 processes runs 16 batches per epoch"]),
        # Keras: batches not samples, accumulation across epochs, bars finalized at their target
        ("keras_auto_accum", ["“32/32” counts batches", "floor(96 / A)", "across epoch ends"]),
        ("keras_steps_over", ["ran out of data", "steps_per_epoch=40 was given", "overstate that epoch"]),
        ("keras_es", ["“Epoch 2: early stopping”", "is the epochs argument, not what ran: 2 epochs of 20", "those of epoch 1"]),
        ("keras_one_epoch", ["only when epochs > 1"]),
        ("keras_initial_epoch_evaluate", ["initial_epoch=2, so it runs at most 3 epochs, not 5", "(evaluate or predict)", "made 30 optimizer updates"]),
    ],
)
def test_notes_flag_the_numbers_that_mislead(name, phrases):
    text = notes(name)
    for phrase in phrases:
        assert phrase in text


def test_a_terminal_copy_reads_like_the_raw_log():
    for name in ("hf_info_basic", "pl_basic", "keras_v1", "keras_es"):
        raw, screen = read(LOGS / f"{name}.log"), read(LOGS / f"{name}.screen.txt")
        assert (screen.framework, dict(screen.setup), screen.batches_per_epoch, screen.total_optimizer_steps) == (
            raw.framework, dict(raw.setup), raw.batches_per_epoch, raw.total_optimizer_steps,
        )


def test_normalise_keeps_each_redraw_and_drops_escapes():
    assert normalise("\x1b[1m 1/32\x1b[0m a\r\x1b[1m32/32\x1b[0m b\r\n\n") == [" 1/32 a", "32/32 b"]
    assert normalise("\b\b\b\rdone\x1b]0;title\x07\t!") == ["done !"]
    assert normalise("x" * 10_000) == ["x" * 4_000]


# -- hostile text ------------------------------------------------------------------------

@pytest.mark.parametrize("path", HOSTILE, ids=lambda p: p.name)
def test_hostile_fixture_is_refused_with_one_plain_sentence(path):
    with pytest.raises(LogError) as err:
        read(path)
    message = str(err.value)
    assert message and "\n" not in message and len(message) < 400
    assert "<" not in message and "script" not in message and "\x1b" not in message


@pytest.mark.parametrize(
    "text, says",
    [
        ("", "empty"),
        (" \n\t\r\n", "empty"),
        ("\x1b[2J\x1b[H" * 1000, "empty"),
        ("abc\x00def", "binary"),
        ("\x01\x02\x03\x04\x05\x06" * 100, "binary"),
        ("\ufffd" * 200 + "Epoch 1/3", "binary"),
    ],
)
def test_empty_and_binary_text(text, says):
    with pytest.raises(LogError, match=says):
        read_log(text)


def test_ten_megabytes_of_junk_is_refused_at_once():
    junk = "Epoch 1/3 ━━ |█| 1/2 [" * (10_000_000 // 22)
    start = time.perf_counter()
    with pytest.raises(LogError, match="characters; at most 4,000,000"):
        read_log(junk)
    assert time.perf_counter() - start < 1


def test_a_large_ansi_bomb_under_the_cap_reads_in_reasonable_time():
    bomb = ("\x1b[" + "1;" * 40 + "m\x1b[A\r" * 30 + "|" * 50 + "\n") * 12_000
    assert len(bomb) < MAX_CHARS
    start = time.perf_counter()
    with pytest.raises(LogError, match="not a log"):
        read_log(bomb)
    assert time.perf_counter() - start < 10


def test_a_not_a_string_is_refused():
    with pytest.raises(LogError, match="expected text"):
        read_log(b"***** Running training *****")  # type: ignore[arg-type]


def test_numbers_are_read_strictly():
    banner = (LOGS / "hf_info_basic.screen.txt").read_text().splitlines()[1:10]
    text = "\n".join(banner).replace("Num examples = 1,000", "Num examples = 1,0000")
    with pytest.raises(LogError, match="cut short"):
        read_log(text)
    huge = "\n".join(banner).replace("Total optimization steps = 96", "Total optimization steps = 99999999999999999")
    with pytest.raises(LogError, match="cut short|more than any"):
        read_log(huge)


FRAGMENTS = [
    "***** Running training *****\n", "  Num examples = 1,000\n", "  Num Epochs = 3\n", "  Num update steps per epoch = 8\n",
    "  Instantaneous batch size per device = 32\n", "  Total train batch size (w. parallel, distributed & accumulation) = 128\n",
    "  Gradient Accumulation steps = 4\n", "  Total optimization steps = 24\n", "  Num Epochs = 9,223,372,036,854,775,807\n",
    "max_steps is given, it will override any value given in num_train_epochs\n", " 50%|█████     | 12/24 [00:00<00:00, 9it/s]",
    "{'loss': '0.5', 'epoch': '2.5'}\n", "{'train_runtime': '1', 'epoch': '1e999'}\n", "{'epoch': 0.3333333333333333}\n",
    "Epoch 0: 100%|██████████| 32/32 [00:00<00:00, 503.27it/s, v_num=0]", "Epoch 2:  |          | 21/? [00:00<00:00, 1it/s]",
    "`Trainer.fit` stopped: `max_steps=10` reached.\n", "`Trainer.fit` stopped: `max_epochs=3` reached.\n",
    "Epoch 2/2  ━━━━━━━━━━ 32/32 0:00:00 • 0:00:00 329.74it/s\n", "GPU available: False, used: False\n",
    "Initializing distributed: GLOBAL_RANK: 0, MEMBER: 1/2\n", "The number of training batches (13) is smaller than the logging interval\n",
    "Monitored metric val_loss did not improve in the last 3 records. Best score: 0.7. Signaling Trainer to stop.\n",
    "Epoch 1/3\n", "32/32 ━━━━━━━━━━━━━━━━━━━━ 0s 4ms/step - loss: 0.0497\n", "40/40 - 0s - 3ms/step - loss: 0.04\n",
    "Epoch 2: early stopping\n", "Restoring model weights from the end of the best epoch: 1.\n",
    "Your input ran out of data; interrupting training.\n", "\r", "\n", "\b", "\x1b[A", "\x1b[1m", "<script>", "0", "99999999999999999",
]


@settings(max_examples=300, deadline=2000, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.sampled_from(FRAGMENTS) | st.text(max_size=30), max_size=40).map("".join))
def test_any_text_reads_or_raises_the_documented_error(text):
    try:
        reading = read_log(text)
    except LogError as exc:
        assert str(exc) and "\n" not in str(exc)
        return
    d = reading.to_dict()
    json.dumps(d, allow_nan=False)
    for key in ("batches_per_epoch", "total_optimizer_steps", "epochs_run"):
        assert d[key] is None or (isinstance(d[key], int) and d[key] >= 0)
    for value in d["setup"].values():
        assert value is None or isinstance(value, (bool, int)) or (isinstance(value, float) and math.isfinite(value))


# -- command line ------------------------------------------------------------------------

def run_cli(argv, capsys):
    code = main(argv)
    out, err = capsys.readouterr()
    return code, out, err


def test_cli_json(capsys):
    code, out, err = run_cli(["read-log", str(LOGS / "hf_info_accum_leftover.log"), "--json"], capsys)
    assert code == 0 and not err
    d = json.loads(out)
    assert set(d) == KEYS and d["framework"] == "hf" and d["total_optimizer_steps"] == 21
    assert d["setup"]["grad_accum"] == 5 and d["unknown"] == ["max_steps"] and d["printed"]["Total optimization steps"] == 21
    assert d["plan"]["optimizer_steps_per_epoch"] == [7, 7, 7]


def test_cli_summary_and_stdin(capsys, monkeypatch):
    text = (LOGS / "keras_es.screen.txt").read_bytes()
    monkeypatch.setattr("sys.stdin", io.TextIOWrapper(io.BytesIO(text)))
    code, out, _ = run_cli(["read-log", "-"], capsys)
    assert code == 0
    assert "framework: Keras (keras)" in out and "setup: epochs=20" in out and "total optimizer steps: not determined" in out
    assert "Epoch 2: early stopping" in out and "plan: not built" in out


def test_cli_summary_shows_the_plan(capsys):
    code, out, _ = run_cli(["read-log", str(LOGS / "hf_info_fractional.log")], capsys)
    assert code == 0 and "optimizer steps per epoch: [8, 8, 4]" in out and "not determined by the text: epochs, max_steps" in out


def test_cli_reads_utf16_from_powershell(tmp_path, capsys):
    path = tmp_path / "log.txt"
    path.write_bytes(b"\xff\xfe" + (LOGS / "keras_v1.screen.txt").read_text(encoding="utf-8").encode("utf-16-le"))
    code, out, _ = run_cli(["read-log", str(path), "--json"], capsys)
    assert code == 0 and json.loads(out)["batches_per_epoch"] == 32


@pytest.mark.parametrize(
    "make, says",
    [
        (lambda p: p / "missing.log", "cannot read"),
        (lambda p: p, "cannot read"),
        (lambda p: (p / "bin.log").write_bytes(bytes(range(256)) * 40) and p / "bin.log", "binary"),
        (lambda p: (p / "other.log").write_text("pip install torch\nSuccessfully installed torch\n") and p / "other.log", "not a log"),
        (lambda p: (p / "mixed.log").write_bytes((LOGS / "hostile" / "mixed_hf_keras.txt").read_bytes()) and p / "mixed.log", "mixes"),
    ],
)
def test_cli_errors_are_one_line_and_exit_2(tmp_path, capsys, make, says):
    code, out, err = run_cli(["read-log", str(make(tmp_path))], capsys)
    assert code == 2 and not out
    assert err.count("\n") == 1 and err.startswith("epochsteps: error: ") and says in err


def test_cli_refuses_a_file_too_large(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr("epochsteps.cli.MAX_CHARS", 1000)
    path = tmp_path / "big.log"
    path.write_text("x" * 5000)
    code, _, err = run_cli(["read-log", str(path)], capsys)
    assert code == 2 and "larger than 4,004 bytes" in err and err.count("\n") == 1


def test_cli_help_explains_every_flag(capsys):
    with pytest.raises(SystemExit):
        main(["read-log", "--help"])
    out = capsys.readouterr().out
    assert "FILE" in out and "standard input" in out and "--json" in out and "default: off" in out
