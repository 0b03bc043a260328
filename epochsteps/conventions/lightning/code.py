"""The Lightning Trainer: the code the page and `python -m epochsteps snippet` show for a setup,
with the plan's numbers in its comments."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ...schedules import base_lr
from ...setup import Setup
from ...text import fmt
from ..codegen import epochs_of, literal, lr_lambda_lines, monitor
from . import DEFAULT_MAX_EPOCHS

if TYPE_CHECKING:  # the plan module imports the conventions
    from ...plan import Plan


def snippet(s: Setup, plan: Plan | None, original: Setup) -> list[str]:
    lines = []
    if s.lr_schedule == "cosine":
        lines.append("import math")
    lines.append("import lightning as L")
    if s.lr_schedule is not None:
        lines.append("import torch")
    if s.patience is not None:
        lines.append("from lightning.pytorch.callbacks import EarlyStopping")
    lines += ["from torch.utils.data import DataLoader", ""]
    if s.lr_schedule is not None:
        lines += [
            "class LitModel(L.LightningModule):",
            '    # training_step and validation_step (with self.log("val_loss", ...)) go here',
            "",
            "    def configure_optimizers(self):",
            f"        optimizer = torch.optim.AdamW(self.parameters(), lr={literal(base_lr(s))})",
            "        total_steps = self.trainer.estimated_stepping_batches"
            + (f"  # {fmt(plan.schedule.lr_horizon)} here" if plan is not None else ""),
            f"        warmup = {literal(int(s.warmup_steps))}",
            "",
        ]
        lines += lr_lambda_lines(s.lr_schedule, "        ")
        lines += [
            "",
            "        scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lr_lambda)",
            '        return {"optimizer": optimizer, "lr_scheduler": {"scheduler": scheduler, "interval": "step"}}',
            "",
            "",
            "model = LitModel()",
        ]
    note = "  # Lightning adds a DistributedSampler per device" if s.devices > 1 else ""
    lines.append(
        f"train_loader = DataLoader(train_ds, batch_size={literal(s.batch_size)}, shuffle=True, drop_last={s.drop_last}){note}"
    )
    if plan is not None:
        lines.append(f"# {fmt(plan.batches_per_epoch_full)} batches per epoch" + (" on each device" if s.devices > 1 else ""))
    args = []
    epochs = epochs_of(s, DEFAULT_MAX_EPOCHS)
    if epochs is None:
        args.append("max_epochs=-1")
    elif s.epochs is None:
        args.append(f"max_epochs={literal(int(epochs))}  # the default")
    else:
        args.append(f"max_epochs={literal(int(epochs))}")
    if s.max_steps is not None:
        args.append(f"max_steps={literal(s.max_steps)}")
    if s.grad_accum > 1:
        args.append(f"accumulate_grad_batches={literal(s.grad_accum)}")
    if s.devices > 1:
        args += [f"devices={literal(s.devices)}", 'strategy="ddp"']
    if s.val_check_interval is not None:
        args.append(
            f"val_check_interval={literal(s.val_check_interval) if isinstance(s.val_check_interval, int) else repr(float(s.val_check_interval))}"
        )
    if s.check_val_every_n_epoch != 1:
        args.append(f"check_val_every_n_epoch={literal(s.check_val_every_n_epoch)}")
    if s.patience is not None:
        metric, _ = monitor(s)
        args.append(
            f'callbacks=[EarlyStopping(monitor="{metric}", mode="{s.mode}", patience={literal(s.patience)}, min_delta={literal(float(s.min_delta))})]'
        )
    lines.append("trainer = L.Trainer(")
    lines += [f"    {a}," if "  #" not in a else f"    {a.replace('  #', ',  #', 1)}" for a in args]
    lines.append(")")
    total = f"  # {fmt(plan.planned_optimizer_steps)} optimizer steps (trainer.global_step)" if plan is not None else ""
    lines.append("trainer.fit(model, train_loader, val_loader)" + total)
    return lines
