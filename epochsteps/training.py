"""The training lab: a real, tiny model trained by mini-batch SGD that follows the plan step by step.

The task is made from a seed: two interleaved noisy spirals with 10% of the labels flipped,
embedded by fixed random Fourier features, and a logistic regression on them. With a few
hundred samples it overfits (the validation loss turns up); with thousands it does not.

Everything the run does comes from `make_plan(setup)`: the batches each epoch runs, where the
optimizer steps, the size of the last batch, the evaluations, the learning-rate schedule.
Devices are simulated as one batch of batch x devices samples per micro-step (the union of the
per-device batches, which DDP's gradient average equals). Accumulation windows follow the
convention: they restart every epoch (pytorch, pytorch-flush, hf, lightning) and a leftover
window is stepped (flush, hf, lightning) or, in a `(i + 1) % A` loop, not stepped and leaking
into the next epoch's first step; Keras windows run across epoch ends. A window's loss is
averaged as the framework does (HF: divided by the real window size; Lightning, Keras and the
PyTorch loops: divided by A).

Early stopping reads the real validation losses through the core's rules (the convention's
`EarlyStopping` walked over `schedule.checks`), and the final plan is rebuilt with
`setup.replace(metrics=<the real losses>)`, so the stop agrees with `make_plan`.

Budget: a run trains at most `MAX_TRAIN_SAMPLES` samples and `MAX_OPTIMIZER_STEPS` updates;
beyond that `fit_to_budget` makes a faithful smaller setup and says exactly what it changed.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import lru_cache

import numpy as np

from .conventions import CONVENTIONS
from .plan import Plan, make_plan
from .schedules import base_lr
from .setup import Setup, SetupError
from .text import fmt

MAX_TRAIN_SAMPLES = 50_000
MAX_OPTIMIZER_STEPS = 20_000
MAX_EPOCHS = 20_000  # each epoch reshuffles: bounds the per-epoch work too
MAX_WORK = 1_000_000  # sample passes (training samples run plus validation samples scored): ~60 ms a run
VAL_SIZE = 2_000
FEATURES = 128
BANDWIDTH = 5.0  # of the random Fourier features; wiggly enough to fit flipped labels
LABEL_NOISE = 0.10
LAB_LR = 2.0  # plain SGD on features of norm ~1; a framework's default lr (Adam-sized) would not move it
PROGRESS_CALLS = 20
KEEP_EPOCHS = 10  # when one epoch alone is over budget, keep up to this many (shorter) epochs


# -- the task ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Task:
    """Points in the plane, 0/1 labels, and their features (float32, last column = 1 for the bias)."""

    x_train: np.ndarray
    y_train: np.ndarray
    x_val: np.ndarray
    y_val: np.ndarray
    features_train: np.ndarray
    features_val: np.ndarray


def _spirals(rng_u: np.random.Generator, rng_n: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray]:
    # one row of draws per sample, so the first n samples do not depend on how many are drawn
    u = rng_u.random((n, 3))
    noise = rng_n.standard_normal((n, 2)) * 0.08
    cls = (u[:, 0] < 0.5).astype(np.int8)
    t = np.sqrt(u[:, 1])
    angle = t * 3.0 * np.pi + cls * np.pi
    x = np.stack([t * np.cos(angle), t * np.sin(angle)], axis=1) + noise
    y = np.where(u[:, 2] < LABEL_NOISE, 1 - cls, cls).astype(np.int8)
    return x, y


def _features(x: np.ndarray, w: np.ndarray, b: np.ndarray) -> np.ndarray:
    phi = np.empty((len(x), w.shape[1] + 1), dtype=np.float32)
    np.cos((x @ w + b).astype(np.float32), out=phi[:, :-1])
    phi[:, :-1] *= np.float32(math.sqrt(2.0 / w.shape[1]))
    phi[:, -1] = 1.0
    return phi


def _streams(seed: int):
    ss = np.random.SeedSequence(seed)
    return [np.random.default_rng(s) for s in ss.spawn(5)]


@lru_cache(maxsize=4)
def _fixed_parts(seed: int) -> tuple[np.ndarray, ...]:
    """The feature map and the validation split: the same whatever the dataset size."""
    r_feat, r_val_u, r_val_n, _, _ = _streams(seed)
    w = r_feat.normal(0.0, BANDWIDTH, (2, FEATURES))
    b = r_feat.uniform(0.0, 2.0 * np.pi, FEATURES)
    x_val, y_val = _spirals(r_val_u, r_val_n, VAL_SIZE)
    parts = (w, b, x_val, y_val, _features(x_val, w, b))
    for a in parts:
        a.flags.writeable = False  # shared by every task of this seed
    return parts


@lru_cache(maxsize=2)
def _training_pool(seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The largest training set the lab uses, with its features, made once per seed (26 MB):
    a task of any size is its first rows, so a move to a new dataset size computes nothing."""
    w, b = _fixed_parts(seed)[:2]
    _, _, _, r_tr_u, r_tr_n = _streams(seed)
    x_tr, y_tr = _spirals(r_tr_u, r_tr_n, MAX_TRAIN_SAMPLES)
    arrays = (x_tr, y_tr, _features(x_tr, w, b))
    for a in arrays:
        a.flags.writeable = False  # shared by every task of this seed
    return arrays


