"""The page's sections, in page order. Each lays out what the core returns for the plan;
none computes a count."""

from __future__ import annotations

import hashlib
from functools import partial

import pandas as pd
import streamlit as st

from epochsteps import controls as ctl
from epochsteps import explain, exports, lab_charts, quiz, share, training
from epochsteps import urlstate as us
from epochsteps.conventions import CONVENTIONS, LABELS
from epochsteps.plan import Plan
from epochsteps.setup import Setup, SetupError

from . import lab
from .charts import CHART_NAMES, DRAWINGS, EXPORT_STEMS, EXPORT_TITLES, charts_shown, export_spec, show_chart
from .controls import lesson_widgets, try_button
from .elements import heading
from .state import BY_HASH, CACHE_ENTRIES, lesson_mode, locked, outcome_for, put_values, shown

QUIZ_SHOWN = 3  # questions at a time; "Other questions" draws the next seed
FALLBACK_ADDRESS = "http://localhost:8501/"  # when the page cannot read its own address (tests, some proxies)
MIME = {"png": "image/png", "svg": "image/svg+xml", "html": "text/html"}
SOURCES = {"curve": "Illustrative curve", "pasted": "Values from my run", "lab": "From the training run"}


# -- the answer and the charts -------------------------------------------------------------------


def answer_section(plan: Plan) -> None:
    st.header("The answer")
    with st.container(horizontal=True, gap="small"):
        for card in explain.metric_cards(plan):  # two a row at 390 px; a long value gets a card wide enough to show it whole
            st.metric(card.label, card.value, help=card.help, border=True, width=card_width(card.value), height="stretch")
    takeaways = "\n".join(f"- {line}" for line in explain.takeaways(plan))
    st.markdown(f"$$\n{explain.formula(plan)}\n$$\n\n{takeaways}")  # the formula (what st.latex sends) and the takeaways: one element
    idea = explain.try_this(plan)
    st.info(f"**Try this:** {idea.prompt} {idea.prediction}", icon=":material/lightbulb:")
    try_button(explain.try_this_change(plan))


def card_width(value: str) -> int:
    """px for a metric card: 160 fits seven characters of Streamlit's value font (two cards a row at 390 px)."""
    return 160 if len(value) <= 7 else 230 if len(value) <= 10 else 330


def timeline_section(plan: Plan) -> None:
    heading("Step timeline", "Each band is one optimizer step (a parameter update), coloured by epoch; rules mark where epochs end.")
    show_chart("timeline", plan)


def inside_epoch_section(plan: Plan) -> None:
    heading("Inside one epoch", "The samples of epoch 1 cut into batches: a short last batch, or the remainder drop_last throws away.")
    show_chart("inside", plan)


def tradeoff_section(plan: Plan) -> None:
    heading("Batch size trade-off", "Bigger batches mean fewer, larger optimizer steps for the same data and epochs.")
    show_chart("tradeoff", plan)


def learning_rate_section(plan: Plan) -> None:
    title = "Learning rate over steps"
    if "lr" not in charts_shown(plan):
        heading(title)
        st.info("No learning-rate schedule is chosen: pick one under Advanced to see it per optimizer step.")
        return
    bug = "A classic bug: `StepLR` meant to decay once per epoch, but `scheduler.step()` called after every batch."
    heading(title, *([bug] if plan.setup.lr_schedule is None else []))
    show_chart("lr", plan)


# -- early stopping ------------------------------------------------------------------------------


def seed_input(where=None) -> None:
    lesson_widgets(where).number_input(
        "Seed", 0, int(ctl.CONTROLS["seed"].high), step=1, key="seed", persist_state="session", width=240,  # a short number
        help="Seeds the training lab (its data and the shuffle of every epoch) and the illustrative validation curve.",
    )  # fmt: skip


def turn_on_early_stopping(plan: Plan) -> None:
    """Early stopping on, with the evaluations it needs where the framework adds none by itself."""
    st.session_state["early_stopping"] = True
    try:
        with_evals = CONVENTIONS[plan.setup.framework].with_evaluations(plan.setup)
    except SetupError:
        return  # the convention says why under the controls
    if with_evals.eval_every_steps != plan.setup.eval_every_steps:
        st.session_state["eval_every_steps"] = float(with_evals.eval_every_steps)


