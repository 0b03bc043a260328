"""`python -m epochsteps plan ...`: the core's numbers on the command line.

Every failure (a bad flag, a value out of range, a setup the framework refuses, a file
that is not a log) exits with code 2 and one line on stderr.
"""

from __future__ import annotations

import argparse
import json
import math
import sys

from .conventions import CONVENTIONS
from .evaluation import parse_metrics
from .plan import make_plan
from .readlog import MAX_CHARS, LogError, LogReading, read_log
from .setup import FRAMEWORKS, LR_SCHEDULES, Setup, SetupError
from .text import duration, fmt, listing
from .tokens import TokenData

MAX_LR_ENTRIES = 2_000_000


class UsageError(Exception):
    pass


class _Parser(argparse.ArgumentParser):
    def error(self, message: str):  # one line, no usage dump
        raise UsageError(message)


def _int(text: str) -> int:
    """A whole number; also accepts 1e6 and 1_000_000 when the value is integral."""
    t = text.strip().replace("_", "")
    try:
        return int(t)
    except ValueError:
        pass
    try:
        value = float(t)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if not math.isfinite(value) or value != int(value):
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number")
    return int(value)


def _float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"{text!r} is not a finite number")
    return value


def _int_or_float(text: str) -> int | float:
    """Lightning's distinction: `2` is an int (batches), `0.5` or `1.0` a float (fraction)."""
    t = text.strip()
    if t.isdigit():
        return int(t)
    return _float(t)


def _step_value(text: str) -> int | float:
    value = _float(text)
    return int(value) if value >= 1 and value == int(value) else value


def _epochs_n_or_none(text: str) -> int | None:
    return None if text.strip().lower() == "none" else _int(text)


def _validation_freq(text: str) -> int | tuple[int, ...]:
    parts = [p for p in text.replace(" ", "").split(",") if p]
    if len(parts) == 1 and "," not in text:
        return _int(parts[0])
    return tuple(_int(p) for p in parts)


def _metrics(text: str) -> tuple[float, ...]:
    values, bad = parse_metrics(text)
    if bad:
        raise argparse.ArgumentTypeError(f"not a number: {', '.join(repr(b) for b in bad[:3])}")
    return values


def _save_freq(text: str) -> str | int:
    """Keras' save_freq: "epoch" or a whole number of batches."""
    return "epoch" if text.strip().lower() == "epoch" else _int(text)


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="python -m epochsteps", description="Count epochs, batches and optimizer steps as the frameworks do.")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    plan = sub.add_parser("plan", help="print the plan of one setup", description="Print the plan of one setup: batches, optimizer steps, evaluations, early stopping, checkpoints and logs.")
    add_setup_flags(plan)
    plan.add_argument("--json", action="store_true", help="print JSON (the keys of DESIGN.md) instead of the summary [default: off]")
    export = sub.add_parser("export", help="write every chart (svg, png, html), the tables, the setup and a Markdown summary")
    export.add_argument("--out", required=True, help="directory to write into, created if missing [required]")
    add_setup_flags(export)
    snippet = sub.add_parser("snippet", help="print the code the page shows for the setup's framework")
    add_setup_flags(snippet)
    snippet.add_argument(
        "--runnable", action="store_true",
        help="print a complete one-device script instead: synthetic data, a one-layer model, the --metrics values as the "
        "validation metric; its last line is the JSON the framework counted (total_optimizer_steps, eval_global_steps, stop_global_step) [default: off]",
    )  # fmt: skip
    train = sub.add_parser("train", help="train the lab's small model on the plan, step by step")
    add_setup_flags(train)
    train.add_argument("--seed", type=_int, default=0, help="seed of the lab's data, model and shuffling [default: 0]")
    train.add_argument("--momentum", type=_float, default=0.0, help="SGD momentum of the lab's model [default: 0]")
    train.add_argument("--restore-best-weights", action="store_true", help="end with the weights of the best evaluation, as Keras EarlyStopping(restore_best_weights=True) [default: off]")
    train.add_argument("--json", action="store_true", help="print JSON (per-step and per-epoch losses, evaluations, early stop) [default: off]")
    read = sub.add_parser(
        "read-log", help="read what the HF Trainer, Lightning or Keras printed: the setup it implies, what each number counts, the plan"
    )
    read.add_argument("file", metavar="FILE", help="the pasted output, as a text file; - reads standard input [required]")
    read.add_argument(
        "--json", action="store_true",
        help="print JSON (framework, setup, unknown, printed, batches_per_epoch, total_optimizer_steps, notes, plan)"
        " instead of the readable summary [default: off]",
    )
    return parser


