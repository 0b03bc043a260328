"""The CLI against what the real frameworks did with checkpoints, training-loss logs and
Lightning's limits (tests/golden/saving.jsonl, recorded by scripts/oracle/oracle.py from the
frameworks' own hooks; cases from scripts/oracle/gen_cases_round3.py)."""

from __future__ import annotations

import json
import math
import shlex
from pathlib import Path

import pytest

from epochsteps.cli import main

CASES = [json.loads(line) for line in (Path(__file__).parent / "golden" / "saving.jsonl").read_text().splitlines() if line.strip()]


def same(expected, actual) -> bool:
    if isinstance(expected, float) or isinstance(actual, float):
        return math.isclose(expected, actual, rel_tol=1e-5, abs_tol=1e-12)
    if isinstance(expected, list):
        return isinstance(actual, list) and len(expected) == len(actual) and all(same(e, a) for e, a in zip(expected, actual, strict=True))
    if isinstance(expected, dict):
        return all(k.startswith("_") or v == "n/a" or same(v, actual.get(k)) for k, v in expected.items())
    return expected == actual


def test_the_recording_is_big_enough():
    assert len(CASES) >= 280
    assert sum("error" not in c for c in CASES) >= 120


@pytest.mark.parametrize("case", CASES, ids=[c["args"][:90] for c in CASES])
def test_cli_matches_the_framework(case, capsys):
    code = main(["plan", *shlex.split(case["args"]), "--json"])
    out, err = capsys.readouterr()
    if "error" in case:
        assert code == 2, f"the framework refused ({case['error'][:120]}), the CLI printed {out[:200]}"
        assert len(err.strip().splitlines()) == 1
        return
    assert code == 0, err
    actual = json.loads(out)
    for key, expected in case["result"].items():
        if key.startswith("_") or expected == "n/a":
            continue
        assert same(expected, actual[key]), f"{key}: framework {expected!r}, CLI {actual[key]!r}"
