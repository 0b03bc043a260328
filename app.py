"""Placeholder page until the explainer page lands: the core's numbers for three sliders."""

import streamlit as st

from epochsteps import Setup, SetupError, make_plan

st.title("Epochs vs steps")
n = st.slider("Dataset size", 1, 100_000, 10_000)
b = st.slider("Batch size", 1, 1024, 100)
e = st.slider("Epochs", 1, 100, 10)
try:
    plan = make_plan(Setup(dataset_size=n, batch_size=b, epochs=e))
    st.metric("Batches per epoch", f"{plan.batches_per_epoch_full:,}")
    st.metric("Total optimizer steps", f"{plan.total_optimizer_steps:,}")
except SetupError as exc:
    st.warning(str(exc))
