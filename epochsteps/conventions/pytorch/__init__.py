"""A hand-written PyTorch loop (conventions `pytorch` and `pytorch-flush`).

    sampler = DistributedSampler(ds) if devices > 1 else RandomSampler(ds)
    loader = DataLoader(ds, batch_size=B, sampler=sampler, drop_last=drop_last)
    for epoch in range(epochs):
        for i, batch in enumerate(loader):
            (loss(batch) / A).backward()
            if (i + 1) % A == 0:                      # `pytorch`
                optimizer.step(); scheduler.step(); optimizer.zero_grad(); global_step += 1
                if eval_every and global_step % eval_every == 0: evaluate()
                if global_step >= max_steps: break
        # `pytorch-flush` also steps a leftover window here, at i + 1 == len(loader)

PyTorch has no early-stopping callback; the common hand-written one (improve by more
than min_delta or count a miss; stop after `patience` misses) is modelled here.
"""

from __future__ import annotations

import math

import numpy as np

from ... import loading, schedules
from ...setup import Setup
from ...text import fmt, plural, tex_floor
from ..base import Events, Schedule, epoch_windows, foreign_knobs, refuse, step_events, whole_epochs
from ..convention import LOADER, SHARED, Cadence, Convention, Note, Term, adopt_cadence_in_steps

NAME = "hand-written PyTorch loop"
DEFAULT_EPOCHS = 1


