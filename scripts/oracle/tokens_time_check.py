"""Compare the CLI's token and time keys with tokens_time.py (the real frameworks) on a seeded grid.

usage: ORACLE_PYTHON=/tmp/fw/bin/python [SEED=n] python scripts/oracle/tokens_time_check.py [N_RANDOM] [--jobs 2]

Prints one line per case and the agreement count. Exact for counts; times to 1e-9 relative.
"""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
ORACLE = os.environ.get("ORACLE_PYTHON", "/tmp/fw/bin/python")
R = random.Random(int(os.environ.get("SEED", "20260715")))


def cli(flags):
    out = subprocess.run([sys.executable, "-m", "epochsteps", "plan", *flags.split(), "--json"], capture_output=True, text=True, cwd=ROOT)
    if out.returncode:
        return {"error": out.stderr.strip()}
    return json.loads(out.stdout)


def oracle(flags):
    out = subprocess.run([ORACLE, str(HERE / "tokens_time.py"), *flags.split()], capture_output=True, text=True, timeout=1200)
    lines = [line for line in out.stdout.splitlines() if line.startswith("{")]
    if not lines:
        return {"error": out.stderr.strip().splitlines()[-1:] or ["no output"]}
    return json.loads(lines[-1])


def data_flags(kind, seq_len):
    if kind == "stream":
        return f"--dataset-tokens {R.randint(seq_len, seq_len * 120)} --packing"
    docs, length = R.randint(1, 150), R.randint(1, 3 * seq_len)
    if kind == "packed-docs":
        length = max(length, -(-seq_len // docs))
        return f"--documents {docs} --tokens-per-document {length} --packing"
    return f"--documents {docs} --tokens-per-document {length}"


def random_case(ddp_left):
    fw = R.choice(["pytorch", "pytorch-flush", "hf", "lightning", "keras"])
    seq_len = R.choice([1, 3, 8, 16, 33])
    flags = [f"--framework {fw}", f"--seq-len {seq_len}", data_flags(R.choice(["stream", "packed-docs", "unpacked"]), seq_len)]
    flags.append(f"--batch-size {R.randint(1, 12)} --grad-accum {R.randint(1, 4)} --epochs {R.randint(1, 3)}")
    if fw != "keras":
        devices = 1
        if fw in ("pytorch", "pytorch-flush") or (ddp_left[0] > 0 and R.random() < 0.25):
            devices = R.choice([1, 2, 3])
        if devices > 1 and fw in ("hf", "lightning"):
            ddp_left[0] -= 1
        flags.append(f"--devices {devices}")
        if R.random() < 0.3:
            flags.append("--drop-last")
        if R.random() < 0.2:
            flags.append(f"--max-steps {R.randint(1, 30)}")
    if fw in ("hf", "pytorch", "pytorch-flush") and R.random() < 0.5:
        flags.append(f"--eval-every-steps {R.randint(1, 9)}")
    if fw == "lightning" and R.random() < 0.5:
        flags.append(f"--val-check-interval {R.choice(['1', '2', '3', '0.5', '0.25'])}")
    if fw == "keras" and R.random() < 0.3:
        flags.append("--validation-freq 2")
    flags.append(R.choice([f"--seconds-per-step {R.choice([0.5, 1.25, 3.0])}", f"--samples-per-second {R.choice([7.0, 100.0, 2.5])}"]))
    return " ".join(flags)


def compare(flags):
    plan, got = cli(flags), oracle(flags)
    if "error" in plan or "error" in got:
        return flags, ["plan: " + str(plan.get("error")) if "error" in plan else "", "oracle: " + str(got.get("error", ""))]
    c, d = got["counted"], got["data"]
    bad = []

    def same(name, mine, real):
        if mine != real:
            bad.append(f"{name}: plan {mine} real {real}")

    same("samples_from_tokens", plan["samples_from_tokens"], d["samples"])
    same("tokens_dropped", plan["tokens_dropped"], d["tokens_dropped"])
    same("tokens_padded", plan["tokens_padded"], d["tokens_padded"])
    same("total_optimizer_steps", plan["total_optimizer_steps"], got["framework"]["total_optimizer_steps"])
    same("samples_seen", plan["samples_seen"], c["samples_seen"])
    same("tokens_trained", plan["tokens_trained"], c["tokens_trained"])
    if "hf_num_input_tokens_seen" in got["framework"]:
        same("tokens_trained (HF num_input_tokens_seen)", plan["tokens_trained"], got["framework"]["hf_num_input_tokens_seen"])
    same("eval_global_steps", plan["eval_global_steps"], c["eval_global_steps"])
    rate = float(flags.split("--samples-per-second ")[1].split()[0]) if "--samples-per-second" in flags else \
        plan["effective_batch_size"] / float(flags.split("--seconds-per-step ")[1].split()[0])
    ends = c["epoch_samples"]
    real_epochs = [(b - a) / rate for a, b in zip([0, *ends[:-1]], ends, strict=False)]
    close = lambda xs, ys: len(xs) == len(ys) and all(abs(x - y) <= 1e-9 * max(1.0, abs(y)) for x, y in zip(xs, ys, strict=True))  # noqa: E731
    if not close(plan["seconds_per_epoch"], real_epochs):
        bad.append(f"seconds_per_epoch: plan {plan['seconds_per_epoch']} real {real_epochs}")
    if not close([plan["seconds_total"]], [c["samples_seen"] / rate]):
        bad.append(f"seconds_total: plan {plan['seconds_total']} real {c['samples_seen'] / rate}")
    if not close(plan["eval_seconds"], [s / rate for s in c["eval_samples"]]):
        bad.append(f"eval_seconds: plan {plan['eval_seconds']} real {[s / rate for s in c['eval_samples']]}")
    return flags, bad


def budget_case(flags):
    """HF with max_steps = the plan's max_steps_for_token_budget trains at least the budget (one step fewer does not)."""
    plan = cli(flags)
    k, budget = plan["max_steps_for_token_budget"], int(flags.split("--token-budget ")[1].split()[0])
    bad = []
    for steps, want_reach in ((k, True), (k - 1, False)):
        if steps < 1:
            continue
        got = oracle(f"{flags} --max-steps {steps}")
        if "error" in got:
            return flags, [f"oracle: {got['error']}"]
        seen = got["framework"]["hf_num_input_tokens_seen"]
        if (seen >= budget) != want_reach:
            bad.append(f"max_steps {steps}: HF saw {seen} tokens, budget {budget}")
    return f"{flags} (max_steps {k})", bad


HAND = [
    "--framework hf --seq-len 16 --dataset-tokens 1605 --packing --batch-size 4 --grad-accum 3 --epochs 2 --seconds-per-step 1.5",
    "--framework hf --seq-len 8 --documents 30 --tokens-per-document 5 --batch-size 4 --devices 2 --epochs 2 --samples-per-second 10",
    "--framework hf --seq-len 8 --documents 31 --tokens-per-document 12 --batch-size 3 --devices 3 --grad-accum 2 --epochs 1 --eval-every-steps 2 --seconds-per-step 2",
    "--framework lightning --seq-len 8 --documents 30 --tokens-per-document 20 --batch-size 4 --grad-accum 3 --epochs 2 --val-check-interval 5 --samples-per-second 4",
    "--framework lightning --seq-len 16 --dataset-tokens 2000 --packing --batch-size 5 --devices 2 --epochs 2 --seconds-per-step 1",
    "--framework pytorch --seq-len 16 --dataset-tokens 1600 --packing --batch-size 10 --grad-accum 4 --epochs 2 --eval-every-steps 1 --seconds-per-step 4",
    "--framework pytorch --seq-len 128 --documents 10 --tokens-per-document 100 --batch-size 2 --devices 3 --epochs 1 --samples-per-second 6",
    "--framework keras --seq-len 4 --dataset-tokens 403 --packing --batch-size 10 --grad-accum 3 --epochs 2 --seconds-per-step 3",
]
BUDGETS = [
    "--framework hf --seq-len 16 --dataset-tokens 3072 --packing --batch-size 4 --grad-accum 3 --epochs 50 --token-budget 5000",
    "--framework hf --seq-len 8 --documents 48 --tokens-per-document 8 --packing --batch-size 2 --grad-accum 2 --epochs 50 --token-budget 513",
    "--framework hf --seq-len 8 --documents 40 --tokens-per-document 5 --batch-size 4 --grad-accum 2 --epochs 50 --token-budget 400",
]
VARY = [
    "--framework hf --seq-len 16 --documents 60 --tokens-per-document 14 --batch-size 4 --epochs 1 --vary",
    "--framework pytorch --seq-len 16 --documents 2500 --tokens-per-document 5 --packing --batch-size 64 --epochs 1 --vary",
]


def main():
    n_random = int(sys.argv[1]) if len(sys.argv) > 1 and sys.argv[1].isdigit() else 40
    jobs = int(sys.argv[sys.argv.index("--jobs") + 1]) if "--jobs" in sys.argv else 1
    ddp_left = [4]
    hand = "SEED" not in os.environ  # another seed: its random cases only
    cases = (HAND if hand else []) + [random_case(ddp_left) for _ in range(n_random)]
    with ThreadPoolExecutor(jobs) as pool:
        results = list(pool.map(compare, cases)) + list(pool.map(budget_case, BUDGETS if hand else []))
    agree = 0
    for flags, bad in results:
        agree += not bad
        print(("OK   " if not bad else "DIFF ") + flags)
        for line in bad:
            print("       " + line)
    print(f"{agree} / {len(results)} cases agree")
    # documents of varying length (the plan assumes the mean): a real run trains no more real tokens
    for flags in VARY if hand else []:
        plan, got = cli(flags.replace(" --vary", "")), oracle(flags)
        print(f"vary: {flags}\n       plan samples {plan['samples_from_tokens']}, tokens trained {plan['tokens_trained']},"
              f" dropped {plan['tokens_dropped']}, padded {plan['tokens_padded']}; real samples {got['data']['samples']}"
              f" (per map batch of 1,000 texts: {got['data']['map_batch_samples']}), tokens trained {got['counted']['tokens_trained']},"
              f" dropped {got['data']['tokens_dropped']}, padded {got['data']['tokens_padded']}")


if __name__ == "__main__":
    main()
