"""The HF Trainer: the code the page and `python -m epochsteps snippet` show for a setup,
with the plan's numbers in its comments, and the runnable script that proves them."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ...schedules import base_lr
from ...setup import Setup
from ...text import fmt
from ..codegen import (
    FEATURES,
    STEP_HOOK_IMPORT,
    call,
    check_runnable,
    counting_steps,
    given_metrics,
    header,
    literal,
    monitor,
    result_line,
    torch_data,
)
from . import DEFAULT_EPOCHS

if TYPE_CHECKING:  # the plan module imports the conventions
    from ...plan import Plan


def _arguments(s: Setup, metric: str) -> list[str]:
    """TrainingArguments that reproduce the plan; `metric` is the one early stopping watches."""
    args = [
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
        args += [
            "load_best_model_at_end=True",
            f'metric_for_best_model="{metric}"',
            f"greater_is_better={s.mode == 'max'}",
        ]
    return args


def _early_stopping(s: Setup) -> str:
    return f"EarlyStoppingCallback(early_stopping_patience={literal(s.patience)}, early_stopping_threshold={literal(float(s.min_delta))})"


def _total(plan: Plan) -> str:
    es = plan.early_stop
    if es is not None and es.stopped:
        return f"  # {fmt(plan.planned_optimizer_steps)} optimizer steps planned (state.max_steps); early stopping ends at state.global_step {fmt(es.stop_global_step)}"
    return f"  # {fmt(plan.total_optimizer_steps)} optimizer steps (state.global_step)"


def snippet(s: Setup, plan: Plan | None, original: Setup) -> list[str]:
    lines = [
        "from transformers import "
        + ("EarlyStoppingCallback, " if s.patience is not None else "")
        + "Trainer, TrainingArguments",
        "",
    ]
    if s.devices > 1:
        lines.append(f"# launch: torchrun --nproc_per_node={s.devices} train.py (one process per device)")
    metric, _ = monitor(s)
    lines += call("args = TrainingArguments", ['output_dir="out"', *_arguments(s, f"eval_{metric.removeprefix('val_')}")])
    trainer = ["model=model", "args=args", "train_dataset=train_ds", "eval_dataset=eval_ds"]
    if s.patience is not None:
        trainer.append(f"callbacks=[{_early_stopping(s)}]")
    lines += call("trainer = Trainer", trainer)
    lines.append("trainer.train()" + (_total(plan) if plan is not None else ""))
    return lines


def runnable(s: Setup, plan: Plan) -> str:
    """A complete one-device script: the snippet's Trainer on synthetic data, printing what it counted."""
    check_runnable(s, plan)
    early = s.patience is not None
    lines = header(s, plan, "the Hugging Face Trainer", "torch, transformers and accelerate")
    lines += [
        "import json",
        "import shutil",
        "import tempfile",
        "",
        "import torch",
        "import transformers",
        STEP_HOOK_IMPORT,
        "from transformers import " + ("EarlyStoppingCallback, " if early else "") + "Trainer, TrainerCallback, TrainingArguments",
        "",
        "transformers.logging.set_verbosity_error()  # quiet: errors only",
        "",
        "# -- the setup's data and a one-layer model ---------------------------------------",
        *torch_data(s),
        "",
        "",
        "class Samples(torch.utils.data.Dataset):",
        "    def __init__(self, x, y):",
        "        self.x, self.y = x, y",
        "",
        "    def __len__(self):",
        "        return len(self.y)",
        "",
        "    def __getitem__(self, i):",
        '        return {"x": self.x[i], "labels": self.y[i]}',
        "",
        "",
        "class OneLayer(torch.nn.Module):",
        "    def __init__(self):",
        "        super().__init__()",
        f"        self.linear = torch.nn.Linear({FEATURES}, 2)",
        "",
        "    def forward(self, x, labels):",
        "        logits = self.linear(x)",
        '        return {"loss": torch.nn.functional.cross_entropy(logits, labels), "logits": logits}',
        "",
        "",
        "train_ds = Samples(x_train, y_train)",
        "eval_ds = Samples(x_val, y_val)",
        "model = OneLayer()",
    ]
    if early:
        lines += [
            "",
            *given_metrics(s, "early stopping watches eval_metric"),
            "",
            "",
            "def compute_metrics(prediction):",
            '    return {"metric": next(GIVEN_METRICS)}  # the Trainer names it eval_metric',
        ]
    lines += [
        "",
        "",
        *counting_steps(),
        "",
        "",
        "class CountEvaluations(TrainerCallback):",
        "    def on_evaluate(self, args, state, control, **kwargs):",
        '        counted["eval_global_steps"].append(state.global_step)',
        "",
        "",
        "# -- the snippet the page shows, on these objects -------------------------------------",
        "output_dir = tempfile.mkdtemp()  # checkpoints go here; removed at the end",
    ]
    args = [
        "output_dir=output_dir",
        *_arguments(s, "eval_metric"),
        "use_cpu=True  # one device: several GPUs in one process would make the Trainer use DataParallel",
        'report_to="none"',
        "disable_tqdm=True  # quiet: no progress bar",
    ]
    lines += call("args = TrainingArguments", args)
    trainer = ["model=model", "args=args", "train_dataset=train_ds", "eval_dataset=eval_ds"]
    if early:
        lines.append(f"early_stopping = {_early_stopping(s)}")
        trainer += ["compute_metrics=compute_metrics", "callbacks=[early_stopping, CountEvaluations()]"]
    else:
        trainer.append("callbacks=[CountEvaluations()]")
    lines += call("trainer = Trainer", trainer)
    lines += [
        "trainer.remove_callback(transformers.PrinterCallback)  # quiet: no printed logs",
        "trainer.train()" + _total(plan),
        "shutil.rmtree(output_dir)",
        "",
    ]
    if early:
        lines += [
            "# the callback's own test, which it makes after every evaluation",
            'stopped = bool(counted["eval_global_steps"]) and early_stopping.early_stopping_patience_counter >= early_stopping.early_stopping_patience',
        ]
    lines.append(result_line("trainer.state.global_step if stopped else None" if early else "None"))
    return "\n".join(lines) + "\n"
