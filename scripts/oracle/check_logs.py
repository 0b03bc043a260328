#!/usr/bin/env python
"""Read every capture in a directory with `epochsteps.readlog.read_log` and compare it with the
run's sidecar: each value the reading determines must be the true one (the setup, the
batches per epoch, the total optimizer steps, the epochs run, the plan's counts); a value it
leaves null counts as honest, not as agreement. Run with the project's Python:

    python scripts/oracle/check_logs.py /tmp/logs-unseen     # or tests/data/logs

Never imported by the project.
"""

import json
import sys
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from epochsteps.readlog import LogError, read_log  # noqa: E402


def true_batches(truth):
    run = truth["run"]
    if truth["framework"] == "keras":
        per = set(run["batches_run_per_epoch"])
        return per.pop() if len(per) == 1 else None
    return run["batches_per_epoch"]


def check(path):
    truth = json.loads(path.with_name(path.name.split(".")[0] + ".json").read_text())
    run = truth["run"]
    try:
        reading = read_log(path.read_text(encoding="utf-8", errors="replace"))
    except LogError as exc:
        return [f"refused: {exc}"], {}
    errors, found = [], {}
    if reading.framework != truth["framework"]:
        errors.append(f"framework {reading.framework}")
    for key, value in reading.setup.items():
        if value is None:
            continue
        found[key] = True
        want = truth["setup"].get(key)
        if key == "grad_accum" and want is None:
            want = 1
        if key == "epochs" and truth["framework"] == "lightning" and want is None:
            want = 1000 if truth["setup"].get("max_steps") is None else None
        if value != want:
            errors.append(f"{key}={value}, truly {want}")
    counts = {"batches_per_epoch": true_batches(truth), "total_optimizer_steps": run["total_optimizer_steps"], "epochs_run": run["epochs_run"]}
    for key, want in counts.items():
        value = getattr(reading, key)
        if value is not None:
            found[key] = True
            if value != want:
                errors.append(f"{key}={value}, truly {want}")
    if reading.plan is not None:
        found["plan"] = True
        plan = reading.plan
        if plan.planned_optimizer_steps != run.get("max_steps", plan.planned_optimizer_steps):
            errors.append(f"plan plans {plan.planned_optimizer_steps} steps, the Trainer {run.get('max_steps')}")
        if not run["stopped_early"] and plan.batches.tolist() != run["batches_run_per_epoch"]:
            errors.append(f"plan batches {plan.batches.tolist()}, truly {run['batches_run_per_epoch']}")
    return errors, found


def main(directory):
    paths = sorted(p for p in Path(directory).iterdir() if p.suffix == ".log" or p.name.endswith(".screen.txt"))
    agree, determined, by_framework = 0, Counter(), Counter()
    for path in paths:
        errors, found = check(path)
        framework = path.name.split("_")[1] if path.name.startswith("random") else path.name.split("_")[0]
        by_framework[framework, not errors] += 1
        determined.update(found)
        agree += not errors
        print(f"{'ok ' if not errors else 'BAD'} {path.name:44s} {' '.join(sorted(found))} {'; '.join(errors)}")
    print(f"\n{agree} of {len(paths)} readings agree with the real runs")
    print("determined (how many readings gave a value):", dict(sorted(determined.items())))
    print("by framework (ok, bad):", {f: (by_framework[f, True], by_framework[f, False]) for f in sorted({f for f, _ in by_framework})})
    return 0 if agree == len(paths) else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
