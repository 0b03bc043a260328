"""When the HF Trainer writes checkpoints and logs the training loss (transformers 5.24).

- `DefaultFlowCallback.on_step_end` (trainer_callback.py L568), after every optimizer step:
  log on step 1 with `logging_first_step` (whatever the strategy) and every `logging_steps`
  ("steps"); save every `save_steps` ("steps", save_steps > 0); at `global_step >= max_steps`
  a "steps" save is forced. `on_epoch_end` (L608): log and save for the "epoch" strategies, also
  at the end of a cut last epoch (max_steps, a fractional epoch, early stopping).
- `TrainerState.compute_steps` (L156): a value below 1 is ceil(max_steps * ratio).
- `Trainer._maybe_log_save_evaluate` (trainer.py L2238): it logs only when
  `global_step > _globalstep_last_logged` (once per step, never at step 0), evaluates, then for
  `save_strategy="best"` saves iff `_determine_best_metric` (L3432) found a strict improvement.
- `Trainer._save_checkpoint` (L3363): `best_model_checkpoint` becomes checkpoint-{best_global_step}
  when that folder exists, i.e. when the best evaluation's step was saved; `_finalize_training`
  (L2024) loads it with `load_best_model_at_end`. `best_global_step` moves only with a save
  strategy other than "no", and step 0 never counts (it is falsy).
"""

from __future__ import annotations

import numpy as np

from ...setup import Setup
from ..base import Schedule
from ..moments import MarkBuilder, Run, Saving, metric_values, refuse_foreign, step_locator
from . import args

NAME = "HF Trainer"
KNOBS = frozenset({"eval_strategy", "save_strategy", "save_steps", "logging_strategy", "logging_steps", "logging_first_step", "load_best_model_at_end"})


def saving(setup: Setup, sched: Schedule, run: Run) -> Saving:
    refuse_foreign(setup, NAME, KNOBS)
    max_steps = sched.lr_horizon  # state.max_steps: the scheduler's horizon is the same number
    ends, total = run.ends, run.total
    locate = step_locator(ends, run.batches, sched.grad_accum)
    epochs = np.arange(len(run.batches), dtype=np.int64)

    ck = MarkBuilder(locate)
    strategy = args.save_strategy(setup)
    saved_at = np.zeros(0, dtype=np.int64)
    best_mask, short = _new_bests(setup, run)
    if strategy == "steps":
        every = args.absolute(args.save_steps(setup), max_steps)
        if every > 0:
            ck.every(every, every, total, "periodic")
        forced = total >= max_steps and total > 0 and (every <= 0 or total % every)
        if forced:
            ck.steps([total], "final_step")
        saved = lambda gs: ((gs % every == 0) if every > 0 else np.zeros(gs.shape, bool)) | ((gs == total) & bool(total >= max_steps))  # noqa: E731
    elif strategy == "epoch":
        ck.at(ends, epochs, run.batches, "epoch_end")
        saved = lambda gs: np.isin(gs, ends)  # noqa: E731
    elif strategy == "best":
        ev = run.evaluations.take(best_mask)
        ck.at(ev.global_step, ev.epoch, ev.batches_done, "best")
        saved_at = ev.global_step
        saved = lambda gs: np.isin(gs, saved_at)  # noqa: E731
    else:
        saved = lambda gs: np.zeros(gs.shape, bool)  # noqa: E731

    best = None
    if setup.load_best_model_at_end and strategy != "no":
        gs = run.evaluations.global_step[best_mask]
        hit = gs[(gs > 0) & saved(gs)]
        best = int(hit[-1]) if len(hit) else None
    return Saving(
        checkpoints=ck.build(),
        logs=_logs(setup, run, max_steps, locate, epochs),
        loads_best=setup.load_best_model_at_end,
        best_checkpoint_global_step=best,
        metrics_ran_out_at=short,
        notes=_notes(setup),
    )


def _new_bests(setup: Setup, run: Run) -> tuple[np.ndarray, int | None]:
    """`_determine_best_metric`: np.less (np.greater) against state.best_metric, +-inf at first, strict, float64."""
    n = len(run.evaluations)
    mask = np.zeros(n, dtype=bool)
    if not (args.save_strategy(setup) == "best" or setup.load_best_model_at_end):
        return mask, None
    values, short = metric_values(run, run.evaluations.metric_index)
    better = np.greater if setup.mode == "max" else np.less  # greater_is_better
    best = -np.inf if setup.mode == "max" else np.inf
    for i, v in enumerate(values):
        if v is None:
            break
        if better(v, best):
            best, mask[i] = v, True
    return mask, short


def _logs(setup: Setup, run: Run, max_steps: int, locate, epochs: np.ndarray):
    logs = MarkBuilder(locate)
    total, ends = run.total, run.ends
    strategy = args.logging_strategy(setup)
    first = setup.logging_first_step and total >= 1
    if strategy == "steps":
        every = args.absolute(args.logging_steps(setup), max_steps)
        if first and every != 1:
            logs.steps([1], "first_step")
        logs.every(every, every, total, "periodic")
    elif strategy == "epoch":
        gs = np.concatenate(([1], ends)) if first else ends
        ep = np.concatenate(([0], epochs)) if first else epochs
        done = np.concatenate((locate(np.array([1]))[1], run.batches)) if first else run.batches
        why = np.array(["first_step"] * int(first) + ["epoch_end"] * len(ends))
        keep = gs > np.concatenate(([0], np.maximum.accumulate(gs)[:-1]))  # global_step > _globalstep_last_logged
        logs.at(gs[keep], ep[keep], done[keep], tuple(str(w) for w in why[keep]))
    elif first:
        logs.steps([1], "first_step")
    return logs.build()


def _notes(setup: Setup) -> tuple[str, ...]:
    if setup.eval_every_steps is not None and args.eval_strategy(setup) != "steps":
        return (f"eval_steps is read only with eval_strategy='steps'; with '{args.eval_strategy(setup)}' the Trainer ignores it.",)
    return ()