def make_task(n_train: int, seed: int = 0) -> Task:
    """The seeded task: `n_train` training samples and a fixed validation split of VAL_SIZE.
    The first n samples are the same for any `n_train` >= n (one row of draws per sample, and
    features row by row), so every task is a view of the seed's pool (not cached itself: a
    view would keep a pool alive after its cache dropped it)."""
    if not 1 <= n_train <= MAX_TRAIN_SAMPLES:
        raise SetupError("dataset_size", n_train, f"the lab trains 1 to {MAX_TRAIN_SAMPLES:,} samples")
    _, _, x_val, y_val, f_val = _fixed_parts(seed)
    x_tr, y_tr, f_tr = _training_pool(seed)
    return Task(x_tr[:n_train], y_tr[:n_train], x_val, y_val, f_tr[:n_train], f_val)


def shuffle_rng(seed: int) -> np.random.Generator:
    """The generator of the per-epoch (Keras: per-pass) shuffles: one `permutation(N)` each."""
    return np.random.default_rng(np.random.SeedSequence(seed).spawn(6)[5])


# -- the budget -------------------------------------------------------------------------


@dataclass(frozen=True)
class Downsized:
    """What `fit_to_budget` changed: (field, requested, run) triples and why."""

    changes: tuple[tuple[str, object, object], ...]
    reasons: tuple[str, ...]
    batches_per_epoch: tuple[int, int]  # requested, run (per device)
    optimizer_steps: tuple[int, int]  # planned before early stopping: requested, run

    @property
    def text(self) -> str:
        what = "; ".join(f"{name} {_fmt(old)} -> {_fmt(new)}" for name, old, new in self.changes)
        return f"The lab ran a smaller copy of this setup ({what}): " + " ".join(self.reasons)

    def to_dict(self) -> dict:
        return {
            "changes": {name: {"requested": old, "run": new} for name, old, new in self.changes},
            "reasons": list(self.reasons),
            "batches_per_epoch": {"requested": self.batches_per_epoch[0], "run": self.batches_per_epoch[1]},
            "optimizer_steps": {"requested": self.optimizer_steps[0], "run": self.optimizer_steps[1]},
            "text": self.text,
        }


def _fmt(v: object) -> str:
    return str(v) if isinstance(v, (bool, str)) or v is None else fmt(v)


@dataclass(frozen=True)
class Cost:
    samples: int
    steps: int
    epochs: int
    work: int

    def fits(self) -> bool:
        return (
            self.samples <= MAX_TRAIN_SAMPLES
            and self.steps <= MAX_OPTIMIZER_STEPS
            and self.epochs <= MAX_EPOCHS
            and self.work <= MAX_WORK
        )

    def over(self) -> list[str]:
        out = []
        if self.steps > MAX_OPTIMIZER_STEPS:
            out.append(f"{self.steps:,} optimizer steps (the lab makes at most {MAX_OPTIMIZER_STEPS:,})")
        if self.epochs > MAX_EPOCHS:
            out.append(f"{self.epochs:,} epochs (at most {MAX_EPOCHS:,})")
        if self.work > MAX_WORK:
            out.append(f"{self.work:,} sample passes, training plus validation (at most {MAX_WORK:,})")
        return out


def _plan0(setup: Setup) -> Plan:
    """The plan before early stopping (patience kept so the framework still validates it)."""
    return make_plan(setup.replace(metrics=()))


def run_cost(plan: Plan) -> Cost:
    """What running `plan` (before early stopping) costs the lab."""
    s = plan.schedule
    evals = len(s.evaluations)
    return Cost(
        samples=plan.setup.dataset_size,
        steps=plan.planned_optimizer_steps,
        epochs=len(s.batches),
        work=int(plan.samples_seen) + evals * VAL_SIZE,
    )


def _try_plan(setup: Setup) -> Plan | None:
    try:
        return _plan0(setup)
    except SetupError:
        return None


def _largest(lo: int, hi: int, ok) -> int | None:
    """Largest v in [lo, hi] with ok(v), assuming ok is monotone (true then false)."""
    if hi < lo or not ok(lo):
        return None
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if ok(mid):
            lo = mid
        else:
            hi = mid - 1
    return lo


def _fits(setup: Setup) -> bool:
    p = _try_plan(setup)
    return p is not None and run_cost(p).fits()


def _bare(setup: Setup) -> Plan | None:
    """The plan of one full pass structure: cadence and early-stopping knobs at their defaults."""
    return _try_plan(
        setup.replace(eval_every_steps=None, val_check_interval=None, steps_per_epoch=None, patience=None, metrics=())
    )


def _rescale_cadence(new: Setup, p_old: Plan | None) -> Setup:
    """Keep evaluations per epoch (and Keras' steps_per_epoch) when an epoch gets shorter:
    cadences counted in steps or batches shrink with the epoch (p_old: the old setup's _bare plan)."""
    p_new = _bare(new)
    if p_old is None or p_new is None or not p_old.batches_per_epoch_full or not len(p_old.schedule.steps):
        return new
    ratio = p_new.batches_per_epoch_full / p_old.batches_per_epoch_full
    old_steps = int(p_old.schedule.steps[0])
    step_ratio = p_new.schedule.steps[0] / old_steps if old_steps and len(p_new.schedule.steps) else ratio
    changes = {}
    if new.eval_every_steps is not None and new.eval_every_steps >= 1 and step_ratio != 1:
        changes["eval_every_steps"] = max(1, round(new.eval_every_steps * step_ratio))
    if isinstance(new.val_check_interval, int) and ratio != 1:
        changes["val_check_interval"] = max(1, round(new.val_check_interval * ratio))
    if new.steps_per_epoch is not None and ratio != 1:
        changes["steps_per_epoch"] = max(1, round(new.steps_per_epoch * ratio))
    return new.replace(**changes) if changes else new


