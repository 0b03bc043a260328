#!/usr/bin/env python
"""Run the `snippet --runnable` scripts on the real frameworks and compare with the plan.

usage (from the repository root, with the project's Python):
    python scripts/oracle/check_snippets.py [--python /tmp/fw/bin/python] [--only 3,17] [--jobs 2]

For every setup of GRID it generates the script (`epochsteps.cli.runnable_script`), runs it
with the frameworks' Python (a throwaway venv, see README.md), reads the JSON on its last line
and compares it with `make_plan(setup)`: total_optimizer_steps, eval_global_steps, and
early_stop.stop_global_step when early stopping fired (else null). Every case is written to
tests/golden/snippets.jsonl with the script's sha256, so tests/test_snippets.py can tell a
recording of today's scripts from a stale one. Exit status 1 when any case disagrees.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import random
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from epochsteps import Setup, make_plan  # noqa: E402
from epochsteps.cli import runnable_script  # noqa: E402
from epochsteps.conventions.codegen import flags  # noqa: E402
from epochsteps.evaluation import illustrative_curve  # noqa: E402
from epochsteps.setup import SetupError  # noqa: E402

OUT = ROOT / "tests" / "golden" / "snippets.jsonl"
FALLS = (1.0, 0.9, 0.95, 0.96, 0.97, 0.8, 0.7, 0.75, 0.76, 0.77, 0.78, 0.6, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5)
FLAT = (1.0,) * 40
CREEP = tuple(round(1.0 - 0.01 * i, 2) for i in range(40))  # falls 0.01 per evaluation
RISES = tuple(round(0.5 + 0.1 * i, 1) for i in range(40))
WITH_NAN = (1.0, 0.9, float("nan"), 0.8, 0.7, 0.6, 0.5, 0.4, 0.3, 0.2, 0.1, 0.1, 0.1, 0.1)


def S(**kw) -> Setup:
    return Setup(**kw)


def hand_picked() -> list[Setup]:
    out = []
    for fw in ("pytorch", "pytorch-flush"):
        d = dict(framework=fw, dataset_size=100, batch_size=8)
        out += [
            S(**d, epochs=3),
            S(**d, epochs=3, grad_accum=3),  # L=13: a leftover window of 1
            S(framework=fw, dataset_size=96, batch_size=8, epochs=2, grad_accum=4),  # no leftover
            S(**d, epochs=2, drop_last=True, grad_accum=5),
            S(**d, epochs=3, grad_accum=2, max_steps=9),  # max_steps mid-epoch
            S(**d, epochs=2, grad_accum=2, max_steps=50, lr_schedule="linear", warmup_steps=2),  # epochs end first
            S(**d, max_steps=20, grad_accum=2, eval_every_steps=4),  # max_steps alone
            S(**d, epochs=4, grad_accum=3, eval_every_steps=3, patience=0, metrics=FALLS),
            S(**d, epochs=4, eval_every_steps=5, patience=1, min_delta=0.05, metrics=FALLS),
            S(**d, epochs=4, grad_accum=2, eval_every_steps=4, patience=3, mode="max", metrics=RISES[::-1]),
            S(**d, epochs=3, eval_every_steps=6, patience=2, metrics=WITH_NAN, lr_schedule="cosine", warmup_steps=3),
            S(framework=fw, dataset_size=10, batch_size=3, epochs=2, grad_accum=5),  # L < accumulation
            S(framework=fw, dataset_size=1, batch_size=1, epochs=2, eval_every_steps=1),
        ]
    d = dict(framework="hf", dataset_size=100, batch_size=8)
    out += [
        S(**d, epochs=3),
        S(**d),  # the default 3 epochs
        S(**d, epochs=3, grad_accum=3),
        S(**d, epochs=2, grad_accum=3, drop_last=True),
        S(**d, epochs=2.5, grad_accum=2),
        S(**d, epochs=0.3, grad_accum=4),
        S(**d, epochs=3, grad_accum=4, max_steps=5),  # max_steps overrides epochs, cuts the 2nd epoch
        S(**d, max_steps=17, grad_accum=2),
        S(**d, epochs=3, eval_every_steps=5),  # final-step evaluation at 39
        S(**d, epochs=2, grad_accum=2, eval_every_steps=0.25),
        S(**d, epochs=2, grad_accum=2, eval_every_steps=0.2),
        S(framework="hf", dataset_size=400, batch_size=4, epochs=1, eval_every_steps=0.07),  # ceil(100 * 0.07) = 8
        S(**d, epochs=1, eval_every_steps=1),
        S(**d, epochs=3, grad_accum=2, patience=0, metrics=FALLS),
        S(**d, epochs=5, eval_every_steps=4, patience=1, metrics=FALLS),
        S(**d, epochs=5, eval_every_steps=3, patience=2, min_delta=0.015, metrics=CREEP),
        S(**d, epochs=5, eval_every_steps=4, patience=3, mode="max", metrics=RISES[::-1]),
        S(**d, epochs=3, max_steps=20, eval_every_steps=6, patience=1, metrics=FLAT),
        S(**d, epochs=3, grad_accum=3, lr_schedule="linear", warmup_steps=0.1),
        S(**d, epochs=2, lr_schedule="cosine", warmup_steps=5, lr=0.01),
        S(**d, epochs=2, lr_schedule="constant_with_warmup", warmup_steps=3),
        S(framework="hf", dataset_size=5, batch_size=8, drop_last=True, max_steps=3),  # no batch reaches the device
        S(**d, epochs=2, eval_every_steps=100),  # only the final-step evaluation
        S(**d, epochs=4, eval_every_steps=5, patience=2, metrics=WITH_NAN),
        S(**d, epochs=2, max_steps=30, patience=0, metrics=FLAT),  # epoch evaluations, the last one at max_steps
    ]
    d = dict(framework="lightning", dataset_size=100, batch_size=8)
    out += [
        S(**d, epochs=3),
        S(**d, epochs=3, grad_accum=3),
        S(**d, epochs=2, grad_accum=3, drop_last=True),
        S(**d, epochs=3, grad_accum=4, max_steps=5),
        S(**d, max_steps=17, grad_accum=2),
        S(**d, epochs=2, val_check_interval=0.5),
        S(**d, epochs=2, val_check_interval=0.3),
        S(**d, epochs=2, grad_accum=4, val_check_interval=0.25),  # validation mid-accumulation
        S(**d, epochs=2, val_check_interval=4),
        S(**d, epochs=2, val_check_interval=5, check_val_every_n_epoch=None),
        S(**d, epochs=4, check_val_every_n_epoch=2),
        S(**d, epochs=4, val_check_interval=0.5, check_val_every_n_epoch=2),
        S(**d, epochs=2, val_check_interval=1.0),
        S(**d, max_steps=15, val_check_interval=0.5),  # validation on the batch that reaches max_steps
        S(**d, epochs=6, patience=0, metrics=FALLS),
        S(**d, epochs=8, patience=1, metrics=FALLS),
        S(**d, epochs=8, patience=3, min_delta=0.015, metrics=CREEP),
        S(**d, epochs=8, patience=2, mode="max", metrics=RISES[::-1]),
        S(**d, epochs=4, val_check_interval=0.25, patience=2, metrics=FALLS),  # checks at validation end
        S(framework="lightning", dataset_size=37, batch_size=7, epochs=6, val_check_interval=1, patience=2,
          metrics=(1.0, 0.8, 0.7, 0.75, 0.72, 0.71) + (0.7,) * 40),  # checks at epoch end, stale values
        S(**d, epochs=6, patience=3, metrics=WITH_NAN),  # a non-finite value stops
        S(**d, epochs=3, max_steps=30, patience=1, metrics=FLAT),  # max_steps ends an epoch that checks a stale value
        S(**d, epochs=3, grad_accum=2, lr_schedule="cosine", warmup_steps=3),
        S(**d, epochs=2, grad_accum=3, max_steps=7, lr_schedule="linear", warmup_steps=2),
        S(framework="lightning", dataset_size=5, batch_size=8, epochs=2, drop_last=True),  # no training batches
        S(framework="lightning", dataset_size=6, batch_size=3, patience=2, metrics=RISES),  # the default 1,000 epochs
        S(**d, epochs=2, val_check_interval=2.0),  # an integral float above 1 counts batches
        S(**d, max_steps=20, grad_accum=2, val_check_interval=6, check_val_every_n_epoch=None),
        S(**d, epochs=4, grad_accum=2, val_check_interval=0.5, patience=1, mode="max", min_delta=0.05, metrics=RISES),
    ]
    d = dict(framework="keras", dataset_size=100, batch_size=8)
    out += [
        S(**d, epochs=3),
        S(**d),  # the default 1 epoch
        S(**d, epochs=3, grad_accum=3),  # windows run across epoch ends
        S(**d, epochs=3, grad_accum=5),
        S(**d, epochs=5, steps_per_epoch=5),  # epochs of 5, 5, 3, 5, 5 batches
        S(**d, epochs=3, steps_per_epoch=40),
        S(**d, epochs=6, steps_per_epoch=4, grad_accum=3),
        S(**d, epochs=4, validation_freq=2),
        S(**d, epochs=4, validation_freq=(1, 3)),
        S(**d, epochs=6, patience=0, metrics=FALLS),
        S(**d, epochs=8, patience=1, metrics=FALLS),
        S(**d, epochs=8, patience=3, min_delta=0.015, metrics=CREEP),
        S(**d, epochs=8, patience=2, start_from_epoch=3, metrics=RISES),
        S(**d, epochs=8, patience=1, mode="max", metrics=RISES[::-1]),
        S(**d, epochs=8, validation_freq=2, patience=1, metrics=FALLS),
        S(**d, epochs=6, patience=2, metrics=WITH_NAN),
        S(**d, epochs=3, grad_accum=2, lr_schedule="cosine", warmup_steps=4),
        S(**d, epochs=2, lr_schedule="cosine"),
        S(**d, epochs=2, lr_schedule="constant", lr=0.01),
        S(**d, epochs=6, patience=1, metrics=(1.0, float("inf"), 0.9, float("inf"), float("inf"), 0.5)),
        S(framework="keras", dataset_size=1, batch_size=4, epochs=3, grad_accum=2),
    ]
    return out


CADENCE = {
    "pytorch": lambda r: {"eval_every_steps": r.choice([None, 1, 2, 3, 5])},
    "pytorch-flush": lambda r: {"eval_every_steps": r.choice([None, 1, 2, 3, 5])},
    "hf": lambda r: {"eval_every_steps": r.choice([None, None, 1, 2, 3, 5, 0.1, 0.25, 0.3, 0.5])},
    "lightning": lambda r: {
        "val_check_interval": r.choice([None, None, 1, 2, 3, 0.25, 0.3, 0.5, 1.0]),
        "check_val_every_n_epoch": r.choice([1, 1, 1, 2, None]),
    },
    "keras": lambda r: {
        "validation_freq": r.choice([1, 1, 2, 3, (1, 2, 4)]),
        "steps_per_epoch": r.choice([None, None, 2, 3, 5, 9]),
        "start_from_epoch": r.choice([0, 0, 1, 2]),
    },
}


def seeded(count: int, seed: int = 12) -> list[Setup]:
    """Random small setups (those the framework accepts), metrics long enough for every evaluation."""
    r = random.Random(seed)
    out: list[Setup] = []
    while len(out) < count:
        fw = ["pytorch", "pytorch-flush", "hf", "lightning", "keras"][len(out) % 5]
        values = dict(
            framework=fw,
            dataset_size=r.randint(1, 120),
            batch_size=r.randint(1, 16),
            epochs=r.choice([1, 2, 3, 4]) if fw != "hf" else r.choice([1, 2, 3, 1.5, 2.25]),
            grad_accum=r.choice([1, 1, 2, 3, 4, 7]),
        )
        if fw != "keras":
            values["drop_last"] = r.random() < 0.3
            if r.random() < 0.3:
                values["max_steps"] = r.randint(1, 30)
        values.update(CADENCE[fw](r))
        if r.random() < 0.3:
            values["lr_schedule"] = r.choice(["cosine"] if fw == "keras" else ["linear", "cosine", "constant_with_warmup"])
            values["warmup_steps"] = float(r.choice([0, 1, 3]))
        try:
            setup = Setup(**values)
            plan = make_plan(setup)
            if r.random() < 0.6 and (len(plan.evaluations) or fw == "keras"):
                n = max(len(plan.evaluations), len(plan.batches)) + 1
                setup = setup.replace(
                    patience=r.choice([0, 1, 2, 3]),
                    min_delta=r.choice([0.0, 0.0, 0.01]),
                    mode=r.choice(["min", "min", "max"]),
                    metrics=illustrative_curve(n, seed=r.randint(0, 9)),
                )
                plan = make_plan(setup)
        except SetupError:
            continue
        if sum(plan.batches) > 2000 or len(plan.evaluations) > 60:
            continue
        out.append(setup)
    return out


GRID = hand_picked() + seeded(50)


def expected(setup: Setup) -> dict:
    d = make_plan(setup).to_dict(include_lr=False)
    es = d["early_stop"]
    return {
        "total_optimizer_steps": d["total_optimizer_steps"],
        "eval_global_steps": d["eval_global_steps"],
        "stop_global_step": es["stop_global_step"] if es is not None and es["stopped"] else None,
    }


def run(python: str, script: str, timeout: float) -> tuple[dict | None, str, float]:
    t0 = time.time()
    env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONWARNINGS="ignore")
    env.pop("PYTHONPATH", None)  # the script needs the frameworks only, never epochsteps
    with tempfile.TemporaryDirectory(prefix="epochsteps-snippet-") as cwd:
        path = Path(cwd) / "proof.py"
        path.write_text(script)
        try:
            p = subprocess.run([python, str(path)], capture_output=True, text=True, timeout=timeout, env=env, cwd=cwd)
        except subprocess.TimeoutExpired:
            return None, f"timeout after {timeout:.0f} s", time.time() - t0
    lines = p.stdout.strip().splitlines()
    try:
        return json.loads(lines[-1]), "", time.time() - t0
    except (IndexError, json.JSONDecodeError):
        tail = " | ".join(p.stderr.strip().splitlines()[-3:])
        return None, f"rc={p.returncode}, last stdout line {lines[-1:]!r}: {tail}", time.time() - t0


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--python", default=os.environ.get("ORACLE_PYTHON", "/tmp/fw/bin/python"))
    ap.add_argument("--only", help="comma-separated case numbers (the others keep their recorded lines)")
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--timeout", type=float, default=600)
    a = ap.parse_args()
    only = {int(i) for i in a.only.split(",")} if a.only else None
    recorded = [json.loads(line) for line in OUT.read_text().splitlines()] if OUT.exists() and only else []
    todo = [i for i in range(len(GRID)) if only is None or i in only]
    scripts = {i: runnable_script(GRID[i], make_plan(GRID[i])) for i in todo}
    t0 = time.time()
    results = {}
    with ThreadPoolExecutor(max_workers=a.jobs) as pool:
        futures = {i: pool.submit(run, a.python, scripts[i], a.timeout) for i in todo}
        for i in todo:
            got, error, seconds = futures[i].result()
            want = expected(GRID[i])
            ok = got == want
            results[i] = {
                "flags": " ".join(flags(GRID[i])),
                "setup": GRID[i].to_dict(),
                "sha256": hashlib.sha256(scripts[i].encode()).hexdigest(),
                "result": got,
            }
            verdict = "ok" if ok else f"DISAGREES: framework {got} plan {want} {error}"
            print(f"[{i:3d}] {seconds:5.1f}s {results[i]['flags'][:100]} {verdict}", flush=True)
    agree = sum(results[i]["result"] == expected(GRID[i]) for i in todo)
    lines = []
    for i in range(len(GRID)):
        if i in results:
            lines.append(results[i])
        elif i < len(recorded):
            lines.append(recorded[i])
    OUT.write_text("".join(json.dumps(line) + "\n" for line in lines))
    print(f"{agree} of {len(todo)} agree with the plan ({time.time() - t0:.0f} s); wrote {OUT.relative_to(ROOT)}")
    return 0 if agree == len(todo) else 1


if __name__ == "__main__":
    sys.exit(main())
