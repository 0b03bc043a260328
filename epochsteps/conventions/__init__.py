"""One package owns each framework's counting rules, facts and words; this table picks it.

`CONVENTIONS[name]` is the only place the page, the CLI and the text look a framework up:
they ask the convention, never compare its name.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from ..setup import Setup
from . import hf, keras, lightning, pytorch
from .base import Events, Schedule
from .codegen import epochs_of
from .hf import code as hf_code
from .hf import saving as hf_saving
from .keras import code as keras_code
from .keras import saving as keras_saving
from .lightning import code as lightning_code
from .lightning import saving as lightning_saving
from .lightning import stopping as lightning_stopping
from .pytorch import code as pytorch_code
from .pytorch import saving as pytorch_saving


@dataclass(frozen=True)
class Convention:
    name: str
    label: str  # short, for tables and tabs
    title: str  # the framework's full name, for sentences
    default_epochs: float
    schedule: Callable[[Setup], Schedule]
    early_stopping: type
    lr_per_update: Callable
    snippet: Callable  # (setup, plan or None, the user's own setup) -> lines of code
    owns: frozenset[str]  # the Setup fields this framework has an argument for
    saving: Callable | None = None  # (setup, schedule, run) -> Saving: its checkpoints and training-loss logs (all five have one)
    stop: Callable | None = None  # (setup, schedule, rule) -> Stopped | None, where the plain cut at the firing check is not the rule

    def epochs(self, setup: Setup) -> float | None:
        """The epoch count this framework runs `setup` with; None when only max_steps bounds it."""
        if "max_steps" not in self.owns:
            return self.default_epochs if setup.epochs is None else setup.epochs
        return epochs_of(setup, self.default_epochs)


_SHARED = frozenset({"dataset_size", "batch_size", "epochs", "grad_accum", "patience", "min_delta", "mode", "metrics", "lr_schedule", "lr", "warmup_steps"})
_LOADER = frozenset({"max_steps", "devices", "drop_last"})


CONVENTIONS = {
    "pytorch": Convention(
        "pytorch", "PyTorch loop", "PyTorch (hand-written loop)", pytorch.DEFAULT_EPOCHS,
        lambda s: pytorch.schedule(s, flush=False), pytorch.EarlyStopping, pytorch.lr_per_update, pytorch_code.snippet,
        _SHARED | _LOADER | {"eval_every_steps"} | pytorch_saving.KNOBS, pytorch_saving.saving,
    ),
    "pytorch-flush": Convention(
        "pytorch-flush", "PyTorch loop + flush", "PyTorch (loop that steps on the leftover window)", pytorch.DEFAULT_EPOCHS,
        lambda s: pytorch.schedule(s, flush=True), pytorch.EarlyStopping, pytorch.lr_per_update, pytorch_code.snippet,
        _SHARED | _LOADER | {"eval_every_steps"} | pytorch_saving.KNOBS, pytorch_saving.saving,
    ),
    "hf": Convention(
        "hf", "HF Trainer", "Hugging Face Trainer", hf.DEFAULT_EPOCHS,
        hf.schedule, hf.EarlyStopping, hf.lr_per_update, hf_code.snippet,
        _SHARED | _LOADER | {"eval_every_steps"} | hf_saving.KNOBS, hf_saving.saving,
    ),
    "lightning": Convention(
        "lightning", "Lightning", "Lightning", lightning.DEFAULT_MAX_EPOCHS,
        lightning.schedule, lightning.EarlyStopping, lightning.lr_per_update, lightning_code.snippet,
        _SHARED | _LOADER | {"val_check_interval", "check_val_every_n_epoch"} | lightning_saving.KNOBS,
        lightning_saving.saving, lightning_stopping.early_stop,
    ),
    "keras": Convention(
        "keras", "Keras fit", "Keras", keras.DEFAULT_EPOCHS,
        keras.schedule, keras.EarlyStopping, keras.lr_per_update, keras_code.snippet,
        _SHARED | {"validation_freq", "steps_per_epoch", "start_from_epoch"} | keras_saving.KNOBS, keras_saving.saving,
    ),
}  # fmt: skip
LABELS = {name: c.label for name, c in CONVENTIONS.items()}

__all__ = ["CONVENTIONS", "LABELS", "Convention", "Events", "Schedule"]
