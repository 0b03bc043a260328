"""The page's controls as data: their table, presets and slider stops, which of them a
framework has, impossible combinations fixed, and the Setup and plan they make.

Pure (no Streamlit), so the page, the tests and a notebook agree on what a set of control
values means. Parsing them from a link and writing them back is `urlstate`'s job.

    outcome = values_to_setup({**DEFAULTS, "batch_size": 64})  # Outcome(setup, plan, explanation, notes)
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .conventions import CONVENTIONS, Convention
from .evaluation import illustrative_curve, parse_metrics
from .plan import Plan, make_plan
from .setup import FRAMEWORKS, LR_SCHEDULES, Setup, SetupError
from .text import echo, fmt, plural
from .tokens import TokenData

MAX_TEXT = 20_000  # pasted metric values carried in the URL


MAX_CURVE = 100_000  # Setup.metrics holds at most this many values


def _log_stops(top: int, mantissas: tuple[int, ...] = (1, 2, 5)) -> tuple[int, ...]:
    """1, 2, 5, 10, 20, 50, ... up to `top`: even steps on a log scale."""
    out, decade = [], 1
    while decade <= top:
        out += [m * decade for m in mantissas if m * decade <= top]
        decade *= 10
    return tuple(out)


DATASET_STOPS = _log_stops(10**9)


# powers of two (what people pick) and the textbook's round 10 and 100
BATCH_STOPS = tuple(sorted({2**k for k in range(21)} | {10, 100}))


EPOCH_STOPS = _log_stops(10**4, (1, 2, 3, 5))
TOKEN_STOPS = _log_stops(10**13)


@dataclass(frozen=True)
class Control:
    key: str
    kind: str  # int | float | bool | choice | text | interval (Lightning's int-or-fraction)
    default: Any
    low: float | None = None
    high: float | None = None
    allowed: tuple = ()
    stops: tuple[int, ...] = ()  # log-scale slider stops
    optional: bool = False  # None is a value ("none" or empty in the URL)
    label: str = ""


CONTROLS: dict[str, Control] = {
    c.key: c
    for c in (
        Control("dataset_size", "int", 10_000, 1, 10**9, stops=DATASET_STOPS, label="Dataset size (samples)"),
        Control("batch_size", "int", 100, 1, 10**9, stops=BATCH_STOPS, label="Batch size (per device)"),
        Control("epochs", "int", 10, 1, 10**4, stops=EPOCH_STOPS, label="Epochs"),
        Control("data_unit", "choice", "samples", allowed=("samples", "tokens"), label="Dataset given in"),
        Control("dataset_tokens", "int", 100_000_000, 1, 10**13, stops=TOKEN_STOPS, label="Dataset size (tokens)"),
        Control("documents", "int", 100_000, 1, 10**9, stops=DATASET_STOPS, label="Documents"),
        Control("tokens_per_document", "int", 512, 1, 10**9, label="Tokens per document (mean)"),
        Control("seq_len", "int", 1024, 1, 10**6, label="Sequence length (tokens per sample)"),
        Control("packing", "bool", True, label="Packing: concatenate the texts and cut them into sequences"),
        Control("token_budget", "int", None, 1, 10**15, optional=True, label="Token budget (tokens to train)"),
        Control("seconds_per_step", "float", None, 0, 10**6, optional=True, label="Seconds per optimizer step"),
        Control("samples_per_second", "float", None, 0, 10**9, optional=True, label="Samples per second (all devices)"),
        Control("framework", "choice", "pytorch", allowed=FRAMEWORKS, label="Framework convention"),
        Control("drop_last", "bool", False, label="drop_last"),
        Control("grad_accum", "int", 1, 1, 10**5, label="Gradient accumulation steps"),
        Control("devices", "int", 1, 1, 10**5, label="Devices (data parallel)"),
        Control("max_steps", "int", None, 1, 10**13, optional=True, label="max_steps"),
        Control("eval_every_steps", "float", None, 0, 10**13, optional=True, label="eval_every_steps"),
        Control("val_check_interval", "interval", None, 0, 10**13, optional=True, label="val_check_interval"),
        Control("check_val_every_n_epoch", "int", 1, 1, 10**4, optional=True, label="check_val_every_n_epoch"),
        Control("validation_freq", "int", 1, 1, 10**4, label="validation_freq"),
        Control("steps_per_epoch", "int", None, 1, 10**12, optional=True, label="steps_per_epoch"),
        Control("start_from_epoch", "int", 0, 0, 10**4, label="start_from_epoch"),
        # checkpoints and training-loss logs: each framework's own arguments (None: the framework's default)
        Control("eval_strategy", "choice", None, allowed=("no", "epoch", "steps"), optional=True, label="eval_strategy"),
        Control("save_strategy", "choice", None, allowed=("no", "epoch", "steps", "best"), optional=True, label="save_strategy"),
        Control("save_steps", "float", None, 0, 10**13, optional=True, label="save_steps (below 1: a ratio of the run)"),
        Control("logging_strategy", "choice", None, allowed=("no", "epoch", "steps"), optional=True, label="logging_strategy"),
        Control("logging_steps", "float", None, 0, 10**13, optional=True, label="logging_steps (below 1: a ratio of the run)"),
        Control("logging_first_step", "bool", False, label="logging_first_step"),
        Control("load_best_model_at_end", "bool", False, label="load_best_model_at_end"),
        Control("every_n_train_steps", "int", None, 1, 10**13, optional=True, label="ModelCheckpoint every_n_train_steps"),
        Control("every_n_epochs", "int", None, 1, 10**4, optional=True, label="ModelCheckpoint every_n_epochs"),
        Control("save_last", "bool", False, label="ModelCheckpoint save_last"),
        Control("save_top_k", "int", None, -1, 10**4, optional=True, label="ModelCheckpoint save_top_k (-1: keep all)"),
        Control("monitor", "choice", None, allowed=("val_loss",), optional=True, label="ModelCheckpoint monitor"),
        Control("log_every_n_steps", "int", None, 0, 10**13, optional=True, label="log_every_n_steps"),
        Control("min_epochs", "int", None, 1, 10**4, optional=True, label="min_epochs"),
        Control("min_steps", "int", None, 1, 10**13, optional=True, label="min_steps"),
        Control("limit_train_batches", "interval", None, 0, 10**13, optional=True, label="limit_train_batches"),
        Control("save_freq", "text", "", high=20, label="ModelCheckpoint save_freq ('epoch' or a number of batches)"),
        Control("save_best_only", "bool", False, label="ModelCheckpoint save_best_only"),
        Control("save_every_steps", "int", None, 1, 10**13, optional=True, label="Save a checkpoint every this many optimizer steps"),
        Control("early_stopping", "bool", False, label="Early stopping"),
        Control("patience", "int", 3, 0, 10**4, label="Patience (evaluations)"),
        Control("min_delta", "float", 0.0, 0, 1e6, label="min_delta"),
        Control("metric_source", "choice", "curve", allowed=("curve", "pasted", "lab"), label="Validation metric"),
        Control("seed", "int", 0, 0, 2**31 - 1, label="Seed"),
        Control("noise", "float", 0.02, 0, 0.5, label="Noise"),
        Control("overfit_at", "float", 0.6, 0, 1, label="Overfitting starts at (fraction of the run)"),
        Control("metrics_text", "text", "", high=MAX_TEXT, label="Validation losses from your run"),
        Control("lr_schedule", "choice", "none", allowed=("none", *LR_SCHEDULES), label="Learning-rate schedule"),
        Control("lr", "float", None, 0, 1e6, optional=True, label="Peak learning rate"),
        Control("warmup_steps", "float", 0.0, 0, 10**13, label="Warmup steps"),
    )
}


DEFAULTS: dict[str, Any] = {k: c.default for k, c in CONTROLS.items()}


# Controls that are arguments of only some frameworks: shown and sent only where the framework owns them.
_OWNED = [c.owns for c in CONVENTIONS.values()]


FRAMEWORK_KNOBS = (frozenset().union(*_OWNED) - frozenset.intersection(*_OWNED)) & CONTROLS.keys()


PRESETS: dict[str, dict[str, Any]] = {
    "Textbook": {"dataset_size": 10_000, "batch_size": 100, "epochs": 10},
    "MNIST": {"dataset_size": 60_000, "batch_size": 64, "epochs": 14},
    "CIFAR-10": {"dataset_size": 50_000, "batch_size": 128, "epochs": 200},
    "ImageNet-1k": {"dataset_size": 1_281_167, "batch_size": 256, "epochs": 90},
    "LLM fine-tune": {
        "framework": "hf",
        "dataset_size": 50_000,
        "batch_size": 8,
        "devices": 4,
        "grad_accum": 4,
        "epochs": 3,
        "lr_schedule": "linear",
        "lr": 5e-5,
        "warmup_steps": 0.1,
    },
}


PRESET_NOTES = {
    "Textbook": "10,000 samples in batches of 100: 100 steps per epoch, 1,000 steps in 10 epochs.",
    "MNIST": "PyTorch's MNIST example: 60,000 images, batch 64, 14 epochs.",
    "CIFAR-10": "A ResNet recipe: 50,000 images, batch 128, 200 epochs.",
    "ImageNet-1k": "The classic ResNet-50 recipe: 1,281,167 images, batch 256, 90 epochs.",
    "LLM fine-tune": "HF Trainer on 4 GPUs: per-device batch 8, accumulation 4, 3 epochs, linear decay after 10% warmup.",
}


def preset_values(name: str) -> dict[str, Any]:
    """Every control at its default, then the preset's own values."""
    return {**DEFAULTS, **PRESETS[name]}


