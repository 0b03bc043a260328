"""Epochs vs steps: the explainer page.

widgets / URL -> values (epochsteps.controls, urlstate) -> Setup -> plan (core) -> tables -> charts -> page.
This file sets the page up and lays out its sections in order; the sections live in the
`page` package and every number comes from `epochsteps`. No page code starts a thread.
"""

from __future__ import annotations

import os

# Before numpy loads: BLAS threads slow the training lab's small matrix products up to 3x on 2 cores.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import warnings

import pandas as pd
import streamlit as st

with warnings.catch_warnings():  # deprecated for pandas 4; requirements.txt pins pandas 3.1
    warnings.simplefilter("ignore")
    # numpy-backed strings: pandas 3's Arrow-backed ones made the chart tables a third slower to build
    # and serialise on every move (the page's largest per-move cost, measured under 10 sessions)
    pd.set_option("future.infer_string", False)

from epochsteps import lessons
from epochsteps import urlstate as us
from page import lab, sections
from page.controls import controls_section, notices_section
from page.elements import heading
from page.state import current_values, init_state, outcome_for, sync_url

st.set_page_config(page_title="Epochs vs steps", layout="centered")  # no page_icon: it would be fetched from a CDN

PAGE_CSS = """<style>
/* KaTeX display blocks overflow their own box by a pixel or two, which makes an
   unfocusable scroll region; long formulas shrink instead (see .katex below) */
.katex-display { overflow: visible !important; }
@media (max-width: 480px) {
  .katex-display .katex { font-size: 0.95em; }
  .stCode pre, .stCode code { font-size: 0.72rem !important; }  /* fewer wrapped lines of code on a phone */
}
/* captions carry each chart's numbers: Streamlit's faded grey is 3.7:1 on white; the text
   colour at 80% is 6.8:1 and follows a dark theme too */
[data-testid="stCaptionContainer"] { color: inherit !important; opacity: 0.8; }
/* metric labels wrap instead of ending in an ellipsis on narrow cards (values get a card wide enough) */
[data-testid="stMetricLabel"] p, [data-testid="stMetricLabel"] div { white-space: normal !important; overflow: visible !important; text-overflow: clip !important; }
</style>"""


def main() -> None:
    st.html(PAGE_CSS)
    init_state()
    values = current_values()
    heading(
        "Epochs vs steps",
        "An **epoch** is one pass over the data; an **optimizer step** is one parameter update. "
        "Move the controls to see how many steps your setup takes, counted the way PyTorch, the HF Trainer, Lightning and Keras count them.",
        level=1,
    )
    if values != st.session_state.get("_url_values"):
        st.session_state["_url_notices"] = []  # the link's notices describe the link, not later moves
        st.session_state["_lesson_notices"] = ()
    answered = sections.lesson_section(values)
    controls_section(values)
    sections.log_section()
    notices_section()
    outcome = outcome_for(tuple(values.items()))
    sync_url(values)
    if outcome.plan is None:
        st.warning(us.plain(outcome.explanation), icon=":material/block:")
        sections.glossary_section()
        return
    lab_slot = None
    if answered:
        outcome, lab_slot = sections.results_section(values, outcome)
    else:
        st.info(lessons.HIDDEN_UNTIL_ANSWERED, icon=":material/visibility_off:")
    plan = outcome.plan
    st.header("Share and export")
    sections.share_section(values, plan)
    sections.export_section(plan, values["seed"])
    sections.glossary_section()
    if lab_slot is not None:
        with lab_slot:  # trained last, so the rest of the page is out while the lab trains
            lab.lab_section(plan.setup, values["seed"], train=True)


main()
