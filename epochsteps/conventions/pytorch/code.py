"""The hand-written PyTorch loop: the code the page and `python -m epochsteps snippet` show for a setup,
with the plan's numbers in its comments, and the runnable script that proves them."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ...schedules import base_lr
from ...setup import Setup
from ...text import fmt, plural
from ..codegen import (
    FEATURES,
    STEP_HOOK_IMPORT,
    check_runnable,
    counting_steps,
    epochs_of,
    given_metrics,
    header,
    literal,
    lr_lambda_lines,
    result_line,
    torch_data,
)
from . import DEFAULT_EPOCHS

if TYPE_CHECKING:  # the plan module imports the conventions
    from ...plan import Plan


def _horizon(s: Setup, plan: Plan | None, flush: bool) -> str:
    """`total_steps = ...`: the scheduler's horizon as the loop's author writes it (lr_horizon)."""
    if s.max_steps is not None:
        line = "total_steps = max_steps  # the usual idiom: the scheduler plans max_steps"
        if plan is not None and plan.planned_optimizer_steps < s.max_steps:
            line += f" (the epochs run out first, at step {fmt(plan.planned_optimizer_steps)})"
        return line
    if s.grad_accum == 1:
        per_epoch = "len(loader)"
    else:
        per_epoch = "math.ceil(len(loader) / accum)" if flush else "(len(loader) // accum)"
    return f"total_steps = epochs * {per_epoch}" + (f"  # {fmt(plan.schedule.lr_horizon)} optimizer steps" if plan is not None else "")


def _loop(s: Setup, plan: Plan | None) -> tuple[list[str], list[str]]:
    """The loop's imports and its body (the body uses train_ds, model, loss_fn and evaluate)."""
    flush = s.framework == "pytorch-flush"
    A, W = s.grad_accum, s.devices
    epochs = epochs_of(s, DEFAULT_EPOCHS)
    evaluates = s.eval_every_steps is not None and s.eval_every_steps >= 1
    early = s.patience is not None and evaluates
    imports = []
    if early or s.lr_schedule == "cosine" or (flush and A > 1 and s.lr_schedule is not None and s.max_steps is None):
        imports.append("import math")
    if epochs is None:
        imports.append("import itertools")
    imports.append("import torch")
    if W > 1:
        imports += ["import torch.distributed as dist", "from torch.nn.parallel import DistributedDataParallel as DDP"]
    imports.append("from torch.utils.data import DataLoader" + (", DistributedSampler" if W > 1 else ""))

    lines = [
        f"# {fmt(s.dataset_size)} samples; effective batch {fmt(s.batch_size)} x {plural(W, 'device')} x accumulation {fmt(A)} = {fmt(s.effective_batch_size)}"
    ]
    if W > 1:
        lines += [
            f"# launch: torchrun --nproc_per_node={W} train.py (one process per device)",
            "dist.init_process_group()  # rank and world size come from torchrun",
            f"model = DDP(model)  # every backward averages the gradients of the {fmt(W)} devices (GPUs: model.to(rank), device_ids=[rank])",
            "sampler = DistributedSampler(train_ds, shuffle=True)  # pads every device to ceil(N / devices) samples",
            f"loader = DataLoader(train_ds, batch_size={literal(s.batch_size)}, sampler=sampler, drop_last={s.drop_last})",
        ]
    else:
        lines.append(f"loader = DataLoader(train_ds, batch_size={literal(s.batch_size)}, shuffle=True, drop_last={s.drop_last})")
    if plan is not None:
        lines.append(f"# len(loader) == {plural(plan.batches_per_epoch_full, 'batch', 'batches')} per epoch" + (" on each device" if W > 1 else ""))
    if epochs is not None:
        lines.append(f"epochs = {literal(int(epochs))}")
    if A > 1:
        lines.append(f"accum = {literal(A)}")
    if s.max_steps is not None:
        lines.append(f"max_steps = {literal(s.max_steps)}")
    if evaluates:
        lines.append(f"eval_every = {literal(int(s.eval_every_steps))}  # optimizer steps")
    if early:
        lines += [
            f"patience, min_delta = {literal(s.patience)}, {literal(float(s.min_delta))}",
            "best, bad_evals, stop = " + ("math.inf" if s.mode == "min" else "-math.inf") + ", 0, False",
        ]
    lines.append(f"optimizer = torch.optim.AdamW(model.parameters(), lr={literal(base_lr(s))})")
    if s.lr_schedule is not None:
        lines += [_horizon(s, plan, flush), f"warmup = {literal(int(s.warmup_steps))}", ""]
        lines += lr_lambda_lines(s.lr_schedule, "")
        lines += ["", "scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lr_lambda)  # stepped once per optimizer step"]
    stops = []
    if s.max_steps is not None:
        stops.append("global_step >= max_steps")
    if early:
        stops.append("stop")
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
            lines.append("        if (i + 1) % accum == 0:  # a leftover window never steps: its gradients join the next epoch's first step")
        ind = "            "
    lines.append(ind + "optimizer.step()")
    if s.lr_schedule is not None:
        lines.append(ind + "scheduler.step()")
    lines += [ind + "optimizer.zero_grad()", ind + "global_step += 1"]
    if evaluates:
        same = "; every device must get the same value" if W > 1 and early else ""
        lines += [
            ind + "if global_step % eval_every == 0:",
            ind + f"    metric = evaluate(model)  # your validation pass{same}",
            ind + "    model.train()  # evaluate() may have switched to eval mode",
        ]
        if early:
            better = "metric < best - min_delta" if s.mode == "min" else "metric > best + min_delta"
            lines += [
                ind + f"    if {better}:",
                ind + "        best, bad_evals = metric, 0",
                ind + "    else:",
                ind + "        bad_evals += 1",
                ind + "        stop = bad_evals >= patience  # patience 0 stops at the first miss, as 1 does",
            ]
    if stops:
        lines += [ind + f"if {' or '.join(stops)}:", ind + "    break"]
        lines += [f"    if {' or '.join(stops)}:", "        break"]
    if plan is not None:
        lines.append(_total(plan))
    return imports, lines


