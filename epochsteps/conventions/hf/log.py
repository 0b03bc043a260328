"""Reading what the Hugging Face Trainer prints (format strings read in transformers 5.24.0,
checked against 4.51.3, 4.52.0, 4.57.0 and 5.0-5.10).

- the banner, logged at info level by `Trainer._inner_training_loop` (trainer.py):
  "***** Running training *****" then "  Num examples = {:,}", "  Num Epochs = {:,}",
  "  Num update steps per epoch = {:,}" (5.3 and later), "  Instantaneous batch size per
  device = {:,}", "  Total train batch size (w. parallel, distributed & accumulation) = {:,}",
  "  Gradient Accumulation steps = {}", "  Total optimization steps = {:,}", ...;
- "max_steps is given, it will override any value given in num_train_epochs" (`Trainer.__init__`);
- the progress bar of `ProgressCallback` (trainer_callback.py): `tqdm(total=state.max_steps)`,
  one update per optimizer step; evaluation bars have the evaluation batches as total;
- the log dicts `ProgressCallback.on_log` writes ({'loss': ..., 'epoch': ...}; floats as
  '{:.4g}' strings since 5.0) and the final {'train_runtime': ..., 'epoch': ...} of
  `Trainer._finalize_training`, where 'epoch' is `state.epoch`.
"""

from __future__ import annotations

import math
import re
import sys

from ... import loading
from ...text import fmt, plural
from ..logtext import NUMBER, Draft, LogError, count, quoted, tqdm_bars
from . import steps_per_epoch

HEADER = "***** Running training *****"
OTHER_HEADER = re.compile(r"\*\*\*\*\* Running (?!training)[A-Za-z]{1,20} \*\*\*\*\*")
EPOCHS, EXAMPLES, PER_EPOCH, BATCH = "Num Epochs", "Num examples", "Num update steps per epoch", "Instantaneous batch size per device"
PARALLEL = "Training with DataParallel so batch size has been adjusted to"
TOTAL_BATCH = "Total train batch size (w. parallel, distributed & accumulation)"
ACCUM, TOTAL, PARAMS = "Gradient Accumulation steps", "Total optimization steps", "Number of trainable parameters"
MEANING = {
    EXAMPLES: "samples in the training dataset, all devices together (len(train_dataset))",
    EPOCHS: "epochs the Trainer starts: ceil(num_train_epochs), or ceil(max_steps / update steps per epoch) with max_steps",
    PER_EPOCH: "optimizer steps per epoch: ceil(batches per device / accumulation), at least 1",
    BATCH: "samples in one batch on one device (per_device_train_batch_size)",
    PARALLEL: "samples one process loads per batch, split over its GPUs by DataParallel",
    TOTAL_BATCH: "the effective batch: samples behind one optimizer step (batch x accumulation x devices)",
    ACCUM: "batches whose gradients add up into one optimizer step (gradient_accumulation_steps)",
    TOTAL: "optimizer steps (global steps) the Trainer plans: ceil(num_train_epochs x update steps per epoch), or max_steps",
    PARAMS: "model parameters with requires_grad; not a training count",
}
REQUIRED = (EXAMPLES, EPOCHS, BATCH, TOTAL_BATCH, ACCUM, TOTAL)
ENTRY = re.compile(rf"(?:^|\s)(?P<label>{'|'.join(re.escape(k) for k in MEANING)})(?: =|:) (?P<value>{NUMBER})\s*$")
BANNER_SPAN = 30  # segments a banner may spread over (other processes' warnings interleave)
OVERRIDE = "max_steps is given, it will override any value given in num_train_epochs"
COMPLETED = "Training completed. Do not forget to share your model on huggingface.co/models =)"
RESUMED = ("Continuing training from checkpoint", "Resuming training from checkpoint")
# {'loss': '0.5104', 'grad_norm': '1.572', 'learning_rate': '3.846e-05', 'epoch': '0.9231'} (5.x) or raw floats (4.x)
DICT = re.compile(r"\{('[\w./-]{1,80}': [^{}]{1,4000})\}")
ITEM = re.compile(r"'([\w./-]{1,80})': (?:'([^'{}]{0,100})'|([^,'{}\s]{1,40}))(?:, |$)")
FLOAT = re.compile(r"-?\d{1,16}(?:\.\d{1,20})?(?:[eE][-+]?\d{1,3})?")


