"""The Keras fit: the code the page and `python -m epochsteps snippet` show for a setup,
with the plan's numbers in its comments, and the runnable script that proves them."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ...schedules import base_lr
from ...setup import Setup
from ...text import fmt
from ..codegen import FEATURES, VAL_SIZE, call, check_runnable, given_metrics, header, literal, monitor
from . import DEFAULT_EPOCHS

if TYPE_CHECKING:  # the plan module imports the conventions
    from ...plan import Plan


def _optimizer(s: Setup, plan: Plan | None) -> list[str]:
    lines = []
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
    return lines


def _fit_arguments(s: Setup, original: Setup) -> list[str]:
    args = ["x_train", "y_train"]
    note = (
        f"  # the global batch: {fmt(original.batch_size)} per device x {fmt(original.devices)} devices"
        if original.devices > 1
        else ""
    )
    args.append(f"batch_size={literal(s.batch_size)}{note}")
    if s.epochs is None:
        args.append(f"epochs={literal(DEFAULT_EPOCHS)}  # the default")
    else:
        args.append(f"epochs={literal(int(s.epochs))}")
    if s.steps_per_epoch is not None:
        args.append(f"steps_per_epoch={literal(s.steps_per_epoch)}")
    args.append("validation_data=(x_val, y_val)")
    if s.validation_freq != 1:
        args.append(f"validation_freq={literal(s.validation_freq)}")
    return args


def _early_stopping(s: Setup, metric: str) -> str:
    return (
        f'keras.callbacks.EarlyStopping(monitor="{metric}", mode="{s.mode}", patience={literal(s.patience)}, '
        f"min_delta={literal(float(s.min_delta))}, start_from_epoch={literal(s.start_from_epoch)}, restore_best_weights=True)"
    )


def _total(plan: Plan) -> str:
    es = plan.early_stop
    if es is not None and es.stopped:
        return f"# {fmt(plan.planned_optimizer_steps)} optimizer steps planned; early stopping ends at optimizer.iterations {fmt(es.stop_global_step)}"
    return f"# {fmt(plan.total_optimizer_steps)} optimizer steps (optimizer.iterations)"


def snippet(s: Setup, plan: Plan | None, original: Setup) -> list[str]:
    lines = ["import keras", "", *_optimizer(s, plan)]
    args = _fit_arguments(s, original)
    if s.patience is not None:
        args.append(f"callbacks=[{_early_stopping(s, monitor(s)[0])}]")
    lines += call("history = model.fit", args)
    if plan is not None:
        lines.append(_total(plan))
    return lines


def runnable(s: Setup, plan: Plan) -> str:
    """A complete script: the snippet's fit on synthetic data, printing what Keras counted."""
    check_runnable(s, plan)
    early = s.patience is not None
    lines = header(s, plan, "Keras", "keras 3 with a backend (torch here; any backend counts the same)")
    lines += [
        "import json",
        "import os",
        "",
        'os.environ.setdefault("KERAS_BACKEND", "torch")  # the backend this script was checked with',
        "import keras",
        "import numpy as np",
        "",
        "keras.utils.set_random_seed(0)  # the shuffles",
        "",
        "# -- the setup's data and a one-layer model ---------------------------------------",
        "rng = np.random.default_rng(0)",
        f'x_train = rng.standard_normal(({literal(s.dataset_size)}, {FEATURES})).astype("float32")',
        'y_train = (x_train[:, 0] > 0).astype("int64")  # a label the model can learn',
        f'x_val = rng.standard_normal(({VAL_SIZE}, {FEATURES})).astype("float32")',
        'y_val = (x_val[:, 0] > 0).astype("int64")',
        f'model = keras.Sequential([keras.Input(({FEATURES},)), keras.layers.Dense(2, activation="softmax")])',
    ]
    if early:
        lines += [
            "",
            *given_metrics(s, "early stopping watches val_metric"),
            "",
            "",
            "class GivenMetric(keras.callbacks.Callback):",
            "    def on_epoch_end(self, epoch, logs=None):",
            '        if "val_loss" in logs:  # a validation epoch',
            '            logs["val_metric"] = next(GIVEN_METRICS)  # your value for this evaluation',
        ]
    lines += [
        "",
        "",
        "# -- counting, not training -------------------------------------------------------",
        'counted = {"eval_global_steps": []}',
        "",
        "",
        "class CountValidations(keras.callbacks.Callback):",
        "    def on_epoch_end(self, epoch, logs=None):",
        '        if "val_loss" in logs:',
        '            counted["eval_global_steps"].append(int(self.model.optimizer.iterations))  # optimizer steps so far',
        "",
        "",
        "# -- the snippet the page shows, on these objects -------------------------------------",
        *_optimizer(s, plan),
    ]
    args = _fit_arguments(s, s)
    if early:
        lines.append(f"early_stopping = {_early_stopping(s, 'val_metric')}")
        args.append("callbacks=[GivenMetric(), early_stopping, CountValidations()]  # in this order: the metric first")
    else:
        args.append("callbacks=[CountValidations()]")
    args.append("verbose=0  # quiet: no progress bar")
    lines += call("history = model.fit", args)
    lines += [_total(plan), ""]
    lines.append(
        'print(json.dumps({"total_optimizer_steps": int(optimizer.iterations), "eval_global_steps": counted["eval_global_steps"], '
        f'"stop_global_step": {"int(optimizer.iterations) if model.stop_training else None" if early else "None"}}}))'
        + ("  # stop_training: set by EarlyStopping" if early else "")
    )
    return "\n".join(lines) + "\n"
