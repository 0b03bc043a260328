"""Generate cases.txt: hand-picked edge cases + seeded random small cases."""
import math
import os
import random

R = random.Random(20240611)
cases = []


def add(s):
    s = " ".join(s.split())
    if s not in cases:
        cases.append(s)


def metrics(kind, n, delta=0.0):
    n = max(1, min(n, 150))
    if kind == "fall_plateau":
        k = R.randint(2, max(2, n // 2))
        v = [round(max(1.0 - 0.05 * min(i, k), 0.0), 2) for i in range(n)]
    elif kind == "noisy":
        v, x = [], 1.0
        for _ in range(n):
            x = max(0.0, x + R.choice([-0.1, -0.05, -0.02, 0.0, 0.01, 0.03, 0.06]))
            v.append(round(x, 2))
    elif kind == "flat":
        v = [0.5] * n
    elif kind == "rising":
        v = [round(0.5 + 0.1 * i, 2) for i in range(n)]
    elif kind == "by_delta":  # falls by exactly delta (float-precision edge), then flat
        k = R.randint(1, 4)
        v = [round(0.8 - delta * min(i, k), 4) for i in range(n)]
    elif kind == "dip":  # improves, gets worse, improves again
        v = [round(1.0 - 0.1 * i, 2) for i in range(3)] + [0.85, 0.9, 0.65, 0.7, 0.75] + [0.8] * n
        v = v[:n]
    else:
        raise ValueError(kind)
    return ",".join(f"{x:g}" for x in v)


def m_arg(n_eval, delta=0.0, kind=None):
    kind = kind or R.choice(["fall_plateau", "noisy", "flat", "rising", "by_delta", "dip"])
    return f"--metrics {metrics(kind, n_eval + 3, delta)}"


def L_of(N, B, D):
    return N // B if D else -(-N // B)


# ---------------------------------------------------------------- hand-picked edge cases
# PyTorch loop / flush
add("--framework pytorch --dataset-size 1000 --batch-size 32 --epochs 3")
add("--framework pytorch --dataset-size 1000 --batch-size 32 --epochs 3 --drop-last")
add("--framework pytorch --dataset-size 7 --batch-size 10 --epochs 2")
add("--framework pytorch --dataset-size 7 --batch-size 10 --epochs 2 --drop-last")
add("--framework pytorch --dataset-size 10 --batch-size 3 --grad-accum 5 --epochs 2")          # L<A -> 0 steps
add("--framework pytorch --dataset-size 1000 --batch-size 32 --grad-accum 5 --epochs 3")
add("--framework pytorch --dataset-size 100 --batch-size 8 --grad-accum 3 --max-steps 7 --epochs 5")
add("--framework pytorch --dataset-size 100 --batch-size 8 --grad-accum 2 --max-steps 20")
add("--framework pytorch --dataset-size 200 --batch-size 10 --epochs 3 --eval-every-steps 7")
add("--framework pytorch --dataset-size 60 --batch-size 10 --epochs 2 --lr-schedule linear --lr 1 --warmup-steps 2")
add("--framework pytorch --dataset-size 11 --batch-size 3 --epochs 2 --devices 2 --drop-last")
add("--framework pytorch --dataset-size 10 --batch-size 3 --epochs 1 --devices 3")
add("--framework pytorch --dataset-size 2 --batch-size 1 --epochs 2 --devices 4 --drop-last")
add("--framework pytorch-flush --dataset-size 10 --batch-size 3 --grad-accum 5 --epochs 2")
add("--framework pytorch-flush --dataset-size 1000 --batch-size 32 --grad-accum 5 --epochs 3")
add("--framework pytorch-flush --dataset-size 1000 --batch-size 32 --grad-accum 3 --epochs 3 --drop-last")
add("--framework pytorch-flush --dataset-size 100 --batch-size 8 --grad-accum 3 --max-steps 9 --epochs 4")
add("--framework pytorch-flush --dataset-size 91 --batch-size 10 --grad-accum 4 --epochs 3 --eval-every-steps 2")
add("--framework pytorch-flush --dataset-size 37 --batch-size 7 --grad-accum 2 --epochs 2 --lr-schedule cosine --lr 0.01 --warmup-steps 3")
add("--framework pytorch-flush --dataset-size 50 --batch-size 4 --grad-accum 3 --epochs 2 --devices 2")

# HF Trainer
add("--framework hf --dataset-size 1000 --batch-size 32 --grad-accum 4 --epochs 3")
add("--framework hf --dataset-size 1000 --batch-size 32 --grad-accum 4 --epochs 3 --drop-last")
add("--framework hf --dataset-size 10 --batch-size 3 --grad-accum 3 --epochs 2")
add("--framework hf --dataset-size 10 --batch-size 3 --grad-accum 5 --epochs 2")
add("--framework hf --dataset-size 91 --batch-size 10 --grad-accum 4 --epochs 10")
add("--framework hf --dataset-size 1000 --batch-size 32 --grad-accum 4 --epochs 2.5")
add("--framework hf --dataset-size 1000 --batch-size 32 --grad-accum 4 --epochs 0.3")
add("--framework hf --dataset-size 1000 --batch-size 32 --grad-accum 4 --epochs 3 --max-steps 10")
add("--framework hf --dataset-size 100 --batch-size 10 --epochs 1 --max-steps 25")
add("--framework hf --dataset-size 7 --batch-size 10 --epochs 2")
add("--framework hf --dataset-size 7 --batch-size 10 --epochs 2 --drop-last")
add("--framework hf --dataset-size 7 --batch-size 10 --max-steps 3 --drop-last")
add("--framework hf --dataset-size 1000 --batch-size 32 --grad-accum 4 --epochs 3 --eval-every-steps 0.2")
add("--framework hf --dataset-size 1000 --batch-size 32 --grad-accum 4 --epochs 3 --eval-every-steps 0.25")
add("--framework hf --dataset-size 1000 --batch-size 32 --grad-accum 4 --epochs 3 --eval-every-steps 7")
add("--framework hf --dataset-size 400 --batch-size 4 --epochs 1 --eval-every-steps 0.07")
add("--framework hf --dataset-size 400 --batch-size 4 --epochs 1 --lr-schedule linear --lr 0.1 --warmup-steps 0.07")
add("--framework hf --dataset-size 100 --batch-size 10 --epochs 1 --lr-schedule cosine --lr 0.1 --warmup-steps 0.25")
add("--framework hf --dataset-size 100 --batch-size 10 --epochs 1 --lr-schedule linear --lr 0.1 --warmup-steps 2.7")
add("--framework hf --dataset-size 100 --batch-size 10 --epochs 1 --lr-schedule constant_with_warmup --lr 0.1 --warmup-steps 0.999")
add("--framework hf --dataset-size 60 --batch-size 10 --epochs 1 --lr-schedule linear --lr 1 --warmup-steps 2")
add("--framework hf --dataset-size 60 --batch-size 10 --epochs 1 --lr-schedule cosine --lr 1 --warmup-steps 2")
add("--framework hf --dataset-size 20 --batch-size 10 --epochs 20 --patience 0 " + m_arg(20, kind="flat"))
add("--framework hf --dataset-size 20 --batch-size 10 --epochs 6 --patience 1 --min-delta 0.1 --metrics 0.8,0.7,0.7,0.7,0.7,0.7")
add("--framework hf --dataset-size 20 --batch-size 10 --epochs 20 --patience 2 --min-delta 0.015 --metrics "
    + ",".join(f"{1 - 0.01 * i:.2f}" for i in range(12)) + ",0.89" * 9)
add("--framework hf --dataset-size 100 --batch-size 10 --epochs 5 --eval-every-steps 3 --patience 2 " + m_arg(20, kind="dip"))
add("--framework hf --dataset-size 11 --batch-size 3 --epochs 1 --devices 2 --drop-last")
add("--framework hf --dataset-size 1000 --batch-size 32 --grad-accum 4 --epochs 3 --devices 2")
add("--framework hf --dataset-size 10 --batch-size 7 --epochs 2 --devices 3")
add("--framework hf --dataset-size 50 --batch-size 4 --grad-accum 3 --epochs 2 --devices 2 --eval-every-steps 2")
add("--framework hf --dataset-size 30 --batch-size 4 --epochs 3 --devices 2 --lr-schedule linear --lr 0.1 --warmup-steps 2")
add("--framework hf --dataset-size 1 --batch-size 4 --max-steps 2 --devices 2 --drop-last")
add("--framework hf --dataset-size 2 --batch-size 1 --max-steps 4 --devices 2 --patience 1 --eval-every-steps 1 --metrics 1,0.9,0.9,0.9,0.9")

# Lightning
add("--framework lightning --dataset-size 1000 --batch-size 32 --grad-accum 4 --epochs 3 --drop-last")
add("--framework lightning --dataset-size 10 --batch-size 3 --grad-accum 5 --epochs 2")
add("--framework lightning --dataset-size 1000 --batch-size 32 --grad-accum 4 --epochs 3 --max-steps 10")
add("--framework lightning --dataset-size 1000 --batch-size 32 --grad-accum 4 --max-steps 20")
add("--framework lightning --dataset-size 7 --batch-size 10 --epochs 2 --drop-last")
add("--framework lightning --dataset-size 100 --batch-size 10 --epochs 2 --val-check-interval 0.3")
add("--framework lightning --dataset-size 100 --batch-size 10 --epochs 2 --val-check-interval 0.25")
add("--framework lightning --dataset-size 100 --batch-size 1 --epochs 1 --val-check-interval 0.29")
add("--framework lightning --dataset-size 100 --batch-size 10 --epochs 2 --val-check-interval 4")
add("--framework lightning --dataset-size 100 --batch-size 10 --epochs 3 --val-check-interval 4 --check-val-every-n-epoch none")
add("--framework lightning --dataset-size 100 --batch-size 10 --epochs 2 --val-check-interval 1.0 --check-val-every-n-epoch none")
add("--framework lightning --dataset-size 100 --batch-size 10 --epochs 2 --val-check-interval 11")
add("--framework lightning --dataset-size 100 --batch-size 10 --epochs 4 --check-val-every-n-epoch 2")
add("--framework lightning --dataset-size 100 --batch-size 10 --epochs 3 --check-val-every-n-epoch 2 --val-check-interval 0.5")
add("--framework lightning --dataset-size 60 --batch-size 10 --max-steps 3 --val-check-interval 0.5")
add("--framework lightning --dataset-size 60 --batch-size 10 --epochs 3 --max-steps 9 --val-check-interval 3")
add("--framework lightning --dataset-size 100 --batch-size 10 --epochs 3 --max-steps 15")
add("--framework lightning --dataset-size 80 --batch-size 8 --grad-accum 4 --epochs 2 --val-check-interval 0.5")
add("--framework lightning --dataset-size 1000 --batch-size 32 --grad-accum 4 --epochs 2.5")
add("--framework lightning --dataset-size 37 --batch-size 7 --epochs 6 --val-check-interval 1 --patience 2 --metrics "
    + "1.0,0.8,0.7,0.75,0.72,0.71" + ",0.71" * 40)
add("--framework lightning --dataset-size 20 --batch-size 10 --epochs 6 --patience 1 --min-delta 0.1 --metrics 0.8,0.7,0.7,0.7,0.7,0.7")
add("--framework lightning --dataset-size 20 --batch-size 10 --epochs 20 --patience 0 " + m_arg(20, kind="flat"))
add("--framework lightning --dataset-size 20 --batch-size 10 --epochs 20 --patience 2 --min-delta 0.015 --metrics "
    + ",".join(f"{1 - 0.01 * i:.2f}" for i in range(12)) + ",0.89" * 9)
add("--framework lightning --dataset-size 100 --batch-size 10 --epochs 4 --val-check-interval 0.5 --patience 2 " + m_arg(8, kind="dip"))
add("--framework lightning --dataset-size 100 --batch-size 10 --epochs 8 --check-val-every-n-epoch 2 --patience 1 " + m_arg(4, kind="fall_plateau"))
add("--framework lightning --dataset-size 60 --batch-size 10 --epochs 2 --lr-schedule linear --lr 1 --warmup-steps 2")
add("--framework lightning --dataset-size 100 --batch-size 8 --grad-accum 3 --epochs 3 --lr-schedule cosine --lr 0.1 --warmup-steps 3")
add("--framework lightning --dataset-size 100 --batch-size 8 --grad-accum 3 --epochs 5 --max-steps 7 --lr-schedule constant_with_warmup --lr 0.1 --warmup-steps 4")
add("--framework lightning --dataset-size 11 --batch-size 3 --epochs 1 --devices 2 --drop-last")
add("--framework lightning --dataset-size 1000 --batch-size 32 --grad-accum 4 --epochs 3 --devices 2")
add("--framework lightning --dataset-size 10 --batch-size 7 --epochs 2 --devices 3")
add("--framework lightning --dataset-size 50 --batch-size 4 --grad-accum 3 --epochs 2 --devices 2 --val-check-interval 0.5")
add("--framework lightning --dataset-size 1 --batch-size 4 --epochs 2 --devices 2 --drop-last")

# Keras
add("--framework keras --dataset-size 1000 --batch-size 32 --grad-accum 5 --epochs 3")
add("--framework keras --dataset-size 1000 --batch-size 32 --grad-accum 3 --epochs 3")
add("--framework keras --dataset-size 10 --batch-size 3 --grad-accum 5 --epochs 2")
add("--framework keras --dataset-size 91 --batch-size 10 --grad-accum 4 --epochs 10")
add("--framework keras --dataset-size 7 --batch-size 10 --epochs 2")
add("--framework keras --dataset-size 1024 --batch-size 32 --epochs 5 --steps-per-epoch 10")
add("--framework keras --dataset-size 1024 --batch-size 32 --epochs 2 --steps-per-epoch 40")
add("--framework keras --dataset-size 100 --batch-size 10 --epochs 4 --validation-freq 2")
add("--framework keras --dataset-size 100 --batch-size 10 --epochs 7 --validation-freq 3 --steps-per-epoch 4")
add("--framework keras --dataset-size 20 --batch-size 10 --epochs 20 --patience 0 " + m_arg(20, kind="flat"))
add("--framework keras --dataset-size 20 --batch-size 10 --epochs 20 --patience 1 " + m_arg(20, kind="flat"))
add("--framework keras --dataset-size 20 --batch-size 10 --epochs 6 --patience 1 --min-delta 0.1 --metrics 0.8,0.7,0.7,0.7,0.7,0.7")
add("--framework keras --dataset-size 20 --batch-size 10 --epochs 20 --patience 2 --min-delta 0.015 --metrics "
    + ",".join(f"{1 - 0.01 * i:.2f}" for i in range(12)) + ",0.89" * 9)
add("--framework keras --dataset-size 20 --batch-size 10 --epochs 10 --patience 2 --start-from-epoch 3 " + m_arg(10, kind="rising"))
add("--framework keras --dataset-size 20 --batch-size 10 --epochs 10 --patience 1 --validation-freq 2 " + m_arg(5, kind="flat"))
add("--framework keras --dataset-size 37 --batch-size 7 --epochs 2 --grad-accum 2 --lr-schedule cosine --lr 0.01 --warmup-steps 3")
add("--framework keras --dataset-size 50 --batch-size 8 --epochs 3 --lr-schedule cosine --lr 0.1")
add("--framework keras --dataset-size 50 --batch-size 8 --epochs 3 --steps-per-epoch 4 --grad-accum 3 --lr-schedule cosine --lr 0.1 --warmup-steps 2")
add("--framework keras --dataset-size 50 --batch-size 8 --epochs 2 --lr-schedule constant --lr 0.05")
add("--framework keras --dataset-size 20 --batch-size 10 --epochs 2 --lr-schedule cosine --lr 0.1 --warmup-steps 4")
add("--framework keras --dataset-size 20 --batch-size 10 --epochs 2 --lr-schedule linear --lr 0.1")
add("--framework keras --dataset-size 20 --batch-size 10 --epochs 2 --drop-last")
add("--framework keras --dataset-size 20 --batch-size 10 --epochs 2 --devices 2")
add("--framework keras --dataset-size 20 --batch-size 10 --epochs 2.5")
# too few metrics for the run (contract: exit 2)
add("--framework hf --dataset-size 20 --batch-size 10 --epochs 5 --patience 3 --metrics 1,0.9")
add("--framework keras --dataset-size 20 --batch-size 10 --epochs 5 --patience 3 --metrics 1,0.9")

hand = len(cases)

# ---------------------------------------------------------------- randomized small cases
def rnd_common():
    N = R.choice([1, 3, 7, 10, 16, 37, 50, 64, 91, 100, 128, 250, 333, 500, 1000])
    B = R.choice([1, 2, 3, 4, 5, 8, 10, 16, 32, 64])
    if N // B > 120:
        B = max(B, N // 100)
    A = R.choice([1, 1, 2, 3, 4, 5, 8])
    D = R.random() < 0.3
    return N, B, A, D


def est_evals(L, A, E, every_batch=False):
    U = max(1, -(-L // A))
    return int(E * (L if every_batch else U)) + 3


def lr_part(fw):
    sched = R.choice(["constant", "constant_with_warmup", "linear", "cosine"])
    if fw == "keras":
        sched = R.choice(["constant", "cosine"])
    w = R.choice([0, 1, 2, 3, 5])
    if fw == "hf" and R.random() < 0.4:
        w = R.choice([0.1, 0.2, 0.25, 0.5, 2.5])
    lr = R.choice([0.1, 0.01, 1.0, 0.003])
    s = f"--lr-schedule {sched} --lr {lr:g}"
    if w:
        s += f" --warmup-steps {w:g}"
    return s


target = 160
tries = 0
while len(cases) < target and tries < 5000:
    tries += 1
    fw = R.choices(["pytorch", "pytorch-flush", "hf", "lightning", "keras"], [2, 2, 4, 4, 4])[0]
    N, B, A, D = rnd_common()
    parts = [f"--framework {fw} --dataset-size {N} --batch-size {B}"]
    if A > 1:
        parts.append(f"--grad-accum {A}")
    if D and fw != "keras":
        parts.append("--drop-last")
    else:
        D = False
    L = L_of(N, B, D)
    if L == 0 and fw not in ("hf", "lightning"):
        continue
    E = R.choice([1, 2, 3, 4, 5])
    if fw == "hf" and R.random() < 0.25:
        E = R.choice([0.5, 1.5, 2.25, 0.1, 3.7])
    S = None
    if fw != "keras" and R.random() < 0.3:
        S = R.randint(1, max(1, int(2 * E * max(1, L // A))))
        if R.random() < 0.2 and fw in ("hf", "lightning"):
            E = None
    if fw in ("pytorch",) and E is None and L // A == 0:
        continue
    if E is not None:
        parts.append(f"--epochs {E:g}")
    if S is not None:
        parts.append(f"--max-steps {S}")
    if (E or 0) * L > 3000 or (S or 0) * A > 3000:
        continue
    Eeff = E if E is not None else math.ceil(S / max(1, -(-L // A))) if L else 1
    # evaluation cadence
    every_batch = False
    if fw in ("pytorch", "pytorch-flush") and R.random() < 0.4:
        parts.append(f"--eval-every-steps {R.randint(1, 6)}")
    if fw == "hf" and R.random() < 0.5:
        parts.append("--eval-every-steps " + R.choice([str(R.randint(1, 8)), f"{R.choice([0.1, 0.2, 0.25, 0.3, 0.5]):g}"]))
    if fw == "lightning" and R.random() < 0.6:
        if R.random() < 0.5:
            vci = str(R.randint(1, max(1, L)))
            every_batch = True
        else:
            vci = f"{R.choice([0.1, 0.25, 0.3, 0.5, 0.75, 1.0]):g}"
            if "." not in vci:
                vci += ".0"
        parts.append(f"--val-check-interval {vci}")
        if R.random() < 0.4:
            parts.append("--check-val-every-n-epoch " + (R.choice(["none", "2"]) if "." not in vci else "2"))
    if fw == "lightning" and R.random() < 0.15 and "--val-check-interval" not in " ".join(parts):
        parts.append("--check-val-every-n-epoch 2")
    if fw == "keras":
        if R.random() < 0.35:
            parts.append(f"--steps-per-epoch {R.randint(1, L + 2)}")
        if R.random() < 0.3:
            parts.append(f"--validation-freq {R.choice([2, 3])}")
    if fw in ("hf", "lightning") and R.random() < 0.15:
        parts.append("--devices 2")
    if fw in ("pytorch", "pytorch-flush") and R.random() < 0.2:
        parts.append(f"--devices {R.choice([2, 3, 4])}")
    # early stopping
    if fw in ("hf", "lightning", "keras") and R.random() < 0.45:
        P = R.choice([0, 1, 1, 2, 3, 5])
        d = R.choice([0, 0, 0.01, 0.05, 0.1])
        parts.append(f"--patience {P}")
        if d:
            parts.append(f"--min-delta {d:g}")
        if fw == "keras" and R.random() < 0.3:
            parts.append(f"--start-from-epoch {R.randint(1, 3)}")
        n_eval = est_evals(max(L, 1), A, Eeff if isinstance(Eeff, int) else math.ceil(Eeff), every_batch)
        if fw == "hf" and "--eval-every-steps" in " ".join(parts):
            n_eval = int(Eeff * max(1, -(-L // A))) + 3 if E is not None else (S or 0) + 3
            if E is not None and S is not None:
                n_eval = S + 3
        if fw == "lightning" and S is not None and E is None:
            n_eval = S * A + 3
        parts.append(m_arg(n_eval, d))
    if R.random() < 0.3:
        parts.append(lr_part(fw))
    add(" ".join(parts))

with open(os.path.join(os.path.dirname(os.path.abspath(__file__)), "cases.txt"), "w") as f:
    for c in cases:
        f.write(c + "\n")
print(len(cases), "cases;", hand, "hand-picked")