# Every flag's help: what it means, whose argument it is, and its default in brackets.
HF, PL, KS, LOOP = "HF TrainingArguments", "Lightning", "Keras", "hand-written loop"


def add_setup_flags(p: argparse.ArgumentParser) -> None:
    p.add_argument("--framework", choices=FRAMEWORKS, default="pytorch", help="whose counting rules to follow [default: pytorch]")
    p.add_argument("--dataset-size", type=_int, help="samples in the training set (N); with the data in tokens it may be left out (if given, it must agree) [required]")
    p.add_argument("--batch-size", type=_int, required=True, help="batch per device (per_device_train_batch_size; Keras: the global batch) [required]")
    p.add_argument("--epochs", type=_float, help="epochs: HF num_train_epochs (a fraction allowed), Lightning max_epochs, Keras epochs [default: the framework's: HF 3, Lightning 1000, others 1]")
    p.add_argument("--max-steps", type=_int, help="stop after this many optimizer steps (HF/Lightning max_steps; the loop breaks) [default: none]")
    p.add_argument("--grad-accum", type=_int, default=1, help="gradient accumulation: batches per optimizer step (HF gradient_accumulation_steps, Lightning accumulate_grad_batches, Keras gradient_accumulation_steps) [default: 1]")
    p.add_argument("--devices", type=_int, default=1, help="data-parallel processes (world size) [default: 1]")
    p.add_argument("--drop-last", action="store_true", help="drop the last short batch (DataLoader drop_last; HF dataloader_drop_last) [default: off]")
    p.add_argument("--eval-every-steps", type=_step_value, help=f"evaluate every K optimizer steps ({HF} eval_steps, a ratio below 1 of the total; the {LOOP}'s cadence) [default: none: HF every epoch]")
    p.add_argument("--val-check-interval", type=_int_or_float, help=f"{PL} val_check_interval: an int counts training batches, a float is a fraction of the epoch [default: 1.0]")
    p.add_argument("--check-val-every-n-epoch", type=_epochs_n_or_none, default=1, help=f"{PL} check_val_every_n_epoch, or none to count batches across epochs [default: 1]")
    p.add_argument("--validation-freq", type=_validation_freq, default=1, help=f"{KS} fit(validation_freq): every N epochs, or a list of 1-based epochs [default: 1]")
    p.add_argument("--steps-per-epoch", type=_int, help=f"{KS} fit(steps_per_epoch) [default: all the batches]")
    p.add_argument("--patience", type=_int, help="early stopping patience (HF early_stopping_patience, Lightning/Keras patience) [default: no early stopping]")
    p.add_argument("--min-delta", type=_float, default=0.0, help="early stopping min_delta (HF early_stopping_threshold) [default: 0]")
    p.add_argument("--metrics", type=_metrics, default=(), help="validation metric values, lower is better, one per evaluation (read by early stopping and best-checkpoint rules) [default: none]")
    p.add_argument("--start-from-epoch", type=_int, default=0, help=f"{KS} EarlyStopping(start_from_epoch) [default: 0]")
    p.add_argument("--lr-schedule", choices=LR_SCHEDULES, help="learning-rate schedule to plan (HF lr_scheduler_type) [default: none]")
    p.add_argument("--lr", type=_float, help="base learning rate (HF learning_rate) [default: 5e-5 for HF, 1e-3 otherwise]")
    p.add_argument("--warmup-steps", type=_float, default=0.0, help="warmup optimizer steps; below 1 a ratio of the total (HF warmup_steps) [default: 0]")
    tokens = p.add_argument_group("data in tokens (language models); the samples are counted from these")
    tokens.add_argument(
        "--dataset-tokens", type=_int, metavar="N", help="tokens in the training data after tokenization (needs --packing); [default: none]"
    )
    tokens.add_argument(
        "--documents", type=_int, metavar="D", help="documents in the training data (with --tokens-per-document); [default: none]"
    )
    tokens.add_argument(
        "--tokens-per-document", type=_int, metavar="L",
        help="mean tokens per document; every document is taken to have this length; [default: none]",
    )
    tokens.add_argument(
        "--seq-len", type=_int, metavar="S", help="tokens per sample (block size, max_length); needed with token data [default: none]"
    )
    tokens.add_argument(
        "--packing", action="store_true",
        help="concatenate the texts and cut them into samples of --seq-len tokens, dropping the remainder once"
        " (group_texts of transformers' run_clm.py); off: one document per sample, truncated or padded to --seq-len [default: off]",
    )
    tokens.add_argument(
        "--token-budget", type=_int, metavar="T",
        help="tokens to train: the plan gives max_steps_for_token_budget = ceil(T / real tokens of a full optimizer step),"
        " the fewest optimizer steps that reach T; [default: none]",
    )
    clock = p.add_argument_group("wall-clock time (give one)")
    clock.add_argument(
        "--seconds-per-step", type=_float, metavar="X",
        help="seconds one full optimizer step takes (its batches on all devices; a short batch takes proportionally less);"
        " [default: no times]",
    )
    clock.add_argument(
        "--samples-per-second", type=_float, metavar="X",
        help="training samples all devices together run per second (like HF's train_samples_per_second); [default: no times]",
    )

    g = p.add_argument_group("checkpoints and logs", "each flag is the framework's own argument of that name; absent, the framework's default applies")
    g.add_argument("--eval-strategy", choices=("no", "epoch", "steps"), help=f"{HF} eval_strategy [default: 'steps' with --eval-every-steps, else 'epoch' (HF's own default is 'no')]")
    g.add_argument("--save-strategy", choices=("no", "epoch", "steps", "best"), help=f"{HF} save_strategy [default: steps]")
    g.add_argument("--save-steps", type=_step_value, help=f"{HF} save_steps: a checkpoint every X optimizer steps, a ratio below 1 of the total [default: 500]")
    g.add_argument("--logging-strategy", choices=("no", "epoch", "steps"), help=f"{HF} logging_strategy [default: steps]")
    g.add_argument("--logging-steps", type=_step_value, help=f"{HF} logging_steps: log the training loss every X optimizer steps, a ratio below 1 of the total [default: 500]")
    g.add_argument("--logging-first-step", action="store_true", help=f"{HF} logging_first_step: also log after step 1 [default: off]")
    g.add_argument("--load-best-model-at-end", action="store_true", help=f"{HF} load_best_model_at_end: load the best saved checkpoint when training ends [default: off]")
    g.add_argument("--every-n-train-steps", type=_int, help=f"{PL} ModelCheckpoint(every_n_train_steps): a checkpoint every N optimizer steps [default: none]")
    g.add_argument("--every-n-epochs", type=_int, help=f"{PL} ModelCheckpoint(every_n_epochs) [default: 1 when neither trigger is given]")
    g.add_argument("--save-last", action="store_true", help=f"{PL} ModelCheckpoint(save_last=True): also write last.ckpt [default: off]")
    g.add_argument("--save-top-k", type=_int, help=f"{PL} ModelCheckpoint(save_top_k): -1 keeps all, 0 none [default: 1]")
    g.add_argument("--monitor", help=f"{PL} ModelCheckpoint(monitor): a validation metric whose values are --metrics [default: none, keep the latest]")
    g.add_argument("--log-every-n-steps", type=_int, help=f"{PL} Trainer(log_every_n_steps): log the training loss every N optimizer steps; 0 never [default: 50]")
    g.add_argument("--min-epochs", type=_int, help=f"{PL} Trainer(min_epochs): early stopping waits for this many epochs [default: none]")
    g.add_argument("--min-steps", type=_int, help=f"{PL} Trainer(min_steps): early stopping waits for this many optimizer steps [default: none]")
    g.add_argument("--limit-train-batches", type=_int_or_float, help=f"{PL} Trainer(limit_train_batches): an int keeps that many batches per epoch, a float that fraction [default: 1.0]")
    g.add_argument("--save-freq", type=_save_freq, help=f"{KS} ModelCheckpoint(save_freq): 'epoch' or every N batches [default: no ModelCheckpoint ('epoch' with --save-best-only)]")
    g.add_argument("--save-best-only", action="store_true", help=f"{KS} ModelCheckpoint(save_best_only=True) on val_loss (--metrics) [default: off]")
    g.add_argument("--save-every-steps", type=_int, help=f"the {LOOP}'s own cadence (our model): a checkpoint after every K-th optimizer step, none at the end [default: none]")