def _convention(values: Mapping[str, Any]) -> Convention:
    return CONVENTIONS.get(values.get("framework"), CONVENTIONS["pytorch"])


def applies(key: str, values: Mapping[str, Any]) -> bool:
    """Whether a control means anything for these values (else the page hides it and the URL omits it)."""
    if key in FRAMEWORK_KNOBS and key not in _convention(values).owns:
        return False
    tokens = values.get("data_unit", "samples") == "tokens"
    if key == "dataset_size":
        return not tokens
    if key in ("seq_len", "packing", "token_budget"):
        return tokens
    if key == "dataset_tokens":
        return tokens and bool(values.get("packing", True))
    if key in ("documents", "tokens_per_document"):
        return tokens and not values.get("packing", True)
    if key in ("lr", "warmup_steps"):
        return values.get("lr_schedule", "none") != "none"
    if key in ("patience", "min_delta", "metric_source"):
        return bool(values.get("early_stopping"))
    if key in ("noise", "overfit_at"):
        return bool(values.get("early_stopping")) and values.get("metric_source") == "curve"
    # seed: the illustrative curve's and the training lab's, which is always on the page
    if key == "metrics_text":
        return bool(values.get("early_stopping")) and values.get("metric_source") == "pasted"
    return key in CONTROLS