def lab_metrics(values: dict, outcome: ctl.Outcome) -> tuple[ctl.Outcome, training.TrainingRun | str | None]:
    """With the training run as the metric source: its real validation losses decide early
    stopping once the lab has trained this setup (on demand, like the lab's charts)."""
    if not (values["early_stopping"] and values["metric_source"] == "lab") or ctl.dead_end(outcome.plan):
        return outcome, None
    if not lab.wants_training(outcome.setup, values["seed"]) and lab.stored_run(outcome.setup, values["seed"]) is None:
        return outcome, None
    run = lab.lab_run(outcome.setup, values["seed"], st.empty(), "Training the lab model for its validation losses")
    if isinstance(run, training.TrainingRun) and run.downsized is None:
        outcome = ctl.Outcome(run.plan.setup, run.plan, None, outcome.notes)
    return outcome, run


def early_stopping_section(values: dict, outcome: ctl.Outcome, run: training.TrainingRun | str | None) -> None:
    title, plan = "Early stopping", outcome.plan
    if not values["early_stopping"]:
        heading(
            title, "Early stopping watches the validation metric at each evaluation and ends training after *patience* evaluations without improvement."
        )
        if shown("early_stopping") and not locked("early_stopping"):
            st.button("Turn on early stopping", on_click=turn_on_early_stopping, args=(plan,), key="es_on")
        return
    heading(title)
    lesson_widgets().radio(
        "Validation metric", ctl.CONTROLS["metric_source"].allowed, key="metric_source", format_func=SOURCES.get,
        horizontal=True, persist_state="session",
    )  # fmt: skip
    if values["metric_source"] == "curve":
        a, b, c = st.columns(3)
        seed_input(a)
        lesson_widgets(b).slider("Noise", 0.0, float(ctl.CONTROLS["noise"].high), step=0.005, key="noise", persist_state="session")
        lesson_widgets(c).slider(
            "Overfitting starts at", 0.0, 1.0, step=0.05, key="overfit_at", persist_state="session", help="A fraction of the run's evaluations."
        )
    elif values["metric_source"] == "lab":
        seed_input()
        if run is None:
            st.info("The training lab has not trained this setup yet: press Train under See it train (below) for its validation losses.")
            return
        if isinstance(run, str):
            st.info(us.plain(run))
            return
        if run.downsized is not None:
            st.info(
                us.plain(
                    "The lab trained a smaller copy of this setup, so its validation losses belong to that copy's"
                    f" evaluations: the chart shows the smaller run. {run.downsized.text}"
                )
            )
            show_chart("early", run.plan)
            return
        st.markdown(
            f"The validation loss the training lab measured at each of its {len(run.val_loss):,} evaluations"
            " (the run is drawn under See it train, below)."
        )
    else:
        lesson_widgets().text_area(
            "Validation losses, one per evaluation (commas, spaces or new lines)",
            key="metrics_text", max_chars=int(ctl.CONTROLS["metrics_text"].high), persist_state="session", placeholder="0.92, 0.71, 0.64, 0.66, 0.69",
        )  # fmt: skip
    for note in outcome.notes:
        st.warning(us.plain(note))
    es = plan.early_stop
    if es is not None and es.metrics_ran_out_at is not None:
        i = es.metrics_ran_out_at
        ev = plan.schedule.evaluations
        where = f" (global step {int(ev.global_step[i]):,}, epoch {int(ev.epoch[i]) + 1:,})" if i < len(ev) else ""
        st.info(f"The values ran out at evaluation {i + 1:,}{where}: early stopping is replayed up to there.")
    show_chart("early", plan)


# -- the translator and the glossary --------------------------------------------------------------


@st.cache_resource(max_entries=CACHE_ENTRIES, show_spinner=False, **BY_HASH)
def translator_for(setup: Setup) -> pd.DataFrame:
    """The translator table, the columns that differ between frameworks first and headed
    "≠ ...". Marked so, not by a pandas Styler: st.dataframe marshals a Styler again on every run."""
    table = explain.translator(setup)
    differs = table.attrs.get("differs", [])
    order = [table.columns[0], *differs, *(c for c in table.columns[1:] if c not in differs)]
    return table[order].rename(columns={c: f"≠ {c}" for c in differs})