SAVING_FIELDS = (
    "eval_strategy", "save_strategy", "save_steps", "logging_strategy", "logging_steps", "logging_first_step",
    "load_best_model_at_end", "every_n_train_steps", "every_n_epochs", "save_last", "save_top_k", "monitor",
    "log_every_n_steps", "min_epochs", "min_steps", "limit_train_batches", "save_freq", "save_best_only", "save_every_steps",
)


TOKEN_FLAGS = ("dataset_tokens", "documents", "tokens_per_document", "seq_len", "packing", "token_budget")


def tokens_from_args(args: argparse.Namespace) -> TokenData | None:
    """The token data the flags give, or None when no token flag is given."""
    given = [name for name in TOKEN_FLAGS if getattr(args, name) not in (None, False)]
    if not given:
        return None
    if args.seq_len is None:
        raise UsageError(f"--{given[0].replace('_', '-')} needs --seq-len (the tokens per sample)")
    return TokenData(
        seq_len=args.seq_len,
        packing=args.packing,
        dataset_tokens=args.dataset_tokens,
        documents=args.documents,
        tokens_per_document=args.tokens_per_document,
        token_budget=args.token_budget,
    )


def setup_from_args(args: argparse.Namespace) -> Setup:
    tokens = tokens_from_args(args)
    dataset_size = args.dataset_size
    if dataset_size is None:
        if tokens is None:
            raise UsageError("--dataset-size is required (or give the data in tokens: --seq-len with --dataset-tokens or --documents)")
        dataset_size = tokens.samples
    return Setup(
        framework=args.framework,
        dataset_size=dataset_size,
        batch_size=args.batch_size,
        epochs=args.epochs,
        max_steps=args.max_steps,
        grad_accum=args.grad_accum,
        devices=args.devices,
        drop_last=args.drop_last,
        eval_every_steps=args.eval_every_steps,
        val_check_interval=args.val_check_interval,
        check_val_every_n_epoch=args.check_val_every_n_epoch,
        validation_freq=args.validation_freq,
        steps_per_epoch=args.steps_per_epoch,
        patience=args.patience,
        min_delta=args.min_delta,
        metrics=args.metrics,
        start_from_epoch=args.start_from_epoch,
        lr_schedule=args.lr_schedule,
        lr=args.lr,
        warmup_steps=args.warmup_steps,
        tokens=tokens,
        seconds_per_step=args.seconds_per_step,
        samples_per_second=args.samples_per_second,
        **{name: getattr(args, name) for name in SAVING_FIELDS},
    )