def why_not(key: str, values: Mapping[str, Any]) -> str:
    if key in FRAMEWORK_KNOBS and key not in _convention(values).owns:
        return f"framework={values.get('framework')} has no such argument"
    if key in ("dataset_size", "dataset_tokens", "documents", "tokens_per_document", "seq_len", "packing", "token_budget"):
        return "it belongs to the other data_unit (samples or tokens) or packing setting"
    if key in ("lr", "warmup_steps"):
        return "it needs an lr_schedule"
    if key in ("patience", "min_delta", "metric_source"):
        return "it needs early_stopping=true"
    if key == "metrics_text":
        return "it needs early_stopping=true and metric_source=pasted"
    return "it needs early_stopping=true and metric_source=curve"


def matching_preset(values: Mapping[str, Any]) -> str | None:
    """The preset the values are exactly at, if any."""
    for name in PRESETS:
        if all(values.get(k) == v for k, v in preset_values(name).items()):
            return name
    return None


LINKED = ("dataset_size", "dataset_tokens", "documents", "batch_size", "epochs")  # slider + exact box


def linked(values: Mapping[str, Any]) -> tuple[str, ...]:
    """The sliders these values show: the dataset in samples, in tokens, or in documents."""
    return tuple(key for key in LINKED if applies(key, values))


