"""What the conventions' code snippets share: Python literals, HF's learning-rate
multipliers written as a function, and the monitored metric's name."""

from __future__ import annotations

from ..setup import Setup


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