def runnable_script(setup: Setup, plan) -> str:
    """`snippet --runnable`: a one-device script whose last line is what the framework counted."""
    return CONVENTIONS[setup.framework].runnable(setup, plan)


def summary(plan) -> str:
    s = plan.setup
    lines = [
        f"{plan.setup.framework}: {s.dataset_size:,} samples, batch {s.batch_size:,} per device"
        f" x {s.devices:,} device(s) x accumulation {s.grad_accum:,} = effective batch {plan.effective_batch_size:,}",
        f"batches per epoch (per device): {plan.batches_per_epoch_full:,}",
        f"epochs started: {plan.epochs_started:,}; optimizer steps per epoch: {listing(plan.steps.tolist())}",
        f"total optimizer steps: {plan.total_optimizer_steps:,}",
        f"samples seen: {plan.samples_seen:,}; dropped: {plan.samples_dropped:,}; duplicated by padding: {plan.samples_duplicated:,}",
        f"evaluations: {len(plan.evaluations):,} at global steps {listing(plan.evaluations.global_step.tolist())}",
    ]
    es = plan.early_stop
    if es is not None:
        verdict = "fires" if es.stopped else "does not fire"
        lines.append(
            f"early stopping {verdict}: training ends at step {es.stop_global_step:,} in epoch {es.stop_epoch:,}"
            f" after {es.evaluations_done:,} evaluations; best evaluation #{es.best_eval_index}"
        )
    lines += token_lines(plan) + time_lines(plan)
    for name, marks in (("checkpoints", plan.checkpoints), ("training-loss logs", plan.logs)):
        lines.append(f"{name}: {marks.count:,} at global steps {listing(marks.global_step.tolist())}")
    lines.append(f"optimizer steps after the last checkpoint: {plan.steps_after_last_checkpoint:,}")
    if plan.saving.loads_best:
        best = plan.saving.best_checkpoint_global_step
        lines.append("load_best_model_at_end loads " + ("no checkpoint" if best is None else f"the checkpoint of step {best:,}"))
    lines += [f"note: {n}" for n in plan.notes]
    return "\n".join(lines)


