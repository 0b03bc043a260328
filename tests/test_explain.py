"""The page's words and tables (epochsteps.explain): every number they write is the core's.

Golden numbers come from framework-semantics.md section 6 (runs of the frameworks);
the code snippets are compiled for many setups and the PyTorch loop is even run, against
stand-in torch objects, to check it takes the plan's optimizer steps and learning rates.
"""

from __future__ import annotations

import ast
import math
import re
import subprocess
import sys
import types
from fractions import Fraction

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from epochsteps import FRAMEWORKS, Setup, SetupError, illustrative_curve, make_plan
from epochsteps import explain as ex

TEXTBOOK = Setup(dataset_size=10_000, batch_size=100, epochs=10)
CASE_F = dict(dataset_size=1000, batch_size=32, grad_accum=5, epochs=3)  # framework-semantics.md section 6, row F


# -- a small evaluator for the formula's LaTeX ------------------------------------------


def _to_python(expr: str) -> str:
    s = expr.replace("{,}", "")
    for a, b in (
        (r"\left\lceil", "ceil("),
        (r"\right\rceil", ")"),
        (r"\left\lfloor", "floor("),
        (r"\right\rfloor", ")"),
        (r"\times", "*"),
        (r"\min", "min"),
    ):
        s = s.replace(a, b)
    while r"\frac" in s:
        s = re.sub(r"\\frac\{([^{}]*)\}\{([^{}]*)\}", r"((\1)/(\2))", s)
    assert "\\" not in s and "{" not in s, f"unparsed LaTeX left in {expr!r}"
    return s


def evaluate_tex(expr: str) -> Fraction:
    """Exact value of a formula expression (ceil, floor, frac, times, plus, min)."""
    functions = {"ceil": math.ceil, "floor": math.floor, "min": min}

    def walk(node):
        if isinstance(node, ast.Expression):
            return walk(node.body)
        if isinstance(node, ast.Constant):
            return Fraction(str(node.value))
        if isinstance(node, ast.BinOp):
            a, b = walk(node.left), walk(node.right)
            ops = {ast.Mult: lambda: a * b, ast.Div: lambda: a / b, ast.Add: lambda: a + b}
            return ops[type(node.op)]()
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
            return Fraction(functions[node.func.id](*[walk(a) for a in node.args]))
        raise AssertionError(f"unexpected node {ast.dump(node)}")

    return walk(ast.parse(_to_python(expr), mode="eval"))


def check_formula(plan) -> None:
    """Each line's arithmetic gives its value, and each value is the plan's."""
    terms = ex.formula_terms(plan)
    text = ex.formula(plan)
    keys = [t.key for t in terms]
    assert "total_steps" in keys
    sched = plan.schedule
    for t in terms:
        if t.expression:
            assert evaluate_tex(t.expression) == t.value, (t, plan.setup)
        assert ex.tex(t.value) in text
        if t.key == "batches_per_epoch":
            assert t.value == plan.batches_per_epoch_full
        elif t.key == "steps_per_epoch":
            assert t.value == ex.steps_per_full_epoch(plan)
            full = sched.batches == sched.nominal_batches
            if len(full) and full[0]:
                assert t.value == sched.steps[0]
        elif t.key == "batches_in_run":
            assert t.value == int(sched.batches.sum())
        elif t.key == "total_steps":
            assert t.value == plan.planned_optimizer_steps
        elif t.key == "stop_step":
            assert t.value == plan.total_optimizer_steps
    s = plan.setup
    lead = next(t for t in terms if t.key in ("batches_per_epoch", "batches_per_pass", "global_batches", "samples_per_device"))
    if lead.key != "samples_per_device":
        assert ("lfloor" in lead.expression) == (s.drop_last and s.framework != "keras")
    assert text.startswith("\\begin{aligned}") and text.endswith("\\end{aligned}")


# -- formula -------------------------------------------------------------------------------


def test_formula_textbook_case():
    text = ex.formula(make_plan(TEXTBOOK))
    assert r"\left\lceil \frac{10{,}000}{100} \right\rceil = 100" in text
    assert r"10 \times 100 = 1{,}000" in text
    check_formula(make_plan(TEXTBOOK))