def evidence(lines: list[str]) -> list[str]:
    """The Trainer's own lines found in the text."""
    found = []
    if any(HEADER in line for line in lines):
        found.append(f"the {quoted(HEADER)} banner")
    if any(OVERRIDE in line for line in lines):
        found.append(quoted(OVERRIDE))
    if any(COMPLETED in line for line in lines):
        found.append(quoted("Training completed."))
    dicts = _dicts(lines)
    if any("train_runtime" in d for d in dicts):
        found.append("the final {'train_runtime': …} line")
    elif any("epoch" in d and ({"loss", "eval_loss", "learning_rate"} & d.keys()) for d in dicts):
        found.append("{'loss': …, 'epoch': …} log lines")
    return found


def _dicts(lines: list[str]) -> list[dict[str, str]]:
    """The Trainer's log dicts, values kept as printed (quotes included); anything else in braces is skipped."""
    out = []
    for line in lines:
        if "{'" not in line:
            continue
        for m in DICT.finditer(line):
            body, items, pos = m.group(1), {}, 0
            for item in ITEM.finditer(body):
                if item.start() != pos:
                    break
                items[item.group(1)] = f"'{item.group(2)}'" if item.group(2) is not None else item.group(3)
                pos = item.end()
            if pos == len(body) and items:
                out.append(items)
    return out


def _banner(lines: list[str]) -> dict[str, str] | None:
    banners = []
    for i, line in enumerate(lines):
        if HEADER not in line:
            continue
        found: dict[str, str] = {}
        for later in lines[i + 1 : i + 1 + BANNER_SPAN]:
            if HEADER in later or OTHER_HEADER.search(later):
                break
            m = ENTRY.search(later)
            if m and m["label"] not in found:
                found[m["label"]] = m["value"]
        missing = [label for label in REQUIRED if label not in found]
        if missing:
            raise LogError(
                f"the Trainer's banner is cut short: it has no {quoted(missing[0] + ' = …')} line;"
                f" paste the whole banner, from {quoted(HEADER)} to {quoted(TOTAL + ' = …')}"
            )
        if found not in banners:
            banners.append(found)
    if len(banners) > 1:
        raise LogError(f"the text holds {len(banners)} different Trainer banners, i.e. several training runs; paste one run")
    return banners[0] if banners else None


def _tolerance(raw: str) -> float | None:
    """How far the true value may be from what was printed: 4 significant digits for the
    '{:.4g}' strings of 5.x, the printed decimals for 4.x's bare floats."""
    text = raw.strip("'")
    if not FLOAT.fullmatch(text) or not math.isfinite(float(text)):
        return None
    value = abs(float(text))
    if raw.startswith("'"):
        return 0.5 * 10.0 ** (math.floor(math.log10(value)) - 3) if value else 1e-9
    mantissa = text.lower().partition("e")[0]
    return max(0.5 * 10.0 ** -len(mantissa.partition(".")[2]), 1e-9) if "e" not in text.lower() else None


