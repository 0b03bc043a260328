"""How data loaders cut a dataset into per-device batches (framework-semantics.md section 1).

Each function answers for one epoch: batches per device (`len(dataloader)` on one
rank), the size of the last batch, and the samples yielded by all devices together
(padding duplicates included).
"""

from __future__ import annotations

from typing import NamedTuple


class EpochLoad(NamedTuple):
    batches: int  # per device
    last_batch_size: int | None  # None when there is no batch
    samples: int  # yielded by all devices in a full epoch, duplicates included


def torch_dataloader(n: int, batch: int, drop_last: bool) -> EpochLoad:
    """`DataLoader.__len__` through `BatchSampler.__len__` (torch/utils/data/sampler.py)."""
    batches = n // batch if drop_last else -(-n // batch)
    if batches == 0:
        return EpochLoad(0, None, 0)
    last = batch if drop_last else n - batch * (batches - 1)
    return EpochLoad(batches, last, batch * (batches - 1) + last)


def distributed_share(n: int, devices: int) -> int:
    """`DistributedSampler.num_samples` with drop_last=False: every rank gets ceil(n / devices)."""
    return -(-n // devices)


def distributed_sampler(n: int, batch: int, devices: int, drop_last: bool) -> EpochLoad:
    """`DistributedSampler(drop_last=False)` (torch/utils/data/distributed.py) feeding a
    `DataLoader(drop_last=...)` on each rank, as Lightning and a hand-written DDP loop do.

    Every rank gets `ceil(n / devices)` indices, padded by repeating the epoch's order.
    """
    if devices == 1:
        return torch_dataloader(n, batch, drop_last)
    rank = torch_dataloader(distributed_share(n, devices), batch, drop_last)
    return EpochLoad(rank.batches, rank.last_batch_size, rank.samples * devices)


def accelerate_shard(n: int, batch: int, devices: int, drop_last: bool) -> EpochLoad:
    """`BatchSamplerShard` with `even_batches=True, split_batches=False`
    (accelerate/data_loader.py `__len__`, `_iter_with_no_split`), as the HF Trainer uses
    when `devices > 1`: whole global batches dealt round-robin; without drop_last the
    tail is topped up from the start of the epoch, so every per-rank batch is full.
    """
    if devices == 1:
        return torch_dataloader(n, batch, drop_last)
    global_batches = torch_dataloader(n, batch, drop_last).batches
    if drop_last:
        per_rank = global_batches // devices
    else:
        per_rank = -(-global_batches // devices)
    if per_rank == 0:
        return EpochLoad(0, None, 0)
    return EpochLoad(per_rank, batch, per_rank * batch * devices)


def keras_arrays(n: int, batch: int) -> EpochLoad:
    """`ArrayDataAdapter`: ceil(n / batch) batches, no drop option (keras array_data_adapter.py)."""
    return torch_dataloader(n, batch, drop_last=False)