@pytest.mark.parametrize(
    ("framework", "total", "accum_line"),
    [
        ("pytorch", 18, r"\left\lfloor \frac{32}{5} \right\rfloor = 6"),
        ("pytorch-flush", 21, r"\left\lceil \frac{32}{5} \right\rceil = 7"),
        ("hf", 21, r"\left\lceil \frac{32}{5} \right\rceil = 7"),
        ("lightning", 21, r"\left\lceil \frac{32}{5} \right\rceil = 7"),
        ("keras", 19, r"\left\lfloor \frac{96}{5} \right\rfloor = 19"),
    ],
)
def test_formula_accumulation_rounding_per_framework(framework, total, accum_line):
    plan = make_plan(Setup(framework=framework, **CASE_F))
    assert plan.planned_optimizer_steps == total
    assert accum_line in ex.formula(plan)
    check_formula(plan)


def test_formula_devices_pytorch_pads_then_batches_and_hf_shards_batches():
    # framework-semantics.md 6K: N=11, B=3, W=2, drop_last: HF 1 batch per rank, Lightning 2
    lightning = make_plan(Setup(dataset_size=11, batch_size=3, devices=2, drop_last=True, epochs=1, framework="lightning"))
    hf = make_plan(Setup(dataset_size=11, batch_size=3, devices=2, drop_last=True, epochs=1, framework="hf"))
    assert r"\left\lceil \frac{11}{2} \right\rceil = 6" in ex.formula(lightning)
    assert r"\left\lfloor \frac{6}{3} \right\rfloor = 2" in ex.formula(lightning)
    assert r"\left\lfloor \frac{11}{3} \right\rfloor = 3" in ex.formula(hf)
    assert r"\left\lfloor \frac{3}{2} \right\rfloor = 1" in ex.formula(hf)
    check_formula(lightning)
    check_formula(hf)


def test_formula_hf_fractional_epochs_and_max_steps_cut():
    hf = make_plan(Setup(dataset_size=1000, batch_size=32, grad_accum=4, epochs=2.5, framework="hf"))
    assert r"\left\lceil 2.5 \times 8 \right\rceil = 20" in ex.formula(hf)
    cut = make_plan(Setup(dataset_size=10_037, batch_size=100, epochs=10, max_steps=240, framework="lightning"))
    assert r"\min(240, 10 \times 101) = 240" in ex.formula(cut)
    check_formula(hf)
    check_formula(cut)


def test_formula_large_numbers_have_separators():
    plan = make_plan(Setup(dataset_size=10**12, batch_size=7, epochs=10_000, framework="hf", grad_accum=3))
    text = ex.formula(plan)
    assert re.search(r"(?<![\d{},.])\d{4,}", text.replace("{,}", ",")) is None
    check_formula(plan)


def test_formula_reports_early_stop():
    metrics = (1.0, 0.9, 0.95, 0.96, 0.97, 0.98, 0.99, 1.0, 1.1, 1.2)
    plan = make_plan(Setup(dataset_size=1000, batch_size=100, epochs=10, framework="keras", patience=2, metrics=metrics))
    assert plan.early_stop.stopped
    terms = {t.key: t for t in ex.formula_terms(plan)}
    assert terms["stop_step"].value == plan.total_optimizer_steps < plan.planned_optimizer_steps
    check_formula(plan)


# -- metric cards ----------------------------------------------------------------------------


def test_metric_cards_textbook():
    cards = ex.metric_cards(make_plan(TEXTBOOK))
    by_label = {c.label: c for c in cards}
    assert list(by_label) == [
        "Batches per epoch",
        "Optimizer steps per epoch",
        "Total optimizer steps",
        "Effective batch",
        "Samples seen",
        "Samples dropped",
        "Size of the last batch",
        "Steps after the last checkpoint",
    ]
    assert by_label["Batches per epoch"].value == "100"
    assert by_label["Total optimizer steps"].value == "1,000"
    assert by_label["Samples seen"].value == "100,000"
    assert all(c.help for c in cards)


def test_metric_cards_imagenet_and_keras_varies():
    plan = make_plan(Setup(dataset_size=1_281_167, batch_size=256, epochs=90))
    values = {c.label: c.value for c in ex.metric_cards(plan)}
    assert values["Batches per epoch"] == "5,005"
    assert values["Total optimizer steps"] == "450,450"
    assert values["Size of the last batch"] == f"{1_281_167 - 256 * 5004:,}"
    keras = make_plan(Setup(framework="keras", **CASE_F))  # steps per epoch [6, 6, 7]
    values = {c.label: c.value for c in ex.metric_cards(keras)}
    assert values["Optimizer steps per epoch"] == "varies: 6-7"
    assert values["Total optimizer steps"] == "19"


