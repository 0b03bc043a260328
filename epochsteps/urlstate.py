"""The page's controls in the query string: parsed from a link and written back.

Query values are untrusted: each one is parsed, clamped or ignored, and every change is
reported as a notice ("batch_size=-5 is below 1: using 1"). The controls themselves (their
table, defaults and checks) are `controls`.

    values, notices = parse_query({"batch_size": ["64"], "epochs": ["3"]})
    to_query(values)                 # {"batch_size": "64", "epochs": "3"}: non-defaults only
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from .controls import CONTROLS, DEFAULTS, Control, applies, check_values, why_not
from .setup import Setup
from .text import echo
from .text import fmt as fmt_number

MAX_NOTICES = 12


# Streamlit's own iframe switches; it handles them, the page ignores them without a word.
RESERVED_KEYS = frozenset({"embed", "embed_options"})


def url_text(value: Any) -> str:
    """A value as the URL writes it (and a notice quotes it): no thousands separators, true/false, none."""
    if value is None:
        return "none"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if value.is_integer() and abs(value) < 1e15:
            return str(int(value))
        return repr(value)
    return str(value)


def _fmt_interval(value: int | float | None) -> str:
    # Lightning: 1 (an int) is every batch, 1.0 (a float) the whole epoch; keep the dot.
    return repr(value) if isinstance(value, float) else url_text(value)


def fmt_value(key: str, value: Any) -> str:
    """One control's value as the URL writes it."""
    return _fmt_interval(value) if CONTROLS[key].kind == "interval" else url_text(value)


_MARKDOWN = str.maketrans({ch: "\\" + ch for ch in "\\`*_{}[]()#+-.!|<>~$:&="})


def plain(text: str) -> str:
    """Text shown through Markdown as it is: a link's echoed value cannot become a link,
    an image, LaTeX or a coloured directive."""
    return str(text).translate(_MARKDOWN)


class _Bad(Exception):
    """A value that cannot be read; the message says what was used instead."""


def _number(raw: str) -> float:
    text = raw.strip().replace("_", "").replace(",", "")
    if len(text) > 400:
        raise _Bad("is too long to be a number")
    try:
        return float(text)  # may be nan or inf; the caller says what it does with them
    except ValueError:
        raise _Bad("is not a number") from None


def _clamp(c: Control, raw: str, value: float, notices: list[str]) -> float:
    if math.isnan(value):
        raise _Bad("is not a number")
    if c.low is not None and value < c.low:
        notices.append(f"{c.key}={echo(raw)} is below {fmt_number(c.low)}: using {fmt_number(c.low)}")
        return c.low
    if c.high is not None and value > c.high:
        notices.append(f"{c.key}={echo(raw)} is above {fmt_number(c.high)}: using {fmt_number(c.high)}")
        return c.high
    return value


def parse_value(key: str, raw: str, notices: list[str]) -> Any:
    """One untrusted string for one control; problems are appended to `notices`."""
    c = CONTROLS[key]
    text = raw.strip()
    try:
        if c.optional and text.lower() in ("", "none", "null"):
            return None
        if c.kind == "bool":
            low = text.lower()
            if low in ("true", "1", "yes", "on"):
                return True
            if low in ("false", "0", "no", "off"):
                return False
            raise _Bad("is not true or false")
        if c.kind == "choice":
            if text in c.allowed:
                return text
            if text.lower() in c.allowed:
                return text.lower()
            raise _Bad(f"is not one of {', '.join(c.allowed)}")
        if c.kind == "text":
            if len(raw) > c.high:
                notices.append(f"{key} has {len(raw):,} characters: keeping the first {int(c.high):,}")
                return raw[: int(c.high)]
            return raw
        if c.kind == "interval":
            return _parse_interval(c, text, notices)
        value = _clamp(c, raw, _number(text), notices)
        if c.kind == "int":
            if not float(value).is_integer():
                whole = max(int(c.low), min(int(c.high), round(value)))
                notices.append(f"{key}={echo(raw)} is not a whole number: using {whole}")
                return whole
            return int(value)
        return float(value)
    except _Bad as bad:
        notices.append(f"{key}={echo(raw)} {bad}: using {url_text(c.default)}")
        return c.default