def steps_per_epoch(batches: int, grad_accum: int, flush: bool) -> int:
    """`(i + 1) % A == 0` steps floor(L / A) times; the flush adds the leftover window."""
    return -(-batches // grad_accum) if flush else batches // grad_accum


def validate(setup: Setup) -> None:
    foreign_knobs(
        setup,
        NAME,
        {
            "val_check_interval": "use eval_every_steps (optimizer steps)",
            "check_val_every_n_epoch": "use eval_every_steps (optimizer steps)",
            "validation_freq": "use eval_every_steps (optimizer steps)",
            "steps_per_epoch": "use max_steps",
            "start_from_epoch": "start_from_epoch is a Keras EarlyStopping argument",
        },
    )
    if setup.eval_every_steps is not None and setup.eval_every_steps != int(setup.eval_every_steps):
        raise refuse(setup, "eval_every_steps", "a hand-written loop evaluates every whole number of optimizer steps")
    if setup.patience is not None and setup.eval_every_steps is None:
        raise refuse(setup, "patience", "a hand-written loop evaluates only when eval_every_steps is set, so early stopping has nothing to read")
    schedules.check_torch_warmup(setup)


def schedule(setup: Setup, flush: bool) -> Schedule:
    validate(setup)
    load = loading.distributed_sampler(setup.dataset_size, setup.batch_size, setup.devices, setup.drop_last)
    per_epoch = steps_per_epoch(load.batches, setup.grad_accum, flush)
    epochs = whole_epochs(setup, NAME)
    if epochs is None and setup.max_steps is None:
        epochs = DEFAULT_EPOCHS
    if epochs is None:
        if per_epoch == 0:
            raise refuse(setup, "max_steps", f"the loop never steps ({load.batches} batches per epoch, accumulation {setup.grad_accum}), so max_steps is never reached")
        n_epochs = math.ceil(setup.max_steps / per_epoch)
    elif setup.max_steps is not None and per_epoch > 0:
        n_epochs = min(epochs, math.ceil(setup.max_steps / per_epoch))
    else:
        n_epochs = epochs
    if n_epochs > 10**6:
        raise refuse(setup, "max_steps", f"would run {n_epochs:,} epochs; at most 1,000,000")
    batches, steps = epoch_windows(load.batches, per_epoch, setup.grad_accum, n_epochs, setup.max_steps)
    ends = np.cumsum(steps)
    total = int(ends[-1]) if n_epochs else 0
    evaluations = Events.empty()
    if setup.eval_every_steps is not None:
        evaluations = step_events(int(setup.eval_every_steps), total, ends, batches, setup.grad_accum)
    notes = []
    if not flush and load.batches % setup.grad_accum:
        notes.append(
            f"The last {load.batches % setup.grad_accum} batch(es) of each epoch never complete a window of "
            f"{setup.grad_accum}: no step is taken for them and, as zero_grad runs only after a step, "
            "their gradients leak into the first step of the next epoch."
        )
    return Schedule.of(
        setup,
        load,
        batches,
        steps,
        evaluations,
        # the usual idiom: num_training_steps = max_steps if max_steps else epochs * steps per epoch
        lr_horizon=setup.max_steps if setup.max_steps is not None else total,
        steps_per_full_epoch=per_epoch,
        leftover_steps=flush,
        notes=tuple(notes),
    )


class EarlyStopping:
    """The usual hand-written rule: a value better than the best by more than
    min_delta resets the count; otherwise count a miss and stop at `patience` misses."""

    def __init__(self, setup: Setup):
        self.patience = setup.patience
        self.min_delta = abs(setup.min_delta)
        self.sign = 1.0 if setup.mode == "min" else -1.0
        self.best = math.inf
        self.wait = 0

    def update(self, value: float, epoch: int) -> tuple[bool, bool]:
        if self.sign * value < self.best - self.min_delta:
            self.best = self.sign * value
            self.wait = 0
            return False, True
        self.wait += 1
        return self.wait >= self.patience, False


def lr_per_update(setup: Setup, sched: Schedule, updates: np.ndarray) -> np.ndarray:
    """A per-step `LambdaLR` with HF's formulas over the loop's planned steps."""
    return schedules.lambda_lr(setup, int(setup.warmup_steps), sched.lr_horizon, updates)


from .saving import KNOBS as SAVING_KNOBS  # noqa: E402 - after the rules saving.py imports


class HandWrittenLoop(Convention):
    """A loop the user writes over `DataLoader`; `flush` also steps the leftover window at the end of each epoch."""

    default_epochs = DEFAULT_EPOCHS
    owns = SHARED | LOADER | {"eval_every_steps"} | SAVING_KNOBS
    writes_the_loop = True
    patience_rule = "needs more than min_delta"
    argument_labels = {"eval_every_steps": "eval_every_steps: evaluate every this many optimizer steps (empty: never)"}
    argument_placeholders = {"eval_every_steps": "never", "save_every_steps": "never"}
    early_stopping = EarlyStopping

    def __init__(self, flush: bool):
        self.flush = flush
        self.name = "pytorch-flush" if flush else "pytorch"
        self.label = "PyTorch loop + flush" if flush else "PyTorch loop"
        self.title = "a hand-written PyTorch loop that steps its leftover window" if flush else "a hand-written PyTorch loop"
        self.variant_of = "pytorch" if flush else None

    def schedule(self, setup: Setup) -> Schedule:
        return schedule(setup, flush=self.flush)

    def lr_per_update(self, setup: Setup, sched: Schedule, updates: np.ndarray) -> np.ndarray:
        return lr_per_update(setup, sched, updates)


    def with_evaluations(self, setup: Setup) -> Setup:
        """A hand-written loop evaluates only where told: once per epoch's worth of optimizer steps."""
        if setup.eval_every_steps is not None:
            return setup
        from ...plan import make_plan

        per_epoch = int(make_plan(setup.replace(patience=None, metrics=())).steps[0])
        if per_epoch < 1:
            raise refuse(setup, "patience", "an epoch has no optimizer step to evaluate at")
        return setup.replace(eval_every_steps=per_epoch)

    def fix_values(self, values: dict, notices: list[str]) -> None:
        every = values.get("eval_every_steps")
        if every is not None and every > 0 and not float(every).is_integer():
            whole = max(1, round(every))
            notices.append(f"eval_every_steps={fmt(every)}: a hand-written loop evaluates every whole number of steps: using {whole}")
            values["eval_every_steps"] = float(whole)
        super().fix_values(values, notices)

    # -- words -----------------------------------------------------------------------------
    def steps_per_epoch_term(self, plan) -> Term:
        s, L = plan.setup, plan.batches_per_epoch_full
        if self.flush or s.grad_accum == 1:
            return super().steps_per_epoch_term(plan)
        remark = f"The `(i + 1) % {s.grad_accum}` loop never steps a leftover window." if L % s.grad_accum else "Every window of an epoch is full."
        return Term("steps_per_epoch", "steps per epoch", tex_floor(L, s.grad_accum), plan.schedule.steps_per_full_epoch, remark)

    def leftover(self, plan) -> str | None:
        if self.flush:
            return super().leftover(plan)
        s, L = plan.setup, plan.batches_per_epoch_full
        left, U = L % s.grad_accum, plan.schedule.steps_per_full_epoch
        if not left:
            return None
        return (
            f"Each epoch ends with {plural(left, 'batch', 'batches')} that never fill a window of {fmt(s.grad_accum)}: "
            f"the `(i + 1) % {s.grad_accum}` loop takes no step for them, so an epoch has {plural(U, 'step')}, not {fmt(U + 1)}, "
            "and their gradients leak into the next epoch's first step."
        )

    def no_step(self, plan) -> str:
        s = plan.setup
        return (
            f"No optimizer step is ever taken: an epoch has {plural(plan.batches_per_epoch_full, 'batch', 'batches')} but a step needs "
            f"{fmt(s.grad_accum)} (gradient accumulation), and the `(i + 1) % {s.grad_accum}` loop restarts its window every epoch. "
            "Lower the accumulation, or step the leftover window at the end of each epoch (pytorch-flush)."
        )

    def who(self, grad_accum: int) -> str:
        if self.flush:
            return "the same loop stepping its leftover window"
        return f"a hand-written `(i + 1) % {grad_accum}` loop" if grad_accum > 1 else "a PyTorch loop"

    def cadence_words(self, setup: Setup) -> str:
        if setup.eval_every_steps is None:
            return "no evaluation (a hand-written loop evaluates only where you call it)"
        return f"an evaluation every {plural(int(setup.eval_every_steps), 'optimizer step')}"

    def steps_reason(self, plan) -> tuple[str, str] | None:
        s = plan.setup
        if self.flush or s.grad_accum == 1 or not plan.batches_per_epoch_full % s.grad_accum:
            return None
        return "its leftover window never steps", f"the `(i + 1) % {s.grad_accum}` loop never steps its leftover window"

    def evaluation_reasons(self, plan) -> list[tuple[str, str]]:
        if len(plan.schedule.evaluations):
            return []
        return [("it evaluates only where you call it", "a hand-written loop evaluates only where you call it")]

    def try_changes(self, plan) -> list[tuple[str, dict]]:
        s, L = plan.setup, plan.batches_per_epoch_full
        if self.flush or not L or not L % s.grad_accum:
            return []
        return [("Switch the convention to pytorch-flush (step the leftover window at the end of each epoch).", {"framework": "pytorch-flush"})]

    # -- translation -----------------------------------------------------------------------
    def cadence(self, setup: Setup, plan) -> Cadence:
        return None if setup.eval_every_steps is None else ("steps", int(setup.eval_every_steps))

    def adopt_cadence(self, values: dict, cadence: Cadence, notes: list[Note]) -> None:
        adopt_cadence_in_steps(self, values, cadence, notes, epoch_native=False)


LOOP = HandWrittenLoop(flush=False)
FLUSH = HandWrittenLoop(flush=True)