def test_metric_cards_drop_last_and_empty_loader():
    plan = make_plan(Setup(dataset_size=10_037, batch_size=100, epochs=10, drop_last=True))
    values = {c.label: c.value for c in ex.metric_cards(plan)}
    assert values["Samples dropped"] == "370"
    assert values["Size of the last batch"] == "100"
    empty = make_plan(Setup(dataset_size=5, batch_size=8, epochs=2, drop_last=True, framework="lightning"))
    values = {c.label: c.value for c in ex.metric_cards(empty)}
    assert values["Batches per epoch"] == "0"
    assert values["Total optimizer steps"] == "0"
    assert values["Size of the last batch"] == "none"


# -- takeaways and try this ----------------------------------------------------------------


def test_takeaway_drop_last_names_the_samples():
    text = " ".join(ex.takeaways(make_plan(Setup(dataset_size=10_037, batch_size=100, epochs=10, drop_last=True))))
    assert "37 samples" in text and "370 samples over 10 epochs" in text


def test_takeaway_max_steps_cut_position():
    plan = make_plan(Setup(dataset_size=10_000, batch_size=100, epochs=10, max_steps=240))
    text = " ".join(ex.takeaways(plan))
    assert "epoch 3" in text and "2.4 epochs" in text and "1,000" in text


def test_takeaway_leftover_window_per_convention():
    loop = " ".join(ex.takeaways(make_plan(Setup(framework="pytorch", **CASE_F))))
    assert "(i + 1) % 5" in loop and "6 steps, not 7" in loop
    hf = " ".join(ex.takeaways(make_plan(Setup(framework="hf", **CASE_F))))
    assert "short window of 2 batches" in hf and "7 steps" in hf
    keras = " ".join(ex.takeaways(make_plan(Setup(framework="keras", **CASE_F))))
    assert "(6-7)" in keras and "never applied" in keras


def test_takeaway_padding_and_early_stopping():
    padded = make_plan(Setup(dataset_size=10, batch_size=2, devices=4, epochs=3))  # 3 per rank: 2 repeats per epoch
    assert padded.samples_duplicated == 6
    assert any("2 samples are repeated every epoch (6 over the run)" in t for t in ex.takeaways(padded))
    metrics = illustrative_curve(30, seed=1)
    plan = make_plan(Setup(dataset_size=1000, batch_size=100, epochs=30, framework="hf", patience=2, metrics=metrics))
    text = " ".join(ex.takeaways(plan))
    es = plan.early_stop
    if es.stopped:
        assert f"step {es.stop_global_step:,}" in text and f"epoch {es.stop_epoch}" in text
    else:
        assert "never fires" in text


def test_try_this_prediction_is_the_cores():
    plan = make_plan(TEXTBOOK)
    prompt, prediction = ex.try_this(plan)
    change = ex.try_this_change(plan)
    assert len(change) == 1
    other = make_plan(TEXTBOOK.replace(**change))
    assert f"{plan.total_optimizer_steps:,} → {other.total_optimizer_steps:,}" in prediction
    assert prompt
    loop = make_plan(Setup(framework="pytorch", **CASE_F))
    prompt, prediction = ex.try_this(loop)
    assert "pytorch-flush" in prompt and "18 → 21" in prediction
    dropped = make_plan(Setup(dataset_size=10_037, batch_size=100, epochs=10))
    prompt, prediction = ex.try_this(dropped)
    assert "drop_last" in prompt and "samples dropped 0 → 370" in prediction


# -- translator and differences ------------------------------------------------------------


def test_translator_golden_case_f():
    df = ex.translator(Setup(framework="hf", **CASE_F))
    assert list(df.index) == list(FRAMEWORKS)
    assert df["total steps"].tolist() == ["18", "21", "21", "21", "19"]
    assert df.loc["keras", "steps per epoch"] == "varies: 6-7"
    assert "total steps" in df.attrs["differs"]
    assert "(yours)" in df.loc["hf", "convention"]


def test_translator_adapts_keras_devices_and_drop_last():
    setup = Setup(dataset_size=50_000, batch_size=8, devices=4, grad_accum=2, drop_last=True, epochs=3, framework="lightning")
    df = ex.translator(setup)
    note = df.loc["keras", "note"]
    assert "32" in note and "drop_last" in note
    keras = make_plan(Setup(dataset_size=50_000, batch_size=32, grad_accum=2, epochs=3, framework="keras"))
    assert df.loc["keras", "total steps"] == f"{keras.total_optimizer_steps:,}"
    for fw in ("pytorch", "hf", "lightning"):
        plan = make_plan(setup.replace(framework=fw))
        assert df.loc[fw, "total steps"] == f"{plan.total_optimizer_steps:,}"
        assert df.loc[fw, "samples dropped"] == f"{plan.samples_dropped:,}"