def token_lines(plan) -> list[str]:
    t = plan.setup.tokens
    if t is None:
        return []
    data = f"{fmt(t.total_tokens)}" if t.dataset_tokens is not None else f"{fmt(t.documents)} documents x {fmt(t.tokens_per_document)} = {fmt(t.total_tokens)}"
    how = "packed" if t.packing else "one document per sample"
    lines = [
        f"tokens: {data} -> {fmt(t.samples)} samples of {fmt(t.seq_len)} ({how}); dropped: {fmt(t.tokens_dropped)}; padding: {fmt(t.tokens_padded)}",
        f"tokens per optimizer step: {fmt(plan.tokens_per_optimizer_step)}; tokens trained: {fmt(plan.tokens_trained)}",
    ]
    if t.token_budget is not None:
        lines.append(f"token budget {fmt(t.token_budget)}: max_steps {fmt(plan.max_steps_for_token_budget)}")
    return lines


def time_lines(plan) -> list[str]:
    if not plan.setup.timed:
        return []
    lines = [
        f"time per epoch: {listing(plan.seconds_per_epoch.tolist(), form=duration)}; training time: {duration(plan.seconds_total)}",
        f"evaluations at: {listing(plan.eval_seconds.tolist(), form=duration)}",
    ]
    if plan.checkpoints.count:
        more = f" (the first {fmt(len(plan.checkpoints.global_step))} of {fmt(plan.checkpoints.count)})" if plan.checkpoints.truncated else ""
        lines.append(f"checkpoints at: {listing(plan.checkpoint_seconds.tolist(), form=duration)}{more}")
    if plan.stop_seconds is not None:
        lines.append(f"early stop at: {duration(plan.stop_seconds)}")
    return lines


