"""`TrainingArguments` as the Trainer resolves them (transformers 5.24, training_args.py): the
evaluation, save and logging strategies with HF's defaults, and what `__post_init__` refuses.
"""

from __future__ import annotations

import math

from ...setup import Setup
from ..base import refuse

# TrainingArguments field defaults (training_args.py, the dataclass fields)
SAVE_STRATEGY = "steps"
SAVE_STEPS = 500
LOGGING_STRATEGY = "steps"
LOGGING_STEPS = 500


def eval_strategy(setup: Setup) -> str:
    """HF's own default is "no"; without --eval-strategy we keep the CLI's documented
    cadence: "steps" when eval_every_steps is given, else "epoch"."""
    if setup.eval_strategy is not None:
        return setup.eval_strategy
    return "steps" if setup.eval_every_steps is not None else "epoch"


def eval_steps(setup: Setup) -> float:
    """`__post_init__` (L1574): an unset eval_steps falls back to logging_steps."""
    return setup.eval_every_steps if setup.eval_every_steps is not None else logging_steps(setup)


def save_strategy(setup: Setup) -> str:
    return setup.save_strategy or SAVE_STRATEGY


def save_steps(setup: Setup) -> float:
    return SAVE_STEPS if setup.save_steps is None else setup.save_steps


def logging_strategy(setup: Setup) -> str:
    return setup.logging_strategy or LOGGING_STRATEGY


def logging_steps(setup: Setup) -> float:
    return LOGGING_STEPS if setup.logging_steps is None else setup.logging_steps


def absolute(value: float, total: int) -> int:
    """`TrainerState.compute_steps` (trainer_callback.py L156): below 1 is ceil(max_steps * ratio) in float64."""
    return math.ceil(total * value) if value < 1 else int(value)


def _whole(value: float) -> float:
    return int(value) if value > 1 and value == int(value) else value


def check(setup: Setup) -> None:
    """What `TrainingArguments.__post_init__` / `_validate_args` (L1723) and the Trainer refuse, in their order."""
    ev, sv, lg = eval_strategy(setup), save_strategy(setup), logging_strategy(setup)
    if ev == "steps" and setup.eval_every_steps is None and logging_steps(setup) <= 0:
        raise refuse(setup, "logging_steps", "HF Trainer refuses: evaluation strategy steps requires either non-zero --eval_steps or --logging_steps")
    if lg == "steps" and logging_steps(setup) == 0:
        raise refuse(setup, "logging_steps", "HF Trainer refuses: logging strategy steps requires non-zero --logging_steps")
    for name, strategy, value in (
        ("logging_steps", lg, logging_steps(setup)),
        ("eval_every_steps", ev, eval_steps(setup)),
        ("save_steps", sv, save_steps(setup)),
    ):
        if strategy == "steps" and value > 1 and value != int(value):
            flag = "eval_steps" if name == "eval_every_steps" else name
            raise refuse(setup, name, f"HF Trainer refuses: --{flag} must be an integer if bigger than 1 (TrainingArguments)")
    if setup.load_best_model_at_end and sv != "best":
        if ev != sv:
            raise refuse(
                setup, "load_best_model_at_end",
                f'HF Trainer refuses: --load_best_model_at_end requires the save and eval strategy to match, except when --save_strategy="best", but found eval_strategy={ev} and save_strategy={sv}',
            )
        save, every = _whole(save_steps(setup)), _whole(eval_steps(setup))
        if ev == "steps" and save % every != 0:
            if every < 1 or save < 1:
                if not (every < 1 and save < 1):
                    raise refuse(
                        setup, "save_steps",
                        f"HF Trainer refuses: --load_best_model_at_end requires the saving steps to be a multiple of the evaluation steps, which cannot get guaranteed when mixing ratio and absolute steps for save_steps {save} and eval_steps {every}",
                    )
                if (save * 1_000_000) % (every * 1_000_000) != 0:
                    raise refuse(
                        setup, "save_steps",
                        f"HF Trainer refuses: --load_best_model_at_end requires the saving steps to be a multiple of the evaluation steps, but found {save}, which is not a multiple of {every}",
                    )
            else:
                raise refuse(
                    setup, "save_steps",
                    f"HF Trainer refuses: --load_best_model_at_end requires the saving steps to be a round multiple of the evaluation steps, but found {save}, which is not a round multiple of {every}",
                )
    if setup.patience is not None and ev == "no":
        # EarlyStoppingCallback.on_train_begin (trainer_callback.py L754)
        raise refuse(setup, "patience", "HF Trainer refuses: EarlyStoppingCallback requires IntervalStrategy of steps or epoch (eval_strategy is 'no')")
