"""The HF Trainer: the code the page and `python -m epochsteps snippet` show for a setup,
with the plan's numbers in its comments."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ...schedules import base_lr
from ...setup import Setup
from ...text import fmt
from ..codegen import literal, monitor
from . import DEFAULT_EPOCHS

if TYPE_CHECKING:  # the plan module imports the conventions
    from ...plan import Plan


def snippet(s: Setup, plan: Plan | None, original: Setup) -> list[str]:
    lines = [
        "from transformers import "
        + ("EarlyStoppingCallback, " if s.patience is not None else "")
        + "Trainer, TrainingArguments",
        "",
    ]
    if s.devices > 1:
        lines.append(f"# launch: torchrun --nproc_per_node={s.devices} train.py")
    args = [
        'output_dir="out"',
        f"per_device_train_batch_size={literal(s.batch_size)}",
        f"gradient_accumulation_steps={literal(s.grad_accum)}",
    ]
    if s.epochs is not None:
        args.append(
            f"num_train_epochs={literal(s.epochs)}" + ("  # ignored: max_steps overrides it" if s.max_steps is not None else "")
        )
    elif s.max_steps is None:
        args.append(f"num_train_epochs={literal(DEFAULT_EPOCHS)}  # the default")
    if s.max_steps is not None:
        args.append(f"max_steps={literal(s.max_steps)}")
    args.append(f"dataloader_drop_last={s.drop_last}")
    if s.eval_every_steps is None:
        args.append('eval_strategy="epoch"')
        if s.patience is not None:
            args.append('save_strategy="epoch"')
    else:
        every = literal(int(s.eval_every_steps) if s.eval_every_steps >= 1 else float(s.eval_every_steps))
        args += [
            'eval_strategy="steps"',
            f"eval_steps={every}" + ("  # a ratio of the total steps" if s.eval_every_steps < 1 else ""),
        ]
        if s.patience is not None:
            args += ['save_strategy="steps"', f"save_steps={every}"]
    args.append(f"learning_rate={literal(base_lr(s))}")
    if s.lr_schedule is not None:
        args.append(f'lr_scheduler_type="{s.lr_schedule}"')
        if s.warmup_steps:
            warmup = int(s.warmup_steps) if s.warmup_steps >= 1 else float(s.warmup_steps)
            args.append(f"warmup_steps={literal(warmup)}" + ("  # a ratio of the total steps" if s.warmup_steps < 1 else ""))
    if s.patience is not None:
        metric, greater = monitor(s)
        args += [
            "load_best_model_at_end=True",
            f'metric_for_best_model="eval_{metric.removeprefix("val_")}"',
            f"greater_is_better={greater}",
        ]
    lines.append("args = TrainingArguments(")
    lines += [f"    {a}," if "  #" not in a else f"    {a.replace('  #', ',  #', 1)}" for a in args]
    lines.append(")")
    lines += [
        "trainer = Trainer(",
        "    model=model,",
        "    args=args,",
        "    train_dataset=train_ds,",
        "    eval_dataset=eval_ds,",
    ]
    if s.patience is not None:
        lines.append(
            f"    callbacks=[EarlyStoppingCallback(early_stopping_patience={literal(s.patience)}, early_stopping_threshold={literal(float(s.min_delta))})],"
        )
    lines.append(")")
    total = f"  # {fmt(plan.planned_optimizer_steps)} optimizer steps (state.global_step)" if plan is not None else ""
    lines.append("trainer.train()" + total)
    return lines