def nearest_stop(key: str, value: int) -> int:
    """The slider stop closest to `value` on a log scale."""
    stops = np.asarray(CONTROLS[key].stops, dtype=float)
    return int(stops[int(np.argmin(np.abs(np.log(stops) - math.log(max(value, 1)))))])


def check_values(values: Mapping[str, Any]) -> tuple[dict[str, Any], list[str]]:
    """Typed values (from widgets or a parse) -> the same with impossible combinations fixed, and why."""
    out = {**DEFAULTS, **{k: v for k, v in values.items() if k in CONTROLS}}
    notices: list[str] = []
    if out["framework"] not in CONVENTIONS:
        notices.append(f"framework={echo(out['framework'])} is not one of {', '.join(FRAMEWORKS)}: using pytorch")
        out["framework"] = "pytorch"
    every = out["eval_every_steps"]
    if every is not None and applies("eval_every_steps", out) and every <= 0:
        notices.append(f"eval_every_steps={fmt(every)} must be above 0: evaluation turned off")
        out["eval_every_steps"] = None
    if out["seconds_per_step"] is not None and out["samples_per_second"] is not None:
        notices.append("seconds_per_step and samples_per_second are two ways to give the same throughput: using seconds_per_step")
        out["samples_per_second"] = None
    for key in ("seconds_per_step", "samples_per_second"):
        if out[key] is not None and out[key] <= 0:
            notices.append(f"{key}={fmt(out[key])} must be above 0: left out")
            out[key] = None
    CONVENTIONS[out["framework"]].fix_values(out, notices)
    return out, notices


@dataclass(frozen=True)
class Outcome:
    """What the page draws: a setup and its plan, or an explanation of why there is none."""

    setup: Setup | None
    plan: Plan | None
    explanation: str | None = None  # shown instead of the charts
    notes: tuple[str, ...] = field(default=())  # shown above the charts (bad pasted tokens, ...)


HINTS = {
    "patience": "Early stopping reads the metric at each evaluation: turn on an evaluation cadence in Advanced.",
    "val_check_interval": "Pick a smaller val_check_interval, or a fraction such as 0.25.",
    "eval_every_steps": "Evaluate less often: a larger eval_every_steps.",
    "max_steps": "Lower max_steps or raise the dataset size.",
    "drop_last": "Turn drop_last off or use a smaller batch.",
    "warmup_steps": "Use a shorter warmup.",
    "validation_freq": "Validate less often: a larger validation_freq.",
}


def explain(error: SetupError) -> str:
    """A refusal from the core as a sentence for the page."""
    hint = HINTS.get(error.field_name, "")
    return f"This setup cannot run: {error}. {hint}".strip()