@st.cache_resource(max_entries=CACHE_ENTRIES, show_spinner=False, **BY_HASH)
def differences_for(setup: Setup) -> list[str]:
    return explain.differences(setup)


@st.cache_resource(max_entries=CACHE_ENTRIES, show_spinner=False, **BY_HASH)
def snippets_for(setup: Setup) -> dict[str, str]:
    return {name: explain.code_snippet(setup, name) for name in CONVENTIONS}


def translator_section(setup: Setup) -> None:
    differences = differences_for(setup)
    heading(
        "Framework translator",
        "Where the frameworks count this setup differently:\n" + "\n".join(f"- {line}" for line in differences)
        if differences else "All five conventions count this setup alike.",
    )  # fmt: skip
    box = st.expander(
        "The five conventions side by side, with the code for each and a script that proves it",
        key="translator_open", on_change="rerun", icon=":material/compare_arrows:",
    )  # fmt: skip
    if not box.open:  # the table and five code tabs are built and drawn only when asked for
        return
    with box:
        translator_table(setup)


def translator_table(setup: Setup) -> None:
    st.markdown("The columns marked ≠ differ between frameworks; they come first.")
    table = translator_for(setup)
    config = {c: st.column_config.TextColumn(help="Differs between the frameworks") for c in table.columns if c.startswith("≠ ")}
    st.dataframe(table, hide_index=True, width="stretch", column_config=config)
    tabs = st.tabs(list(LABELS.values()), default=LABELS[setup.framework])  # open on yours
    snippets = snippets_for(setup)
    for tab, name in zip(tabs, CONVENTIONS, strict=True):
        tab.code(snippets[name], language="python", wrap_lines=True)  # no sideways scrolling at 390 px
        runnable_download(tab, setup, name)


def runnable_download(where, setup: Setup, name: str) -> None:
    """The complete script that makes the framework print these numbers (written on click), or why there is none."""
    t = explain.translate(setup, name)
    why = None
    if t.plan is None:
        why = "the framework refuses this setup"
    elif t.setup.devices > 1:
        why = "it runs on one device, and these numbers are for several"
    elif t.plan.early_stop is not None and t.plan.early_stop.metrics_ran_out_at is not None:
        why = "it feeds one metric value per evaluation, and the values run out"
    if why is not None:
        where.caption(f"No runnable script here: {why}.")
        return
    where.download_button(
        "Runnable script: run it and the framework prints these numbers", data=partial(explain.runnable_script, setup, name),
        file_name=f"epochsteps_{name.replace('-', '_')}.py", mime="text/x-python", on_click="ignore", key=f"runnable_{name}",
        icon=":material/terminal:",
    )  # fmt: skip


def glossary_section() -> None:
    heading("Glossary", "\n".join(f"- **{term}**: {text}" for term, text in explain.GLOSSARY.items()), f":small[Scope: {explain.SCOPE}]")


# -- read my log ------------------------------------------------------------------------------


def read_pasted_log() -> None:
    """Read the pasted text once, on click; a determined setup becomes the page's (the page opens on its plan)."""
    from epochsteps.readlog import LogError, read_log

    text = st.session_state.get("log_text") or ""
    try:
        reading = read_log(text)
    except LogError as error:
        st.session_state["_log_reading"] = str(error)
        return
    st.session_state["_log_reading"] = reading
    if reading.plan is not None:
        query, notes = us.setup_query(reading.plan.setup)
        values, notices = us.parse_query(query)
        put_values(values)
        st.session_state["_log_notices"] = [*notes, *notices]


