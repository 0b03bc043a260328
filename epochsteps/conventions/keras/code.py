"""The Keras fit: the code the page and `python -m epochsteps snippet` show for a setup,
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
    lines = ["import keras", ""]
    lr = base_lr(s)
    if s.lr_schedule == "cosine":
        horizon = plan.schedule.lr_horizon if plan is not None else 1
        warmup = int(s.warmup_steps)
        lines.append("# counted in batches (the optimizer's raw counter), not in optimizer steps")
        if warmup:
            lines.append(
                f"learning_rate = keras.optimizers.schedules.CosineDecay(0.0, decay_steps={literal(max(1, horizon - warmup))}, warmup_target={literal(lr)}, warmup_steps={literal(warmup)})"
            )
        else:
            lines.append(f"learning_rate = keras.optimizers.schedules.CosineDecay({literal(lr)}, decay_steps={literal(horizon)})")
    else:
        lines.append(f"learning_rate = {literal(lr)}")
    accum = f", gradient_accumulation_steps={literal(s.grad_accum)}" if s.grad_accum > 1 else ""
    lines.append(f"optimizer = keras.optimizers.AdamW(learning_rate=learning_rate{accum})")
    lines.append('model.compile(optimizer=optimizer, loss="sparse_categorical_crossentropy", metrics=["accuracy"])')
    args = ["x_train", "y_train"]
    note = (
        f"  # the global batch: {fmt(original.batch_size)} per device x {fmt(original.devices)} devices"
        if original.devices > 1
        else ""
    )
    args.append(f"batch_size={literal(s.batch_size)}{note}")
    args.append(f"epochs={literal(int(s.epochs if s.epochs is not None else DEFAULT_EPOCHS))}")
    if s.steps_per_epoch is not None:
        args.append(f"steps_per_epoch={literal(s.steps_per_epoch)}")
    args.append("validation_data=(x_val, y_val)")
    if s.validation_freq != 1:
        args.append(f"validation_freq={literal(s.validation_freq)}")
    if s.patience is not None:
        metric, _ = monitor(s)
        args.append(
            f'callbacks=[keras.callbacks.EarlyStopping(monitor="{metric}", mode="{s.mode}", patience={literal(s.patience)}, '
            f"min_delta={literal(float(s.min_delta))}, start_from_epoch={literal(s.start_from_epoch)}, restore_best_weights=True)]"
        )
    lines.append("history = model.fit(")
    lines += [f"    {a}," if "  #" not in a else f"    {a.replace('  #', ',  #', 1)}" for a in args]
    lines.append(")")
    if plan is not None:
        lines.append(f"# {fmt(plan.planned_optimizer_steps)} optimizer steps (optimizer.iterations)")
    return lines