def fit_to_budget(setup: Setup) -> tuple[Setup, Downsized | None]:
    """The setup the lab runs: `setup` itself when it fits the budget, else a faithful smaller copy.

    1. more than MAX_TRAIN_SAMPLES samples: keep MAX_TRAIN_SAMPLES and shrink the per-device batch
       by the same factor, so an epoch keeps (about) its batches per epoch;
    2. still over the step / epoch / work budget: fewer epochs (or a smaller max_steps when that is
       what ends the run), keeping batches per epoch;
    3. if even one epoch is over budget: fewer samples at the same batch size, keeping up to
       KEEP_EPOCHS epochs.
    Warmup (in steps) shrinks with the run; evaluation cadences counted in steps or batches shrink
    with the epoch. Raises SetupError for a setup the framework refuses.
    """
    plan = _plan0(setup)
    cost = run_cost(plan)
    if cost.fits():
        return setup, None
    reasons: list[str] = []
    new = setup

    if new.dataset_size > MAX_TRAIN_SAMPLES:
        new = _shrink_samples_keep_batches(new)
        kept = _bare(new)
        reasons.append(
            f"The lab trains at most {MAX_TRAIN_SAMPLES:,} samples, so the per-device batch shrank with the dataset"
            f" ({setup.batch_size:,} -> {new.batch_size:,}) to keep the batches per epoch"
            f" ({plan.batches_per_epoch_full:,} asked, {kept.batches_per_epoch_full if kept else 0:,} run)."
        )

    p = _try_plan(new)
    if p is None or not run_cost(p).fits():
        over = " and ".join(run_cost(p).over()) if p is not None else "over budget"
        whose = "At that size the run would be" if new is not setup else "The full run would be"
        shorter = _shorten_run(new)
        if shorter is not None:
            new = shorter
            if new.max_steps is not None and new.max_steps != setup.max_steps:
                reasons.append(f"{whose} {over}, so it ends at max_steps {new.max_steps:,}.")
            else:
                reasons.append(f"{whose} {over}, so it runs fewer epochs with the same batches per epoch.")
        else:
            new = _shrink_epoch(new)
            shrunk = _bare(new)
            reasons.append(
                f"{whose} {over}, and even one epoch is over budget, so each epoch has fewer samples"
                f" ({new.dataset_size:,}) at batch {new.batch_size:,}: {shrunk.batches_per_epoch_full if shrunk else 0:,} batches per epoch."
            )
    p_new = _try_plan(new)
    if p_new is None or not run_cost(p_new).fits():
        raise SetupError(
            "dataset_size",
            setup.dataset_size,
            "the training lab cannot fit this setup into its budget; try fewer evaluations or a smaller run",
        )
    new = _scale_warmup(new, plan, p_new)
    changes = tuple((f, getattr(setup, f), getattr(new, f)) for f in setup.to_dict() if getattr(setup, f) != getattr(new, f))
    down = Downsized(
        changes=changes,
        reasons=tuple(reasons),
        batches_per_epoch=(plan.batches_per_epoch_full, p_new.batches_per_epoch_full),
        optimizer_steps=(plan.planned_optimizer_steps, p_new.planned_optimizer_steps),
    )
    return new, down


