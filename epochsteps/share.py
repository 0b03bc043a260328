"""Share and embed: the link to the current state, an iframe snippet in Streamlit's
`?embed=true` mode, a recommended height, and a static-image fallback.

Nothing here is trusted: the base URL comes from the browser or a proxy header, the
query values from the URL. URLs are rebuilt with urllib.parse (only http/https), and
every piece that goes into HTML is escaped with html.escape.
"""

from __future__ import annotations

import html
from collections.abc import Mapping, Sequence
from urllib.parse import quote, urlencode, urlsplit, urlunsplit

# Streamlit's embed switches (docs "Embed your app"; the frontend reads the first six,
# Community Cloud adds the footer and the coloured line).
EMBED_OPTIONS = (
    "show_toolbar",
    "show_padding",
    "disable_scrolling",
    "light_theme",
    "dark_theme",
    "hide_loading_screen",
    "show_footer",
    "show_colored_line",
)
# A course page is usually light and has its own chrome: force the light theme so the
# charts read the same as on the slides, and keep the app's toolbar out of the frame.
DEFAULT_EMBED_OPTIONS = ("light_theme", "show_padding")
RESERVED_KEYS = ("embed", "embed_options")

# Heights in CSS pixels for a frame 700-800 px wide (Streamlit's centred column).
_HEADER = 160  # title and the short intro
_CONTROL = 75  # one slider or number input with its label
_CHART = 420  # one chart with its takeaway line
MIN_HEIGHT, MAX_HEIGHT = 480, 1400
MAX_URL_CHARS = 8_000  # browsers and proxies start refusing longer URLs


class ShareError(ValueError):
    """A base URL that cannot be shared (not http/https, no host) or a link too long."""


def clean_base_url(base_url: str) -> str:
    """scheme://host[:port]/path of `base_url`, with its query, fragment and credentials dropped."""
    text = str(base_url).strip()
    try:
        parts = urlsplit(text)
        port = parts.port
    except ValueError:
        raise ShareError("the page address is not a valid URL") from None
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        raise ShareError("the page address must start with http:// or https:// and name a host")
    host = parts.hostname
    if ":" in host:  # IPv6 literal
        host = f"[{host}]"
    netloc = host if port is None else f"{host}:{port}"
    return urlunsplit((parts.scheme.lower(), netloc, quote(parts.path or "/", safe="/%:@!$&'()*+,;=-._~"), "", ""))


def _pairs(query: Mapping[str, str | Sequence[str] | None]) -> list[tuple[str, str]]:
    out = []
    for key, value in query.items():
        if key in RESERVED_KEYS or value is None:
            continue
        for item in [value] if isinstance(value, (str, int, float, bool)) else value:
            out.append((str(key), str(item)))
    return out


def _join(base_url: str, pairs: list[tuple[str, str]]) -> str:
    # commas stay readable (hide=epochs,devices); everything else is percent-encoded
    text = urlencode(pairs, quote_via=quote, safe=",")
    url = clean_base_url(base_url) + (f"?{text}" if text else "")
    if len(url) > MAX_URL_CHARS:
        raise ShareError(f"the link would be {len(url):,} characters (at most {MAX_URL_CHARS:,}); paste fewer metric values")
    return url


def share_url(base_url: str, query: Mapping[str, str | Sequence[str] | None]) -> str:
    """The link that reopens the page in this state. `query`: `urlstate.to_query(values)`
    plus any lesson parameters (`lesson`, `hide`, `lock`)."""
    return _join(base_url, _pairs(query))


def embed_url(
    base_url: str, query: Mapping[str, str | Sequence[str] | None], options: Sequence[str] = DEFAULT_EMBED_OPTIONS
) -> str:
    """The link in Streamlit's iframe mode: `embed=true` plus one `embed_options=` per option."""
    options = tuple(dict.fromkeys(options))
    unknown = [o for o in options if o not in EMBED_OPTIONS]
    if unknown:
        raise ShareError(f"unknown embed option {unknown[0]!r}; known: {', '.join(EMBED_OPTIONS)}")
    if "light_theme" in options and "dark_theme" in options:
        raise ShareError("choose light_theme or dark_theme, not both")
    pairs = _pairs(query) + [("embed", "true")] + [("embed_options", o) for o in options]
    return _join(base_url, pairs)


def recommended_height(controls: int = 3, charts: int = 1) -> int:
    """A frame height that shows `controls` inputs and `charts` charts without inner scrolling
    for the first screen; the rest of the page scrolls inside the frame."""
    height = _HEADER + max(0, controls) * _CONTROL + max(0, charts) * _CHART
    return int(min(MAX_HEIGHT, max(MIN_HEIGHT, height)))


def iframe_snippet(url: str, *, title: str = "Epochs vs steps: interactive explainer", height: int | None = None) -> str:
    """An <iframe> for a course page (LMS, blog, slides). `url` is usually `embed_url(...)`."""
    src = _checked_url(url)
    h = recommended_height() if height is None else int(min(MAX_HEIGHT * 3, max(100, int(height))))
    return (
        f'<iframe src="{html.escape(src, quote=True)}" title="{html.escape(title, quote=True)}"'
        f' width="100%" height="{h}" style="border: 0;" loading="lazy"></iframe>'
    )


def image_snippet(src: str, alt: str, link: str | None = None, width: int | None = 800) -> str:
    """The static fallback for pages that cannot run iframes: an exported PNG with alt text,
    linked to the live page when `link` is given. `src` is a relative file name (as
    `python -m epochsteps export` writes it) or an http(s) URL."""
    img_src = _checked_src(src)
    size = f' width="{int(width)}"' if width else ""
    img = f'<img src="{html.escape(img_src, quote=True)}" alt="{html.escape(alt, quote=True)}"{size} loading="lazy">'
    if link is None:
        return img
    href = _checked_url(link)
    return f'<a href="{html.escape(href, quote=True)}" target="_blank" rel="noopener">{img}</a>'


def _checked_url(url: str) -> str:
    parts = urlsplit(str(url).strip())
    if parts.scheme.lower() not in ("http", "https") or not parts.netloc:
        raise ShareError("only http:// or https:// links can be embedded")
    return urlunsplit(parts)


def _checked_src(src: str) -> str:
    text = str(src).strip()
    parts = urlsplit(text)
    if parts.scheme:
        return _checked_url(text)
    if not text or text.startswith("//") or any(c in text for c in "\\\n\r\t"):
        raise ShareError("the image must be a relative file name or an http(s) URL")
    return quote(text, safe="/%-._~")


def alt_text(plan, chart: str = "Step timeline") -> str:
    """Alt text for an exported chart, with the numbers it shows (from the core)."""
    s = plan.setup
    text = (
        f"{chart}: {s.dataset_size:,} samples in batches of {s.batch_size:,}"
        f" (effective batch {plan.effective_batch_size:,}) give {plan.batches_per_epoch_full:,} batches per epoch;"
        f" {plan.epochs_started:,} epoch(s), {plan.total_optimizer_steps:,} optimizer steps in total."
    )
    es = plan.early_stop
    if es is not None and es.stopped:
        text += f" Early stopping ends training at step {es.stop_global_step:,}, in epoch {es.stop_epoch:,}."
    return text
