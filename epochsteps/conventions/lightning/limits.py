"""Lightning's loop limits that change the counting: `limit_train_batches`, `min_epochs`, `min_steps`."""

from __future__ import annotations

from ...setup import Setup
from ..base import refuse


def train_batches(setup: Setup, length: int) -> int:
    """Batches per epoch after `limit_train_batches`.

    `_determine_batch_limits` (trainer/setup.py L100): [0, 1] as given, an integral float above 1
    becomes an int, anything else is refused; `_parse_num_batches` (trainer/connectors/
    data_connector.py L449): an int k keeps min(L, k), a float f keeps int(L * f) (floored) and
    refuses a result of 0 for f > 0.
    """
    limit = setup.limit_train_batches
    if limit is None:
        return length
    if isinstance(limit, float) and limit > 1:
        if limit != int(limit):
            raise refuse(setup, "limit_train_batches", f"Lightning refuses: you have passed invalid value {limit} for limit_train_batches, it has to be in [0.0, 1.0] or an int")
        limit = int(limit)
    if length == 0:
        return 0
    if isinstance(limit, int):
        return min(length, limit)
    kept = int(length * limit)
    if kept == 0 and limit > 0:
        raise refuse(
            setup, "limit_train_batches",
            f"Lightning refuses: you requested to check {limit} of the train_dataloader but {limit} * {length} < 1; try at least limit_train_batches={1.0 / length}",
        )
    return kept


def loop_minimums(setup: Setup) -> tuple[int, int]:
    """`_parse_loop_limits` (loops/utilities.py L50): min_steps alone sets min_epochs to 1; unset is 0."""
    min_epochs = setup.min_epochs
    if min_epochs is None and setup.min_steps is not None:
        min_epochs = 1
    return min_epochs or 0, setup.min_steps or 0