def test_translator_shows_refusal():
    # HF refuses an empty loader without max_steps; Lightning runs nothing
    df = ex.translator(Setup(dataset_size=5, batch_size=8, epochs=2, drop_last=True, framework="lightning"))
    assert df.loc["hf", "total steps"] == "—"
    assert "refuses" in df.loc["hf", "note"] and "max_steps" in df.loc["hf", "note"]
    assert df.loc["lightning", "total steps"] == "0"


def test_translator_maps_evaluation_cadence():
    setup = Setup(dataset_size=1000, batch_size=10, epochs=4, framework="keras", validation_freq=2)
    df = ex.translator(setup)
    assert df["evaluations"].tolist() == ["2"] * 5
    t = ex.translate(setup, "pytorch")
    assert t.setup.eval_every_steps == 200
    steps = ex.translate(
        Setup(dataset_size=1000, batch_size=10, epochs=2, framework="hf", eval_every_steps=30, grad_accum=2), "lightning"
    )
    assert steps.setup.val_check_interval == 60 and steps.setup.check_val_every_n_epoch is None


def test_differences_names_both_numbers_and_the_cause():
    lines = ex.differences(Setup(framework="hf", **CASE_F))
    steps = next(line for line in lines if "steps" in line)
    assert "HF Trainer" in steps and ": 21 steps" in steps
    assert "`(i + 1) % 5` loop: 18, because its leftover window never steps" in steps
    assert "Keras fit: 19, because its accumulation windows run across epoch ends" in steps
    assert (
        ex.differences(Setup(dataset_size=1000, batch_size=10, epochs=2, framework="hf")) == []
    )  # the loops evaluate once per epoch too
    assert ex.differences(Setup(dataset_size=1000, batch_size=10, epochs=2, framework="pytorch")) == [
        "HF Trainer, Lightning and Keras fit: 2 evaluations; a PyTorch loop: 0, because it evaluates only where you call it."
    ]


def test_differences_multi_device_sharding():
    lines = ex.differences(Setup(dataset_size=11, batch_size=3, devices=2, drop_last=True, epochs=1, framework="lightning"))
    assert any("HF Trainer: 1, because accelerate deals whole global batches" in line for line in lines)


# -- code snippets ----------------------------------------------------------------------------


def test_code_snippets_carry_the_numbers():
    s = Setup(
        dataset_size=50_000, batch_size=8, devices=4, grad_accum=4, epochs=3, framework="hf",
        eval_every_steps=100, patience=3, metrics=illustrative_curve(12), lr_schedule="cosine", warmup_steps=50,
    )  # fmt: skip
    hf = ex.code_snippet(s, "hf")
    for piece in ("per_device_train_batch_size=8", "gradient_accumulation_steps=4", "num_train_epochs=3", "dataloader_drop_last=False",
                  'eval_strategy="steps"', "eval_steps=100", 'lr_scheduler_type="cosine"', "warmup_steps=50", "EarlyStoppingCallback(early_stopping_patience=3"):  # fmt: skip
        assert piece in hf
    loop = ex.code_snippet(s, "pytorch")
    assert "DistributedSampler" in loop and "(i + 1) % accum == 0:" in loop and "len(loader)" not in loop.split("for epoch")[1]
    assert "i + 1 == len(loader)" in ex.code_snippet(s, "pytorch-flush")
    lightning = ex.code_snippet(s, "lightning")
    for piece in (
        "max_epochs=3",
        "accumulate_grad_batches=4",
        "devices=4",
        "val_check_interval=400",
        "check_val_every_n_epoch=None",
        "EarlyStopping(monitor=",
    ):
        assert piece in lightning
    keras = ex.code_snippet(s, "keras")
    for piece in (
        "batch_size=32",
        "epochs=3",
        "gradient_accumulation_steps=4",
        "CosineDecay(",
        "start_from_epoch=0",
        "warmup_steps=200",
    ):
        assert piece in keras
    big = ex.code_snippet(Setup(dataset_size=1_281_167, batch_size=256, epochs=90), "pytorch")
    assert "1,281,167 samples" in big


