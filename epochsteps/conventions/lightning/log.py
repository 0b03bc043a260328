"""Reading what Lightning 2.x prints (format strings read in lightning 2.6.6).

- the training bar: TQDMProgressBar (callbacks/progress/tqdm_progress.py, the default without
  rich) draws "Epoch {current_epoch}: {pct}%|...| {n}/{total} [..." and RichProgressBar
  (rich_progress.py, the default with rich) "Epoch {current_epoch}/{max_epochs - 1} ━━━ {n}/{total}
  0:00:00 • ..."; n counts training batches, the total is `ProgressBar.total_train_batches`
  (progress_bar.py): num_training_batches, or min(that, max_steps - global_step) when
  max_epochs is -1;
- `_FitLoop.done` (loops/fit_loop.py): "`Trainer.fit` stopped: `max_steps=...` reached.",
  "... `max_epochs=...` reached.", "... No training batches.";
- `_FitLoop.setup_data`: "The number of training batches (L) is smaller than the logging interval";
- `_log_device_info` (trainer/setup.py): "GPU available: ..., used: ..."; `_init_dist_connection`
  (lightning/fabric/utilities/distributed.py): "Initializing distributed: GLOBAL_RANK: r, MEMBER: r+1/W";
- `EarlyStopping._evaluate_stopping_criteria` (callbacks/early_stopping.py, verbose=True):
  "... Signaling Trainer to stop."
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from ...text import fmt, plural
from ..logtext import Draft, LogError, count, quoted, tqdm_bars
from . import steps_in_epoch, steps_per_epoch

STOPPED = re.compile(r"`Trainer\.fit` stopped: (?:`(?P<limit>max_steps|max_epochs)=(?P<value>\d{1,16})` reached\.|(?P<empty>No training batches\.))")
RICH = re.compile(
    r"^\s{0,4}Epoch (?P<epoch>\d{1,9})/(?P<last>-?\d{1,9})\s[━╸╺─\s]{0,600}?\s(?P<n>\d{1,16})/(?P<total>\d{1,16}|--)\s+\d{1,4}:\d\d:\d\d\s"
)
EPOCH_DESC = re.compile(r"^Epoch (\d{1,9})$")
MEMBER = re.compile(r"Initializing distributed: GLOBAL_RANK: \d{1,6}, MEMBER: \d{1,6}/(\d{1,6})")
PROCESSES = re.compile(r"All distributed processes registered\. Starting with (\d{1,6}) processes")
DEVICES = re.compile(r"GPU available: \w{1,10}(?: \([^)]{0,40}\))?, used: \w{1,10}")
BATCHES = re.compile(r"The number of training batches \((\d{1,16})\) is(?: smaller than the logging interval|$)")
SIGNAL = re.compile(
    r"(?:Monitored metric (?P<metric>[\w./:-]{1,80}) did not improve in the last (?P<records>\d{1,9}) records\."
    r"|Stopping threshold reached:|Divergence threshold reached:|Monitored metric [\w./:-]{1,80} = \S{1,40} is not finite\.)"
    r"[^\n]{0,300}?Signaling Trainer to stop\."
)


@dataclass
class Epoch:
    number: int  # 0-based, as Lightning prints it
    run: int  # batches the bar counted
    totals: set
    shown: str = ""  # "n/total" as its last redraw printed it


@dataclass
class Bars:
    epochs: list  # Epoch, in order
    rich: bool = False
    last_shown: int | None = None  # RichProgressBar's max_epochs - 1


def evidence(lines: list[str]) -> list[str]:
    found = []
    if any(STOPPED.search(line) for line in lines if "stopped" in line):
        found.append(quoted("`Trainer.fit` stopped: …"))
    if _epochs(lines).epochs:
        found.append(f"the {quoted('Epoch 0: …|…| n/total')} progress bar")
    if any(DEVICES.search(line) for line in lines if "GPU available" in line):
        found.append(quoted("GPU available: …, used: …"))
    if any(BATCHES.search(line) for line in lines if "training batches" in line):
        found.append(quoted("The number of training batches (…)"))
    if any(SIGNAL.search(line) for line in lines if "Signaling" in line):
        found.append("EarlyStopping's " + quoted("Signaling Trainer to stop."))
    return found


def _epochs(lines: list[str]) -> Bars:
    """Per epoch the batches its bar counted and the totals it showed."""
    epochs: dict[int, Epoch] = {}
    last_shown = None
    rich = False
    for bar in tqdm_bars(lines):
        m = EPOCH_DESC.match(bar.desc)
        if m:
            _in_order(epochs, int(m.group(1)))
            e = epochs.setdefault(int(m.group(1)), Epoch(int(m.group(1)), 0, set()))
            e.run = max(e.run, bar.n)
            e.totals.add(bar.total)
            e.shown = f"{bar.n}/{'?' if bar.total is None else bar.total}"
    for line in lines:
        if "Epoch" not in line:
            continue
        m = RICH.match(line)
        if m:
            rich = True
            number = int(m["epoch"])
            _in_order(epochs, number)
            e = epochs.setdefault(number, Epoch(number, 0, set()))
            e.run = max(e.run, count(m["n"], "progress bar count"))
            e.totals.add(None if m["total"] == "--" else count(m["total"], "progress bar total"))
            e.shown = f"{m['n']}/{m['total']}"
            last_shown = int(m["last"])
    return Bars([epochs[k] for k in sorted(epochs)], rich, last_shown)


def _in_order(epochs: dict, number: int) -> None:
    """A terminal copy can lose epochs (one bar line is redrawn), but never goes back."""
    if epochs and number < max(epochs):
        raise LogError(f"the progress bars go back from “Epoch {max(epochs)}” to “Epoch {number}”: the text holds several fit runs; paste one run")


def read(lines: list[str]) -> Draft:
    d = Draft("lightning")
    stops = [m for line in lines if "stopped" in line for m in [STOPPED.search(line)] if m]
    kinds = {(m["limit"], m["value"], m["empty"]) for m in stops}
    if len(kinds) > 1:
        raise LogError("the text holds several “`Trainer.fit` stopped” lines, i.e. several fit runs; paste one run")
    stop = stops[0] if stops else None
    bars = _epochs(lines)
    epochs, rich, last_shown = bars.epochs, bars.rich, bars.last_shown
    signal = next((m for line in lines if "Signaling" in line for m in [SIGNAL.search(line)] if m), None)
    by_steps = stop is not None and stop["limit"] == "max_steps"
    by_epochs = stop is not None and stop["limit"] == "max_epochs"
    if stop is not None and stop["empty"]:
        d.total_optimizer_steps, d.epochs_run, d.batches_per_epoch = 0, 0, 0
        d.note("“`Trainer.fit` stopped: No training batches.”: the train dataloader is empty on this device, so no epoch starts.")
    if stop is not None and stop["limit"]:
        value = count(stop["value"], f"{stop['limit']}=")
        d.show(stop["limit"], value, "the limit that ended training (`Trainer(" + stop["limit"] + "=...)`)")
        d.setup["max_steps" if by_steps else "epochs"] = value
    if rich and last_shown is not None:
        d.show("Epoch", f"{epochs[-1].number}/{last_shown}", "epoch index from 0 / max_epochs - 1 (RichProgressBar)")
        if last_shown >= 0 and d.setup["epochs"] is None:
            d.setup["epochs"] = last_shown + 1
    elif epochs:
        d.show("Epoch", epochs[-1].number, "index of the last epoch the bar shows, counted from 0")
    _devices(d, lines)
    batches = _batches(d, lines, epochs, by_steps, by_epochs or (rich and last_shown is not None and last_shown >= 0))
    if epochs:
        last = epochs[-1]
        d.epochs_run = last.number + 1
        d.show("progress bar", last.shown, "training batches run / the bar's total, as the last epoch's bar ends")
        _bar_notes(d, epochs, batches, rich, last_shown)
    elif by_epochs:
        d.epochs_run = d.setup["epochs"]  # no bar: max_epochs ran in full
    if signal:
        why = (
            f"{signal['metric']} did not improve in the last {plural(int(signal['records']), 'check')}"
            if signal["metric"] else "a threshold was crossed"
        )
        if stop is not None and stop["limit"]:
            # `_FitLoop.done` prints the limit only when the limit, not `should_stop`, ends the loop
            d.note(
                f"EarlyStopping signalled a stop ({why}) when {stop['limit']}={fmt(int(stop['value']))} had ended training:"
                " `_FitLoop.done` checks the limits first, so the run is the limit's."
            )
        else:
            ran = f" after {plural(d.epochs_run, 'epoch')}" if d.epochs_run else ""
            d.note(f"EarlyStopping ended training{ran} ({why}), before max_epochs or max_steps.")
    if by_steps:
        d.total_optimizer_steps = d.setup["max_steps"]
        _solve_accumulation(d, epochs, batches)
    elif stop is None and not signal and epochs:
        d.note("The text does not show how training ended (no “`Trainer.fit` stopped” line): it may be cut short.")
    if batches and d.epochs_run:
        _accumulation_notes(d, d.epochs_run, epochs[-1].run if epochs else batches, batches)
    d.note("Lightning prints no dataset size or batch size: its bar counts batches per device.")
    return d


def _devices(d: Draft, lines: list[str]) -> None:
    sizes = {int(m.group(1)) for line in lines if "distributed" in line for m in [MEMBER.search(line) or PROCESSES.search(line)] if m}
    if len(sizes) > 1:
        raise LogError(f"the text names {len(sizes)} different numbers of processes: several runs; paste one run")
    if sizes:
        d.setup["devices"] = sizes.pop()
        d.show("processes", d.setup["devices"], "data-parallel processes (world size): each runs the bar's batches on its share of the data")
    elif any(DEVICES.search(line) for line in lines if "GPU available" in line):
        d.setup["devices"] = 1
        d.note("No “Initializing distributed” line follows “GPU available”: one process.")


def _batches(d: Draft, lines: list[str], epochs: list[Epoch], by_steps: bool, totals_are_batches: bool) -> int | None:
    """Training batches per epoch per device: the warning says it; a finished epoch's bar counts it."""
    seen = set()
    for line in lines:
        m = BATCHES.search(line) if "training batches" in line else None
        if m:
            seen.add(count(m.group(1), "number of training batches"))
            d.show("number of training batches", count(m.group(1), "number of training batches"), "training batches per epoch per device (after limit_train_batches)")
    for e in epochs[:-1]:
        seen.add(e.run)  # an epoch that is not the last ran all its batches
    if epochs:
        last = epochs[-1]
        numeric = {t for t in last.totals if t is not None}
        if totals_are_batches:
            seen |= {t for e in epochs for t in e.totals if t is not None}
        elif not by_steps and len(numeric) == 1 and last.run in numeric:
            seen.add(last.run)
    seen.discard(0)
    if len(seen) > 1:
        d.note(f"The bars and lines disagree on the batches per epoch ({', '.join(fmt(x) for x in sorted(seen))}): not determined.")
        return None
    if seen:
        d.batches_per_epoch = seen.pop()
        if d.setup["devices"] and d.setup["devices"] > 1:
            d.note(
                f"Each of the {fmt(d.setup['devices'])} processes runs {plural(d.batches_per_epoch, 'batch', 'batches')} per epoch on its"
                " share of the data (DistributedSampler); the bar shows one of them."
            )
    return d.batches_per_epoch


