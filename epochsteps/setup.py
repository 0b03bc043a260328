"""The setup: every input of a training run, validated once, frozen.

Validation here is about ranges and types that hold for every convention. What a
particular framework refuses (an argument it does not have, a value it rejects) is
checked by that framework's module in `epochsteps.conventions`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, fields, replace
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:
    from .tokens import TokenData

FRAMEWORKS = ("pytorch", "pytorch-flush", "hf", "lightning", "keras")
LR_SCHEDULES = ("constant", "constant_with_warmup", "linear", "cosine")

MAX_DATASET_SIZE = 10**12
MAX_BATCH_SIZE = 10**9
MAX_EPOCHS = 10**6
MAX_STEPS = 10**15
MAX_GRAD_ACCUM = 10**6
MAX_DEVICES = 10**5
MAX_METRICS = 100_000
MAX_SECONDS_PER_STEP = 10**7
MAX_SAMPLES_PER_SECOND = 10**12

Framework = Literal["pytorch", "pytorch-flush", "hf", "lightning", "keras"]


class SetupError(ValueError):
    """An input out of range, or a setup the chosen framework itself refuses."""

    def __init__(self, field_name: str, value: object, allowed: str):
        self.field_name = field_name
        self.value = value
        self.allowed = allowed
        super().__init__(f"{field_name}={_show(value)}: {allowed}")


def _show(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _int_in(name: str, value: object, low: int, high: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int):
        raise SetupError(name, value, f"must be a whole number from {low:,} to {high:,}")
    if not low <= value <= high:
        raise SetupError(name, value, f"must be from {low:,} to {high:,}")


def _finite(name: str, value: object, low: float, high: float, *, open_low: bool = False) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise SetupError(name, value, "must be a finite number")
    if value < low or value > high or (open_low and value == low):
        bound = f"greater than {low:g}" if open_low else f"at least {low:g}"
        raise SetupError(name, value, f"must be {bound} and at most {high:g}")


@dataclass(frozen=True)
class Setup:
    """One training run. Counts are per device; `epochs=None` takes the framework's default.

    Framework-specific knobs keep the framework's own default, so a knob another
    framework has no counterpart for is noticed only when it is moved from it.
    """

    dataset_size: int
    batch_size: int
    epochs: float | None = None
    framework: Framework = "pytorch"
    max_steps: int | None = None
    grad_accum: int = 1
    devices: int = 1
    drop_last: bool = False
    # evaluation cadence: HF / hand-written loops
    eval_every_steps: float | None = None
    # Lightning: int counts training batches, float is a fraction of the epoch
    val_check_interval: int | float | None = None
    check_val_every_n_epoch: int | None = 1
    # Keras
    validation_freq: int | tuple[int, ...] = 1
    steps_per_epoch: int | None = None
    start_from_epoch: int = 0
    # early stopping (None: off); metric values are one per evaluation
    patience: int | None = None
    min_delta: float = 0.0
    mode: Literal["min", "max"] = "min"
    metrics: tuple[float, ...] = field(default=())
    # learning-rate schedule (None: not planned)
    lr_schedule: str | None = None
    lr: float | None = None
    warmup_steps: float = 0.0
    # language-model data in tokens (None: the data is given in samples); dataset_size is its sample count
    tokens: TokenData | None = None
    # throughput for wall-clock time (None: not planned); at most one of the two
    seconds_per_step: float | None = None
    samples_per_second: float | None = None
    # checkpoints and logs (None: the framework's own default); each field is the framework's argument
    # HF TrainingArguments (eval_strategy None: "steps" with eval_every_steps, else "epoch")
    eval_strategy: str | None = None
    save_strategy: str | None = None
    save_steps: float | None = None
    logging_strategy: str | None = None
    logging_steps: float | None = None
    logging_first_step: bool = False
    load_best_model_at_end: bool = False
    # Lightning ModelCheckpoint and Trainer
    every_n_train_steps: int | None = None
    every_n_epochs: int | None = None
    save_last: bool = False
    save_top_k: int | None = None
    monitor: str | None = None
    log_every_n_steps: int | None = None
    min_epochs: int | None = None
    min_steps: int | None = None
    limit_train_batches: int | float | None = None
    # Keras ModelCheckpoint (save_freq None: no ModelCheckpoint unless save_best_only)
    save_freq: str | int | None = None
    save_best_only: bool = False
    # hand-written loops: a checkpoint after every K-th optimizer step (our model)
    save_every_steps: int | None = None

    def __post_init__(self) -> None:
        if self.framework not in FRAMEWORKS:
            raise SetupError("framework", self.framework, f"must be one of {', '.join(FRAMEWORKS)}")
        _int_in("dataset_size", self.dataset_size, 1, MAX_DATASET_SIZE)
        _int_in("batch_size", self.batch_size, 1, MAX_BATCH_SIZE)
        if self.epochs is not None:
            _finite("epochs", self.epochs, 0, MAX_EPOCHS, open_low=True)
        if self.max_steps is not None:
            _int_in("max_steps", self.max_steps, 1, MAX_STEPS)
        _int_in("grad_accum", self.grad_accum, 1, MAX_GRAD_ACCUM)
        _int_in("devices", self.devices, 1, MAX_DEVICES)
        if not isinstance(self.drop_last, bool):
            raise SetupError("drop_last", self.drop_last, "must be true or false")
        if self.eval_every_steps is not None:
            _finite("eval_every_steps", self.eval_every_steps, 0, MAX_STEPS, open_low=True)
        if self.val_check_interval is not None:
            _finite("val_check_interval", self.val_check_interval, 0, MAX_STEPS)
            if isinstance(self.val_check_interval, int) and self.val_check_interval == 0:
                raise SetupError("val_check_interval", 0, "an int counts training batches and must be at least 1")
        if self.check_val_every_n_epoch is not None:
            _int_in("check_val_every_n_epoch", self.check_val_every_n_epoch, 1, MAX_EPOCHS)
        if isinstance(self.validation_freq, tuple):
            if not self.validation_freq:
                raise SetupError("validation_freq", self.validation_freq, "a list needs at least one epoch")
            for epoch in self.validation_freq:
                _int_in("validation_freq", epoch, 1, MAX_EPOCHS)
        else:
            _int_in("validation_freq", self.validation_freq, 1, MAX_EPOCHS)
        if self.steps_per_epoch is not None:
            _int_in("steps_per_epoch", self.steps_per_epoch, 1, MAX_STEPS)
        _int_in("start_from_epoch", self.start_from_epoch, 0, MAX_EPOCHS)
        if self.patience is not None:
            _int_in("patience", self.patience, 0, MAX_EPOCHS)
        _finite("min_delta", self.min_delta, 0, 1e300)
        if self.mode not in ("min", "max"):
            raise SetupError("mode", self.mode, "must be 'min' or 'max'")
        if not isinstance(self.metrics, tuple):
            raise SetupError("metrics", self.metrics, "must be a tuple of numbers")
        if len(self.metrics) > MAX_METRICS:
            raise SetupError("metrics", f"{len(self.metrics)} values", f"at most {MAX_METRICS:,} values")
        for value in self.metrics:
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise SetupError("metrics", value, "every value must be a number")
        _check_saving(self)
        if self.metrics and self.patience is None and not self.tracks_best:
            raise SetupError(
                "metrics", f"{len(self.metrics)} values",
                "metric values are read only by early stopping or by a best-checkpoint rule: set patience, save_strategy='best', "
                "load_best_model_at_end, monitor or save_best_only too",
            )
        if self.lr_schedule is not None and self.lr_schedule not in LR_SCHEDULES:
            raise SetupError("lr_schedule", self.lr_schedule, f"must be one of {', '.join(LR_SCHEDULES)}")
        if self.lr is not None:
            _finite("lr", self.lr, 0, 1e6, open_low=True)
        _finite("warmup_steps", self.warmup_steps, 0, MAX_STEPS)
        if self.lr_schedule is None:
            if self.lr is not None:
                raise SetupError("lr", self.lr, "the learning rate is planned only with an lr_schedule: set one (constant keeps it fixed)")
            if self.warmup_steps:
                raise SetupError("warmup_steps", self.warmup_steps, "warmup is planned only with an lr_schedule: set one")
        if self.tokens is not None:
            from .tokens import TokenData

            if not isinstance(self.tokens, TokenData):
                raise SetupError("tokens", type(self.tokens).__name__, "must be a TokenData")
            if self.dataset_size != self.tokens.samples:
                raise SetupError(
                    "dataset_size",
                    self.dataset_size,
                    f"the tokens make {self.tokens.samples:,} samples of {self.tokens.seq_len:,} tokens; dataset_size must"
                    " be that count (Setup.from_tokens sets it)",
                )
        if self.seconds_per_step is not None:
            _finite("seconds_per_step", self.seconds_per_step, 0, MAX_SECONDS_PER_STEP, open_low=True)
        if self.samples_per_second is not None:
            _finite("samples_per_second", self.samples_per_second, 0, MAX_SAMPLES_PER_SECOND, open_low=True)
            if self.seconds_per_step is not None:
                raise SetupError("samples_per_second", self.samples_per_second, "give seconds_per_step or samples_per_second, not both")

    @classmethod
    def from_tokens(cls, tokens: TokenData, **values: object) -> Setup:
        """A setup whose dataset is `tokens`: dataset_size is the samples they make."""
        from .tokens import TokenData

        if not isinstance(tokens, TokenData):
            raise SetupError("tokens", type(tokens).__name__, "must be a TokenData")
        return cls(**{"dataset_size": tokens.samples, **values, "tokens": tokens})

    def with_tokens(self, tokens: TokenData | None) -> Setup:
        """This setup on other token data (None: back to samples), dataset_size following it."""
        if tokens is None:
            return self.replace(tokens=None)
        return self.replace(tokens=tokens, dataset_size=tokens.samples)

    @property
    def timed(self) -> bool:
        """A throughput is given, so the plan has wall-clock times."""
        return self.seconds_per_step is not None or self.samples_per_second is not None

    @property
    def tracks_best(self) -> bool:
        """A checkpoint rule reads the metric values (which evaluation is best)."""
        return self.save_strategy == "best" or self.load_best_model_at_end or self.monitor is not None or self.save_best_only

    @property
    def effective_batch_size(self) -> int:
        """Samples behind one optimizer step: batch x devices x accumulation."""
        return self.batch_size * self.devices * self.grad_accum

    def replace(self, **changes: object) -> Setup:
        return replace(self, **changes)

    def to_dict(self) -> dict:
        out = {}
        for f in fields(self):
            value = getattr(self, f.name)
            if f.name == "tokens" and value is not None:
                value = value.to_dict()
            out[f.name] = list(value) if isinstance(value, tuple) else value
        return out

    @classmethod
    def from_dict(cls, data: dict) -> Setup:
        """Rebuild a setup from `to_dict` output (a loaded JSON file, say); unknown keys are refused."""
        if not isinstance(data, dict):
            raise SetupError("setup", type(data).__name__, "must be a JSON object")
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise SetupError(unknown[0], data[unknown[0]], f"is not a setup field (known: {', '.join(sorted(known))})")
        values = dict(data)
        for name in ("metrics", "validation_freq"):
            if isinstance(values.get(name), list):
                values[name] = tuple(values[name])
        if values.get("tokens") is not None:
            from .tokens import TokenData

            values["tokens"] = TokenData.from_dict(values["tokens"])
            values.setdefault("dataset_size", values["tokens"].samples)
        for name in ("dataset_size", "batch_size"):
            if name not in values:
                raise SetupError(name, None, "is required")
        return cls(**values)


STRATEGIES = ("no", "epoch", "steps")
SAVE_STRATEGIES = ("no", "epoch", "steps", "best")
MAX_MONITOR_CHARS = 100


def _check_saving(s: Setup) -> None:
    """Ranges and types of the checkpoint and log knobs; what a framework refuses is its module's business."""
    for name, allowed in (("eval_strategy", STRATEGIES), ("save_strategy", SAVE_STRATEGIES), ("logging_strategy", STRATEGIES)):
        value = getattr(s, name)
        if value is not None and value not in allowed:
            raise SetupError(name, value, f"must be one of {', '.join(allowed)}")
    for name in ("save_steps", "logging_steps"):
        if getattr(s, name) is not None:
            _finite(name, getattr(s, name), 0, MAX_STEPS)
    for name in ("logging_first_step", "load_best_model_at_end", "save_last", "save_best_only"):
        if not isinstance(getattr(s, name), bool):
            raise SetupError(name, getattr(s, name), "must be true or false")
    for name, low, high in (
        ("every_n_train_steps", 0, MAX_STEPS), ("every_n_epochs", 0, MAX_EPOCHS), ("save_top_k", -1, MAX_EPOCHS),
        ("log_every_n_steps", 0, MAX_STEPS), ("min_epochs", 0, MAX_EPOCHS), ("min_steps", 0, MAX_STEPS),
        ("save_every_steps", 1, MAX_STEPS),
    ):
        if getattr(s, name) is not None:
            _int_in(name, getattr(s, name), low, high)
    if s.monitor is not None:
        if not isinstance(s.monitor, str) or not s.monitor.isprintable() or not 0 < len(s.monitor) <= MAX_MONITOR_CHARS:
            raise SetupError("monitor", s.monitor, f"must be a metric name of 1 to {MAX_MONITOR_CHARS} printable characters")
        if not s.monitor.startswith("val"):
            raise SetupError("monitor", s.monitor, "its values are --metrics, one per validation: name a validation metric such as val_loss")
    if s.limit_train_batches is not None:
        _finite("limit_train_batches", s.limit_train_batches, 0, MAX_STEPS)
    if s.save_freq is not None and s.save_freq != "epoch":
        if isinstance(s.save_freq, str):
            raise SetupError("save_freq", s.save_freq, "must be 'epoch' or a whole number of batches")
        _int_in("save_freq", s.save_freq, 0, MAX_STEPS)
