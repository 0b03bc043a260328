"""Checkpoints of the hand-written loops: our model, since PyTorch has no checkpoint callback.

`--save-every-steps K` stands for

    if global_step % K == 0:
        torch.save(...)

right after the optimizer step: a checkpoint after every K-th optimizer step and nothing at the
end, so the steps after the last multiple of K are unsaved (the usual bug this makes visible).
Without it the loop saves nothing. The loop as modelled writes no training-loss log: what it
logs is whatever the user prints, so no cadence is invented here.
"""

from __future__ import annotations

from ...setup import Setup
from ..base import Schedule
from ..moments import MarkBuilder, Run, Saving, refuse_foreign, step_locator

NAME = "hand-written PyTorch loop"
KNOBS = frozenset({"save_every_steps"})


def saving(setup: Setup, sched: Schedule, run: Run) -> Saving:
    refuse_foreign(setup, NAME, KNOBS)
    ck = MarkBuilder(step_locator(run.ends, run.batches, sched.grad_accum))
    if setup.save_every_steps is not None:
        ck.every(setup.save_every_steps, setup.save_every_steps, run.total, "periodic")
    return Saving(ck.build(), MarkBuilder(None).build())