def _total(plan: Plan) -> str:
    es = plan.early_stop
    if es is not None and es.stopped:
        return f"# early stopping ends the loop at step {fmt(es.stop_global_step)} of the {fmt(plan.planned_optimizer_steps)} planned"
    return f"# {plural(plan.total_optimizer_steps, 'optimizer step')} in total"


def snippet(s: Setup, plan: Plan | None, original: Setup) -> list[str]:
    imports, body = _loop(s, plan)
    return [*imports, "", *body]


def runnable(s: Setup, plan: Plan) -> str:
    """A complete one-device script: the loop above on synthetic data, printing what it counted."""
    check_runnable(s, plan)
    imports, body = _loop(s, plan)
    early = s.patience is not None
    lines = header(s, plan, "a hand-written PyTorch loop", "torch")
    lines += ["import json", *(i + ", TensorDataset" if i.startswith("from torch.utils.data") else i for i in imports), STEP_HOOK_IMPORT]
    lines += [
        "",
        "torch.manual_seed(0)  # the loader's shuffles",
        "",
        "# -- the setup's data and a one-layer model ---------------------------------------",
        *torch_data(s, validates=s.eval_every_steps is not None),
        "train_ds = TensorDataset(x_train, y_train)",
        f"model = torch.nn.Linear({FEATURES}, 2)",
        "loss_fn = torch.nn.CrossEntropyLoss()",
    ]
    if early:
        lines += ["", *given_metrics(s, "early stopping reads these")]
    if s.eval_every_steps is not None:
        lines += [
            "",
            "",
            "def evaluate(model):",
            '    counted["eval_global_steps"].append(global_step)  # counting, not training',
            "    model.eval()",
            "    with torch.no_grad():",
            "        loss = loss_fn(model(x_val), y_val).item()",
            "    return next(GIVEN_METRICS)  # your value for this evaluation, not the loss" if early else "    return loss",
        ]
    lines += [
        "",
        "",
        *counting_steps(),
        "",
        "# -- the loop the page shows ---------------------------------------------------------",
        *body,
        "",
        result_line("global_step if stop else None" if early else "None"),
    ]
    return "\n".join(lines) + "\n"
