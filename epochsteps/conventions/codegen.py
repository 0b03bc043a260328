"""What the conventions' code snippets and runnable scripts share: Python literals, HF's
learning-rate multipliers written as a function, the monitored metric's name, and the parts
of a runnable script (header, synthetic data, given metrics, counting hooks, result line)."""

from __future__ import annotations

import json
import math
from dataclasses import fields
from typing import TYPE_CHECKING

from ..setup import Setup, SetupError
from ..text import fmt, plural

if TYPE_CHECKING:  # the plan module imports the conventions
    from ..plan import Plan


def literal(x) -> str:
    """A Python literal; ints with underscores as thousands separators."""
    if isinstance(x, bool):
        return repr(x)
    if isinstance(x, int):
        return f"{x:_}"
    if isinstance(x, float):
        return f"{int(x):_}.0" if x == int(x) and abs(x) < 1e15 else repr(x)
    if isinstance(x, tuple):
        return "[" + ", ".join(literal(v) for v in x) + "]"
    return repr(x)


def lr_lambda_lines(kind: str, indent: str) -> list[str]:
    """HF's multipliers (schedules.hf_multiplier) of s completed steps as a Python function."""
    body = [
        "def lr_lambda(step):  # step = optimizer steps already taken",
        "    if step < warmup:",
        "        return step / max(1, warmup)",
    ]
    if kind == "linear":
        body.append("    return max(0.0, (total_steps - step) / max(1, total_steps - warmup))")
    elif kind == "cosine":
        body += [
            "    progress = (step - warmup) / max(1, total_steps - warmup)",
            "    return max(0.0, 0.5 * (1.0 + math.cos(math.pi * progress)))",
        ]
    else:
        body = ["def lr_lambda(step):", "    return 1.0"] if kind == "constant" else body + ["    return 1.0"]
    return [indent + line for line in body]


def monitor(setup: Setup) -> tuple[str, bool]:
    return ("val_loss", False) if setup.mode == "min" else ("val_accuracy", True)


def epochs_of(setup: Setup, default: float) -> float | None:
    """The epoch count the framework runs with; None when only max_steps bounds the run."""
    if setup.epochs is not None:
        return setup.epochs
    return None if setup.max_steps is not None else default


# -- runnable scripts (`python -m epochsteps snippet --runnable`) ---------------------------
FEATURES = 8  # inputs of the synthetic samples
VAL_SIZE = 32  # validation samples; a validation pass is one small batch of work


def check_runnable(setup: Setup, plan: Plan) -> None:
    """What a runnable script cannot prove: several devices, or too few metric values."""
    if setup.devices > 1:
        raise SetupError(
            "devices",
            setup.devices,
            "a runnable script runs on one device, and with one device it would count another setup; "
            "the snippet without --runnable shows the multi-device code and its launch",
        )
    es = plan.early_stop
    if es is not None and es.metrics_ran_out_at is not None:
        raise SetupError(
            "metrics",
            f"{len(setup.metrics)} values",
            f"evaluation {fmt(es.metrics_ran_out_at + 1)} needs a value: the script feeds one per evaluation",
        )


def proof(plan: Plan) -> dict:
    """What a runnable script prints last, as the plan predicts it."""
    es = plan.early_stop
    return {
        "total_optimizer_steps": plan.total_optimizer_steps,
        "eval_global_steps": plan.evaluations.global_step.tolist(),
        "stop_global_step": es.stop_global_step if es is not None and es.stopped else None,
    }


def flags(setup: Setup) -> list[str]:
    """The `python -m epochsteps` flags of `setup` (defaults left out; `mode` has no flag)."""
    out = []
    for f in sorted(fields(setup), key=lambda f: f.name != "framework"):
        value = getattr(setup, f.name)
        if f.name == "mode" or value == f.default or (f.name == "metrics" and not value):
            continue
        flag = "--" + f.name.replace("_", "-")
        if isinstance(value, bool):
            out.append(flag)
        elif value is None:
            out += [flag, "none"]
        elif isinstance(value, tuple):
            out += [flag, ",".join(repr(float(v)) if f.name == "metrics" else str(v) for v in value)]
        elif isinstance(value, float) and (f.name == "val_check_interval" or value != int(value)):
            out += [flag, repr(value)]  # repr keeps Lightning's 1.0 (a fraction) apart from 1 (batches)
        else:
            out += [flag, str(int(value)) if isinstance(value, float) else str(value)]
    return out


def header(setup: Setup, plan: Plan, title: str, needs: str) -> list[str]:
    """The script's docstring: the setup, how to run it, and what the plan predicts."""
    batches = int(plan.batches.sum())
    mode = "  (mode max: higher is better)" if setup.mode == "max" else ""
    return [
        f'"""Runnable proof: {title} counts this setup itself.',
        "",
        f"Setup: python -m epochsteps plan {' '.join(flags(setup))}{mode}",
        f"It trains a one-layer model on {plural(setup.dataset_size, 'synthetic sample')} ({plural(batches, 'batch', 'batches')}"
        f" in all) on one device; it needs {needs}.",
        "Run it with `python this_file.py`: its last line of output is what the framework counted,",
        "and the plan says:",
        "",
        "    " + json.dumps(proof(plan)),
        '"""',
    ]


def metric_literal(value: float) -> str:
    value = float(value)
    return repr(value) if math.isfinite(value) else f'float("{value}")'


def given_metrics(setup: Setup, what: str) -> list[str]:
    """The --metrics values as an iterator the validation pass draws from, one per evaluation."""
    values = ", ".join(metric_literal(v) for v in setup.metrics)
    return [
        f"# {what}: the --metrics values, one per evaluation, in place of a real validation score",
        f"GIVEN_METRICS = iter([{values}])",
    ]


def torch_data(setup: Setup, validates: bool = True) -> list[str]:
    """Seeded synthetic tensors: exactly `dataset_size` training samples with a learnable label."""
    lines = [
        "generator = torch.Generator().manual_seed(0)",
        f"x_train = torch.randn({literal(setup.dataset_size)}, {FEATURES}, generator=generator)",
        "y_train = (x_train[:, 0] > 0).long()  # a label the model can learn",
    ]
    if validates:
        lines += [f"x_val = torch.randn({VAL_SIZE}, {FEATURES}, generator=generator)", "y_val = (x_val[:, 0] > 0).long()"]
    return lines


STEP_HOOK_IMPORT = "from torch.optim.optimizer import register_optimizer_step_pre_hook"


def counting_steps() -> list[str]:
    """A global optimizer step pre-hook (the script has STEP_HOOK_IMPORT)."""
    return [
        "# -- counting, not training -------------------------------------------------------",
        'counted = {"optimizer_steps": 0, "eval_global_steps": []}',
        "",
        "",
        "def count_step(optimizer, args, kwargs):",
        '    counted["optimizer_steps"] += 1',
        "",
        "",
        "register_optimizer_step_pre_hook(count_step)  # every optimizer.step() of any torch optimizer",
    ]


def result_line(stop_global_step: str) -> str:
    return (
        'print(json.dumps({"total_optimizer_steps": counted["optimizer_steps"], '
        f'"eval_global_steps": counted["eval_global_steps"], "stop_global_step": {stop_global_step}}}))'
    )


def call(name: str, args: list[str], indent: str = "") -> list[str]:
    """`name(` one argument a line `)`; an argument's '  # comment' goes after its comma."""
    lines = [f"{indent}{name}("]
    for a in args:
        code, sep, comment = a.partition("  #")
        lines.append(f"{indent}    {code},{sep}{comment}")
    return lines + [f"{indent})"]
