"""How the project writes numbers and counted nouns in sentences, cards, captions and files.

One formatter for every display number (thousands separators, no exponent, no trailing
zeros), so a count reads the same on the page, in the CLI, in exports and in the quiz.
The URL's own encoding of values is not display text and lives in `urlstate`.
"""

from __future__ import annotations

import numpy as np

ECHO = 40  # characters of an untrusted value quoted back in a notice


def echo(raw: object) -> str:
    """An untrusted value, shortened for a notice."""
    text = str(raw)
    text = "".join(ch if ch.isprintable() else "?" for ch in text)
    return text if len(text) <= ECHO else text[: ECHO - 3] + "..."


def fmt(x: float | int) -> str:
    """A number with thousands separators; floats without exponent or trailing zeros."""
    if isinstance(x, (bool, np.bool_)):
        return str(bool(x))
    if isinstance(x, (int, np.integer)):
        return f"{int(x):,}"
    x = float(x)
    if x == int(x) and abs(x) < 1e15:
        return f"{int(x):,}"
    text = np.format_float_positional(x, trim="-", precision=6)
    whole, _, frac = text.partition(".")
    sign = "-" if whole.startswith("-") else ""
    whole = f"{int(whole.lstrip('-') or 0):,}"
    return f"{sign}{whole}.{frac}" if frac else f"{sign}{whole}"


def tex(x: float | int) -> str:
    """`fmt` for LaTeX: `{,}` keeps KaTeX from spacing the separator as punctuation."""
    return fmt(x).replace(",", "{,}")


def plural(n: float | int, word: str, many: str | None = None) -> str:
    """'1 step', '2 steps', '1 batch', '3 batches' (pass `many` for irregular plurals)."""
    return f"{fmt(n)} {word if n == 1 else (many or word + 's')}"


def short_number(n: int) -> str:
    """1,000,000 -> '1M' for slider stops; exact values are written with `fmt`."""
    for size, suffix in ((10**9, "B"), (10**6, "M"), (10**3, "k")):
        if n >= size and n % (size // 10) == 0:
            return f"{n / size:g}{suffix}"
    return fmt(n)


def ordinal(n: int) -> str:
    """1st, 2nd, 3rd, 11th, 21st."""
    suffix = "th" if n % 100 in (11, 12, 13) else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{fmt(n)}{suffix}"


def listing(values, keep: int = 8, form=fmt) -> str:
    """A list of counts as '[1, 2, 3, ...] (40)', its length given once it is shortened;
    `form` writes each value (`duration` for times)."""
    values = list(values)
    text = ", ".join(form(v) for v in values[:keep])
    return f"[{text}, ...] ({fmt(len(values))})" if len(values) > keep else f"[{text}]"


_PLAIN_MATH = (
    ("{,}", ","),
    (r"\left\lceil ", "ceil("),
    (r" \right\rceil", ")"),
    (r"\left\lfloor ", "floor("),
    (r" \right\rfloor", ")"),
    (r" \times ", " x "),
    (r"\min(", "min("),
)


def plain_math(expression: str) -> str:
    """The formula's LaTeX (`tex_ceil`, `tex_floor`, products, min) as plain text: ceil(11 / 2)."""
    text = expression
    for a, b in _PLAIN_MATH:
        text = text.replace(a, b)
    while r"\frac{" in text:
        head, _, rest = text.partition(r"\frac{")
        num, _, rest = rest.partition("}{")
        den, _, rest = rest.partition("}")
        text = f"{head}{num} / {den}{rest}"
    return text


def tex_ceil(a: float | int, b: float | int) -> str:
    """LaTeX for ceil(a / b) with the numbers written as `fmt` writes them."""
    return rf"\left\lceil \frac{{{tex(a)}}}{{{tex(b)}}} \right\rceil"


def tex_floor(a: float | int, b: float | int) -> str:
    """LaTeX for floor(a / b)."""
    return rf"\left\lfloor \frac{{{tex(a)}}}{{{tex(b)}}} \right\rfloor"


_UNITS = (("d", 86_400), ("h", 3_600), ("min", 60), ("s", 1))


def duration(seconds: float) -> str:
    """A time span to read: '42.5 s', '12 min 5 s', '5 h 3 min', '3 d 4 h'.

    Under a minute, three significant digits; from a minute, the two largest units with
    the smaller one rounded (59.7 s reads '1 min', never '60 s')."""
    x = float(seconds)
    if not x >= 0 or x == float("inf"):
        raise ValueError(f"not a duration: {seconds!r}")
    for (big, big_size), (small, small_size) in zip(_UNITS, _UNITS[1:], strict=False):
        whole = round(x / small_size)  # in the smaller unit
        ratio = big_size // small_size
        if whole >= ratio:
            n, rest = divmod(whole, ratio)
            return f"{fmt(n)} {big}" + (f" {fmt(rest)} {small}" if rest else "")
    if x == 0:
        return "0 s"
    if x < 0.001:
        return "under 1 ms"
    return f"{fmt(float(f'{x:.3g}'))} s"