def test_keras_snippet_omits_accumulation_of_one():
    # Keras raises for gradient_accumulation_steps < 2
    assert "gradient_accumulation_steps" not in ex.code_snippet(TEXTBOOK, "keras")


class _Recorder:
    def __init__(self, *args, **kwargs):
        self.args, self.kwargs = args, kwargs


def _fake_torch(world_size: int, record: dict) -> dict[str, types.ModuleType]:
    """Stand-ins for the torch objects the loop snippet touches (PyTorch's documented lengths)."""

    class DistributedSampler:
        def __init__(self, ds, shuffle=True):
            self.n = -(-len(ds) // world_size)  # every rank padded to ceil(N / W)

        def __len__(self):
            return self.n

        def set_epoch(self, epoch):
            pass

    class DataLoader:
        def __init__(self, ds, batch_size, sampler=None, shuffle=False, drop_last=False):
            n = len(sampler) if sampler is not None else len(ds)
            self.len = n // batch_size if drop_last else -(-n // batch_size)

        def __len__(self):
            return self.len

        def __iter__(self):
            return iter([(0, 0)] * self.len)

    class AdamW:
        def __init__(self, params, lr):
            self.base = self.lr = lr

        def step(self):
            record["lrs"].append(self.lr)

        def zero_grad(self):
            pass

    class LambdaLR:
        def __init__(self, optimizer, fn):
            self.optimizer, self.fn, self.last = optimizer, fn, 0
            optimizer.lr = optimizer.base * fn(0)

        def step(self):
            self.last += 1
            self.optimizer.lr = self.optimizer.base * self.fn(self.last)

    torch = types.ModuleType("torch")
    utils, data = types.ModuleType("torch.utils"), types.ModuleType("torch.utils.data")
    optim, sched = types.ModuleType("torch.optim"), types.ModuleType("torch.optim.lr_scheduler")
    dist, nn, parallel = types.ModuleType("torch.distributed"), types.ModuleType("torch.nn"), types.ModuleType("torch.nn.parallel")
    data.DataLoader, data.DistributedSampler = DataLoader, DistributedSampler
    optim.AdamW, sched.LambdaLR = AdamW, LambdaLR
    dist.init_process_group = lambda *args, **kwargs: record.setdefault("process_groups", []).append(args)
    parallel.DistributedDataParallel = lambda model: record.setdefault("ddp", []).append(model) or model
    torch.utils, utils.data, torch.optim, optim.lr_scheduler = utils, data, optim, sched
    torch.distributed, torch.nn, nn.parallel = dist, nn, parallel
    return {
        "torch": torch,
        "torch.utils": utils,
        "torch.utils.data": data,
        "torch.optim": optim,
        "torch.optim.lr_scheduler": sched,
        "torch.distributed": dist,
        "torch.nn": nn,
        "torch.nn.parallel": parallel,
    }


def run_loop_snippet(setup: Setup, framework: str, monkeypatch) -> dict:
    """Run the PyTorch snippet with stand-ins; return the learning rate of every optimizer step and the evaluations."""
    t = ex.translate(setup, framework)
    record = {"lrs": [], "evals": 0}
    for name, module in _fake_torch(t.setup.devices, record).items():
        monkeypatch.setitem(sys.modules, name, module)
    metrics = iter(t.setup.metrics)

    def evaluate(model):
        record["evals"] += 1
        return next(metrics, 0.0)  # a run without early stopping still evaluates

    class Loss:
        def __truediv__(self, other):
            return self

        def backward(self):
            pass

    class Model:
        def parameters(self):
            return []

        def train(self):
            pass

        def __call__(self, x):
            return x

    namespace = {"train_ds": range(t.setup.dataset_size), "model": Model(), "loss_fn": lambda a, b: Loss(), "evaluate": evaluate}
    exec(compile(ex.code_snippet(setup, framework), "<snippet>", "exec"), namespace)  # noqa: S102 - our own generated code
    return {**record, "plan": t.plan}


@pytest.mark.parametrize("framework", ["pytorch", "pytorch-flush"])
@pytest.mark.parametrize(
    "setup",
    [
        Setup(**CASE_F),
        Setup(dataset_size=101, batch_size=4, grad_accum=3, devices=3, epochs=2, max_steps=11),
        Setup(
            dataset_size=90,
            batch_size=4,
            grad_accum=2,
            epochs=4,
            eval_every_steps=3,
            patience=2,
            metrics=(1.0, 0.9, 0.95, 0.96, 0.97, 0.5, 0.4, 0.3, 0.2, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1),
        ),
        Setup(dataset_size=64, batch_size=8, epochs=3, grad_accum=3, lr_schedule="linear", warmup_steps=2, lr=0.5),
        Setup(dataset_size=64, batch_size=8, epochs=None, max_steps=7, lr_schedule="cosine", warmup_steps=3, lr=0.5),
        Setup(dataset_size=50, batch_size=7, epochs=2, framework="hf", lr_schedule="constant_with_warmup", warmup_steps=0.5),
        # patience 0 stops at the first evaluation that does not improve, not before any evaluation
        Setup(dataset_size=90, batch_size=4, grad_accum=2, epochs=4, eval_every_steps=3, patience=0, metrics=(1.0, 0.9, 0.95) + (0.5,) * 12),
        # the epochs end before max_steps: the scheduler still plans max_steps (the plan's lr_horizon)
        Setup(dataset_size=64, batch_size=8, epochs=2, grad_accum=3, max_steps=20, lr_schedule="linear", warmup_steps=2, lr=0.5),
    ],
)
def test_pytorch_snippet_runs_the_plans_steps_and_rates(setup, framework, monkeypatch):
    out = run_loop_snippet(setup, framework, monkeypatch)
    plan = out["plan"]
    assert len(out["lrs"]) == plan.total_optimizer_steps
    assert out["evals"] == len(plan.evaluations)
    assert len(out.get("ddp", [])) == len(out.get("process_groups", [])) == (plan.setup.devices > 1)
    if plan.setup.lr_schedule is not None and plan.total_optimizer_steps:
        np.testing.assert_allclose(out["lrs"], plan.lr_at(np.arange(1, plan.total_optimizer_steps + 1)), rtol=1e-12)


def _fake_frameworks(record: dict) -> dict[str, types.ModuleType]:
    def recorder(name):
        class R(_Recorder):
            def __init__(self, *args, **kwargs):
                super().__init__(*args, **kwargs)
                record.setdefault(name, []).append(self)

            def train(self):
                pass

            def fit(self, *args, **kwargs):
                pass

        return R

    transformers = types.ModuleType("transformers")
    transformers.TrainingArguments, transformers.Trainer, transformers.EarlyStoppingCallback = (
        recorder("TrainingArguments"),
        recorder("Trainer"),
        recorder("EarlyStoppingCallback"),
    )
    lightning = types.ModuleType("lightning")
    lightning.Trainer = recorder("L.Trainer")
    lightning.LightningModule = type("LightningModule", (), {})
    lpt, callbacks = types.ModuleType("lightning.pytorch"), types.ModuleType("lightning.pytorch.callbacks")
    callbacks.EarlyStopping = recorder("L.EarlyStopping")
    lightning.pytorch, lpt.callbacks = lpt, callbacks
    keras = types.ModuleType("keras")
    keras.optimizers = types.SimpleNamespace(
        AdamW=recorder("keras.AdamW"), schedules=types.SimpleNamespace(CosineDecay=recorder("CosineDecay"))
    )
    keras.callbacks = types.SimpleNamespace(EarlyStopping=recorder("keras.EarlyStopping"))
    return {
        "transformers": transformers,
        "lightning": lightning,
        "lightning.pytorch": lpt,
        "lightning.pytorch.callbacks": callbacks,
        "keras": keras,
    }


def _exec_framework_snippet(setup: Setup, framework: str, monkeypatch) -> tuple[dict, Setup]:
    record: dict = {}
    for name, module in {**_fake_torch(1, {"lrs": []}), **_fake_frameworks(record)}.items():
        monkeypatch.setitem(sys.modules, name, module)
    model = _Recorder()
    model.compile = lambda **kw: record.setdefault("compile", kw)
    model.fit = lambda *a, **kw: record.setdefault("fit", kw)
    namespace = {
        "model": model,
        "train_ds": range(setup.dataset_size),
        "eval_ds": None,
        "val_loader": None,
        "x_train": None,
        "y_train": None,
        "x_val": None,
        "y_val": None,
    }
    exec(compile(ex.code_snippet(setup, framework), "<snippet>", "exec"), namespace)  # noqa: S102 - our own generated code
    return record, ex.translate(setup, framework).setup


def test_hf_snippet_arguments_are_the_setups(monkeypatch):
    s = Setup(dataset_size=5000, batch_size=16, grad_accum=2, devices=2, epochs=2.5, framework="hf", drop_last=True,
              eval_every_steps=0.25, patience=1, mode="max", min_delta=0.01, lr_schedule="linear", warmup_steps=0.1)  # fmt: skip
    record, _ = _exec_framework_snippet(s, "hf", monkeypatch)
    kw = record["TrainingArguments"][0].kwargs
    assert kw["per_device_train_batch_size"] == 16 and kw["gradient_accumulation_steps"] == 2
    assert kw["num_train_epochs"] == 2.5 and kw["dataloader_drop_last"] is True
    assert kw["eval_strategy"] == "steps" and kw["eval_steps"] == 0.25 and kw["save_steps"] == 0.25
    assert kw["lr_scheduler_type"] == "linear" and kw["warmup_steps"] == 0.1 and kw["greater_is_better"] is True
    cb = record["EarlyStoppingCallback"][0].kwargs
    assert cb == {"early_stopping_patience": 1, "early_stopping_threshold": 0.01}


def test_lightning_and_keras_snippet_arguments(monkeypatch):
    s = Setup(dataset_size=5000, batch_size=16, grad_accum=2, epochs=6, framework="lightning", max_steps=500,
              val_check_interval=0.5, check_val_every_n_epoch=2, patience=2, lr_schedule="cosine", warmup_steps=10)  # fmt: skip
    record, _ = _exec_framework_snippet(s, "lightning", monkeypatch)
    kw = record["L.Trainer"][0].kwargs
    assert kw["max_epochs"] == 6 and kw["max_steps"] == 500 and kw["accumulate_grad_batches"] == 2
    assert kw["val_check_interval"] == 0.5 and kw["check_val_every_n_epoch"] == 2
    assert record["L.EarlyStopping"][0].kwargs["patience"] == 2
    k = Setup(dataset_size=5000, batch_size=16, grad_accum=3, epochs=4, framework="keras", steps_per_epoch=100, validation_freq=2,
              patience=1, start_from_epoch=1, lr_schedule="cosine", warmup_steps=30)  # fmt: skip
    record, _ = _exec_framework_snippet(k, "keras", monkeypatch)
    fit = record["fit"]
    assert fit["batch_size"] == 16 and fit["epochs"] == 4 and fit["steps_per_epoch"] == 100 and fit["validation_freq"] == 2
    assert record["keras.AdamW"][0].kwargs["gradient_accumulation_steps"] == 3
    assert record["keras.EarlyStopping"][0].kwargs["start_from_epoch"] == 1
    decay = record["CosineDecay"][0]
    assert decay.kwargs["decay_steps"] + decay.kwargs["warmup_steps"] == make_plan(k).schedule.lr_horizon


# -- glossary, scope, purity -------------------------------------------------------------


def test_glossary_and_scope():
    for term in (
        "epoch",
        "batch",
        "micro-batch",
        "iteration",
        "optimizer step",
        "global step",
        "effective batch",
        "batches per epoch",
        "drop_last",
        "gradient accumulation",
    ):
        assert ex.GLOSSARY[term]
    assert "\n" not in ex.SCOPE and "not" in ex.SCOPE and "training lab" in ex.SCOPE


def test_explain_imports_no_streamlit_or_altair():
    code = "import sys, epochsteps.explain; bad = {'streamlit', 'altair'} & set(sys.modules); sys.exit(1 if bad else 0)"
    assert subprocess.run([sys.executable, "-c", code], capture_output=True).returncode == 0


# -- property: every valid setup, every framework ----------------------------------------

_UNSEPARATED = re.compile(r"(?<![\d.,_])\d{4,}")


@st.composite
def setups(draw):
    fw = draw(st.sampled_from(FRAMEWORKS))
    own = draw(st.booleans())  # mostly the framework's own knobs; sometimes a foreign one (a refusal)
    values = dict(
        framework=fw,
        dataset_size=draw(st.integers(1, 300)),
        batch_size=draw(st.integers(1, 40)),
        epochs=draw(st.one_of(st.none(), st.integers(1, 5), st.sampled_from([0.5, 1.5, 2.25]))),
        grad_accum=draw(st.integers(1, 6)),
        devices=draw(st.sampled_from([1, 1, 2, 3])),
        drop_last=draw(st.booleans()),
        max_steps=draw(st.one_of(st.none(), st.integers(1, 60))),
    )
    cadence = draw(st.integers(0, 3))
    if (fw in ("pytorch", "pytorch-flush", "hf") or not own) and cadence == 1:
        values["eval_every_steps"] = draw(st.sampled_from([1, 2, 5, 0.25] if fw == "hf" else [1, 2, 5]))
    if (fw == "lightning" or not own) and cadence == 2:
        values["val_check_interval"] = draw(st.sampled_from([1, 3, 0.25, 0.5, 1.0]))
        values["check_val_every_n_epoch"] = draw(st.sampled_from([1, 2, None]))
    if (fw == "keras" or not own) and cadence == 3:
        values["validation_freq"] = draw(st.sampled_from([1, 2, (1, 3)]))
        values["steps_per_epoch"] = draw(st.one_of(st.none(), st.integers(1, 8)))
        values["start_from_epoch"] = draw(st.integers(0, 2))
    if draw(st.booleans()):
        values["patience"] = draw(st.integers(0, 3))
        values["min_delta"] = draw(st.sampled_from([0.0, 0.01]))
        values["mode"] = draw(st.sampled_from(["min", "max"]))
        values["metrics"] = illustrative_curve(draw(st.integers(0, 40)), seed=draw(st.integers(0, 3)))
    if draw(st.booleans()):
        values["lr_schedule"] = draw(st.sampled_from(["constant", "constant_with_warmup", "linear", "cosine"]))
        values["warmup_steps"] = draw(st.sampled_from([0.0, 2.0, 0.1]))
        values["lr"] = draw(st.sampled_from([None, 0.01]))
    return Setup(**values)


def _texts_have_separators(*texts: str) -> None:
    for text in texts:
        assert _UNSEPARATED.search(text) is None, text


@settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(setups())
def test_every_function_answers_for_every_setup(setup):
    try:
        plan = make_plan(setup)
    except SetupError:
        plan = None
    # setup-level functions never raise: refusals become rows and notes
    df = ex.translator(setup)
    assert isinstance(df, pd.DataFrame) and list(df.index) == list(FRAMEWORKS)
    own = df.loc[setup.framework]
    assert (own["total steps"] == "—") == (plan is None)
    lines = ex.differences(setup)
    for fw in FRAMEWORKS:
        code = ex.code_snippet(setup, fw)
        compile(code, f"<{fw}>", "exec")
    _texts_have_separators(*lines, *df.drop(columns="note").to_numpy().ravel().tolist())
    if plan is None:
        return
    assert own["total steps"] == f"{plan.total_optimizer_steps:,}"
    check_formula(plan)
    cards = ex.metric_cards(plan)
    assert len(cards) == 8
    values = {c.label: c.value for c in cards}
    assert values["Steps after the last checkpoint"] == f"{plan.steps_after_last_checkpoint:,}"
    assert values["Total optimizer steps"] == f"{plan.total_optimizer_steps:,}"
    assert values["Samples seen"] == f"{plan.samples_seen:,}"
    assert values["Effective batch"] == f"{plan.effective_batch_size:,}"
    sentences = ex.takeaways(plan)
    assert sentences
    prompt, prediction = ex.try_this(plan)
    _texts_have_separators(*[c.value for c in cards], *[c.help for c in cards], *sentences, prompt, prediction)
    change = ex.try_this_change(plan)
    if change:
        other = make_plan(setup.replace(**change))
        assert f"{other.total_optimizer_steps:,}" in prediction or "→" in prediction


def test_keras_steps_per_epoch_words_count_passes():
    plan = make_plan(
        Setup(dataset_size=1000, batch_size=32, epochs=5, framework="keras", steps_per_epoch=10)
    )  # epochs [10, 10, 10, 2, 10]
    first = ex.takeaways(plan)[0]
    assert "32 batches per pass" in first and "steps_per_epoch=10" in first and "42 optimizer steps" in first
    cards = {c.label: c for c in ex.metric_cards(plan)}
    assert cards["Batches per epoch"].value == "varies: 2-10"
    assert "after 31 full batches" in cards["Size of the last batch"].help
    assert r"4 \times 10 + 1 \times 2 = 42" in ex.formula(plan)
    # the other conventions get the same number of batches as max_steps, and the cadence in batches
    t = ex.translate(plan.setup.replace(validation_freq=2), "lightning")
    assert t.setup.max_steps == 42 and t.setup.val_check_interval == 20 and t.setup.check_val_every_n_epoch is None
