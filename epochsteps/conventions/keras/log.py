"""Reading what Keras 3 `Model.fit` prints (format strings read in keras 3.15.1).

- `ProgbarLogger.on_epoch_begin` (callbacks/progbar_logger.py): "Epoch {epoch + 1}/{epochs}",
  printed only when epochs > 1; the bar's target is `params["steps"]`, steps_per_epoch or the
  batches of the data, and `_finalize_progbar` always draws it at its target;
- `Progbar.update` (utils/progbar.py): verbose=1 "{n}/{target} ━━━━ {eta or elapsed} {t}ms/step - loss: ...",
  "{n}/Unknown ..." without a target; verbose=2, once per epoch, "{target}/{target} - {s}s - {t}ms/step - ...";
  tf.keras' "{n}/{target} [=====>....] - ..." is read the same way;
- `EarlyStopping.on_train_end` (callbacks/early_stopping.py, verbose=1): "Epoch {k}: early stopping",
  "Restoring model weights from the end of the best epoch: {k}.";
- `EpochIterator._interrupted_warning` (trainers/epoch_iterator.py): "Your input ran out of data;
  interrupting training." when an epoch with steps_per_epoch runs out of batches (once: Python's
  warnings filter shows it once).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from ...text import fmt, plural
from ..logtext import Draft, LogError, count, quoted

EPOCH = re.compile(r"^Epoch (\d{1,9})/(\d{1,9})$")
BAR = re.compile(
    r"^\s{0,16}(?P<n>\d{1,16})/(?P<target>\d{1,16}|Unknown) (?:━{1,200}\s{1,3}(?:\d{1,9}s|\d{1,4}:\d\d(?::\d\d)?) \d{1,9}(?:us|ms|s)/step"
    r"|- \d{1,9}s - |\[[=>.]{1,200}\] - )"
)
EARLY = re.compile(r"^Epoch (\d{1,9}): early stopping$")
RESTORE = re.compile(r"Restoring model weights from the end of the best epoch: (\d{1,9})\.")
RAN_OUT = "Your input ran out of data; interrupting training."


@dataclass
class Epoch:
    number: int | None  # 1-based, None before any "Epoch k/E" line
    run: int = 0  # the highest count its bar showed
    target: int | None = None
    finished: bool = False


def evidence(lines: list[str]) -> list[str]:
    found = []
    if any(BAR.match(line) for line in lines if "/" in line):
        found.append(f"the {quoted('32/32 ━━━━')} progress bar")
    if any(EARLY.match(line) for line in lines if "early stopping" in line):
        found.append(quoted("Epoch k: early stopping"))
    if any(RESTORE.search(line) for line in lines if "Restoring" in line):
        found.append(quoted("Restoring model weights from the end of the best epoch"))
    return found


def _epochs(lines: list[str]) -> tuple[list[Epoch], int | None, bool]:
    """The epochs of one fit call, the epochs argument, and whether bars of other calls
    (evaluate, predict) were left out."""
    epochs: list[Epoch] = []
    asked = None
    other = False
    closed = False  # EarlyStopping's lines end the fit
    for line in lines:
        m = EPOCH.match(line) if line.startswith("Epoch") else None
        if m:
            k, e = int(m.group(1)), count(m.group(2), "Epoch k/E", 1)
            if asked is not None and e != asked:
                raise LogError(f"the text has {quoted(f'Epoch …/{asked}')} and {quoted(f'Epoch …/{e}')} lines: several fit runs; paste one run")
            if epochs and epochs[-1].number is None:  # bars before the fit: an evaluate() or predict()
                other = True
                epochs.clear()
            if closed or (epochs and k <= epochs[-1].number):
                raise LogError(f"the epochs restart at {quoted(f'Epoch {k}/{e}')}: the text holds several fit runs; paste one run")
            asked = e
            epochs.append(Epoch(k))
            continue
        if "early stopping" in line or "Restoring model weights" in line:
            closed = closed or bool(EARLY.match(line) or RESTORE.search(line))
            continue
        m = BAR.match(line) if "/" in line else None
        if not m:
            continue
        n = count(m["n"], "progress bar count")
        target = None if m["target"] == "Unknown" else count(m["target"], "progress bar target", 1)
        if closed:
            other = True
            continue
        if not epochs:
            epochs.append(Epoch(None))
        e = epochs[-1]
        if e.finished and (n < e.run or target != e.target):
            other = True  # evaluate() or predict() after the fit
            closed = True
            continue
        e.run = max(e.run, n)
        if target is not None:
            e.target = target
        e.finished = e.target is not None and e.run >= e.target
    return epochs, asked, other


def read(lines: list[str]) -> Draft:
    d = Draft("keras")
    epochs, asked, other = _epochs(lines)
    if not epochs or epochs[-1].target is None and epochs[-1].run == 0:
        raise LogError("the text has Keras' early-stopping lines but no progress bar of the fit; paste the whole output of fit")
    last, first = epochs[-1], epochs[0].number or 1
    ran = (last.number or 1) - first + 1
    d.epochs_run = ran
    if first > 1:
        d.note(
            f"The fit starts at {quoted(f'Epoch {first}/{asked}')}: initial_epoch={fmt(first - 1)}, so it runs at most"
            f" {plural(asked - first + 1, 'epoch')}, not {fmt(asked)} (epochs is the number of the last one)."
        )
    if asked is None:
        asked = 1
        d.note("There is no “Epoch k/E” line, which Keras prints only when epochs > 1: a fit with epochs=1.")
    else:
        d.show("Epoch", f"{last.number}/{asked}", "the epoch that ran last (from 1) / the epochs argument of fit")
    d.setup["epochs"] = asked
    targets = {e.target for e in epochs if e.target is not None}
    if len(targets) > 1:
        raise LogError(f"the epochs' bars have different totals ({', '.join(fmt(t) for t in sorted(targets))}): several fit runs; paste one run")
    target = targets.pop() if targets else None
    if target is not None:
        d.show("progress bar", f"{last.run}/{target}", "batches of the last epoch / the epoch's planned batches (steps_per_epoch or the data's batches)")
    if other:
        d.note("Progress bars after the fit (evaluate or predict) count their own batches and are left out.")
    early = next((int(m.group(1)) for line in lines if "early stopping" in line for m in [EARLY.match(line)] if m), None)
    if early is not None:
        d.show("early stopping", early, "the epoch (from 1) after which EarlyStopping ended training")
        d.note(
            f"{quoted(f'Epoch {early}: early stopping')}: EarlyStopping ended training after epoch {fmt(early)}, so"
            f" {quoted(f'Epoch …/{asked}')} is the epochs argument, not what ran: {plural(ran, 'epoch')} of {fmt(asked)}."
        )
    best = next((int(m.group(1)) for line in lines if "Restoring" in line for m in [RESTORE.search(line)] if m), None)
    if best is not None:
        d.show("best epoch", best, "the epoch (from 1) whose weights EarlyStopping restores")
        d.note(f"The weights kept are those of epoch {fmt(best)}, but {plural(ran, 'epoch')} ran: the training cost is that of {fmt(ran)}.")
    ran_out = any(RAN_OUT in line for line in lines)
    if target is None:
        return d
    d.note(
        f"{quoted(f'{target}/{target}')} counts batches, not samples: Keras prints neither the dataset size nor the batch size."
    )
    if ran_out:
        d.setup["steps_per_epoch"] = target
        d.note(
            f"{quoted(RAN_OUT)} means steps_per_epoch={fmt(target)} was given and an epoch ran out of batches before"
            f" {fmt(target)} (EpochIterator does not restart the data while it lasts), yet Keras finalizes every bar at its"
            f" target: the {quoted(f'{target}/{target}')} lines overstate that epoch, so the batches per epoch are not determined."
        )
        return d
    d.batches_per_epoch = target
    seen = target * ran
    d.note(
        f"Keras does not print gradient_accumulation_steps (an optimizer argument): without it this fit made"
        f" {plural(seen, 'optimizer update')}, one per batch; with A it makes floor({fmt(seen)} / A), its windows running"
        f" across epoch ends, and the last {fmt(seen)} mod A batches' gradients are never applied."
    )
    return d