def log_section() -> None:
    """Paste what the HF Trainer, Lightning or Keras printed: the setup it implies, what each
    printed number counts, where those numbers mislead, and the page opened on its plan."""
    box = st.expander("Read my log: paste what your framework printed", icon=":material/terminal:", key="log_panel", on_change="rerun")
    if not box.open:  # written only while open, as the other panels (the pasted text is kept)
        return
    with box:
        st.text_area(
            "The HF Trainer's “Running training” banner, a Lightning progress bar and model summary, or Keras fit output",
            key="log_text", height=160, max_chars=4_000_000, placeholder="***** Running training *****\n  Num examples = 1,000 ...",
            persist_state="session",
        )  # fmt: skip
        st.button("Read", key="log_read", on_click=read_pasted_log, icon=":material/search:")
        reading = st.session_state.get("_log_reading")
        if reading is None:
            return
        if isinstance(reading, str):  # not a log the page can read: one plain sentence, never the text itself
            st.warning(us.plain(reading))
            return
        known = {k: v for k, v in reading.setup.items() if v is not None}
        title = CONVENTIONS[reading.framework].title
        st.markdown(f"**{us.plain(title[0].upper() + title[1:])}**: " + us.plain(
            ", ".join(f"{k} = {v if isinstance(v, str) else explain.fmt(v)}" for k, v in known.items()) or "no setup value is determined"))  # fmt: skip
        if reading.unknown:
            st.markdown("Not determined by the text (never guessed): " + us.plain(", ".join(reading.unknown)))
        st.markdown("**What each printed number counts**")
        st.markdown("\n".join(f"- {us.plain(p.label)} = **{us.plain(p.value)}**: {us.plain(p.meaning)}" for p in reading.printed))
        st.markdown("**Where they mislead, and what the text pins down**")
        for note in reading.notes:
            st.markdown(f"- {us.plain(note)}")
        if reading.plan is not None:
            st.success("The page now shows this setup's plan.", icon=":material/check_circle:")
            for notice in st.session_state.get("_log_notices") or ():
                st.info(us.plain(notice))
        else:
            st.info("The text does not determine the whole setup, so the page keeps its own; the numbers above are what it does determine.")


# -- for teachers: lesson task, self-check, share, export ----------------------------------------


def answer_box(question: quiz.Question, key: str, prompt: bool = True) -> bool:
    """A text box for one number, judged by the core, with the worked reasoning. True once
    the answer in it is right."""
    if prompt:
        st.markdown(us.plain(question.prompt))
    digest = hashlib.sha1(question.prompt.encode()).hexdigest()[:12]  # a new question gets a fresh box
    text = st.text_input("Your answer (a number)", key=f"{key}_{digest}", max_chars=quiz.MAX_ANSWER_CHARS, placeholder="a number")
    if not text.strip():
        return False
    verdict = quiz.check(question, text)
    if verdict.correct is None:
        st.warning(us.plain(verdict.feedback))
    elif verdict.correct:
        st.success(us.plain(verdict.feedback), icon=":material/check_circle:")
    else:
        st.error(us.plain(verdict.feedback), icon=":material/cancel:")
    if verdict.reasoning:
        st.markdown(f"**Worked reasoning:** {us.plain(verdict.reasoning)}")
    return bool(verdict.correct)


def lesson_section(values: dict) -> bool:
    """The lesson's guided task (built-in text), each part checked against the current setup.
    Whether the page may show its numbers: always without a lesson; with one, once every task
    the learner can do now is answered right (but for tasks answered by reading the charts),
    or they ask to see the answers (the cards and charts would otherwise give each answer
    away next to its question)."""
    lesson = lesson_mode().lesson
    if lesson is None:
        return True
    setup = outcome_for(tuple(values.items())).setup
    answered = True
    with st.container(border=True, key="lesson_box"):
        heading(f"Lesson: {lesson.title}", us.plain(lesson.intro))
        for number, part in enumerate(lesson.parts, 1):
            st.markdown(f"**Task {number}.** {us.plain(part.prompt)}")
            if not part.ready(values):
                st.markdown(f"*{us.plain(part.todo())}*")
                continue
            try:
                question = part.question(setup) if setup is not None else None
            except SetupError:
                question = None
            if question is None:
                st.markdown("*This task does not apply to the current setup.*")
                continue
            right = answer_box(question, f"lesson_{number}", prompt=False)
            answered = answered and (right or part.looks)
        shown_now = st.toggle("Show the answers", key="lesson_show_answers", help="Show the page's numbers and charts before answering.")
    return answered or shown_now


@st.cache_resource(max_entries=CACHE_ENTRIES, show_spinner=False, **BY_HASH)
def questions_for(setup: Setup, seed: int) -> list[quiz.Question]:
    return quiz.questions(setup, seed)


def other_questions() -> None:
    st.session_state["_quiz_seed"] = st.session_state.get("_quiz_seed", 0) + 1