def _bar_notes(d: Draft, epochs: list[Epoch], batches: int | None, rich: bool, last_shown: int | None) -> None:
    last = epochs[-1]
    if rich and last_shown is not None:
        if last_shown >= 0:
            d.note(
                f"{quoted(f'Epoch {last.number}/{last_shown}')} counts from 0 on both sides: epoch {fmt(last.number + 1)} of"
                f" max_epochs={fmt(last_shown + 1)}."
            )
        else:
            d.note(f"{quoted(f'Epoch {last.number}/{last_shown}')}: max_epochs is -1 (only max_steps bounds the run), so the bar shows max_epochs - 1 = {last_shown}.")
    else:
        d.note(f"Lightning numbers epochs from 0: the last bar, {quoted(f'Epoch {last.number}')}, is epoch {fmt(last.number + 1)}.")
    d.note("The bar counts training batches per device, not optimizer steps or samples.")
    odd = [(e, t) for e in epochs for t in sorted(e.totals, key=lambda x: (x is None, x or 0)) if t != e.run]
    if odd:
        e, t = odd[0]
        shown = "“?” as its total" if t is None else f"a total of {fmt(t)}"
        d.note(
            f"The bar's total is not the batches the epoch ran: epoch {fmt(e.number)} shows {shown} but ran"
            f" {plural(e.run, 'batch', 'batches')}. With max_steps and no max_epochs the total is min(batches, optimizer steps"
            " left) (ProgressBar.total_train_batches), which compares batches with steps; tqdm shows “?” once the count passes it."
        )


