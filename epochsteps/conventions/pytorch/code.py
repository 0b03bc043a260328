"""The hand-written PyTorch loop: the code the page and `python -m epochsteps snippet` show for a setup,
with the plan's numbers in its comments."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ...schedules import base_lr
from ...setup import Setup
from ...text import fmt, plural
from ..codegen import epochs_of, literal, lr_lambda_lines
from . import DEFAULT_EPOCHS

if TYPE_CHECKING:  # the plan module imports the conventions
    from ...plan import Plan


def snippet(s: Setup, plan: Plan | None, original: Setup) -> list[str]:
    flush = s.framework == "pytorch-flush"
    A, W = s.grad_accum, s.devices
    needs_math = s.patience is not None or s.lr_schedule == "cosine"
    epochs = epochs_of(s, DEFAULT_EPOCHS)
    lines = []
    if needs_math:
        lines.append("import math")
    if epochs is None:
        lines.append("import itertools")
    lines += ["import torch", "from torch.utils.data import DataLoader" + (", DistributedSampler" if W > 1 else ""), ""]
    lines.append(
        f"# {fmt(s.dataset_size)} samples; effective batch {fmt(s.batch_size)} x {plural(W, 'device')} x accumulation {fmt(A)} = {fmt(s.effective_batch_size)}"
    )
    if W > 1:
        lines.append(f"# launch: torchrun --nproc_per_node={W} train.py (after torch.distributed.init_process_group)")
        lines.append("sampler = DistributedSampler(train_ds, shuffle=True)  # pads every device to ceil(N / devices) samples")
        lines.append(f"loader = DataLoader(train_ds, batch_size={literal(s.batch_size)}, sampler=sampler, drop_last={s.drop_last})")
    else:
        lines.append(f"loader = DataLoader(train_ds, batch_size={literal(s.batch_size)}, shuffle=True, drop_last={s.drop_last})")
    if plan is not None:
        lines.append(
            f"# len(loader) == {fmt(plan.batches_per_epoch_full)} batches per epoch" + (" on each device" if W > 1 else "")
        )
    if epochs is not None:
        lines.append(f"epochs = {literal(int(epochs))}")
    if A > 1:
        lines.append(f"accum = {literal(A)}")
    if s.max_steps is not None:
        lines.append(f"max_steps = {literal(s.max_steps)}")
    evaluates = s.eval_every_steps is not None and s.eval_every_steps >= 1
    if evaluates:
        lines.append(f"eval_every = {literal(int(s.eval_every_steps))}  # optimizer steps")
    if s.patience is not None and evaluates:
        lines += [
            f"patience, min_delta = {literal(s.patience)}, {literal(float(s.min_delta))}",
            "best, bad_evals = " + ("math.inf" if s.mode == "min" else "-math.inf") + ", 0",
        ]
    lines.append(f"optimizer = torch.optim.AdamW(model.parameters(), lr={literal(base_lr(s))})")
    if s.lr_schedule is not None:
        total = plan.planned_optimizer_steps if plan is not None else 1
        lines += [
            f"total_steps = {literal(total)}  # the optimizer steps this loop takes",
            f"warmup = {literal(int(s.warmup_steps))}",
            "",
        ]
        lines += lr_lambda_lines(s.lr_schedule, "")
        lines += ["", "scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lr_lambda)  # stepped once per optimizer step"]
    stops = []
    if s.max_steps is not None:
        stops.append("global_step >= max_steps")
    if s.patience is not None and evaluates:
        stops.append("bad_evals >= patience")
    lines += ["", "global_step = 0"]
    lines.append("for epoch in itertools.count():" if epochs is None else "for epoch in range(epochs):")
    if W > 1:
        lines.append("    sampler.set_epoch(epoch)  # a new shuffle each epoch")
    lines += ["    model.train()", "    for i, (x, y) in enumerate(loader):"]
    lines.append("        loss = loss_fn(model(x), y)" + (" / accum" if A > 1 else ""))
    lines.append("        loss.backward()")
    ind = "        "
    if A > 1:
        if flush:
            lines.append("        if (i + 1) % accum == 0 or i + 1 == len(loader):  # the last, short window steps too")
        else:
            lines.append("        if (i + 1) % accum == 0:  # a leftover window at the end of an epoch never steps")
        ind = "            "
    lines.append(ind + "optimizer.step()")
    if s.lr_schedule is not None:
        lines.append(ind + "scheduler.step()")
    lines += [ind + "optimizer.zero_grad()", ind + "global_step += 1"]
    if evaluates:
        lines.append(ind + "if global_step % eval_every == 0:")
        lines.append(ind + "    metric = evaluate(model)  # your validation pass")
        if s.patience is not None:
            better = "metric < best - min_delta" if s.mode == "min" else "metric > best + min_delta"
            lines += [
                ind + f"    if {better}:",
                ind + "        best, bad_evals = metric, 0",
                ind + "    else:",
                ind + "        bad_evals += 1",
            ]
    if stops:
        lines += [ind + f"if {' or '.join(stops)}:", ind + "    break"]
        lines += [f"    if {' or '.join(stops)}:", "        break"]
    if plan is not None:
        lines.append(f"# {fmt(plan.planned_optimizer_steps)} optimizer steps in total")
    return lines