def _shrink_samples_keep_batches(setup: Setup) -> Setup:
    """MAX_TRAIN_SAMPLES samples, the per-device batch shrunk so a pass keeps its batch count."""
    n = MAX_TRAIN_SAMPLES
    devices = min(setup.devices, n)
    bare = _bare(setup)
    target = max(bare.batches_per_epoch_full if bare is not None else 1, 1)
    per_rank = -(-n // devices)
    candidates = {max(1, per_rank // target), max(1, -(-per_rank // target))}
    best, best_gap = None, None
    for b in sorted(candidates):
        cand = _rescale_cadence(setup.replace(dataset_size=n, batch_size=b, devices=devices), bare)
        p = _bare(cand)
        if p is None or _try_plan(cand) is None:
            continue
        gap = abs(p.batches_per_epoch_full - target)
        if best is None or gap < best_gap:
            best, best_gap = cand, gap
    if best is None:
        raise SetupError("dataset_size", setup.dataset_size, "the training lab cannot shrink this setup to its sample budget")
    return best


def _shorten_run(setup: Setup) -> Setup | None:
    """Fewer epochs (or a smaller max_steps when max_steps ends the run), batches per epoch kept."""
    p = _try_plan(setup)
    if p is None:
        return None
    if setup.max_steps is not None and (
        CONVENTIONS[setup.framework].max_steps_overrides or setup.epochs is None or p.planned_optimizer_steps >= setup.max_steps
    ):
        best = _largest(1, min(setup.max_steps, MAX_OPTIMIZER_STEPS), lambda m: _fits(setup.replace(max_steps=m)))
        return None if best is None else setup.replace(max_steps=best)
    n_epochs = len(p.schedule.batches)
    hi = min(n_epochs, MAX_EPOCHS)
    per_epoch = int(p.schedule.steps.max()) if n_epochs else 0
    if per_epoch:
        hi = min(hi, MAX_OPTIMIZER_STEPS // per_epoch + 1)
    best = _largest(1, hi, lambda e: _fits(setup.replace(epochs=_epochs_value(setup, e))))
    return None if best is None else setup.replace(epochs=_epochs_value(setup, best))


def _epochs_value(setup: Setup, e: int) -> float | int:
    return float(e) if isinstance(setup.epochs, float) else e


def _shrink_epoch(setup: Setup) -> Setup:
    """One epoch alone is over budget: fewer samples at the same batch size, up to KEEP_EPOCHS epochs."""
    p = _try_plan(setup)
    if p is None:
        raise SetupError("dataset_size", setup.dataset_size, "the training lab cannot fit this setup into its budget")
    base = setup
    if setup.max_steps is not None:
        base = base.replace(max_steps=min(setup.max_steps, MAX_OPTIMIZER_STEPS))
    if len(p.schedule.batches) > KEEP_EPOCHS:
        base = base.replace(epochs=_epochs_value(setup, KEEP_EPOCHS))

    bare = _bare(setup)

    def candidate(n: int) -> Setup:
        return _rescale_cadence(base.replace(dataset_size=n), bare)

    n = _largest(1, setup.dataset_size, lambda n: _fits(candidate(n)))
    if n is None:
        raise SetupError("dataset_size", setup.dataset_size, "the training lab cannot fit this setup into its budget")
    return candidate(n)


def _scale_warmup(new: Setup, old_plan: Plan, new_plan: Plan) -> Setup:
    if new.lr_schedule is None or new.warmup_steps < 1 or not old_plan.planned_optimizer_steps:
        return new
    ratio = new_plan.planned_optimizer_steps / old_plan.planned_optimizer_steps
    if ratio >= 1:
        return new
    scaled = new.replace(warmup_steps=float(round(new.warmup_steps * ratio)))
    return scaled if _try_plan(scaled) is not None else new


# -- the run ----------------------------------------------------------------------------


@dataclass(frozen=True)
class TrainingRun:
    """What one lab run recorded. Per step arrays have one entry per optimizer update made."""

    requested: Setup
    setup: Setup  # what ran (the requested setup, or its downsized copy)
    plan: Plan  # make_plan(setup) with early stopping decided on the real validation losses
    seed: int
    train_loss_per_step: np.ndarray  # mean loss of the micro-batches behind each update, before it
    train_loss_per_epoch: np.ndarray  # mean micro-batch loss per epoch started (nan: no batch ran)
    eval_global_steps: np.ndarray
    val_loss: np.ndarray
    val_accuracy: np.ndarray
    param_norm: np.ndarray  # after each update; param_norm[0] is the initial norm
    lr_per_step: np.ndarray
    best_eval_index: int | None
    restored_best: bool
    final_val_loss: float
    final_val_accuracy: float
    params: np.ndarray  # the final weights (the best ones when restored)
    downsized: Downsized | None
    seconds: float
    momentum: float = 0.0
    notes: tuple[str, ...] = field(default=())

    @property
    def optimizer_steps(self) -> int:
        return len(self.train_loss_per_step)

    @property
    def early_stop(self):
        return self.plan.early_stop

    @property
    def step_epochs(self) -> np.ndarray:
        """0-based epoch of each update (the epoch in which it was made)."""
        k = np.arange(1, self.optimizer_steps + 1)
        return np.searchsorted(self.plan.epoch_end_global_steps, k, side="left")

    def to_dict(self) -> dict:
        def floats(a):
            return [None if not math.isfinite(v) else float(v) for v in np.asarray(a, dtype=np.float64).tolist()]

        es = self.plan.early_stop
        return {
            "framework": self.setup.framework,
            "seed": self.seed,
            "optimizer_steps": self.optimizer_steps,
            "planned_optimizer_steps": self.plan.total_optimizer_steps,
            "epochs_started": self.plan.epochs_started,
            "batches_per_epoch": self.plan.batches.tolist(),
            "epoch_end_global_steps": self.plan.epoch_end_global_steps.tolist(),
            "effective_batch_size": self.plan.effective_batch_size,
            "train_loss_per_step": floats(self.train_loss_per_step),
            "train_loss_per_epoch": floats(self.train_loss_per_epoch),
            "eval_global_steps": self.eval_global_steps.tolist(),
            "val_loss": floats(self.val_loss),
            "val_accuracy": floats(self.val_accuracy),
            "param_norm_per_step": floats(self.param_norm[1:]),
            "initial_param_norm": float(self.param_norm[0]),
            "lr_per_step": floats(self.lr_per_step),
            "early_stop": None if es is None else es.to_dict(),
            "best_eval_index": self.best_eval_index,
            "restored_best_weights": self.restored_best,
            "final_val_loss": self.final_val_loss,
            "final_val_accuracy": self.final_val_accuracy,
            "downsized": None if self.downsized is None else self.downsized.to_dict(),
            "run_setup": self.setup.to_dict(),
            "notes": list(self.notes),
            "seconds": self.seconds,
        }


@dataclass(frozen=True)
class _Stream:
    """The run laid out in micro-batches (all devices together) and samples, before early stopping."""

    samples: np.ndarray  # training-sample index of every sample pass, in run order
    mb_start: np.ndarray  # sample offset of each micro-batch (plus one past the end)
    mb_epoch: np.ndarray
    epoch_mb_offset: np.ndarray  # first micro-batch of each epoch (plus the total)
    step_mb_end: np.ndarray  # micro-batch after which each optimizer step happens (inclusive)
    window_div: np.ndarray  # per step: what each micro-batch loss of the window is divided by


def _shuffled(rng: np.random.Generator, n: int, counts: list[int]) -> np.ndarray:
    """One fresh shuffle of the n samples per pass, each taken cyclically to its count (the
    top-up past n is padding), written into one int32 array (a run can make a million passes)."""
    out = np.empty(sum(counts), np.int32)
    at = 0
    for k in counts:
        perm = rng.permutation(n)
        out[at : at + k] = perm[:k] if k <= n else np.resize(perm, k)
        at += k
    return out


def _stream(plan: Plan, rng: np.random.Generator) -> _Stream:
    s = plan.schedule
    setup = plan.setup
    a = s.grad_accum
    batches = s.batches.astype(np.int64)
    n_epochs = len(batches)
    full = s.batch_size * s.devices
    last = s.last_batch_size * s.devices
    offsets = np.concatenate(([0], np.cumsum(batches)))
    total_mb = int(offsets[-1])
    mb_epoch = np.repeat(np.arange(n_epochs, dtype=np.int64), batches)
    in_epoch = np.arange(total_mb, dtype=np.int64) - offsets[:-1][mb_epoch]
    if s.windows_cross_epochs:  # Keras: one iterator over passes, a fresh shuffle per pass
        per_pass = -(-setup.dataset_size // setup.batch_size)
        pos = np.arange(total_mb, dtype=np.int64) % max(per_pass, 1)
        sizes = np.where(pos == per_pass - 1, last, full)
        is_step = (np.arange(total_mb) + 1) % a == 0
        n_samples = int(sizes.sum())
        n_pass = -(-n_samples // setup.dataset_size) if n_samples else 0
        samples = _shuffled(rng, setup.dataset_size, [setup.dataset_size] * n_pass)[:n_samples]
    else:
        nominal = s.nominal_batches[mb_epoch]
        natural_last = (in_epoch == nominal - 1) & s.ends_pass[mb_epoch]
        sizes = np.where(natural_last, last, full)
        is_step = ((in_epoch + 1) % a == 0) | (s.leftover_steps & (in_epoch + 1 == nominal))
        per_epoch_samples = np.bincount(mb_epoch, weights=sizes, minlength=n_epochs).astype(np.int64)
        samples = _shuffled(rng, setup.dataset_size, per_epoch_samples.tolist())
    steps_per_epoch = np.bincount(mb_epoch[is_step], minlength=n_epochs)
    if not np.array_equal(steps_per_epoch, s.steps):  # the lab must make exactly the planned updates
        raise AssertionError(f"lab windows {steps_per_epoch[:8]} disagree with the plan {s.steps[:8]}")
    sizes_ok = np.bincount(mb_epoch, weights=sizes, minlength=n_epochs).astype(np.int64)
    if not np.array_equal(sizes_ok, plan.samples_per_epoch):
        raise AssertionError("lab batches disagree with the plan's samples per epoch")
    step_mb_end = np.flatnonzero(is_step)
    starts = np.concatenate(([0], step_mb_end[:-1] + 1))
    lengths = step_mb_end - starts + 1
    div = lengths if CONVENTIONS[setup.framework].divides_loss_by_window else np.full(len(lengths), a)
    return _Stream(
        samples=samples,
        mb_start=np.concatenate(([0], np.cumsum(sizes))).astype(np.int64),
        mb_epoch=mb_epoch,
        epoch_mb_offset=offsets,
        step_mb_end=step_mb_end,
        window_div=div.astype(np.int64),
    )


def train(
    setup: Setup,
    seed: int = 0,
    *,
    lr: float = LAB_LR,
    momentum: float = 0.0,
    restore_best_weights: bool = False,
    progress: Callable[[float], None] | None = None,
) -> TrainingRun:
    """Train the lab model on `setup` (downsized to the budget if needed) and record the run.

    The learning rate is `lr` times the plan's schedule multiplier (`plan.lr_at(k) / base lr`)
    when `setup.lr_schedule` is set, else constant. Early stopping (setup.patience) monitors the
    validation loss with the convention's own rule; `restore_best_weights` ends on the weights of
    the best evaluation (the rule's best, or the lowest validation loss without patience).
    `progress(fraction of the planned steps done)` is called about PROGRESS_CALLS times.
    """
    if not (isinstance(seed, int) and 0 <= seed < 2**63):
        raise SetupError("seed", seed, "must be a whole number from 0")
    if not (math.isfinite(lr) and lr > 0):
        raise SetupError("lr", lr, "the lab's learning rate must be a positive number")
    if not (math.isfinite(momentum) and 0 <= momentum < 1):
        raise SetupError("momentum", momentum, "must be from 0 to below 1")
    load_kernels()
    t0 = time.perf_counter()
    notes = []
    requested = setup
    if setup.mode != "min":
        setup = setup.replace(mode="min")
        notes.append("The lab monitors the validation loss, so early stopping uses mode 'min'.")
    setup = setup.replace(metrics=())
    if setup.tokens is not None or setup.timed:
        # the lab trains samples: tokens only fixed dataset_size, and it measures its own time
        if setup.tokens is not None:
            notes.append(f"The lab trains on samples: the tokens make {setup.dataset_size:,} samples; it counts no tokens.")
        setup = setup.replace(tokens=None, seconds_per_step=None, samples_per_second=None)
    run_setup, downsized = fit_to_budget(setup)
    plan0 = _plan0(run_setup)
    task = make_task(run_setup.dataset_size, seed)
    rng = shuffle_rng(seed)
    st = _stream(plan0, rng)
    sched = plan0.schedule
    n_steps = len(st.step_mb_end)
    if run_setup.lr_schedule is not None and n_steps:
        lrs = lr * plan0.lr_at(np.arange(1, n_steps + 1)) / base_lr(run_setup)
    else:
        lrs = np.full(n_steps, lr)
    events = _events(sched, run_setup.patience is not None)
    rule = CONVENTIONS[run_setup.framework].early_stopping(run_setup) if run_setup.patience is not None else None

    f_train, f_val = task.features_train, task.features_val
    y_sign = (2 * task.y_train.astype(np.float32) - 1).astype(np.float32)
    yv_sign = (2 * task.y_val.astype(np.float32) - 1).astype(np.float32)
    sizes = np.diff(st.mb_start)
    # each sample's weight in its window's gradient: 1 / (divisor x micro-batch size); 0 past the last update
    mb_div = np.repeat(st.window_div.astype(np.float64), np.diff(np.concatenate(([-1], st.step_mb_end))))
    n_applied_mb = len(mb_div)
    w_mb = np.zeros(len(sizes), np.float32)
    w_mb[:n_applied_mb] = 1.0 / (mb_div * sizes[:n_applied_mb])

    theta = np.zeros(f_train.shape[1], dtype=np.float32)
    velocity = np.zeros_like(theta)
    grad_sum = np.empty_like(theta)  # the window's summed (negated) gradient, filled by the kernels
    n_epochs0 = len(sched.batches)
    epoch_loss_sum = np.zeros(n_epochs0)
    losses = np.empty(n_steps)
    sq_norm = np.zeros(n_steps + 1)
    val_loss, val_acc = [], []
    eval_params: np.ndarray | None = None
    best_params: np.ndarray | None = None
    best_index: int | None = None
    stop_at: tuple[int, int] | None = None  # (epoch, batches done) where the rule fired

    ev_step, ev_kind, ev_epoch, ev_done, ev_metric = events
    ev_i, n_ev = 0, len(ev_step)
    first_mb = np.concatenate(([0], st.step_mb_end[:-1] + 1)).astype(np.int64)
    last_mb = st.step_mb_end.astype(np.int64)
    lr32 = lrs.astype(np.float32)
    ev_step_l = ev_step.tolist()
    arrays = (f_train, st.samples, y_sign, w_mb, st.mb_start, st.mb_epoch, epoch_loss_sum)  # what the kernels read and add to

    def evaluate() -> None:
        nonlocal eval_params, best_params, best_index
        m = (f_val @ theta) * yv_sign
        val_loss.append(float(np.logaddexp(0.0, -m, dtype=np.float64).mean()))
        val_acc.append(float(np.count_nonzero(m > 0) / len(m)))
        eval_params = theta.copy()
        if rule is None and (best_index is None or val_loss[-1] < val_loss[best_index]):
            best_index, best_params = len(val_loss) - 1, eval_params

    def run_events(k: int) -> bool:
        """Events at global step k in run order; True when early stopping fires."""
        nonlocal ev_i, best_params, best_index, stop_at
        while ev_i < n_ev and ev_step_l[ev_i] == k:
            if ev_kind[ev_i] == 0:
                evaluate()
            else:
                index = int(ev_metric[ev_i])
                if index != len(val_loss) - 1:  # checks read the latest evaluation
                    raise AssertionError("an early-stopping check reads a stale evaluation")
                stop, new_best = rule.update(val_loss[index], int(ev_epoch[ev_i]))
                if new_best:
                    best_index, best_params = index, eval_params
                if stop:
                    stop_at = (int(ev_epoch[ev_i]), int(ev_done[ev_i]))
                    ev_i += 1
                    return True
            ev_i += 1
        return False

    done = 0
    progress_every = max(1, n_steps // PROGRESS_CALLS)
    stopped = run_events(0)
    while not stopped and done < n_steps:
        # compiled steps up to the next evaluation, check or progress report: those need Python
        end = min(n_steps, (done // progress_every + 1) * progress_every)
        if ev_i < n_ev and ev_step_l[ev_i] > done:
            end = min(end, ev_step_l[ev_i])
        _sgd_steps(done, end, first_mb, last_mb, lr32, float(momentum), theta, velocity, grad_sum, losses, sq_norm, *arrays)
        done = end
        if progress is not None and done % progress_every == 0:
            progress(done / n_steps)
        stopped = run_events(done)
    # micro-batches run after the last update (a leftover window never stepped, or the
    # batches between the last step and the stop) count in their epoch's mean loss
    if stopped and stop_at is not None:
        end_mb = int(st.epoch_mb_offset[stop_at[0]] + stop_at[1])
    else:
        end_mb = int(st.epoch_mb_offset[-1])
    tail_first = int(last_mb[done - 1]) + 1 if done else 0
    if end_mb > tail_first:
        _micro_batches(theta, tail_first, end_mb, grad_sum, False, *arrays)

    val_losses = tuple(val_loss)
    final_setup = run_setup.replace(metrics=val_losses) if run_setup.patience is not None else run_setup
    plan = make_plan(final_setup)
    if plan.total_optimizer_steps != done or len(plan.evaluations) != len(val_loss):
        raise AssertionError(
            f"the run ({done} updates, {len(val_loss)} evaluations) disagrees with the plan ({plan.total_optimizer_steps}, {len(plan.evaluations)})"
        )
    if plan.early_stop is not None:
        best_index = plan.early_stop.best_eval_index
    n_epochs = plan.epochs_started
    with np.errstate(invalid="ignore", divide="ignore"):
        per_epoch = epoch_loss_sum[:n_epochs] / plan.batches
    restored = False
    if restore_best_weights and best_params is not None:
        theta = best_params.copy()
        restored = True
    m = (f_val @ theta) * yv_sign
    final_loss = float(np.logaddexp(0.0, -m, dtype=np.float64).mean())
    final_acc = float(np.count_nonzero(m > 0) / len(m))
    return TrainingRun(
        requested=requested,
        setup=final_setup,
        plan=plan,
        seed=seed,
        train_loss_per_step=losses[:done].copy(),
        train_loss_per_epoch=per_epoch,
        eval_global_steps=plan.evaluations.global_step.copy(),
        val_loss=np.array(val_loss, dtype=np.float64),
        val_accuracy=np.array(val_acc, dtype=np.float64),
        param_norm=np.sqrt(sq_norm[: done + 1]),
        lr_per_step=lrs[:done].astype(np.float64),
        best_eval_index=best_index,
        restored_best=restored,
        final_val_loss=final_loss,
        final_val_accuracy=final_acc,
        params=theta.copy(),
        downsized=downsized,
        seconds=time.perf_counter() - t0,
        momentum=momentum,
        notes=tuple(notes) + plan.notes,
    )


def _events(sched, with_checks: bool):
    """Evaluations (kind 0) and early-stopping checks (kind 1) merged in run order."""
    ev, ch = sched.evaluations, sched.checks
    if not with_checks:
        ch = ch.take(np.zeros(len(ch), dtype=bool))
    step = np.concatenate((ev.global_step, ch.global_step))
    epoch = np.concatenate((ev.epoch, ch.epoch))
    done = np.concatenate((ev.batches_done, ch.batches_done))
    kind = np.concatenate((np.zeros(len(ev), np.int64), np.ones(len(ch), np.int64)))
    metric = np.concatenate((ev.metric_index, ch.metric_index))
    order = np.lexsort((kind, done, epoch))  # an evaluation comes before a check at the same point
    return step[order], kind[order].tolist(), epoch[order], done[order], metric[order]


# The steps run compiled by numba: a step is a few small vector operations, too small for
# numpy calls to pay for their Python overhead. Reassociation lets the dot products
# vectorize; no finite-math flags, so a diverging run still shows its inf and nan. nogil:
# the server's other threads run while the lab trains. numba is imported, and the kernels
# compiled or loaded from its on-disk cache, when the lab first runs (`load_kernels`), not at
# import: it adds about 100 MB to a server process that may never train.
_JIT = {"cache": True, "nogil": True, "fastmath": {"reassoc", "contract"}}
CHUNK = 32  # samples whose margins are computed before their losses and gradient (see _micro_batches)
_KERNELS: dict[str, tuple[Callable, dict]] = {}  # name -> (Python function, numba options)
_KERNELS_LOCK = threading.Lock()
_kernels_loaded = False


def _kernel(**options):
    """Register a function of this module as a numba kernel (`options` over _JIT's). It stays
    plain Python until `load_kernels` binds its name to the compiled version; the kernels call
    each other by these global names, so numba compiles the calls in."""

    def register(func):
        _KERNELS[func.__name__] = (func, {**_JIT, **options})
        return func

    return register


@_kernel()
def _micro_batches(theta, i0, i1, grad_sum, with_grad, features, samples, y_sign, w_mb, mb_start, mb_epoch, epoch_loss_sum):
    """Micro-batches i0..i1-1 at the weights `theta`: each one's mean loss added to its
    epoch's sum and, `with_grad`, minus the gradient of their window's loss added to
    `grad_sum` (a sample's part: its label sign times its micro-batch's weight `w_mb`). Returns
    the sum of the micro-batch mean losses. The samples go in chunks, margins first: the
    loads of their rows (in shuffled order, from a feature table of up to 26 MB) then overlap
    instead of waiting on each other, and the rows are in cache again for the gradient."""
    n_feat = features.shape[1]
    buf = np.empty(CHUNK, np.float32)  # per sample of the chunk: its margin, then its gradient factor
    mean_loss_sum, loss_sum, i = 0.0, 0.0, i0
    for c0 in range(mb_start[i0], mb_start[i1], CHUNK):
        c1 = min(c0 + CHUNK, mb_start[i1])
        for j in range(c0, c1):
            row = features[samples[j]]
            z = np.float32(0.0)
            for c in range(n_feat):
                z += row[c] * theta[c]
            buf[j - c0] = z * y_sign[samples[j]]
        for j in range(c0, c1):
            while j >= mb_start[i + 1]:  # micro-batch i is done: its mean loss
                mean_loss_sum += _close_micro_batch(i, loss_sum, mb_start, mb_epoch, epoch_loss_sum)
                loss_sum, i = 0.0, i + 1
            m = buf[j - c0]
            e = np.exp(-abs(m))
            loss_sum += max(-m, np.float32(0.0)) + np.log1p(e)  # log(1 + e^-m), stable
            if with_grad:  # sigmoid(-m) x sign x weight
                buf[j - c0] = (e if m >= 0 else np.float32(1.0)) / (np.float32(1.0) + e) * (y_sign[samples[j]] * w_mb[i])
        if with_grad:
            for j in range(c0, c1):
                row = features[samples[j]]
                r = buf[j - c0]
                for c in range(n_feat):
                    grad_sum[c] += r * row[c]
    while i < i1:
        mean_loss_sum += _close_micro_batch(i, loss_sum, mb_start, mb_epoch, epoch_loss_sum)
        loss_sum, i = 0.0, i + 1
    return mean_loss_sum


@_kernel()
def _close_micro_batch(i, loss_sum, mb_start, mb_epoch, epoch_loss_sum):
    """Micro-batch i's mean loss, added to its epoch's sum (0 for an empty one)."""
    size = mb_start[i + 1] - mb_start[i]
    if size == 0:
        return 0.0
    epoch_loss_sum[mb_epoch[i]] += loss_sum / size
    return loss_sum / size


@_kernel(fastmath={"reassoc"})  # no fused multiply-add: updates round as numpy's would
def _sgd_steps(k0, k1, first_mb, last_mb, lrs, momentum, theta, velocity, grad_sum, losses, sq_norm, *arrays):
    """Optimizer steps k0..k1-1: each one's window of micro-batches, its mean micro-batch
    loss (before the update) into `losses`, the update, and the squared weight norm after it.
    `grad_sum` collects minus the window's gradient (the descent direction), so the update
    adds it; it is zero again after each update. One loop per update and no temporary arrays
    (an array expression would allocate one per step)."""
    grad_sum[:] = 0.0
    m32 = np.float32(momentum)
    for k in range(k0, k1):
        i0, i1 = first_mb[k], last_mb[k] + 1
        losses[k] = _micro_batches(theta, i0, i1, grad_sum, True, *arrays) / (i1 - i0)
        lr, theta_sq = lrs[k], 0.0
        for c in range(len(theta)):
            if momentum > 0.0:
                velocity[c] = velocity[c] * m32 + grad_sum[c]
                theta[c] += lr * velocity[c]
            else:
                theta[c] += lr * grad_sum[c]
            grad_sum[c] = 0.0
            theta_sq += np.float64(theta[c]) ** 2
        sq_norm[k + 1] = theta_sq


def load_kernels() -> None:
    """Import numba and compile the kernels, or load them from numba's on-disk cache, once per
    process (about a second): a setup cost, like an import, that a run's `seconds` leaves out.
    `train` calls it; a server may call it ahead of the first run. The warm-up calls pass the
    types `train` passes (features read-only), so a run never compiles."""
    global _kernels_loaded
    with _KERNELS_LOCK:  # two first runs at once compile once
        if _kernels_loaded:
            return
        from numba import njit

        for name, (func, options) in _KERNELS.items():
            globals()[name] = njit(**options)(func)
        features = np.zeros((1, FEATURES + 1), np.float32)
        features.flags.writeable = False
        theta, velocity, grad_sum = (np.zeros(FEATURES + 1, np.float32) for _ in range(3))
        one, index = np.ones(1, np.float32), np.zeros(1, np.int64)
        arrays = (features, np.zeros(1, np.int32), one, one, np.array([0, 1]), index, np.zeros(1))
        _sgd_steps(0, 1, index, index, one, 0.0, theta, velocity, grad_sum, np.zeros(1), np.zeros(2), *arrays)
        _micro_batches(theta, 0, 1, grad_sum, False, *arrays)
        _kernels_loaded = True


# -- helpers for the page ---------------------------------------------------------------


def step_noise(run: TrainingRun) -> float:
    """How much the per-step loss jumps around its epoch's mean: the root mean square of
    (step loss - mean step loss of its epoch). nan without steps."""
    if not run.optimizer_steps:
        return float("nan")
    e = run.step_epochs
    sums = np.bincount(e, weights=run.train_loss_per_step)
    counts = np.bincount(e)
    with np.errstate(invalid="ignore", divide="ignore"):
        means = sums / counts
    return float(np.sqrt(np.mean((run.train_loss_per_step - means[e]) ** 2)))


def batch_pair(setup: Setup) -> tuple[int, int]:
    """Two batch sizes to compare for `setup`'s epochs: a quarter and four times the batch,
    kept within 1 and the dataset size (and different from each other)."""
    n = setup.dataset_size
    small = max(1, setup.batch_size // 4)
    large = min(max(n // max(setup.devices, 1), 1), setup.batch_size * 4)
    if large <= small:
        small, large = max(1, min(small, large) // 4), max(small, large)
    if large <= small:
        large = small + 1
    return small, large


def compare_batch_sizes(setup: Setup, small: int, large: int, seed: int = 0, **kwargs) -> tuple[TrainingRun, TrainingRun]:
    """Two runs of `setup` that differ only in batch size (same epochs, same seed)."""
    return train(setup.replace(batch_size=small), seed, **kwargs), train(setup.replace(batch_size=large), seed, **kwargs)


# -- command line -----------------------------------------------------------------------


def cli_train(args, setup: Setup) -> str:
    """`python -m epochsteps train`: JSON with --json, else a short summary."""
    import json

    if setup.metrics:
        raise SetupError(
            "metrics", f"{len(setup.metrics)} values", "train measures the validation losses itself; --metrics is for plan"
        )
    run = train(setup, seed=args.seed, momentum=args.momentum, restore_best_weights=args.restore_best_weights)
    if args.json:
        return json.dumps(run.to_dict())
    return summary(run)


def summary(run: TrainingRun) -> str:
    p = run.plan
    s = run.setup
    lines = [
        f"{s.framework}: trained {s.dataset_size:,} samples, batch {s.batch_size:,} x {s.devices:,} device(s) x accumulation {s.grad_accum:,}"
        f" (effective batch {p.effective_batch_size:,}), seed {run.seed}",
        f"optimizer steps made: {run.optimizer_steps:,} over {p.epochs_started:,} epoch(s) in {run.seconds * 1000:,.0f} ms",
    ]
    per_epoch = run.train_loss_per_epoch
    if len(per_epoch):
        lines.append(f"training loss per epoch: {_first_last(per_epoch)}")
    if len(run.val_loss):
        b = run.best_eval_index
        lines.append(
            f"validation: {len(run.val_loss):,} evaluation(s), loss {_first_last(run.val_loss)}, accuracy {run.val_accuracy[-1]:.1%} at the last"
            + (f"; best #{b} (loss {run.val_loss[b]:.4f} at step {int(run.eval_global_steps[b]):,})" if b is not None else "")
        )
    else:
        lines.append("validation: none scheduled (pytorch loops evaluate only with --eval-every-steps)")
    es = run.early_stop
    if es is not None:
        verdict = "fired" if es.stopped else "did not fire"
        lines.append(
            f"early stopping {verdict} on the real validation losses: training ended at step {es.stop_global_step:,} in epoch {es.stop_epoch:,}"
        )
    if run.restored_best:
        lines.append(
            f"restored the best weights: validation loss {run.final_val_loss:.4f}, accuracy {run.final_val_accuracy:.1%}"
        )
    if run.downsized is not None:
        lines.append(run.downsized.text)
    return "\n".join(lines)


def _first_last(values: np.ndarray) -> str:
    v = [x for x in np.asarray(values, dtype=float) if math.isfinite(x)]
    if not v:
        return "n/a"
    return f"{v[0]:.4f}" if len(v) == 1 else f"{v[0]:.4f} -> {v[-1]:.4f}"