def _solve_accumulation(d: Draft, epochs: list[Epoch], batches: int | None) -> None:
    """With `max_steps=S` reached: which accumulate_grad_batches makes S steps of these batches?"""
    if not batches or not epochs or len(epochs) > 10**6:
        return
    goal, before, run = d.total_optimizer_steps, epochs[-1].number, epochs[-1].run  # earlier epochs ran in full
    if run < batches:  # the stop came right after a step: A divides the batches of the last epoch
        options = [a for a in _divisors(run) if a <= batches and before * steps_per_epoch(batches, a) + run // a == goal]
    else:  # every epoch ran in full: ceil(L / A) = S / epochs, which a range of A satisfies
        q, rest = divmod(goal, before + 1)
        if rest or q < 2:
            return
        lo, hi = -(-batches // q), (batches - 1) // (q - 1)
        options = [lo] if lo == hi else []
    if len(options) == 1:
        a = options[0]
        d.setup["grad_accum"] = a
        if run == batches:
            where = f"after {plural(before + 1, 'full epoch')} of {fmt(batches)} batches"
        elif before:
            where = f"after {plural(before, 'full epoch')} of {fmt(batches)} batches and {fmt(run)} more"
        else:
            where = f"after {fmt(run)} of the first epoch's {fmt(batches)} batches"
        d.note(f"accumulate_grad_batches is not printed, but only {fmt(a)} makes max_steps={fmt(goal)} end where the bar stops, {where}.")


def _divisors(n: int) -> list[int]:
    if n <= 0 or n > 10**10:
        return []
    small = [k for k in range(1, int(n**0.5) + 1) if n % k == 0]
    return sorted(set(small + [n // k for k in small]))


def _accumulation_notes(d: Draft, epochs: int, last_run: int, batches: int) -> None:
    """Steps from batches: `epochs` started, all full but the last, which ran `last_run` batches."""
    a = d.setup["grad_accum"]
    if a is None:
        if d.total_optimizer_steps is None:
            ran = batches * (epochs - 1) + last_run
            d.note(
                f"Lightning does not print accumulate_grad_batches: without accumulation (the default) this run took"
                f" {plural(ran, 'optimizer step')}, one per batch; with accumulate_grad_batches=A an epoch of {fmt(batches)}"
                f" batches makes ceil({fmt(batches)} / A) steps, the last on the leftover window."
            )
        return
    if d.total_optimizer_steps is None:
        d.total_optimizer_steps = (epochs - 1) * steps_per_epoch(batches, a) + steps_in_epoch(last_run, batches, a)
    if a > 1:
        per = steps_per_epoch(batches, a)
        leftover = f", the last on a leftover window of {plural(batches % a, 'batch', 'batches')}" if batches % a else ""
        d.note(f"With accumulate_grad_batches={fmt(a)} an epoch of {fmt(batches)} batches makes {plural(per, 'optimizer step')}{leftover}.")
