"""epochsteps: count epochs, batches and optimizer steps exactly as PyTorch, the HF
Trainer, Lightning and Keras do. Importable without Streamlit.

    >>> from epochsteps import Setup, make_plan
    >>> make_plan(Setup(dataset_size=10_000, batch_size=100, epochs=10)).total_optimizer_steps
    1000
"""

from .evaluation import EarlyStop, illustrative_curve, parse_metrics
from .plan import Plan, make_plan
from .readlog import LogError, LogReading, read_log
from .setup import FRAMEWORKS, LR_SCHEDULES, Setup, SetupError

__all__ = [
    "FRAMEWORKS",
    "LR_SCHEDULES",
    "EarlyStop",
    "LogError",
    "LogReading",
    "Plan",
    "Setup",
    "SetupError",
    "illustrative_curve",
    "make_plan",
    "parse_metrics",
    "read_log",
]
