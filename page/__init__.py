"""The Streamlit page as a package of sections; it lays out what `epochsteps` returns.

state     URL binding, widget state, lesson mode, the bounded caches of the core's results
controls  the controls (sliders, advanced knobs, presets) and the notices about them
charts    chart transport: a template per shape, the plan's tables as Arrow bytes
lab       the training lab, trained on demand in the page's own run
elements  text elements the sections share (a title and its text as one element)
sections  the page's sections in order: answer, charts, early stopping, lab, quiz, translator, share, export

Data flows one way: widgets / URL -> values -> Setup -> plan (core) -> tables -> charts -> page.
No section computes a count, and no page code starts a thread.
"""
