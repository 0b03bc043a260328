"""Run oracle.py on every line of cases.txt (2 at a time) -> expected.jsonl.

usage: /tmp/fw/bin/python run_all.py [--only i,j,...] [--cases FILE --out FILE]
(round 3: --cases scripts/oracle/cases_saving.txt --out tests/golden/saving.jsonl)
A random case whose --metrics ran out is re-run once with the list padded by its last value
(cases.txt is rewritten with the padded list); the two deliberate 'too few metrics' cases are kept.
"""
import json
import os
import shlex
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor

HERE = os.path.dirname(os.path.abspath(__file__))
PY = os.environ.get("ORACLE_PYTHON", "/tmp/fw/bin/python")  # a throwaway venv with the frameworks
KEEP_SHORT = {"--metrics 1,0.9"}


def run(args):
    t0 = time.time()
    env = dict(os.environ, OMP_NUM_THREADS="1", KERAS_BACKEND="torch", PYTHONWARNINGS="ignore")
    p = subprocess.run([PY, os.path.join(HERE, "oracle.py")] + shlex.split(args), capture_output=True,
                       text=True, timeout=600, env=env, cwd="/tmp")
    lines = [l for l in p.stdout.splitlines() if l.startswith("{")]
    if not lines:
        return {"error": f"ORACLE CRASH rc={p.returncode}: " + " | ".join(p.stderr.splitlines()[-5:])}, time.time() - t0
    return json.loads(lines[-1]), time.time() - t0


def pad_metrics(args, n=400):
    toks = shlex.split(args)
    i = toks.index("--metrics")
    vals = toks[i + 1].split(",")
    vals = vals + [vals[-1]] * max(0, n - len(vals))
    toks[i + 1] = ",".join(vals)
    return " ".join(toks)


def one(args):
    res, dt = run(args)
    if "error" in res and "ran out" in res["error"] and not any(k in args for k in KEEP_SHORT):
        args = pad_metrics(args)
        res, dt2 = run(args)
        dt += dt2
    return args, res, dt


def main():
    def opt(name, default):
        return sys.argv[sys.argv.index(name) + 1] if name in sys.argv else default

    cases_path = opt("--cases", os.path.join(HERE, "cases.txt"))
    cases = [l.strip() for l in open(cases_path) if l.strip()]
    only = None
    if "--only" in sys.argv:
        only = {int(x) for x in sys.argv[sys.argv.index("--only") + 1].split(",")}
    out_path = opt("--out", os.path.join(HERE, "..", "..", "tests", "golden", "frameworks.jsonl"))
    old = {}
    if only and os.path.exists(out_path):
        old = {i: json.loads(l) for i, l in enumerate(open(out_path))}
    todo = [(i, c) for i, c in enumerate(cases) if only is None or i in only]
    t0 = time.time()
    results = dict(old)
    with ThreadPoolExecutor(max_workers=2) as ex:
        futs = {i: ex.submit(one, c) for i, c in todo}
        for i, c in todo:
            args, res, dt = futs[i].result()
            cases[i] = args
            rec = {"args": args}
            if "error" in res:
                rec["error"] = res["error"]
            else:
                rec["result"] = res
            results[i] = rec
            tag = rec.get("error", "")[:90]
            print(f"[{i:3d}] {dt:5.1f}s {args[:110]} {tag}", flush=True)
    with open(out_path, "w") as f:
        for i in range(len(cases)):
            f.write(json.dumps(results[i]) + "\n")
    with open(cases_path, "w") as f:
        for c in cases:
            f.write(c + "\n")
    print(f"done {len(todo)} cases in {time.time() - t0:.0f}s")


if __name__ == "__main__":
    main()
