"""The Lightning Trainer: the code the page and `python -m epochsteps snippet` show for a setup,
with the plan's numbers in its comments, and the runnable script that proves them."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ...schedules import base_lr
from ...setup import Setup
from ...text import fmt, plural
from ..codegen import (
    FEATURES,
    STEP_HOOK_IMPORT,
    VAL_SIZE,
    call,
    check_runnable,
    counting_steps,
    epochs_of,
    given_metrics,
    header,
    literal,
    lr_lambda_lines,
    monitor,
    result_line,
    torch_data,
)
from . import DEFAULT_MAX_EPOCHS

if TYPE_CHECKING:  # the plan module imports the conventions
    from ...plan import Plan


def _configure_optimizers(s: Setup, plan: Plan | None) -> list[str]:
    lines = [
        "    def configure_optimizers(self):",
        f"        optimizer = torch.optim.AdamW(self.parameters(), lr={literal(base_lr(s))})",
    ]
    if s.lr_schedule is None:
        return lines + ["        return optimizer"]
    lines += [
        "        total_steps = self.trainer.estimated_stepping_batches"
        + (f"  # {fmt(plan.schedule.lr_horizon)} here" if plan is not None else ""),
        f"        warmup = {literal(int(s.warmup_steps))}",
        "",
    ]
    lines += lr_lambda_lines(s.lr_schedule, "        ")
    return lines + [
        "",
        "        scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lr_lambda)",
        '        return {"optimizer": optimizer, "lr_scheduler": {"scheduler": scheduler, "interval": "step"}}',
    ]


def _trainer_arguments(s: Setup) -> list[str]:
    args = []
    epochs = epochs_of(s, DEFAULT_MAX_EPOCHS)
    if epochs is None:
        args.append("max_epochs=-1  # only max_steps ends the run")
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
        v = s.val_check_interval
        args.append(f"val_check_interval={literal(v) if isinstance(v, int) else repr(float(v))}")
    if s.check_val_every_n_epoch != 1:
        args.append(f"check_val_every_n_epoch={literal(s.check_val_every_n_epoch)}")
    return args


def _early_stopping(s: Setup, metric: str) -> str:
    return f'EarlyStopping(monitor="{metric}", mode="{s.mode}", patience={literal(s.patience)}, min_delta={literal(float(s.min_delta))})'


def _total(plan: Plan) -> str:
    es = plan.early_stop
    if es is not None and es.stopped:
        return f"  # {fmt(plan.planned_optimizer_steps)} optimizer steps planned; early stopping ends at trainer.global_step {fmt(es.stop_global_step)}"
    return f"  # {fmt(plan.total_optimizer_steps)} optimizer steps (trainer.global_step)"


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
            *_configure_optimizers(s, plan),
            "",
            "",
            "model = LitModel()",
        ]
    note = "  # Lightning adds a DistributedSampler per device" if s.devices > 1 else ""
    lines.append(
        f"train_loader = DataLoader(train_ds, batch_size={literal(s.batch_size)}, shuffle=True, drop_last={s.drop_last}){note}"
    )
    if plan is not None:
        lines.append(f"# {plural(plan.batches_per_epoch_full, 'batch', 'batches')} per epoch" + (" on each device" if s.devices > 1 else ""))
    args = _trainer_arguments(s)
    if s.patience is not None:
        args.append(f"callbacks=[{_early_stopping(s, monitor(s)[0])}]")
    lines += call("trainer = L.Trainer", args)
    lines.append("trainer.fit(model, train_loader, val_loader)" + (_total(plan) if plan is not None else ""))
    return lines


def runnable(s: Setup, plan: Plan) -> str:
    """A complete one-device script: the snippet's Trainer on synthetic data, printing what it counted."""
    check_runnable(s, plan)
    early = s.patience is not None
    lines = header(s, plan, "Lightning", "torch and lightning")
    lines += ["import json", "import logging"]
    if s.lr_schedule == "cosine":
        lines.append("import math")
    lines += ["", "import lightning as L", "import torch"]
    if early:
        lines.append("from lightning.pytorch.callbacks import EarlyStopping")
        lines.append("from lightning.pytorch.callbacks.early_stopping import EarlyStoppingReason")
    lines += [
        STEP_HOOK_IMPORT,
        "from torch.utils.data import DataLoader, TensorDataset",
        "",
        'logging.getLogger("lightning.pytorch").setLevel(logging.WARNING)  # quiet: no "GPU available" lines',
        "torch.manual_seed(0)  # the loader's shuffles",
        "",
        "# -- the setup's data and a one-layer model ---------------------------------------",
        *torch_data(s),
        "train_ds = TensorDataset(x_train, y_train)",
        f"val_loader = DataLoader(TensorDataset(x_val, y_val), batch_size={VAL_SIZE})",
    ]
    if early:
        lines += ["", *given_metrics(s, "early stopping watches val_metric")]
    lines += [
        "",
        "",
        "class LitModel(L.LightningModule):",
        "    def __init__(self):",
        "        super().__init__()",
        f"        self.linear = torch.nn.Linear({FEATURES}, 2)",
        "",
        "    def training_step(self, batch, batch_idx):",
        "        x, y = batch",
        "        return torch.nn.functional.cross_entropy(self.linear(x), y)",
        "",
        "    def validation_step(self, batch, batch_idx):",
        "        x, y = batch",
        '        self.log("val_loss", torch.nn.functional.cross_entropy(self.linear(x), y))',
        "",
    ]
    if early:
        lines += [
            "    def on_validation_epoch_end(self):",
            "        if not self.trainer.sanity_checking:  # the check before training is no evaluation",
            '            self.log("val_metric", next(GIVEN_METRICS))  # your value for this evaluation',
            "",
        ]
    lines += [
        *_configure_optimizers(s, plan),
        "",
        "",
        "model = LitModel()",
        "",
        "",
        *counting_steps(),
        "",
        "",
        "class CountValidations(L.Callback):",
        "    def on_validation_end(self, trainer, pl_module):",
        "        if not trainer.sanity_checking:",
        '            counted["eval_global_steps"].append(trainer.global_step)',
        "",
        "",
        "# -- the snippet the page shows, on these objects -------------------------------------",
        f"train_loader = DataLoader(train_ds, batch_size={literal(s.batch_size)}, shuffle=True, drop_last={s.drop_last})",
        f"# {plural(plan.batches_per_epoch_full, 'batch', 'batches')} per epoch",
    ]
    args = _trainer_arguments(s)
    if early:
        lines.append(f"early_stopping = {_early_stopping(s, 'val_metric')}")
        args.append("callbacks=[early_stopping, CountValidations()]")
    else:
        args.append("callbacks=[CountValidations()]")
    args += [
        'accelerator="cpu"',
        "devices=1",
        "logger=False  # quiet and nothing written: no effect on the counts",
        "enable_checkpointing=False",
        "enable_progress_bar=False",
        "enable_model_summary=False",
    ]
    lines += call("trainer = L.Trainer", args)
    lines += ["trainer.fit(model, train_loader, val_loader)" + _total(plan), ""]
    stop = "trainer.global_step if early_stopping.stopping_reason != EarlyStoppingReason.NOT_STOPPED else None"
    lines.append(result_line(stop if early else "None"))
    return "\n".join(lines) + "\n"
