"""One module owns each framework's counting rules; this table picks the module."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from ..setup import Setup
from . import hf, keras, lightning, pytorch
from .base import Events, Schedule


@dataclass(frozen=True)
class Convention:
    name: str
    label: str
    schedule: Callable[[Setup], Schedule]
    early_stopping: type
    lr_per_update: Callable


CONVENTIONS = {
    "pytorch": Convention("pytorch", "PyTorch loop", lambda s: pytorch.schedule(s, flush=False), pytorch.EarlyStopping, pytorch.lr_per_update),
    "pytorch-flush": Convention("pytorch-flush", "PyTorch loop + flush", lambda s: pytorch.schedule(s, flush=True), pytorch.EarlyStopping, pytorch.lr_per_update),
    "hf": Convention("hf", "HF Trainer", hf.schedule, hf.EarlyStopping, hf.lr_per_update),
    "lightning": Convention("lightning", "Lightning", lightning.schedule, lightning.EarlyStopping, lightning.lr_per_update),
    "keras": Convention("keras", "Keras fit", keras.schedule, keras.EarlyStopping, keras.lr_per_update),
}

__all__ = ["CONVENTIONS", "Convention", "Events", "Schedule"]