def quiz_section(setup: Setup) -> None:
    heading("Check yourself", "Questions about the setup above; type a number and the page checks it against the exact count.")
    box = st.expander("Questions about your setup", key="quiz_open", on_change="rerun", icon=":material/quiz:")
    if not box.open:  # generated only when asked for: near the 100,000-evaluation cap they take a second
        return
    with box:
        seed = st.session_state.get("_quiz_seed", 0)
        for number, question in enumerate(questions_for(setup, seed)[:QUIZ_SHOWN], 1):
            st.markdown(f"**Question {number}.**")
            answer_box(question, f"quiz_{number}")
        st.button("Other questions", on_click=other_questions, key="quiz_more", icon=":material/refresh:")


def page_address() -> tuple[str, bool]:
    """This page's address (scheme, host, path) and whether it is only a stand-in."""
    try:
        return share.clean_base_url(st.context.url or ""), False
    except share.ShareError:
        return FALLBACK_ADDRESS, True


def export_chart(kind: str, plan: Plan, seed: int):
    """The chart `kind` as the page draws it, for a file (a lab chart only once the lab has trained it)."""
    if kind == "lab_loss":
        return lab_charts.loss_chart(lab.stored_run(plan.setup, seed))
    if kind == "lab_compare":
        keys = lab.pair_keys(plan.setup, seed)
        return lab_charts.comparison_chart(*(lab.stored_run(*k) for k in keys))
    from epochsteps import charts

    return charts.chart(DRAWINGS[kind](plan))


def export_file(kind: str, ext: str, plan: Plan, seed: int):
    """A callable for st.download_button: the file is drawn (vl-convert) only when clicked."""

    def make() -> bytes | str:
        spec = export_spec(export_chart(kind, plan, seed))
        if ext == "png":
            return exports.chart_png(spec)
        if ext == "svg":
            return exports.chart_svg(spec)
        return exports.chart_html(spec, title=EXPORT_TITLES[kind], caption=spec.get("description") or exports.describe(plan))

    return make


def share_section(values: dict, plan: Plan) -> None:
    box = st.expander(
        "Share: a link to this page, an embed for a course page, a static image", icon=":material/share:",
        key="share_panel", on_change="rerun",
    )  # fmt: skip
    if not box.open:  # the link changes with every move: written only while the panel is open
        return
    with box:
        base, stand_in = page_address()
        query = {**us.to_query(values), **lesson_mode().query()}
        try:
            link = share.share_url(base, query)
            embed = share.embed_url(base, query)
        except share.ShareError as error:
            st.info(us.plain(f"No link for this page: {error}"))
            return
        if stand_in:
            st.markdown(f"*The page could not read its own address here: replace {FALLBACK_ADDRESS} with where it is hosted.*")
        st.markdown("**Link** to this exact page (every control is in it):")
        st.code(link, language=None, wrap_lines=True)
        height = share.recommended_height(controls=sum(shown(k) for k in ctl.linked(values)), charts=1)
        st.markdown(f"**Embed** in a course page (Streamlit's `?embed=true` mode, light theme), {height:,} px high:")
        st.code(share.iframe_snippet(embed, height=height), language=None, wrap_lines=True)  # highlighted HTML is too faint
        st.markdown("**No iframes allowed?** Put the step timeline in as an image, linked to the live page:")
        st.code(share.image_snippet("step_timeline.png", share.alt_text(plan), link=link), language=None, wrap_lines=True)
        st.download_button(
            "step_timeline.png", data=export_file("timeline", "png", plan, values["seed"]), file_name="step_timeline.png",
            mime=MIME["png"], on_click="ignore", key="share_png", icon=":material/image:",
        )  # fmt: skip


def load_setup_file() -> None:
    """A setup.json saved here goes through the same checks as a link."""
    file = st.session_state.get("setup_file")
    if file is None:
        return
    try:
        setup = exports.load_setup(file.getvalue())
    except SetupError as error:
        st.session_state["_load_message"] = ("error", f"That file could not be loaded: {error}")
        return
    query, notes = us.setup_query(setup)
    values, notices = us.parse_query(query)
    put_values(values)
    changed = [*notes, *notices]
    st.session_state["_load_message"] = (
        "warning" if changed else "success",
        "Setup loaded." + (" Changed to fit the page: " + "; ".join(changed) + "." if changed else ""),
    )