def _final_epoch(run: int, per_epoch: int, batches: int, accum: int) -> tuple[int, int]:
    """Epochs started and batches run in the last one after `run` optimizer steps (`Trainer._run_epoch`)."""
    epochs = -(-run // per_epoch)
    return epochs, min(batches, (run - (epochs - 1) * per_epoch) * accum)


def _fits_final(raw: str, run: int, per_epoch: int, batches: int, accum: int) -> bool:
    """Does the final `state.epoch` printed match `run` steps of `per_epoch` over `batches` batches?"""
    tol = _tolerance(raw)
    if tol is None or run <= 0:
        return True
    epochs, last = _final_epoch(run, per_epoch, batches, accum)
    return abs(float(raw.strip("'")) - (epochs - 1 + last / batches)) <= tol


def _steps_for_epoch(raw: str, per_epoch: int, batches: int, accum: int, limit: int) -> list[int] | None:
    """The step counts (at most `limit`) whose final `state.epoch` prints as `raw`; None when
    the printed precision leaves too many."""
    tol = _tolerance(raw)
    if tol is None:
        return None
    value = float(raw.strip("'"))
    found = set()
    for done in range(max(0, math.floor(value - tol)), math.floor(value + tol) + 1):
        lo = max(1, math.ceil((value - tol - done) * batches))
        hi = min(batches, math.floor((value + tol - done) * batches))
        if hi - lo > 1000:
            return None
        for b in range(lo, hi + 1):
            if b == batches or b % accum == 0:
                steps = done * per_epoch + (per_epoch if b == batches else b // accum)
                if steps <= limit:
                    found.add(steps)
    return sorted(found)


def _fits_epoch_value(raw: str, batches: int, accum: int) -> bool:
    """Could `state.epoch` = epoch + b / L print as `raw`, b the last batch of a step
    (a multiple of A, or L: `Trainer._run_epoch`)?"""
    tol = _tolerance(raw)
    if tol is None:
        return True  # not a plain number: says nothing
    value = float(raw.strip("'"))
    whole = math.floor(value + tol)
    for epoch in (whole - 1, whole):
        lo = max(1, math.ceil((value - tol - epoch) * batches))
        hi = min(batches, math.floor((value + tol - epoch) * batches))
        if lo <= hi and (hi == batches or hi // accum * accum >= lo):
            return True
    return False


def read(lines: list[str]) -> Draft:
    d = Draft("hf")
    banner = _banner(lines)
    dicts = _dicts(lines)
    final = next((x for x in reversed(dicts) if "train_runtime" in x), None)
    ended = final is not None or any(COMPLETED in line for line in lines)
    bars = [b for b in tqdm_bars(lines) if not b.desc]
    planned = count(banner[TOTAL], TOTAL) if banner else None
    if bars:
        total = planned if planned is not None and any(b.total == planned for b in bars) else bars[0].total
        train = [b for b in bars if b.total == total]
        done = max(b.n for b in train)
        if total is not None:
            d.show("progress bar", f"{done}/{total}", "optimizer steps taken / planned: ProgressCallback's tqdm(total=state.max_steps)")
    else:
        total = done = None
    if final is not None and "epoch" in final:
        d.show("epoch", _number(final["epoch"].strip("'")), "state.epoch at the end: epochs done plus the share of the last epoch's batches run")
    if any(any(r in line for r in RESUMED) for line in lines):
        d.note("The run resumed from a checkpoint: the bar starts at the checkpoint's step and the banner's totals are for the whole run.")
    stopped_at = done if (ended and done is not None and total is not None and done < total) else None
    if banner is not None:
        _from_banner(d, banner, dicts, stopped_at, final, any(OVERRIDE in line for line in lines), done is not None)
    else:
        _from_bar(d, total, done, ended, stopped_at, final)
    return d


def _number(text: str) -> int | float | str:
    if FLOAT.fullmatch(text) and math.isfinite(float(text)):
        value = float(text)
        return int(value) if value.is_integer() and "." not in text and "e" not in text.lower() else value
    return text


def _from_banner(
    d: Draft, banner: dict, dicts: list, stopped_at: int | None, final: dict | None, override: bool, bar_seen: bool
) -> None:
    for label in MEANING:
        if label in banner:
            d.show(label, count(banner[label], label, high=sys.maxsize), MEANING[label])
    n, k = count(banner[EXAMPLES], EXAMPLES), count(banner[EPOCHS], EPOCHS, high=sys.maxsize)
    b, tb = count(banner[BATCH], BATCH, 1), count(banner[TOTAL_BATCH], TOTAL_BATCH, 1)
    a, t = count(banner[ACCUM], ACCUM, 1), count(banner[TOTAL], TOTAL)
    printed_u = count(banner[PER_EPOCH], PER_EPOCH, 1) if PER_EPOCH in banner else None
    loader_batch = count(banner[PARALLEL], PARALLEL, 1) if PARALLEL in banner else b
    d.setup.update(batch_size=b, grad_accum=a)
    devices = tb // (b * a) if tb % (b * a) == 0 else None
    d.setup["devices"] = devices
    if devices is None:
        d.note(
            f"{quoted(TOTAL_BATCH + ' = ' + fmt(tb))} is not a multiple of batch × accumulation ({fmt(b)} × {fmt(a)}):"
            " tensor, context or sequence parallelism divides the processes (Trainer.get_total_train_batch_size), so the devices are not determined."
        )
    if override:
        d.setup["max_steps"] = t
    run = stopped_at if stopped_at is not None else t
    d.total_optimizer_steps = run
    if stopped_at is not None:
        d.note(
            f"The progress bar ends at {fmt(stopped_at)} of {fmt(t)} steps: a callback (early stopping) ended training,"
            f" so {quoted(TOTAL + ' = ' + fmt(t))} and {quoted(EPOCHS + ' = ' + fmt(k))} overstate the run."
        )
    elif final is None:
        d.note(f"{quoted(TOTAL + ' = ' + fmt(t))} is what the Trainer runs unless a callback (early stopping) ends training sooner.")
    elif not bar_seen:
        d.note(f"{quoted(TOTAL + ' = ' + fmt(t))} is what the Trainer planned; without its progress bar only the final {quoted('epoch')} tells what ran.")
    if k == sys.maxsize:
        d.setup["max_steps"] = t
        d.note(
            f"{quoted(EPOCHS + ' = ' + fmt(k))} is sys.maxsize: the dataset has no length, so the Trainer loops over it until"
            f" max_steps; {quoted(EXAMPLES)} is then total train batch size × max_steps, not the dataset size."
        )
        return
    d.setup["dataset_size"] = n
    if tb != b:
        shown = " × ".join(fmt(x) for x in (b, a, devices) if devices is not None) or fmt(tb)
        d.note(
            f"{quoted(TOTAL_BATCH + ' = ' + fmt(tb))} is the effective batch ({shown}): the samples behind one optimizer step,"
            f" not what one device holds at once ({fmt(b)})."
        )
    if devices is None:
        return
    processes = devices if loader_batch == b else tb // (loader_batch * a)
    options = {}
    for drop in (False, True):
        batches = loading.accelerate_shard(n, loader_batch, processes, drop).batches
        options[drop] = batches
    epoch_texts = [x["epoch"] for x in dicts if "epoch" in x]

    def fits(batches: int, per_epoch: int, stepping: bool) -> bool:
        """Do the numbers fit `per_epoch` planned steps? With `stepping`, the final state.epoch
        must also fit stepping at that rate (4.52 and later; older Trainers stepped otherwise)."""
        return (
            batches > 0
            and (printed_u is None or printed_u == per_epoch)
            and t > 0
            and k == -(-t // per_epoch)
            and all(_fits_epoch_value(x, batches, a) for x in epoch_texts)
            and (not stepping or final is None or "epoch" not in final or final_fits(per_epoch, batches))
        )

    def final_fits(per_epoch: int, batches: int) -> bool:
        if stopped_at is not None or bar_seen:  # the bar says how many steps ran
            return _fits_final(final["epoch"], run, per_epoch, batches, a)
        options = _steps_for_epoch(final["epoch"], per_epoch, batches, a, t)
        return options is None or bool(options)

    current = [drop for drop, batches in options.items() if fits(batches, steps_per_epoch(batches, a), True)]
    legacy = [drop for drop, batches in options.items() if fits(batches, max(batches // a, 1), False)]
    lengths = {options[drop] for drop in current}
    if not current:
        if legacy:
            lengths = {options[drop] for drop in legacy}
            d.note(
                f"These numbers fit a Trainer older than 4.52, which planned floor(batches / accumulation) steps per epoch"
                f" and could end epochs early; the plan models 4.52 and later, so it is not built. The run still takes"
                f" {plural(run, 'optimizer step')}."
            )
            if len(lengths) == 1:
                d.batches_per_epoch = lengths.pop()
                if t == k * max(d.batches_per_epoch // a, 1) and not override:
                    d.setup["epochs"] = k
        else:
            d.note(
                f"The banner's numbers do not fit together under the Trainer's rules ({fmt(n)} samples, batch {fmt(loader_batch)},"
                f" {plural(processes, 'process', 'processes')}, accumulation {fmt(a)} cannot give {fmt(t)} steps in {plural(k, 'epoch')});"
                " it may come from a custom loop that copies the banner, so the plan is not built."
            )
        return
    if not bar_seen and final is not None and "epoch" in final:
        run = _run_from_final(d, final["epoch"], [(options[x], steps_per_epoch(options[x], a)) for x in current], a, t)
        if run is None:
            return
    if len(lengths) == 2:
        d.note(
            f"dataloader_drop_last is not printed: with it each device gets {plural(options[True], 'batch', 'batches')} per epoch,"
            f" without it {fmt(options[False])}; both fit the banner, so the batches per epoch are not determined."
        )
        per = {steps_per_epoch(options[x], a) for x in current}
        if len(per) == 1:
            per_epoch = per.pop()
            _epochs(d, k, t, per_epoch, None, override)
            d.epochs_run = -(-run // per_epoch)
        return
    batches = lengths.pop()
    per_epoch = steps_per_epoch(batches, a)
    if len(current) == 2:
        d.note(f"dataloader_drop_last is not printed; with {fmt(n)} samples in batches of {fmt(loader_batch)} it changes nothing here.")
    else:
        drop = current[0]
        d.setup["drop_last"] = drop
        d.note(
            f"dataloader_drop_last is not printed, but only drop_last={drop} fits the banner"
            f"{' and the logged ' + quoted('epoch') + ' values' if epoch_texts else ''}: it gives"
            f" {plural(batches, 'batch', 'batches')} per device per epoch, the other {fmt(options[not drop])}."
        )
    d.batches_per_epoch = batches
    old = max(batches // a, 1)
    if legacy and printed_u is None and old != per_epoch:
        fit = f"; with num_train_epochs={fmt(k)} it prints exactly this banner ({fmt(t)} = {fmt(k)} × {fmt(old)})" if t == k * old else ""
        d.note(
            f"The banner has no {quoted(PER_EPOCH)} line (printed since transformers 5.3), so the text does not tell the version:"
            f" a Trainer older than 4.52 planned floor({fmt(batches)} / {fmt(a)}) = {fmt(old)} steps per epoch, not {fmt(per_epoch)}{fit}."
            " The plan follows 4.52 and later."
        )
    _epochs(d, k, t, per_epoch, batches, override)
    d.epochs_run = -(-run // per_epoch) if run else 0
    if processes > 1:
        d.note(
            f"{quoted(EXAMPLES + ' = ' + fmt(n))} is the whole dataset: each of the {fmt(processes)} processes gets"
            f" {plural(batches, 'batch', 'batches')} of {fmt(loader_batch)} per epoch (accelerate deals whole batches round-robin)."
        )
    if a > 1:
        _accumulation_note(d, batches, a, per_epoch)
    _final_epoch_note(d, final, run, per_epoch, batches, a)
    if loader_batch != b:
        d.note("DataParallel (one process driving several GPUs) loads one batch per process; the plan models one process per device, so it is not built.")
        return
    epochs = d.setup["epochs"]
    d.plan_setup = dict(
        framework="hf", dataset_size=n, batch_size=b, grad_accum=a, devices=devices, drop_last=bool(d.setup["drop_last"]),
        epochs=epochs, max_steps=None if epochs is not None else t,
    )


def _run_from_final(d: Draft, raw: str, shapes: list[tuple[int, int]], accum: int, planned: int) -> int | None:
    """Without the progress bar, the final state.epoch tells the steps that ran (early stopping
    ends a run short of the plan); `shapes` are the (batches, steps) per epoch that fit the banner."""
    runs: set = set()
    for batches, per_epoch in shapes:
        options = _steps_for_epoch(raw, per_epoch, batches, accum, planned)
        runs |= {None} if options is None else set(options)
    shown = raw.strip("'")
    if runs == {planned}:
        d.note(f"The final {quoted('epoch')} {shown} fits all {plural(planned, 'planned step')}: the run took them all.")
        return planned
    d.total_optimizer_steps = None
    if len(runs) != 1 or None in runs:
        d.note(f"The final {quoted('epoch')} {shown} does not tell how many of the {fmt(planned)} planned steps ran (the progress bar is not in the text).")
        return None
    run = d.total_optimizer_steps = runs.pop()
    d.note(
        f"The final {quoted('epoch')} {shown} means {plural(run, 'optimizer step')} ran, not the {fmt(planned)} planned: a callback"
        f" (early stopping) ended training, so {quoted(TOTAL + ' = ' + fmt(planned))} overstates the run."
    )
    return run


def _epochs(d: Draft, k: int, t: int, per_epoch: int, batches: int | None, override: bool) -> None:
    """num_train_epochs or max_steps, as far as the text tells them apart."""
    if override:
        d.note(f"max_steps={fmt(t)} overrides num_train_epochs, so {quoted(EPOCHS + ' = ' + fmt(k))} is ceil({fmt(t)} / {fmt(per_epoch)}).")
    elif t == k * per_epoch:
        d.setup["epochs"] = k
        d.note(
            f"{quoted(TOTAL + ' = ' + fmt(t))} is {plural(k, 'full epoch')} of {plural(per_epoch, 'step')}; the banner reads"
            f" the same with max_steps={fmt(t)}, which runs the same steps."
        )
    else:
        last = t - (k - 1) * per_epoch
        cut = f" ({fmt(min(batches, last * d.setup['grad_accum']))} of its {fmt(batches)} batches)" if batches else ""
        d.note(
            f"{quoted(EPOCHS + ' = ' + fmt(k))} counts the epochs the Trainer starts, not full passes: {fmt(t)} steps at"
            f" {fmt(per_epoch)} per epoch cover {fmt(round(t / per_epoch, 3))} epochs, so epoch {fmt(k)} stops after {fmt(last)} of its"
            f" {fmt(per_epoch)} steps{cut}. The text does not say whether num_train_epochs was a fraction or max_steps={fmt(t)}"
            " was set; both run the same steps, and the plan uses max_steps."
        )


def _accumulation_note(d: Draft, batches: int, accum: int, per_epoch: int) -> None:
    if batches < accum:
        d.note(
            f"Accumulation {fmt(accum)} is more than the {plural(batches, 'batch', 'batches')} of an epoch: the Trainer steps once per"
            f" epoch on all of them (a hand-written `(i + 1) % {fmt(accum)}` loop would never step)."
        )
    elif batches % accum:
        d.note(
            f"Each epoch has {plural(batches, 'batch', 'batches')} per device and accumulation {fmt(accum)}: {fmt(batches // accum)}"
            f" full windows and a leftover window of {plural(batches % accum, 'batch', 'batches')}, on which the Trainer (4.52 and"
            f" later) also steps, so {fmt(per_epoch)} steps per epoch; a hand-written `(i + 1) % {fmt(accum)}` loop takes {fmt(batches // accum)}."
        )
    else:
        d.note(f"Each optimizer step takes {fmt(accum)} batches per device: an epoch of {fmt(batches)} batches makes {fmt(per_epoch)} steps.")


def _final_epoch_note(d: Draft, final: dict | None, run: int, per_epoch: int, batches: int, accum: int) -> None:
    """state.epoch = epochs done + batches run in the last epoch / batches per epoch (`Trainer._run_epoch`)."""
    if final is None or "epoch" not in final or not run:
        return
    epochs, last = _final_epoch(run, per_epoch, batches, accum)
    raw = final["epoch"]
    shown = raw.strip("'")
    covered = run / per_epoch
    if _tolerance(raw) is None or not _fits_epoch_value(raw, batches, accum) or last == batches or abs(float(shown) - covered) <= (_tolerance(raw) or 0):
        return
    d.note(
        f"The final {quoted('epoch')} {shown} counts batches: {plural(epochs - 1, 'epoch')} done plus {fmt(last)} of the"
        f" {fmt(batches)} batches of epoch {fmt(epochs)}; in optimizer steps the run covers {fmt(round(run / per_epoch, 3))} epochs"
        f" ({fmt(run)} at {fmt(per_epoch)} per epoch)."
    )


def _from_bar(d: Draft, total: int | None, done: int | None, ended: bool, stopped_at: int | None, final: dict | None) -> None:
    """Without the banner (logged at info level only) the bar and the log dicts are all there is."""
    d.note(
        "Without the Trainer's banner (logged at info level: transformers.logging.set_verbosity_info() or"
        " TrainingArguments(log_level='info')) the text does not give the dataset size, batch size, accumulation or devices."
    )
    shown = final.get("epoch", "").strip("'") if final else ""
    value = float(shown) if FLOAT.fullmatch(shown) and math.isfinite(float(shown)) else None
    if value is not None and value > 0:
        d.epochs_run = math.ceil(value)
    if total is None:
        return
    d.note(f"The progress bar's total {fmt(total)} counts optimizer steps (state.max_steps), not batches or samples.")
    if stopped_at is not None:
        d.total_optimizer_steps = stopped_at
        d.note(f"The progress bar ends at {fmt(stopped_at)} of {fmt(total)} steps: a callback (early stopping) ended training before the planned total.")
    elif not ended:
        d.total_optimizer_steps = total
        d.note(f"The run plans {plural(total, 'optimizer step')}; it takes them all unless a callback (early stopping) ends it sooner.")
    else:
        d.total_optimizer_steps = done
        if value is None:
            return
        if value.is_integer() and value >= 1 and done % int(value) == 0:
            epochs = int(value)
            d.setup["epochs"] = epochs
            d.note(
                f"The run ended on an epoch boundary after {plural(done, 'step')}: {plural(epochs, 'full epoch')} of"
                f" {plural(done // epochs, 'optimizer step')} (num_train_epochs={fmt(epochs)}, or max_steps={fmt(done)}, which runs the same)."
            )
        elif not value.is_integer():
            d.note(
                f"The final {quoted('epoch')} {shown} ends inside epoch {fmt(math.ceil(value))}: max_steps or a fractional"
                " num_train_epochs cut it. It counts the batches that epoch ran, so it need not be the num_train_epochs asked:"
                " the steps are rounded up to whole steps, and with accumulation one step covers several batches."
            )
