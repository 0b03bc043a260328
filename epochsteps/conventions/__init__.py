"""One package owns each framework's counting rules, facts and words; this table picks it.

`CONVENTIONS[name]` is the only place the page, the CLI and the text look a framework up:
they ask the convention (`convention.Convention`), never compare its name.
"""

from __future__ import annotations

from . import hf, keras, lightning, pytorch
from .base import Events, Schedule
from .convention import Convention, Note, Term

CONVENTIONS: dict[str, Convention] = {
    c.name: c for c in (pytorch.LOOP, pytorch.FLUSH, hf.CONVENTION, lightning.CONVENTION, keras.CONVENTION)
}
LABELS = {name: c.label for name, c in CONVENTIONS.items()}


def convention(name: str) -> Convention:
    """The convention called `name`; a ValueError names the known ones."""
    found = CONVENTIONS.get(name)
    if found is None:
        raise ValueError(f"framework must be one of {', '.join(CONVENTIONS)}")
    return found

__all__ = ["CONVENTIONS", "LABELS", "Convention", "Events", "Note", "Schedule", "Term", "convention"]