def export_section(plan: Plan, seed: int) -> None:
    box = st.expander(
        "Export: charts as PNG, SVG or HTML, the tables as CSV, the setup as JSON (and load one back)",
        key="export_open", on_change="rerun", icon=":material/download:",
    )  # fmt: skip
    if not box.open:  # nothing is prepared until asked for
        return
    with box:
        kinds = charts_shown(plan)
        if isinstance(lab.stored_run(plan.setup, seed), training.TrainingRun):
            kinds = [*kinds, "lab_loss"]
            keys = lab.pair_keys(plan.setup, seed)
            if isinstance(keys, tuple) and all(isinstance(lab.stored_run(*k), training.TrainingRun) for k in keys):
                kinds.append("lab_compare")
        if kinds:
            kind = st.selectbox("Chart", kinds, format_func=EXPORT_TITLES.get, key="export_chart")
            for column, ext in zip(st.columns(3), MIME, strict=True):
                column.download_button(
                    ext.upper(), data=export_file(kind, ext, plan, seed), file_name=f"{EXPORT_STEMS[kind]}.{ext}",
                    mime=MIME[ext], on_click="ignore", key=f"export_{ext}", width="stretch", icon=":material/download:",
                )  # fmt: skip
            st.markdown("*Each file is drawn when you click (no browser needed); the HTML file works offline.*")
        a, b, c = st.columns(3)
        a.download_button(
            "Step table (CSV)", data=partial(exports.steps_csv, plan), file_name="steps.csv", mime="text/csv",
            on_click="ignore", key="export_steps", width="stretch", icon=":material/table:",
        )  # fmt: skip
        b.download_button(
            "Epoch table (CSV)", data=partial(exports.epochs_csv, plan), file_name="epochs.csv", mime="text/csv",
            on_click="ignore", key="export_epochs", width="stretch", icon=":material/table:",
        )  # fmt: skip
        c.download_button(
            "Setup (JSON)", data=partial(exports.setup_json, plan.setup), file_name="setup.json", mime="application/json",
            on_click="ignore", key="export_setup", width="stretch", icon=":material/data_object:",
        )  # fmt: skip
        st.file_uploader(
            "Load a setup (a setup.json saved here)", type=["json"], key="setup_file", on_change=load_setup_file,
            max_upload_size=max(1, exports.MAX_SETUP_FILE_BYTES // 1_000_000),
        )  # fmt: skip
        kind_text = st.session_state.pop("_load_message", None)
        if kind_text is not None:
            {"error": st.error, "warning": st.warning, "success": st.success}[kind_text[0]](us.plain(kind_text[1]))


# -- the results, in page order --------------------------------------------------------------------


def results_section(values: dict, outcome: ctl.Outcome):
    """Everything the setup's numbers show: cards and formula, charts, the lab, the quiz and the
    translator. Returns the outcome drawn (the lab's losses may decide early stopping) and the
    lab's slot when its charts are to be trained at the end of the run (after the rest is out)."""
    outcome, run = lab_metrics(values, outcome)
    plan = outcome.plan
    answer_section(plan)
    for line in ctl.caveats(plan):
        st.info(us.plain(line))
    dead = ctl.dead_end(plan)
    lab_slot = None
    if dead:
        st.warning(us.plain(dead), icon=":material/block:")
    else:
        timeline_section(plan)
        inside_epoch_section(plan)
        tradeoff_section(plan)
        learning_rate_section(plan)
        early_stopping_section(values, outcome, run)
        lab_slot = lab_part(values, plan)
        quiz_section(plan.setup)
    translator_section(plan.setup)
    return outcome, lab_slot


def lab_part(values: dict, plan: Plan):
    """The lab's header in place; its charts too when made already, else a slot to train into
    at the end of the run (None when there is nothing to train)."""
    seed_here = not (values["early_stopping"] and values["metric_source"] in ("curve", "lab"))
    with st.container(key="see_it_train"):
        lab.header(seed_input if seed_here else (lambda: None))
        train = lab.wants_training(plan.setup, values["seed"])
        if not train or lab.made(plan.setup, values["seed"]):
            lab.lab_section(plan.setup, values["seed"], train)
            return None
        return st.container()


__all__ = ["CHART_NAMES", "results_section"]
