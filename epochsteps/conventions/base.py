"""What every convention hands to the plan: the run as the framework schedules it
(before early stopping), its evaluations, and the points where early stopping checks.

Arrays have one entry per epoch that starts, so a plan costs O(epochs + evaluations).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..setup import Setup, SetupError

# Bounds the memory of one plan (each evaluation is a few int64s, and pages cache plans).
MAX_EVALUATIONS = 100_000


@dataclass(frozen=True)
class Events:
    """Evaluations (or early-stopping checks) in run order.

    `batches_done` counts the batches of `epoch` (0-based) run when the event happens;
    `metric_index` says which evaluation's value an early-stopping check reads.
    """

    global_step: np.ndarray
    epoch: np.ndarray
    batches_done: np.ndarray
    metric_index: np.ndarray

    def __len__(self) -> int:
        return len(self.global_step)

    @classmethod
    def empty(cls) -> Events:
        z = np.zeros(0, dtype=np.int64)
        return cls(z, z, z, z)

    @classmethod
    def of(cls, global_step, epoch, batches_done, metric_index=None) -> Events:
        gs = np.asarray(global_step, dtype=np.int64)
        mi = np.arange(len(gs), dtype=np.int64) if metric_index is None else np.asarray(metric_index, dtype=np.int64)
        return cls(gs, np.asarray(epoch, dtype=np.int64), np.asarray(batches_done, dtype=np.int64), mi)

    def take(self, mask_or_index) -> Events:
        return Events(
            self.global_step[mask_or_index],
            self.epoch[mask_or_index],
            self.batches_done[mask_or_index],
            self.metric_index[mask_or_index],
        )


@dataclass(frozen=True)
class Schedule:
    """The run a framework schedules for a setup, epoch by epoch, before early stopping."""

    nominal_batches: np.ndarray  # batches the epoch has in full (per device); fractional-epoch denominator
    batches: np.ndarray  # batches run in the epoch (max_steps or a fractional epoch can cut it)
    steps: np.ndarray  # optimizer steps taken in the epoch
    ends_pass: np.ndarray  # the epoch's full length reaches the loader's natural last batch
    last_batch_size: int  # size of the loader's natural last batch (per device)
    batch_size: int
    devices: int
    dataset_size: int
    grad_accum: int
    evaluations: Events
    checks: Events  # early-stopping checks; usually the evaluations themselves
    lr_horizon: int  # optimizer steps (Keras: micro-batches) the LR schedule is planned over
    steps_per_full_epoch: int | None  # optimizer steps of a full epoch; None when windows run across epochs
    batches_per_pass: int  # batches in one pass over the data (per device)
    leftover_steps: bool = True  # an epoch's last, short accumulation window steps (windows restart every epoch)
    windows_cross_epochs: bool = False  # Keras: accumulation windows run across epoch ends
    drops_remainder: bool = True  # samples a full epoch never yields count as dropped
    notes: tuple[str, ...] = field(default=())

    @property
    def epoch_end_steps(self) -> np.ndarray:
        return np.cumsum(self.steps, dtype=np.int64)

    @classmethod
    def of(cls, setup: Setup, load, batches: np.ndarray, steps: np.ndarray, evaluations: Events, **fields) -> Schedule:
        """A schedule of `setup` over `load` (the per-device loader): what every framework fills the
        same way. By default each epoch is a full pass and the checks are the evaluations."""
        n_epochs = len(batches)
        fields.setdefault("nominal_batches", np.full(n_epochs, load.batches, dtype=np.int64))
        fields.setdefault("ends_pass", np.ones(n_epochs, dtype=bool))
        fields.setdefault("checks", evaluations)
        return cls(
            batches=batches,
            steps=steps,
            last_batch_size=load.last_batch_size or 0,
            batch_size=setup.batch_size,
            devices=setup.devices,
            dataset_size=setup.dataset_size,
            grad_accum=setup.grad_accum,
            evaluations=evaluations,
            batches_per_pass=load.batches,
            **fields,
        )


def refuse(setup: Setup, name: str, reason: str) -> SetupError:
    return SetupError(name, getattr(setup, name, None), reason)


def foreign_knobs(setup: Setup, owner: str, knobs: dict[str, str]) -> None:
    """Refuse a knob moved from its default that belongs to another framework."""
    defaults = {
        "eval_every_steps": None,
        "val_check_interval": None,
        "check_val_every_n_epoch": 1,
        "validation_freq": 1,
        "steps_per_epoch": None,
        "start_from_epoch": 0,
    }
    for name, hint in knobs.items():
        if getattr(setup, name) != defaults[name]:
            raise refuse(setup, name, f"{owner} has no such argument; {hint}")


def whole_epochs(setup: Setup, owner: str) -> int | None:
    if setup.epochs is None:
        return None
    if setup.epochs != int(setup.epochs):
        raise refuse(setup, "epochs", f"{owner} counts whole epochs (only the HF Trainer accepts a fraction)")
    return int(setup.epochs)


def epoch_windows(load_batches: int, per_epoch: int, grad_accum: int, n_epochs: int, step_cap: int | None):
    """Steps and batches per epoch when accumulation windows restart every epoch.

    `per_epoch` optimizer steps fit in a full epoch; training stops right after the
    step that reaches `step_cap`, so the epoch where that happens runs only the
    batches that step needed.
    """
    e = np.arange(n_epochs, dtype=np.int64)
    steps = np.full(n_epochs, per_epoch, dtype=np.int64)
    batches = np.full(n_epochs, load_batches, dtype=np.int64)
    if step_cap is not None and n_epochs:
        steps = np.clip(step_cap - e * per_epoch, 0, per_epoch)
        cut = np.cumsum(steps) >= step_cap
        first_cut = int(np.argmax(cut)) if cut.any() else n_epochs
        batches[first_cut:] = np.minimum(load_batches, steps[first_cut:] * grad_accum)
    return batches, steps


def step_events(every: int, total: int, end_steps: np.ndarray, batches: np.ndarray, grad_accum: int, extra_final: bool = False) -> Events:
    """Events after every `every`-th optimizer step (plus the last one if `extra_final`)."""
    count = total // every
    if count > MAX_EVALUATIONS:
        raise SetupError("eval_every_steps", every, f"would evaluate {count:,} times; at most {MAX_EVALUATIONS:,}")
    gs = np.arange(1, count + 1, dtype=np.int64) * every
    if extra_final and total > 0 and total % every:
        gs = np.append(gs, np.int64(total))
    return events_at_steps(gs, end_steps, batches, grad_accum)


def events_at_steps(gs: np.ndarray, end_steps: np.ndarray, batches: np.ndarray, grad_accum: int) -> Events:
    epoch = np.searchsorted(end_steps, gs, side="left")
    start = np.concatenate(([0], end_steps))[epoch]
    done = np.minimum(batches[epoch], (gs - start) * grad_accum)
    return Events.of(gs, epoch, done)


def epoch_end_events(epochs: np.ndarray, end_steps: np.ndarray, batches: np.ndarray) -> Events:
    epochs = np.asarray(epochs, dtype=np.int64)
    return Events.of(end_steps[epochs], epochs, batches[epochs])
