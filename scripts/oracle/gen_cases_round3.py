"""Round 3 (#14): checkpoints, training-loss logs and Lightning's limits -> cases_saving.txt.

Hand-picked edge cases first (one rule or interaction each), then seeded random ones that
combine the new knobs with accumulation leftovers, max_steps, fractional epochs (HF), early
stopping, evaluation cadence and a few real 2-process runs. Record them with
    ORACLE_PYTHON=/tmp/fw/bin/python python scripts/oracle/run_all.py \\
        --cases scripts/oracle/cases_saving.txt --out tests/golden/saving.jsonl
"""
import math
import os
import random

R = random.Random(20250714)
cases = []
MAX_DDP = 10


def is_ddp(s):
    t = s.split()
    fw = t[t.index("--framework") + 1]
    return fw in ("hf", "lightning") and "--devices" in t and int(t[t.index("--devices") + 1]) > 1


def add(s):
    s = " ".join(s.split())
    if s in cases or (is_ddp(s) and sum(map(is_ddp, cases)) >= MAX_DDP):
        return False
    cases.append(s)
    return True


def fmt(v):
    return ",".join("nan" if isinstance(x, float) and math.isnan(x) else f"{x:g}" for x in v)


def series(kind, n):
    """n metric values, lower is better."""
    if kind == "falling":
        v = [round(1.0 - 0.05 * i, 3) for i in range(n)]
    elif kind == "flat":
        v = [0.5] * n
    elif kind == "rising":
        v = [round(0.5 + 0.1 * i, 2) for i in range(n)]
    elif kind == "v":  # falls, then rises
        k = R.randint(1, max(1, n // 2))
        v = [round(1.0 - 0.1 * min(i, k) + 0.07 * max(0, i - k), 3) for i in range(n)]
    elif kind == "noisy":
        v, x = [], 1.0
        for _ in range(n):
            x = max(0.0, x + R.choice([-0.1, -0.05, -0.02, 0.0, 0.01, 0.03, 0.06]))
            v.append(round(x, 2))
    elif kind == "nan":
        k = R.randint(1, max(1, min(5, n - 1)))
        v = [round(1.0 - 0.1 * i, 2) for i in range(k)] + [float("nan")] * (n - k)
    else:
        raise ValueError(kind)
    return fmt(v)


def metrics(n, kind=None):
    return f"--metrics {series(kind or R.choice(['falling', 'flat', 'rising', 'v', 'noisy', 'noisy', 'v', 'nan']), max(2, min(n, 120)))}"


# ===================================================================== hand-picked
HF = "--framework hf"
PL = "--framework lightning"
KS = "--framework keras"

# HF: defaults, save/log cadence, the forced final save, ratios, "epoch" strategies at cut ends
add(f"{HF} --dataset-size 100 --batch-size 8 --epochs 3")
add(f"{HF} --dataset-size 100 --batch-size 8 --grad-accum 3 --epochs 2 --save-steps 4 --logging-steps 3 --logging-first-step")
add(f"{HF} --dataset-size 100 --batch-size 8 --grad-accum 3 --epochs 2 --save-steps 5 --logging-steps 5")
add(f"{HF} --dataset-size 200 --batch-size 8 --epochs 2 --save-steps 0.3 --logging-steps 0.25")
add(f"{HF} --dataset-size 200 --batch-size 8 --epochs 2 --save-steps 0.07 --logging-steps 0.07")
add(f"{HF} --dataset-size 40 --batch-size 4 --grad-accum 3 --epochs 2.5 --save-strategy epoch --logging-strategy epoch --logging-first-step")
add(f"{HF} --dataset-size 40 --batch-size 4 --epochs 0.3 --save-strategy epoch --logging-strategy epoch")
add(f"{HF} --dataset-size 40 --batch-size 4 --epochs 3 --max-steps 13 --save-strategy epoch --logging-strategy epoch")
add(f"{HF} --dataset-size 40 --batch-size 4 --epochs 3 --max-steps 13 --save-steps 4 --logging-steps 4")
add(f"{HF} --dataset-size 40 --batch-size 3 --epochs 1 --logging-strategy epoch --logging-first-step --grad-accum 14")
add(f"{HF} --dataset-size 40 --batch-size 4 --epochs 2 --logging-steps 1 --logging-first-step --save-steps 1")
add(f"{HF} --dataset-size 40 --batch-size 4 --epochs 2 --logging-strategy no --logging-first-step --save-strategy no")
add(f"{HF} --dataset-size 40 --batch-size 4 --epochs 2 --save-steps 0")
add(f"{HF} --dataset-size 40 --batch-size 4 --epochs 2 --save-steps 2.5")
add(f"{HF} --dataset-size 40 --batch-size 4 --epochs 2 --logging-steps 0")
add(f"{HF} --dataset-size 40 --batch-size 4 --epochs 2 --logging-steps 3.5")
add(f"{HF} --dataset-size 40 --batch-size 4 --epochs 2 --logging-strategy epoch --logging-steps 3.5 --save-strategy epoch --save-steps 2.5")
add(f"{HF} --dataset-size 3 --batch-size 4 --drop-last --max-steps 5 --save-strategy epoch --logging-strategy epoch")
add(f"{HF} --dataset-size 3 --batch-size 4 --drop-last --max-steps 5 --save-steps 2 --logging-steps 1")
# HF: evaluation strategies
add(f"{HF} --dataset-size 40 --batch-size 4 --epochs 2 --eval-strategy no --save-steps 3")
add(f"{HF} --dataset-size 40 --batch-size 4 --epochs 2 --eval-strategy steps --logging-steps 3")
add(f"{HF} --dataset-size 40 --batch-size 4 --epochs 2 --eval-strategy steps --logging-steps 0.15")
add(f"{HF} --dataset-size 40 --batch-size 4 --epochs 2 --eval-strategy epoch --eval-every-steps 3")
add(f"{HF} --dataset-size 40 --batch-size 4 --epochs 2 --eval-strategy no --patience 1 --metrics 1,1,1")
add(f"{HF} --dataset-size 40 --batch-size 4 --epochs 2 --eval-strategy steps --logging-steps 0 --logging-strategy epoch")
# HF: save_strategy best, load_best_model_at_end and its refusals
add(f"{HF} --dataset-size 40 --batch-size 4 --epochs 2 --save-strategy best --eval-every-steps 3 --metrics 1,0.9,0.95,0.8,0.7,0.75,0.74,0.7")
add(f"{HF} --dataset-size 40 --batch-size 4 --epochs 2 --save-strategy best --eval-every-steps 3 --logging-steps 0.25 --load-best-model-at-end --metrics 1,0.9,0.95,0.8,0.7,0.75,0.74,0.7")
add(f"{HF} --dataset-size 40 --batch-size 4 --epochs 3 --save-strategy best --metrics nan,1,0.5")
add(f"{HF} --dataset-size 40 --batch-size 4 --grad-accum 3 --epochs 2.5 --save-steps 4 --eval-every-steps 2 --load-best-model-at-end --metrics 1,0.9,0.95,0.8,0.7")
add(f"{HF} --dataset-size 40 --batch-size 4 --grad-accum 3 --epochs 2.5 --save-steps 4 --eval-every-steps 2 --load-best-model-at-end --metrics 1,0.5,0.95,0.8,0.7")
add(f"{HF} --dataset-size 40 --batch-size 4 --epochs 3 --save-strategy epoch --load-best-model-at-end --metrics 1,0.5,0.7")
add(f"{HF} --dataset-size 40 --batch-size 4 --epochs 3 --save-strategy epoch --eval-every-steps 5 --load-best-model-at-end --metrics 1,0.5,0.7")
add(f"{HF} --dataset-size 40 --batch-size 4 --epochs 2 --save-steps 3 --eval-every-steps 2 --load-best-model-at-end --metrics 1,0.9")
add(f"{HF} --dataset-size 40 --batch-size 4 --epochs 2 --save-steps 10 --eval-every-steps 0.3 --load-best-model-at-end --metrics 1,0.9")
add(f"{HF} --dataset-size 40 --batch-size 4 --epochs 2 --save-steps 10 --eval-every-steps 0.25 --load-best-model-at-end --metrics 1,0.9,0.8,0.7,0.6")
add(f"{HF} --dataset-size 40 --batch-size 4 --epochs 2 --save-steps 0.5 --eval-every-steps 0.25 --load-best-model-at-end --metrics 1,0.9,1.1,0.7,0.6")
add(f"{HF} --dataset-size 40 --batch-size 4 --epochs 2 --save-steps 0.3 --eval-every-steps 0.2 --load-best-model-at-end --metrics 1,0.9,1.1,0.7,0.6,0.5")
add(f"{HF} --dataset-size 40 --batch-size 4 --epochs 2 --eval-strategy no --save-strategy no --load-best-model-at-end")
add(f"{HF} --dataset-size 40 --batch-size 4 --epochs 2 --eval-strategy steps --save-steps 6 --logging-steps 3 --load-best-model-at-end --metrics 1,0.8,0.9,0.7,0.95,0.6,0.5")
# HF: early stopping against saves (no forced save at an early stop; "epoch" saves at the cut epoch's end)
add(f"{HF} --dataset-size 40 --batch-size 4 --epochs 4 --eval-every-steps 3 --save-steps 4 --logging-steps 4 --patience 1 --metrics 1,0.9,0.95,0.99")
add(f"{HF} --dataset-size 40 --batch-size 4 --epochs 4 --eval-every-steps 3 --save-strategy epoch --logging-strategy epoch --patience 1 --metrics 1,0.9,0.95,0.99")
add(f"{HF} --dataset-size 40 --batch-size 4 --epochs 4 --eval-every-steps 3 --save-strategy best --patience 2 --load-best-model-at-end --metrics 1,0.9,0.95,0.99,0.98")
add(f"{HF} --dataset-size 40 --batch-size 4 --epochs 4 --save-strategy epoch --patience 1 --load-best-model-at-end --metrics 1,0.9,0.95,0.99")
add(f"{HF} --dataset-size 100 --batch-size 8 --grad-accum 3 --epochs 3 --devices 2 --save-steps 3 --logging-steps 2 --logging-first-step")
add(f"{HF} --dataset-size 100 --batch-size 8 --epochs 2 --devices 2 --save-strategy epoch --logging-strategy epoch --eval-every-steps 4 --patience 1 --metrics 1,0.9,0.95,1")

# Lightning: the default ModelCheckpoint and validation cadence
add(f"{PL} --dataset-size 40 --batch-size 4 --epochs 3")
add(f"{PL} --dataset-size 40 --batch-size 4 --epochs 2 --val-check-interval 0.5 --grad-accum 3")
add(f"{PL} --dataset-size 40 --batch-size 4 --epochs 2 --val-check-interval 0.3")
add(f"{PL} --dataset-size 40 --batch-size 4 --epochs 3 --val-check-interval 4 --check-val-every-n-epoch none --grad-accum 3")
add(f"{PL} --dataset-size 40 --batch-size 4 --epochs 4 --check-val-every-n-epoch 2")
add(f"{PL} --dataset-size 40 --batch-size 4 --epochs 3 --max-steps 15")
add(f"{PL} --dataset-size 40 --batch-size 4 --epochs 3 --max-steps 13 --val-check-interval 0.5")
add(f"{PL} --dataset-size 40 --batch-size 4 --epochs 3 --val-check-interval 1")
add(f"{PL} --dataset-size 40 --batch-size 4 --epochs 3 --val-check-interval 0.25 --grad-accum 4")
# Lightning: triggers, save_last, save_top_k and their refusals
add(f"{PL} --dataset-size 40 --batch-size 4 --epochs 2 --grad-accum 3 --every-n-train-steps 3")
add(f"{PL} --dataset-size 40 --batch-size 4 --epochs 2 --grad-accum 3 --every-n-train-steps 3 --save-top-k 0")
add(f"{PL} --dataset-size 40 --batch-size 4 --epochs 2 --grad-accum 3 --every-n-train-steps 3 --save-top-k 0 --save-last")
add(f"{PL} --dataset-size 40 --batch-size 4 --epochs 2 --every-n-train-steps 0")
add(f"{PL} --dataset-size 40 --batch-size 4 --epochs 2 --every-n-train-steps 0 --save-last")
add(f"{PL} --dataset-size 40 --batch-size 4 --epochs 4 --every-n-epochs 2 --save-last")
add(f"{PL} --dataset-size 40 --batch-size 4 --epochs 2 --every-n-epochs 3 --save-last")
add(f"{PL} --dataset-size 40 --batch-size 4 --epochs 3 --save-top-k 0 --save-last")
add(f"{PL} --dataset-size 40 --batch-size 4 --epochs 3 --save-top-k -1 --val-check-interval 0.5")
add(f"{PL} --dataset-size 40 --batch-size 4 --epochs 2 --every-n-train-steps 3 --every-n-epochs 1")
add(f"{PL} --dataset-size 40 --batch-size 4 --epochs 2 --save-top-k 3")
add(f"{PL} --dataset-size 40 --batch-size 4 --epochs 2 --every-n-epochs 0 --every-n-train-steps 0 --save-last")
# Lightning: a monitored ModelCheckpoint
add(f"{PL} --dataset-size 40 --batch-size 4 --epochs 4 --monitor val_loss --metrics 1,0.9,0.95,0.8")
add(f"{PL} --dataset-size 40 --batch-size 4 --epochs 4 --monitor val_loss --save-top-k 2 --metrics 1,0.9,0.95,0.8")
add(f"{PL} --dataset-size 40 --batch-size 4 --epochs 4 --monitor val_loss --save-top-k -1 --save-last --metrics 1,0.9,0.95,0.8")
add(f"{PL} --dataset-size 40 --batch-size 4 --epochs 2 --monitor val_loss --val-check-interval 0.25 --save-top-k 2 --metrics 1,0.9,0.95,0.8,0.85,0.7,0.99,0.75,0.8,0.72")
add(f"{PL} --dataset-size 40 --batch-size 4 --epochs 2 --val-check-interval 0.3 --grad-accum 2 --every-n-train-steps 2 --monitor val_loss --metrics 1,0.9,0.8,0.85,0.7,0.6,0.5,0.4")
add(f"{PL} --dataset-size 40 --batch-size 4 --epochs 3 --val-check-interval 0.3 --grad-accum 2 --every-n-train-steps 5 --monitor val_loss --metrics 1,0.9,0.8,0.85,0.7,0.6,0.5,0.4,0.3,0.2")
add(f"{PL} --dataset-size 40 --batch-size 4 --epochs 2 --grad-accum 3 --every-n-train-steps 2 --monitor val_loss --metrics 1,0.9,0.8")
add(f"{PL} --dataset-size 40 --batch-size 4 --epochs 3 --every-n-train-steps 2 --monitor val_loss --metrics 1,0.9,0.8")
add(f"{PL} --dataset-size 40 --batch-size 4 --epochs 4 --every-n-train-steps 5 --monitor val_loss --check-val-every-n-epoch 2 --metrics 1,0.9,0.8")
add(f"{PL} --dataset-size 40 --batch-size 4 --epochs 4 --every-n-train-steps 4 --monitor val_loss --save-last --save-top-k 1 --val-check-interval 0.5 --metrics 1,1.1,0.9,0.95,0.8,0.85,0.7,0.9")
add(f"{PL} --dataset-size 40 --batch-size 4 --max-steps 5 --monitor val_loss --metrics 1,2")
add(f"{PL} --dataset-size 40 --batch-size 4 --epochs 3 --monitor val_loss --metrics nan,1,0.5")
add(f"{PL} --dataset-size 40 --batch-size 4 --epochs 3 --monitor val_loss --save-top-k 2 --metrics 0.5,nan,0.7")
# Lightning: logging
add(f"{PL} --dataset-size 100 --batch-size 2 --epochs 3 --grad-accum 3")
add(f"{PL} --dataset-size 40 --batch-size 4 --epochs 2 --grad-accum 3 --log-every-n-steps 3")
add(f"{PL} --dataset-size 40 --batch-size 4 --epochs 2 --log-every-n-steps 0")
add(f"{PL} --dataset-size 40 --batch-size 4 --epochs 2 --log-every-n-steps 1 --grad-accum 4")
# Lightning: min_epochs / min_steps against early stopping
add(f"{PL} --dataset-size 40 --batch-size 4 --epochs 8 --patience 1 --min-epochs 4 --metrics 1,1,1,1,1,1,1,1,1,1 --log-every-n-steps 3")
add(f"{PL} --dataset-size 40 --batch-size 4 --epochs 8 --patience 1 --min-steps 25 --metrics 1,1,1,1,1,1,1,1,1,1 --log-every-n-steps 3 --grad-accum 2")
add(f"{PL} --dataset-size 40 --batch-size 4 --epochs 8 --patience 1 --min-steps 13 --val-check-interval 0.5 --metrics 1,1,1,1,1,1,1,1,1,1 --log-every-n-steps 4")
add(f"{PL} --dataset-size 40 --batch-size 4 --epochs 8 --patience 1 --min-steps 13 --val-check-interval 0.5 --metrics 1,1,1,1,1,1,1,1,1,1 --check-val-every-n-epoch 2")
add(f"{PL} --dataset-size 40 --batch-size 4 --epochs 8 --patience 1 --min-steps 3 --val-check-interval 0.25 --metrics 1,1,1,1,1,1,1,1,1,1 --log-every-n-steps 2")
add(f"{PL} --dataset-size 40 --batch-size 4 --epochs 8 --patience 1 --min-steps 7 --val-check-interval 0.2 --grad-accum 3 --metrics 1,1,1,1,1,1,1,1,1,1,1,1")
add(f"{PL} --dataset-size 40 --batch-size 4 --epochs 8 --patience 1 --min-steps 0 --val-check-interval 0.5 --metrics 1,1,1,1,1,1,1,1,1,1")
add(f"{PL} --dataset-size 40 --batch-size 4 --epochs 3 --patience 1 --min-epochs 5 --metrics 1,1,1,1,1,1")
add(f"{PL} --dataset-size 40 --batch-size 4 --epochs 8 --patience 1 --min-epochs 2 --val-check-interval 0.5 --metrics 1,0.9,0.95,0.8,0.7,0.9,0.9,0.9,0.9")
add(f"{PL} --dataset-size 40 --batch-size 4 --epochs 8 --patience 2 --min-epochs 3 --min-steps 35 --metrics 1,0.9,0.95,0.96,0.8,0.9,0.9,0.9")
add(f"{PL} --dataset-size 40 --batch-size 4 --epochs 8 --patience 1 --min-steps 13 --monitor val_loss --every-n-train-steps 4 --val-check-interval 0.5 --metrics 1,1.1,0.9,0.8,0.7,0.6")
add(f"{PL} --dataset-size 40 --batch-size 4 --max-steps 18 --patience 1 --min-steps 15 --val-check-interval 0.5 --metrics 1,1,1,1,1,1")
# Lightning: limit_train_batches
add(f"{PL} --dataset-size 40 --batch-size 4 --epochs 3 --limit-train-batches 7 --grad-accum 3")
add(f"{PL} --dataset-size 40 --batch-size 4 --epochs 3 --limit-train-batches 0.55 --grad-accum 4")
add(f"{PL} --dataset-size 40 --batch-size 4 --epochs 3 --limit-train-batches 0.05")
add(f"{PL} --dataset-size 40 --batch-size 4 --epochs 3 --limit-train-batches 0")
add(f"{PL} --dataset-size 40 --batch-size 4 --epochs 3 --limit-train-batches 1.5")
add(f"{PL} --dataset-size 40 --batch-size 4 --epochs 3 --limit-train-batches 2.0 --save-last")
add(f"{PL} --dataset-size 40 --batch-size 4 --epochs 3 --limit-train-batches 0.8 --val-check-interval 0.5 --every-n-train-steps 3")
add(f"{PL} --dataset-size 40 --batch-size 4 --epochs 3 --limit-train-batches 6 --val-check-interval 7")
add(f"{PL} --dataset-size 40 --batch-size 4 --epochs 3 --limit-train-batches 50 --log-every-n-steps 7")
add(f"{PL} --dataset-size 40 --batch-size 4 --epochs 3 --limit-train-batches 0.29 --drop-last --grad-accum 2 --log-every-n-steps 1")
add(f"{PL} --dataset-size 100 --batch-size 8 --grad-accum 3 --epochs 2 --devices 2 --every-n-train-steps 2 --log-every-n-steps 2")
add(f"{PL} --dataset-size 100 --batch-size 8 --epochs 6 --devices 2 --limit-train-batches 4 --patience 1 --min-epochs 3 --metrics 1,1,1,1,1,1,1 --log-every-n-steps 5")

# Keras
add(f"{KS} --dataset-size 100 --batch-size 8 --epochs 3")
add(f"{KS} --dataset-size 100 --batch-size 8 --epochs 3 --save-freq epoch")
add(f"{KS} --dataset-size 100 --batch-size 8 --grad-accum 3 --epochs 2 --save-freq 5")
add(f"{KS} --dataset-size 40 --batch-size 8 --grad-accum 4 --epochs 2 --save-freq 1")
add(f"{KS} --dataset-size 40 --batch-size 8 --epochs 2 --save-freq 0")
add(f"{KS} --dataset-size 40 --batch-size 4 --epochs 4 --save-best-only --metrics 1,0.9,0.95,0.8")
add(f"{KS} --dataset-size 40 --batch-size 4 --epochs 4 --save-best-only --save-freq epoch --validation-freq 2 --metrics 1,0.9")
add(f"{KS} --dataset-size 40 --batch-size 4 --epochs 3 --save-best-only --save-freq 7 --metrics 1,0.9,0.8")
add(f"{KS} --dataset-size 40 --batch-size 4 --epochs 5 --steps-per-epoch 4 --save-freq 3 --grad-accum 2")
add(f"{KS} --dataset-size 40 --batch-size 4 --epochs 6 --save-best-only --patience 1 --metrics 1,0.9,0.95,0.99,0.5,0.4")
add(f"{KS} --dataset-size 40 --batch-size 4 --epochs 3 --save-best-only --metrics nan,1,0.5")
add(f"{KS} --dataset-size 40 --batch-size 4 --epochs 3 --save-best-only --metrics 0.5,nan,0.4")
add(f"{KS} --dataset-size 40 --batch-size 4 --epochs 2 --save-steps 3")
add(f"{KS} --dataset-size 40 --batch-size 4 --epochs 2 --every-n-train-steps 3")
add(f"{KS} --dataset-size 40 --batch-size 4 --epochs 2 --log-every-n-steps 3")

# hand-written loops (our model) and foreign knobs
add("--framework pytorch --dataset-size 100 --batch-size 8 --epochs 2 --grad-accum 3 --save-every-steps 3")
add("--framework pytorch-flush --dataset-size 100 --batch-size 8 --epochs 2 --grad-accum 3 --save-every-steps 3")
add("--framework pytorch --dataset-size 100 --batch-size 8 --epochs 4 --eval-every-steps 5 --patience 1 --save-every-steps 4 --metrics 1,0.9,0.95,0.99,1")
add("--framework pytorch --dataset-size 100 --batch-size 8 --epochs 2 --devices 3 --save-every-steps 2 --max-steps 7")
add("--framework pytorch --dataset-size 100 --batch-size 8 --epochs 2")
add("--framework pytorch --dataset-size 100 --batch-size 8 --epochs 2 --save-steps 3")
add("--framework pytorch-flush --dataset-size 100 --batch-size 8 --epochs 2 --save-freq 3")
add(f"{HF} --dataset-size 40 --batch-size 4 --epochs 2 --every-n-train-steps 3")
add(f"{HF} --dataset-size 40 --batch-size 4 --epochs 2 --min-epochs 3")
add(f"{HF} --dataset-size 40 --batch-size 4 --epochs 2 --save-every-steps 3")
add(f"{PL} --dataset-size 40 --batch-size 4 --epochs 2 --save-strategy epoch")
add(f"{PL} --dataset-size 40 --batch-size 4 --epochs 2 --save-freq 3")
N_HAND = len(cases)


# ===================================================================== seeded random interactions
def hf_case():
    N, B = R.randint(5, 160), R.choice([2, 3, 4, 5, 8])
    G = R.choice([1, 1, 2, 3, 4, 5])
    D = R.random() < 0.25
    L = N // B if D else -(-N // B)
    if L == 0:
        D, L = False, -(-N // B)
    U = max(-(-L // G), 1)
    parts = [HF, f"--dataset-size {N} --batch-size {B}", f"--grad-accum {G}"]
    if D:
        parts.append("--drop-last")
    r = R.random()
    if r < 0.25:
        E = R.choice([0.4, 1.5, 2.5, 1.25, 0.75])
    else:
        E = R.randint(1, 4)
    parts.append(f"--epochs {E:g}")
    T = math.ceil(E * U)
    if R.random() < 0.3:
        T = R.randint(1, max(2, 3 * U))
        parts.append(f"--max-steps {T}")
    if R.random() < 0.15 and sum(map(is_ddp, cases)) < MAX_DDP:
        parts.append("--devices 2")
    ev = R.choice(["epoch", "steps", "steps", None, "no"])
    every = None
    if ev == "steps" or (ev is None and R.random() < 0.5):
        every = R.choice([1, 2, 3, 4, 5, 0.2, 0.25, 0.3])
        parts.append(f"--eval-every-steps {every:g}")
    if ev is not None:
        parts.append(f"--eval-strategy {ev}")
    sv = R.choice(["steps", "steps", "epoch", "best", None, "no"])
    if sv is not None:
        parts.append(f"--save-strategy {sv}")
    if sv in ("steps", None) and R.random() < 0.8:
        parts.append(f"--save-steps {R.choice([1, 2, 3, 4, 5, 7, 0.2, 0.25, 0.5, 0.33]):g}")
    lg = R.choice(["steps", "steps", "epoch", None, "no"])
    if lg is not None:
        parts.append(f"--logging-strategy {lg}")
    if lg in ("steps", None) and R.random() < 0.8:
        parts.append(f"--logging-steps {R.choice([1, 2, 3, 5, 0.1, 0.25, 0.5]):g}")
    if R.random() < 0.3:
        parts.append("--logging-first-step")
    lb = R.random() < 0.3
    if lb:
        parts.append("--load-best-model-at-end")
    pat = ev != "no" and R.random() < 0.35
    if pat:
        parts.append(f"--patience {R.randint(0, 3)}")
        if R.random() < 0.3:
            parts.append(f"--min-delta {R.choice([0.01, 0.05])}")
    if pat or lb or sv == "best":
        parts.append(metrics(4 * max(T, 1) + 4))
    return " ".join(parts)


def lightning_case():
    N, B = R.randint(5, 120), R.choice([2, 3, 4, 5, 8])
    G = R.choice([1, 1, 2, 3, 4])
    D = R.random() < 0.2
    L = N // B if D else -(-N // B)
    if L == 0:
        D, L = False, -(-N // B)
    parts = [PL, f"--dataset-size {N} --batch-size {B}", f"--grad-accum {G}"]
    if D:
        parts.append("--drop-last")
    E = R.randint(1, 4)
    parts.append(f"--epochs {E}")
    if R.random() < 0.15 and sum(map(is_ddp, cases)) < MAX_DDP:
        parts.append("--devices 2")
        L = -(-(-(-N // 2)) // B) if not D else -(-N // 2) // B
    Lp = L
    if R.random() < 0.3:
        lim = R.choice([1, 2, 3, 5, 7, 0.3, 0.5, 0.75, 1.0])
        parts.append(f"--limit-train-batches {lim if isinstance(lim, int) else repr(float(lim))}")
        Lp = min(L, lim) if isinstance(lim, int) else int(L * lim)
    U = -(-max(Lp, 1) // G)
    if R.random() < 0.3:
        parts.append(f"--max-steps {R.randint(1, max(2, E * U))}")
    r = R.random()
    if r < 0.3:
        parts.append(f"--val-check-interval {R.choice([0.25, 0.3, 0.5, 0.75, 1.0])}")
    elif r < 0.45:
        parts.append(f"--val-check-interval {R.randint(1, max(1, min(Lp, 6)))}")
    elif r < 0.55:
        parts.append(f"--check-val-every-n-epoch {R.choice([2, 3])}")
    elif r < 0.62:
        parts.append(f"--val-check-interval {R.randint(1, 5)} --check-val-every-n-epoch none")
    trig = R.random()
    if trig < 0.35:
        parts.append(f"--every-n-train-steps {R.choice([1, 2, 3, 4, 5])}")
    elif trig < 0.55:
        parts.append(f"--every-n-epochs {R.choice([1, 2, 3])}")
    mon = R.random() < 0.45
    if mon:
        parts.append("--monitor val_loss")
        if R.random() < 0.6:
            parts.append(f"--save-top-k {R.choice([-1, 0, 1, 2, 3])}")
    elif R.random() < 0.2:
        parts.append(f"--save-top-k {R.choice([-1, 0, 1])}")
    if R.random() < 0.35:
        parts.append("--save-last")
    if R.random() < 0.6:
        parts.append(f"--log-every-n-steps {R.choice([0, 1, 2, 3, 5, 7])}")
    pat = R.random() < 0.45
    if pat:
        parts.append(f"--patience {R.randint(0, 3)}")
        if R.random() < 0.5:
            parts.append(f"--min-epochs {R.randint(1, 5)}")
        if R.random() < 0.5:
            parts.append(f"--min-steps {R.randint(0, 3 * U + 2)}")
    if pat or mon:
        parts.append(metrics(E * max(Lp, 1) + 6))
    return " ".join(parts)


def keras_case():
    N, B = R.randint(5, 120), R.choice([2, 3, 4, 5, 8])
    G = R.choice([1, 1, 2, 3, 4])
    E = R.randint(1, 5)
    L = -(-N // B)
    parts = [KS, f"--dataset-size {N} --batch-size {B}", f"--grad-accum {G}", f"--epochs {E}"]
    if R.random() < 0.25:
        parts.append(f"--steps-per-epoch {R.randint(1, L + 2)}")
    if R.random() < 0.25:
        parts.append(f"--validation-freq {R.choice([2, 3])}")
    r = R.random()
    if r < 0.4:
        parts.append(f"--save-freq {R.randint(1, 9)}")
    elif r < 0.7:
        parts.append("--save-freq epoch")
    best = R.random() < 0.5
    if best:
        parts.append("--save-best-only")
    pat = R.random() < 0.35
    if pat:
        parts.append(f"--patience {R.randint(0, 2)}")
    if best or pat:
        parts.append(metrics(E + 3))
    return " ".join(parts)


def loop_case():
    fw = R.choice(["pytorch", "pytorch-flush"])
    N, B = R.randint(5, 160), R.choice([2, 3, 4, 8])
    G = R.choice([1, 2, 3, 4])
    parts = [f"--framework {fw}", f"--dataset-size {N} --batch-size {B}", f"--grad-accum {G}", f"--epochs {R.randint(1, 3)}"]
    if R.random() < 0.3:
        parts.append(f"--devices {R.choice([2, 3])}")
    if R.random() < 0.3:
        parts.append(f"--max-steps {R.randint(1, 30)}")
    parts.append(f"--save-every-steps {R.randint(1, 6)}")
    if R.random() < 0.3:
        parts.append(f"--eval-every-steps {R.randint(1, 4)} --patience {R.randint(1, 2)}")
        parts.append(metrics(40))
    return " ".join(parts)


makers = [hf_case] * 5 + [lightning_case] * 6 + [keras_case] * 3 + [loop_case]
while len(cases) < N_HAND + 130:
    add(R.choice(makers)())

# second pass, hand-picked after the first recording: the interactions most likely to hide a wrong rule
SECOND = [
    f"{PL} --dataset-size 40 --batch-size 4 --epochs 3 --grad-accum 2 --val-check-interval 3 --check-val-every-n-epoch none --every-n-train-steps 2 --monitor val_loss --metrics 1,0.9,0.95,0.8,0.85,0.7,0.99,0.75,0.8,0.72",
    f"{PL} --dataset-size 40 --batch-size 4 --epochs 3 --limit-train-batches 7 --val-check-interval 0.5 --every-n-train-steps 3 --monitor val_loss --metrics 1,0.9,0.95,0.8,0.85,0.7,0.99,0.75",
    f"{PL} --dataset-size 40 --batch-size 4 --epochs 3 --val-check-interval 1 --every-n-train-steps 4 --monitor val_loss --metrics 1,0.9,0.95,0.8,0.85,0.7,0.99,0.75,0.8,0.72,0.7,0.6,0.5,0.4,0.3,0.2,0.1,0.05,0.04,0.03,0.02,0.01,0.009,0.008,0.007,0.006,0.005,0.004,0.003,0.002,0.001",
    f"{PL} --dataset-size 40 --batch-size 4 --epochs 4 --check-val-every-n-epoch 2 --monitor val_loss --max-steps 33 --metrics 1,0.9",
    f"{PL} --dataset-size 40 --batch-size 4 --epochs 3 --max-steps 25 --monitor val_loss --save-top-k 2 --metrics 1,0.9,0.95",
    f"{PL} --dataset-size 40 --batch-size 4 --epochs 8 --patience 1 --min-steps 17 --metrics 1,1.1,1.2,1.3,1.4,1.5,1.6,1.7 --log-every-n-steps 6",
    f"{PL} --dataset-size 40 --batch-size 4 --epochs 8 --patience 1 --min-steps 17 --grad-accum 3 --metrics 1,1.1,1.2,1.3,1.4,1.5,1.6,1.7",
    f"{PL} --dataset-size 40 --batch-size 4 --epochs 8 --patience 1 --min-steps 13 --val-check-interval 0.5 --check-val-every-n-epoch 2 --metrics 1,1.1,1.2,1.3,1.4,1.5,1.6,1.7",
    f"{PL} --dataset-size 40 --batch-size 4 --epochs 8 --patience 1 --min-epochs 3 --val-check-interval 0.25 --metrics 1,1.1,0.9,1.3,1.4,1.5,0.5,1.7,1.8,1.9,2,2.1,2.2,2.3,2.4,2.5",
    f"{PL} --dataset-size 40 --batch-size 4 --epochs 8 --patience 1 --min-epochs 3 --monitor val_loss --save-last --save-top-k 1 --metrics 1,1.1,0.9,1.3,1.4,1.5,0.5,1.7",
    f"{PL} --dataset-size 40 --batch-size 4 --epochs 3 --val-check-interval 0.3 --grad-accum 3 --every-n-train-steps 1 --save-top-k -1 --monitor val_loss --metrics 1,0.9,0.95,0.8,0.85,0.7,0.99,0.75,0.8,0.72",
    f"{PL} --dataset-size 40 --batch-size 4 --epochs 3 --val-check-interval 0.5 --every-n-train-steps 2 --save-top-k 2 --monitor val_loss --metrics 0.5,nan,0.4,nan,0.3,0.2",
    f"{PL} --dataset-size 40 --batch-size 4 --epochs 3 --val-check-interval 0.5 --every-n-train-steps 3 --save-top-k 0 --save-last --monitor val_loss --metrics 0.5,0.6,0.4,0.7,0.3,0.2",
    f"{PL} --dataset-size 100 --batch-size 8 --epochs 6 --devices 2 --drop-last --limit-train-batches 0.5 --patience 1 --min-steps 9 --val-check-interval 0.5 --metrics 1,1.1,1.2,1.3,1.4,1.5,1.6,1.7,1.8,1.9,2,2.1",
    f"{HF} --dataset-size 100 --batch-size 8 --epochs 2 --devices 2 --save-steps 2 --eval-every-steps 1 --load-best-model-at-end --metrics 1,0.9,0.95,0.8,0.85,0.7,0.99,0.75,0.8,0.72,0.71,0.8,0.7,0.9,0.6,0.65",
    f"{HF} --dataset-size 40 --batch-size 4 --grad-accum 3 --epochs 1.7 --max-steps 9 --save-strategy epoch --logging-strategy epoch --logging-first-step --eval-strategy epoch --load-best-model-at-end --metrics 1,0.9,0.95",
    f"{HF} --dataset-size 60 --batch-size 4 --epochs 3 --eval-strategy steps --eval-every-steps 0.1 --save-steps 0.2 --load-best-model-at-end --patience 2 --metrics 1,0.9,0.95,0.8,0.85,0.9,0.99,0.75,0.8,0.72,0.7",
    f"{HF} --dataset-size 60 --batch-size 4 --epochs 3 --save-strategy best --eval-strategy epoch --logging-steps 7 --logging-first-step --patience 1 --metrics 1,0.9,0.95,0.8",
    f"{KS} --dataset-size 40 --batch-size 4 --epochs 5 --steps-per-epoch 4 --validation-freq 1,3 --save-best-only --metrics 1,0.9,0.95",
    f"{KS} --dataset-size 40 --batch-size 4 --grad-accum 3 --epochs 4 --steps-per-epoch 7 --save-freq 4 --patience 1 --metrics 1,0.9,0.95,0.8",
]
for c in SECOND:
    add(c)

out = os.path.join(os.path.dirname(os.path.abspath(__file__)), "cases_saving.txt")
with open(out, "w") as f:
    for c in cases:
        f.write(c + "\n")
print(f"{len(cases)} cases ({N_HAND} + {len(SECOND)} hand-picked), {sum(map(is_ddp, cases))} with real DDP -> {out}")
