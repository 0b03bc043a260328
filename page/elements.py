"""Text elements the sections share. Every element is a message the browser draws again on
each move (in a browser, 30 small elements cost a move ~12 ms unchanged and ~37 ms changed,
one element holding the same text ~0), so text that belongs together is one element."""

from __future__ import annotations

import streamlit as st


def heading(title: str, *paragraphs: str, level: int = 2) -> None:
    """A title ("## title" at level 2) and the text that opens its section, as one element."""
    st.markdown("\n\n".join((f"{'#' * level} {title}", *paragraphs)))