def _parse_interval(c: Control, text: str, notices: list[str]) -> int | float:
    """Lightning's val_check_interval: an int counts training batches, a float up to 1.0 is a fraction."""
    value = _number(text)
    if math.isnan(value):
        raise _Bad("is not a number")
    if value <= 0:
        notices.append(f"{c.key}={echo(text)} must be above 0: using 1.0 (once per epoch)")
        return 1.0
    if text.isdigit() or value > 1:
        value = _clamp(c, text, value, notices)
        if not float(value).is_integer():
            notices.append(
                f"{c.key}={echo(text)} is neither a fraction up to 1.0 nor a whole number of batches: using {round(value)}"
            )
        return int(round(value))
    return float(value)


def parse_query(params: Mapping[str, list[str] | str]) -> tuple[dict[str, Any], list[str]]:
    """Untrusted query parameters -> (every control's value, notices saying what was changed)."""
    notices: list[str] = []
    raw: dict[str, str] = {}
    ignored: list[str] = []
    for name, given in params.items():
        items = [given] if isinstance(given, str) else [str(v) for v in given]
        if name in RESERVED_KEYS:
            continue
        if name not in CONTROLS:
            ignored.append(name)
            continue
        if not items:
            continue
        if len(items) > 1:
            notices.append(f"{name} was given {len(items)} times: using the first ({echo(items[0])})")
        raw[name] = items[0]
    if ignored:
        shown = ", ".join(echo(k) for k in ignored[:5])
        more = f" and {len(ignored) - 5} more" if len(ignored) > 5 else ""
        notices.append(f"not a control of this page, ignored: {shown}{more}")
    values = dict(DEFAULTS)
    # The framework and the switches first: they decide which other keys mean anything.
    order = ["framework", "data_unit", "packing", "early_stopping", "metric_source", "lr_schedule"]
    for name in order:
        if name in raw:
            values[name] = parse_value(name, raw[name], notices)
    for name in raw:
        if name in order:
            continue
        if applies(name, values):
            values[name] = parse_value(name, raw[name], notices)
        else:
            notices.append(f"{name}={echo(raw[name])} ignored: {why_not(name, values)}")
    values, more = check_values(values)
    notices += more
    if len(notices) > MAX_NOTICES:
        notices = notices[: MAX_NOTICES - 1] + [f"... and {len(notices) - MAX_NOTICES + 1} more changes"]
    return values, notices


def to_query(values: Mapping[str, Any]) -> dict[str, str]:
    """The values that differ from the defaults and apply, as query-string text."""
    out = {}
    for key, c in CONTROLS.items():
        value = values.get(key, c.default)
        same = value == c.default and (c.kind != "interval" or type(value) is type(c.default))
        if same or not applies(key, values):
            continue
        out[key] = fmt_value(key, value)
    return out


def setup_query(setup: Setup) -> tuple[dict[str, str], list[str]]:
    """A Setup (a loaded setup.json) as query text for `parse_query`, which checks it like a
    link; plus notes on what the page cannot show. Fields left at the Setup's defaults are left out."""
    defaults = Setup(dataset_size=1, batch_size=1)
    query = {"dataset_size": url_text(setup.dataset_size), "batch_size": url_text(setup.batch_size), "epochs": url_text(setup.epochs)}
    for key in CONTROLS:
        value = getattr(setup, key, None)
        if key not in query and hasattr(setup, key) and value != getattr(defaults, key):
            query[key] = fmt_value(key, value)
    query["lr_schedule"] = setup.lr_schedule or "none"
    query["early_stopping"] = url_text(setup.patience is not None)
    if setup.metrics:
        query["metric_source"] = "pasted"
        query["metrics_text"] = ", ".join(repr(float(v)) for v in setup.metrics)
    notes = []
    if setup.mode != "min":
        notes.append(f"mode={echo(setup.mode)}: the page reads the metric as a loss (lower is better)")
    return query, notes