def _setup_kwargs(values: Mapping[str, Any]) -> dict[str, Any]:
    v = values
    kw: dict[str, Any] = {
        "dataset_size": int(v["dataset_size"]),
        "seconds_per_step": v["seconds_per_step"],
        "samples_per_second": v["samples_per_second"],
        "batch_size": int(v["batch_size"]),
        "epochs": int(v["epochs"]),
        "framework": v["framework"],
        "grad_accum": int(v["grad_accum"]),
    }
    for key in FRAMEWORK_KNOBS:
        if applies(key, v):
            kw[key] = v[key]
    if kw.get("eval_every_steps") is not None and float(kw["eval_every_steps"]).is_integer():
        kw["eval_every_steps"] = int(kw["eval_every_steps"])
    if applies("lr", v):
        kw["lr_schedule"] = v["lr_schedule"]
        kw["lr"] = v["lr"]
        kw["warmup_steps"] = float(v["warmup_steps"])
    if v["early_stopping"]:
        kw["patience"] = int(v["patience"])
        kw["min_delta"] = float(v["min_delta"])
    if "save_freq" in kw:  # the text box: empty (no ModelCheckpoint), 'epoch', or a whole number of batches
        text = str(kw["save_freq"]).strip().lower()
        kw["save_freq"] = None if not text else text if text == "epoch" or not text.isdigit() else int(text)
    if v["data_unit"] == "tokens":
        data = {"dataset_tokens": int(v["dataset_tokens"])} if v["packing"] else {
            "documents": int(v["documents"]), "tokens_per_document": int(v["tokens_per_document"])}  # fmt: skip
        kw["tokens"] = TokenData(int(v["seq_len"]), bool(v["packing"]), token_budget=v["token_budget"], **data)
        kw["dataset_size"] = kw["tokens"].samples
    return kw


def values_to_setup(values: Mapping[str, Any]) -> Outcome:
    """Build the core Setup (with its metric values) and plan it; a refusal becomes an explanation."""
    values, _ = check_values(values)
    notes: list[str] = []
    try:
        kw = _setup_kwargs(values)
        if "patience" in kw or Setup(**kw).tracks_best:  # early stopping or a best-checkpoint rule reads the metric
            if values["metric_source"] == "pasted":
                metrics, bad = parse_metrics(values["metrics_text"])
                if bad:
                    shown = ", ".join(repr(b) for b in bad[:5])
                    more = f" and {len(bad) - 5} more" if len(bad) > 5 else ""
                    notes.append(
                        f"Not numbers, so not used: {shown}{more}. Every other value is read in order, one per evaluation."
                    )
                if not metrics:
                    notes.append("No values pasted yet: paste one validation loss per evaluation.")
            elif values["metric_source"] == "lab":
                metrics = ()  # the page fills in the training lab's own validation losses
            else:
                # One illustrative value per evaluation the run would make without stopping.
                base = make_plan(Setup(**{k: x for k, x in kw.items() if k not in ("patience", "min_delta")}))
                n = len(base.evaluations)
                metrics = illustrative_curve(
                    min(n, MAX_CURVE),
                    seed=int(values["seed"]),
                    noise=float(values["noise"]),
                    overfit_at=float(values["overfit_at"]),
                )
                if n > MAX_CURVE:
                    notes.append(f"The run evaluates {n:,} times; the illustrative curve covers the first {MAX_CURVE:,}.")
            kw["metrics"] = tuple(metrics)
        setup = Setup(**kw)
        plan = make_plan(setup)
    except SetupError as error:
        return Outcome(None, None, explain(error), tuple(notes))
    return Outcome(setup, plan, None, tuple(notes))


def dead_end(plan: Plan) -> str | None:
    """Why nothing trains, when nothing does (the page explains instead of drawing)."""
    c = CONVENTIONS[plan.setup.framework]
    if plan.epochs_started == 0 or plan.batches_per_epoch_full == 0:
        return f"There are 0 batches per epoch, so nothing trains. {c.empty_sentence(plan)} Turn drop_last off, or use a smaller batch or more samples."
    if plan.total_optimizer_steps == 0:
        return c.no_step(plan)
    return None


def caveats(plan: Plan) -> list[str]:
    """Legal but surprising setups worth a sentence above the charts."""
    s = plan.setup
    if plan.batches_per_epoch_full != 1 or s.batch_size * s.devices <= s.dataset_size:
        return []
    last = int(plan.last_batch_sizes[0]) if plan.epochs_started else s.batch_size
    size = f"of {plural(last, 'sample')}" if last < s.batch_size else f"of the full {fmt(s.batch_size)}"
    return [
        f"The batch ({fmt(s.batch_size)} x {plural(s.devices, 'device')}) is larger than the dataset ({fmt(s.dataset_size)}): "
        f"each epoch is a single batch {size} per device."
    ]