def read_text(name: str) -> str:
    """The log file's text (`-`: standard input), at most MAX_CHARS characters."""
    limit = 4 * MAX_CHARS + 4  # UTF-8 takes at most 4 bytes a character
    try:
        if name == "-":
            data = sys.stdin.buffer.read(limit + 1)
        else:
            with open(name, "rb") as f:
                data = f.read(limit + 1)
    except OSError as exc:
        raise UsageError(f"cannot read {name}: {exc.strerror or exc}") from None
    if len(data) > limit:
        raise UsageError(f"{name} is larger than {limit:,} bytes; paste the run's start (the banner and the first epochs)")
    for bom, codec in ((b"\xef\xbb\xbf", "utf-8"), (b"\xff\xfe", "utf-16-le"), (b"\xfe\xff", "utf-16-be")):
        if data.startswith(bom):  # PowerShell's `>` writes UTF-16 with a byte-order mark
            return data[len(bom) :].decode(codec, errors="replace")
    return data.decode("utf-8", errors="replace")


def reading_summary(reading: LogReading) -> str:
    from .conventions import CONVENTIONS

    def show(value) -> str:
        return value if isinstance(value, str) else fmt(value)

    known = [f"{k}={show(v)}" for k, v in reading.setup.items() if v is not None]
    lines = [f"framework: {CONVENTIONS[reading.framework].title} ({reading.framework})"]
    lines.append(f"setup: {', '.join(known) if known else 'nothing determined'}")
    if reading.unknown:
        lines.append(f"not determined by the text: {', '.join(reading.unknown)}")
    lines.append("printed:")
    lines += [f"  {p.label}: {show(p.value)} -- {p.meaning}" for p in reading.printed]
    lines.append(f"batches per epoch (per device): {'not determined' if reading.batches_per_epoch is None else fmt(reading.batches_per_epoch)}")
    steps = reading.total_optimizer_steps
    lines.append(f"total optimizer steps: {'not determined' if steps is None else fmt(steps)}")
    lines.append("notes:")
    lines += [f"  - {n}" for n in reading.notes]
    if reading.plan is not None:
        lines += ["plan:", *("  " + line for line in summary(reading.plan).splitlines())]
    else:
        lines.append("plan: not built (the text does not determine the setup)")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    try:
        args = build_parser().parse_args(argv)
        if args.command == "read-log":
            reading = read_log(read_text(args.file))
            print(json.dumps(reading.to_dict()) if args.json else reading_summary(reading))
            return 0
        setup = setup_from_args(args)
        if args.command == "train":
            from .training import cli_train  # the lab loads only when asked

            print(cli_train(args, setup))
            return 0
        plan = make_plan(setup)
        es = plan.early_stop
        short = es.metrics_ran_out_at if es is not None and es.metrics_ran_out_at is not None else plan.saving.metrics_ran_out_at
        if short is not None:
            raise UsageError(f"--metrics has {len(setup.metrics)} value(s) but evaluation {short + 1} needs one; give a value for every evaluation")
        if args.command == "snippet":
            from .explain import code_snippet  # pandas loads only for snippets

            print(runnable_script(setup, plan) if args.runnable else code_snippet(setup, setup.framework), end="")
        elif args.command == "export":
            from .exports import write_all  # vl-convert and Altair load only for export

            try:
                files = write_all(plan, args.out)
            except OSError as exc:
                raise UsageError(f"cannot write to {args.out}: {exc.strerror or exc}") from None
            print("\n".join(str(f) for f in files))
        elif args.json:
            if setup.lr_schedule is not None and plan.total_optimizer_steps > MAX_LR_ENTRIES:
                raise UsageError(f"lr_per_step would list {plan.total_optimizer_steps:,} steps; at most {MAX_LR_ENTRIES:,} in JSON")
            print(json.dumps(plan.to_dict()))
        else:
            print(summary(plan))
        return 0
    except (UsageError, SetupError, LogError, argparse.ArgumentTypeError) as exc:
        print(f"epochsteps: error: {_one_line(str(exc))}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:  # pragma: no cover
        return 130


def _one_line(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= 400 else text[:397] + "..."
