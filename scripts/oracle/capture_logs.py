#!/usr/bin/env python
"""Capture what the real frameworks print while training, for `epochsteps.readlog`'s tests.

Each case trains a tiny model with the real framework on CPU and saves, under
tests/data/logs/:
  <case>.log          stdout and stderr merged into one pipe, as a log file or `| tee` gets
                      them (tqdm's carriage returns, Keras' backspaces and ANSI codes kept);
  <case>.screen.txt   for the cases marked `screen`: the bytes a terminal (a pty, 120 x 50)
                      received, rendered by the pyte terminal emulator, i.e. the final state
                      of every line as it is copied from the terminal;
  <case>.json         the true setup and the real counts, recorded by callbacks in the
                      training process (never printed, so the log is what a user sees).

Run with the frameworks' throwaway venv; pyte is needed only for the screen captures, and
the cases of older Trainers run where TRANSFORMERS_4_57_PYTHON / TRANSFORMERS_4_51_PYTHON
name an interpreter with that transformers (a venv whose .pth adds /tmp/fw's torch):

    /tmp/fw/bin/pip install --target /tmp/rl-pyte pyte
    PYTHONPATH=/tmp/rl-pyte /tmp/fw/bin/python scripts/oracle/capture_logs.py [CASE ...]

    # or setups drawn at random, captured outside the repository, for check_logs.py:
    PYTHONPATH=/tmp/rl-pyte /tmp/fw/bin/python scripts/oracle/capture_logs.py --random 15 7 /tmp/logs-unseen

Never imported by the project.
"""

from __future__ import annotations

import json
import os
import select
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "..", "..", "tests", "data", "logs")
COLUMNS, ROWS = 120, 50

# Each case: the framework, what the user passes, and how the output is produced.
# HF: epochs (num_train_epochs), max_steps, accum, drop_last, devices (torchrun), log ("info", "explicit", "default"),
#     logging_steps, eval ("epoch" / None), patience (EarlyStoppingCallback on a metric that stops improving).
# Lightning: max_epochs, max_steps, accum, devices (ddp), limit (limit_train_batches), val, patience, bar: "tqdm" (the
#     default when rich is not installed: TQDMProgressBar and ModelSummary) or "rich" (the default when it is).
# Keras: epochs, accum (optimizer gradient_accumulation_steps), verbose, steps_per_epoch, val, patience.
CASES = {
    # ---------------------------------------------------------------- HF Trainer
    "hf_info_basic": dict(fw="hf", n=1000, b=32, epochs=3, log="info", screen=True),
    "hf_info_accum_leftover": dict(fw="hf", n=1000, b=32, accum=5, epochs=3, log="info", logging_steps=5),
    "hf_info_fractional": dict(fw="hf", n=1000, b=32, accum=4, epochs=2.5, log="info", logging_steps=4),
    "hf_info_max_steps": dict(fw="hf", n=1000, b=32, accum=4, epochs=3, max_steps=10, log="info"),
    "hf_info_drop_last_accum": dict(fw="hf", n=1000, b=32, accum=4, epochs=2, drop_last=True, log="info", logging_steps=3),
    "hf_info_drop_last": dict(fw="hf", n=100, b=8, epochs=2, drop_last=True, log="info"),
    "hf_info_ddp2": dict(fw="hf", n=1000, b=32, accum=4, epochs=3, devices=2, log="info"),
    "hf_info_ddp2_drop_last": dict(fw="hf", n=11, b=3, epochs=1, devices=2, drop_last=True, log="info"),
    "hf_info_early_stop": dict(fw="hf", n=200, b=16, accum=2, epochs=10, log="info", eval="epoch", patience=2),
    "hf_explicit_format": dict(fw="hf", n=500, b=16, accum=3, epochs=2, log="explicit", logging_steps=5),
    "hf_default_fractional": dict(fw="hf", n=100, b=8, accum=3, epochs=2.5, log="default", logging_steps=4, eval="epoch",
                                  screen=True),
    "hf_default_plain": dict(fw="hf", n=1000, b=32, epochs=3, log="default"),
    "hf_default_early_stop": dict(fw="hf", n=200, b=16, epochs=10, log="default", eval="epoch", patience=1, screen=True),
    "hf_default_max_steps": dict(fw="hf", n=1000, b=32, accum=4, max_steps=10, log="default", logging_steps=2),
    "hf_info_iterable": dict(fw="hf", n=100, b=8, accum=2, max_steps=15, log="info", iterable=True),
    "hf_info_no_bar_early_stop": dict(fw="hf", n=300, b=16, accum=4, epochs=8, log="info", eval="epoch", patience=1,
                                      disable_tqdm=True),
    # older Trainers: 4.57 has no "Num update steps per epoch" line and prints bare floats; 4.51 planned floor(L / A)
    "hf457_info_accum_leftover": dict(fw="hf", n=1000, b=32, accum=5, epochs=3, log="info", logging_steps=5,
                                      python="TRANSFORMERS_4_57_PYTHON"),
    "hf457_info_drop_last": dict(fw="hf", n=100, b=8, epochs=2, drop_last=True, log="info", python="TRANSFORMERS_4_57_PYTHON"),
    "hf457_default_fractional": dict(fw="hf", n=100, b=8, accum=3, epochs=2.5, log="default", logging_steps=4, eval="epoch",
                                     python="TRANSFORMERS_4_57_PYTHON"),
    "hf451_info_accum_leftover": dict(fw="hf", n=1000, b=32, accum=5, epochs=3, log="info", python="TRANSFORMERS_4_51_PYTHON"),
    # ---------------------------------------------------------------- Lightning
    "pl_basic": dict(fw="lightning", n=1000, b=32, max_epochs=3, screen=True),
    "pl_rich_default": dict(fw="lightning", n=1000, b=32, accum=4, max_epochs=3, bar="rich", screen=True),
    "pl_accum": dict(fw="lightning", n=1000, b=32, accum=5, max_epochs=3),
    "pl_max_steps": dict(fw="lightning", n=1000, b=32, accum=4, max_epochs=3, max_steps=10),
    "pl_max_steps_only": dict(fw="lightning", n=1000, b=32, accum=4, max_steps=20),
    "pl_small_val_es": dict(fw="lightning", n=100, b=8, accum=2, max_epochs=20, val=True, patience=2, screen=True),
    "pl_ddp2": dict(fw="lightning", n=1000, b=32, accum=4, max_epochs=3, devices=2),
    "pl_rich_val_es": dict(fw="lightning", n=300, b=16, accum=2, max_epochs=30, val=True, patience=3, bar="rich",
                           screen=True),
    "pl_limit": dict(fw="lightning", n=1000, b=32, accum=4, max_epochs=2, limit=0.5),
    "pl_no_bar": dict(fw="lightning", n=500, b=20, accum=3, max_epochs=4, no_bar=True),
    # ---------------------------------------------------------------- Keras
    "keras_v1": dict(fw="keras", n=1000, b=32, epochs=3, verbose=1, screen=True),
    "keras_v2_val": dict(fw="keras", n=1000, b=32, epochs=3, verbose=2, val=True),
    "keras_auto_accum": dict(fw="keras", n=1000, b=32, accum=5, epochs=3, verbose="auto"),
    "keras_steps_per_epoch": dict(fw="keras", n=1000, b=32, epochs=5, steps_per_epoch=10, verbose=1),
    "keras_steps_over": dict(fw="keras", n=1000, b=32, epochs=2, steps_per_epoch=40, verbose=2),
    "keras_es": dict(fw="keras", n=500, b=50, epochs=20, verbose=1, val=True, patience=1, screen=True),
    "keras_one_epoch": dict(fw="keras", n=100, b=10, epochs=1, verbose=1),
    "keras_initial_epoch_evaluate": dict(fw="keras", n=640, b=64, epochs=5, initial_epoch=2, verbose=1, evaluate=True),
}


# ============================================================================ workers
class Record:
    """Counts taken inside the training process, written as JSON at the end."""

    def __init__(self):
        self.epoch_batches = []  # batches run in each epoch (this process)
        self.loader_len = None  # len(train dataloader) on this process
        self.steps = None  # the framework's own optimizer-step counter at the end
        self.stopped_early = False
        self.extra = {}

    def epoch(self):
        self.epoch_batches.append(0)

    def batch(self):
        self.epoch_batches[-1] += 1

    def dump(self, path):
        with open(path, "w") as f:
            json.dump({"epoch_batches": self.epoch_batches, "loader_len": self.loader_len, "steps": self.steps,
                       "stopped_early": self.stopped_early, **self.extra}, f)


def metric_values(patience):
    """A validation metric that improves twice, then stays flat: early stopping fires."""
    return [1.0, 0.8, 0.7] + [0.75] * 100


def worker_hf(case, rec):
    import logging

    import torch
    import transformers
    from transformers import EarlyStoppingCallback, Trainer, TrainerCallback, TrainingArguments

    torch.set_num_threads(1)
    if case["log"] == "info":
        transformers.logging.set_verbosity_info()
    elif case["log"] == "explicit":  # what the official example scripts set up
        logging.basicConfig(format="%(asctime)s - %(levelname)s - %(name)s - %(message)s", level=logging.INFO)
        transformers.logging.set_verbosity_info()
        transformers.logging.enable_default_handler()
        transformers.logging.enable_explicit_format()
    n = case["n"]

    class DS(torch.utils.data.Dataset):
        def __init__(self, size):
            self.size = size

        def __len__(self):
            return self.size

        def __getitem__(self, i):
            return {"x": torch.tensor([float(i)]), "labels": torch.tensor([0.0])}

    class Stream(torch.utils.data.IterableDataset):  # no __len__: the Trainer needs max_steps
        def __iter__(self):
            return (DS(n)[i] for i in range(n))

    class M(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.lin = torch.nn.Linear(1, 1)

        def forward(self, x, labels=None):
            if self.training:
                rec.batch()
            out = self.lin(x / n)
            return {"loss": ((out - labels) ** 2).mean(), "logits": out}

    evals = []

    def compute_metrics(_):
        evals.append(1)
        return {"metric": metric_values(case.get("patience"))[len(evals) - 1]}

    class CB(TrainerCallback):
        def on_train_begin(self, args, state, control, train_dataloader=None, **kw):
            rec.loader_len = len(train_dataloader) if not case.get("iterable") else None

        def on_epoch_begin(self, args, state, control, **kw):
            rec.epoch()

    kw = dict(
        output_dir=tempfile.mkdtemp(prefix="capture_hf_"), per_device_train_batch_size=case["b"],
        per_device_eval_batch_size=8, gradient_accumulation_steps=case.get("accum", 1),
        num_train_epochs=case.get("epochs", 3.0), max_steps=case.get("max_steps", -1),
        dataloader_drop_last=case.get("drop_last", False), report_to=[], save_strategy="no", use_cpu=True,
        logging_steps=case.get("logging_steps", 500), seed=0, remove_unused_columns=False,
        disable_tqdm=case.get("disable_tqdm", False),
    )
    if case.get("devices", 1) > 1:
        kw["ddp_backend"] = "gloo"
    callbacks = [CB()]
    if case.get("eval"):
        kw["eval_strategy"] = case["eval"]
    if case.get("patience") is not None:
        kw.update(metric_for_best_model="metric", greater_is_better=False)
        callbacks.append(EarlyStoppingCallback(early_stopping_patience=case["patience"]))
    train = Stream() if case.get("iterable") else DS(n)
    trainer = Trainer(model=M(), args=TrainingArguments(**kw), train_dataset=train, eval_dataset=DS(16),
                      compute_metrics=compute_metrics if case.get("eval") else None, callbacks=callbacks)
    trainer.train()
    rec.steps = trainer.state.global_step
    rec.stopped_early = trainer.state.global_step < trainer.state.max_steps
    rec.extra["final_state_epoch"] = trainer.state.epoch
    rec.extra["max_steps"] = trainer.state.max_steps


def worker_lightning(case, rec):
    import lightning as L
    import torch
    from lightning.pytorch.callbacks import EarlyStopping
    from lightning.pytorch.trainer.connectors import callback_connector

    if case.get("bar", "tqdm") == "tqdm":  # as without rich: `_configure_progress_bar` picks TQDMProgressBar
        callback_connector._RICH_AVAILABLE = False

    torch.set_num_threads(1)
    n = case["n"]
    values = metric_values(case.get("patience"))

    class Module(L.LightningModule):
        def __init__(self):
            super().__init__()
            self.lin = torch.nn.Linear(1, 1)
            self.validations = 0

        def training_step(self, batch, batch_idx):
            rec.batch()
            x, y = batch
            loss = ((self.lin(x / n) - y) ** 2).mean()
            self.log("train_loss", loss, prog_bar=True)
            return loss

        def validation_step(self, batch, batch_idx):
            return None

        def on_validation_epoch_end(self):
            if not self.trainer.sanity_checking:
                self.validations += 1
            self.log("val_metric", values[max(0, self.validations - 1)], prog_bar=True)

        def on_train_epoch_start(self):
            rec.epoch()

        def configure_optimizers(self):
            return torch.optim.SGD(self.parameters(), lr=0.01)

    ds = torch.utils.data.TensorDataset(torch.arange(n, dtype=torch.float32).unsqueeze(1), torch.zeros(n, 1))
    train = torch.utils.data.DataLoader(ds, batch_size=case["b"])
    val = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(torch.zeros(16, 1), torch.zeros(16, 1)), batch_size=8)
    callbacks = []
    if case.get("patience") is not None:
        callbacks.append(EarlyStopping(monitor="val_metric", patience=case["patience"], verbose=True))
    kw = dict(accelerator="cpu", accumulate_grad_batches=case.get("accum", 1), callbacks=callbacks,
              default_root_dir=tempfile.mkdtemp(prefix="capture_pl_"), enable_checkpointing=False,
              enable_progress_bar=not case.get("no_bar", False))
    if "max_epochs" in case:
        kw["max_epochs"] = case["max_epochs"]
    if "max_steps" in case:
        kw["max_steps"] = case["max_steps"]
    if "limit" in case:
        kw["limit_train_batches"] = case["limit"]
    if case.get("devices", 1) > 1:
        kw.update(devices=case["devices"], strategy="ddp")
    else:
        kw["devices"] = 1
    trainer = L.Trainer(**kw)
    module = Module()
    trainer.fit(module, train, val if case.get("val") else None)
    rec.loader_len = trainer.num_training_batches
    rec.steps = trainer.global_step
    rec.stopped_early = trainer.should_stop
    rec.extra["current_epoch"] = trainer.current_epoch
    rec.extra["rank"] = trainer.global_rank


def worker_keras(case, rec):
    os.environ["KERAS_BACKEND"] = "torch"
    import keras
    import numpy as np

    n = case["n"]
    x = np.arange(n, dtype="float32").reshape(-1, 1) / n
    y = np.zeros((n, 1), dtype="float32")

    class CB(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            rec.epoch()

        def on_train_batch_end(self, batch, logs=None):
            rec.batch()

    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((1,)), keras.layers.Dense(1)])
    accum = case.get("accum", 1)
    model.compile(optimizer=keras.optimizers.SGD(0.01, gradient_accumulation_steps=accum if accum > 1 else None), loss="mse")
    callbacks = [CB()]
    fit = dict(batch_size=case["b"], epochs=case["epochs"], verbose=case["verbose"], callbacks=callbacks)
    if case.get("val"):
        # a validation set whose loss stops improving: the targets move away from the fit
        xv = np.linspace(0, 1, 50, dtype="float32").reshape(-1, 1)
        fit["validation_data"] = (xv, np.zeros((50, 1), dtype="float32"))
    if case.get("patience") is not None:
        callbacks.append(keras.callbacks.EarlyStopping(monitor="val_loss", patience=case["patience"], min_delta=10.0,
                                                       verbose=1, restore_best_weights=True))
    if case.get("steps_per_epoch"):
        fit["steps_per_epoch"] = case["steps_per_epoch"]
    if case.get("initial_epoch"):
        fit["initial_epoch"] = case["initial_epoch"]
    history = model.fit(x, y, **fit)
    rec.loader_len = -(-n // case["b"])
    rec.steps = int(model.optimizer.iterations.numpy() if hasattr(model.optimizer.iterations, "numpy")
                    else model.optimizer.iterations)
    rec.stopped_early = len(history.epoch) < case["epochs"] - case.get("initial_epoch", 0)
    if case.get("evaluate"):  # its bar comes after the fit's and counts evaluation batches
        model.evaluate(x[:320], y[:320], batch_size=32, verbose=1)
    rec.extra["raw_iterations"] = int(model.optimizer._iterations.numpy()) if accum > 1 else None


def worker(case, record_path):
    rec = Record()
    {"hf": worker_hf, "lightning": worker_lightning, "keras": worker_keras}[case["fw"]](case, rec)
    rank = int(os.environ.get("RANK", os.environ.get("LOCAL_RANK", "0")))
    rec.dump(f"{record_path}.{rank}")


# ============================================================================ capture
def interpreter(case):
    return os.environ.get(case["python"]) if "python" in case else sys.executable


def command(case_json):
    case = json.loads(case_json)
    python = interpreter(case)
    me = [os.path.abspath(__file__), "--worker", case_json]
    if case["fw"] == "hf" and case.get("devices", 1) > 1:
        return [python, "-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={case['devices']}", *me]
    return [python, *me]


def environment():
    env = dict(os.environ, PYTHONUNBUFFERED="1", OMP_NUM_THREADS="1", KERAS_BACKEND="torch",
               COLUMNS=str(COLUMNS), LINES=str(ROWS), TERM="xterm-256color")
    env.pop("PYTHONPATH", None)  # pyte is for the renderer only
    return env


def capture_pipe(cmd, env):
    done = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env, timeout=900)
    if done.returncode:
        sys.stderr.buffer.write(done.stdout[-4000:])
        raise SystemExit(f"failed: {cmd}")
    return done.stdout


def capture_pty(cmd, env):
    import fcntl
    import pty
    import struct
    import termios

    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", ROWS, COLUMNS, 0, 0))
    proc = subprocess.Popen(cmd, stdin=slave, stdout=slave, stderr=slave, env=env, close_fds=True)
    os.close(slave)
    chunks = []
    deadline = time.time() + 900
    while time.time() < deadline:
        ready, _, _ = select.select([master], [], [], 0.5)
        if ready:
            try:
                data = os.read(master, 65536)
            except OSError:  # the child closed the terminal
                break
            if not data:
                break
            chunks.append(data)
        elif proc.poll() is not None:
            break
    proc.wait(timeout=60)
    os.close(master)
    if proc.returncode:
        raise SystemExit(f"failed under a pty: {cmd}")
    return b"".join(chunks)


def render(data: bytes) -> str:
    """The terminal's final text, as a terminal that re-joins wrapped lines copies it: the program
    drew for 120 columns, the screen is wide enough that nothing wraps, and tall enough that
    nothing scrolls away."""
    import pyte

    text = data.decode("utf-8", errors="replace")
    rows = text.count("\n") + ROWS
    screen = pyte.Screen(1000, rows)
    stream = pyte.Stream(screen)
    stream.feed(text)
    lines = [line.rstrip() for line in screen.display]
    while lines and not lines[-1]:
        lines.pop()
    return "\n".join(lines) + "\n"


def versions(python):
    code = ("import importlib.metadata as m, json, transformers; print(json.dumps(dict({p: m.version(p) for p in "
            "['torch', 'accelerate', 'lightning', 'keras', 'tqdm', 'rich']}, transformers=transformers.__version__)))")
    return json.loads(subprocess.run([python, "-c", code], capture_output=True, text=True, check=True).stdout)


def true_setup(case):
    """The setup in the plan's terms (what the readers should recover)."""
    fw = case["fw"]
    if fw == "hf":
        return {"dataset_size": case["n"], "batch_size": case["b"], "grad_accum": case.get("accum", 1),
                "devices": case.get("devices", 1), "epochs": case.get("epochs", 3.0), "max_steps": case.get("max_steps"),
                "drop_last": case.get("drop_last", False)}
    if fw == "lightning":
        return {"dataset_size": case["n"], "batch_size": case["b"], "grad_accum": case.get("accum", 1),
                "devices": case.get("devices", 1), "epochs": case.get("max_epochs"), "max_steps": case.get("max_steps"),
                "drop_last": False, "limit_train_batches": case.get("limit")}
    return {"dataset_size": case["n"], "batch_size": case["b"], "grad_accum": case.get("accum", 1), "epochs": case["epochs"],
            "steps_per_epoch": case.get("steps_per_epoch"), "verbose": case["verbose"], "initial_epoch": case.get("initial_epoch", 0)}


def run_case(name, case, vers):
    case_json = json.dumps(case)
    env = environment()
    with tempfile.TemporaryDirectory(prefix="capture_") as tmp:
        record = os.path.join(tmp, "record")
        cmd = command(case_json) + ["--record", record]
        t0 = time.time()
        out = capture_pipe(cmd, env)
        seconds = time.time() - t0
        ranks = sorted(f for f in os.listdir(tmp) if f.startswith("record."))
        recs = [json.load(open(os.path.join(tmp, f))) for f in ranks]
        if case.get("screen"):
            screen = render(capture_pty(cmd, env))
            with open(os.path.join(OUT, f"{name}.screen.txt"), "w") as f:
                f.write(screen)
    with open(os.path.join(OUT, f"{name}.log"), "wb") as f:
        f.write(out)
    r0 = recs[0]
    truth = {
        "framework": case["fw"],
        "case": {k: v for k, v in case.items() if k not in ("screen", "python")},
        "setup": true_setup(case),
        "run": {
            "batches_per_epoch": r0["loader_len"],  # len(train dataloader) per device
            "batches_run_per_epoch": r0["epoch_batches"],
            "epochs_run": len(r0["epoch_batches"]),
            "total_optimizer_steps": r0["steps"],  # the framework's own counter at the end
            "stopped_early": r0["stopped_early"],
            "per_rank_batches_run": [r["epoch_batches"] for r in recs] if len(recs) > 1 else None,
            **{k: v for k, v in r0.items() if k not in ("epoch_batches", "loader_len", "steps", "stopped_early")},
        },
        "capture": {"log": "stdout+stderr through one pipe", "screen": f"pty {COLUMNS}x{ROWS} rendered by pyte"
                    if case.get("screen") else None, "seconds": round(seconds, 1)},
        "versions": vers,
    }
    with open(os.path.join(OUT, f"{name}.json"), "w") as f:
        json.dump(truth, f, indent=1)
        f.write("\n")
    print(f"{name}: {truth['run']['total_optimizer_steps']} steps, {truth['run']['batches_run_per_epoch']} batches"
          f" ({seconds:.0f} s)", flush=True)


def random_cases(count, seed):
    """Setups nobody picked: `count` per framework, for scripts/oracle/check_logs.py."""
    import random

    rng = random.Random(seed)
    cases = {}
    for i in range(count):
        n = rng.randint(10, 2000)
        b = rng.randint(max(1, n // 150), max(1, min(64, n)))
        c = dict(fw="hf", n=n, b=b, accum=rng.choice([1, 1, 2, 3, 4, 5, 8]), log=rng.choice(["info", "info", "info", "default"]))
        if rng.random() < 0.3:
            c["max_steps"] = rng.randint(1, 40)
        else:
            c["epochs"] = rng.choice([1, 2, 3, 1.5, 2.3, 0.7])
        if rng.random() < 0.3:
            c["drop_last"] = True
        if rng.random() < 0.15:
            c["devices"] = 2
        if rng.random() < 0.5:
            c["logging_steps"] = rng.randint(1, 7)
        if rng.random() < 0.2 and "epochs" in c:
            c.update(epochs=rng.choice([4, 6]), eval="epoch", patience=rng.choice([1, 2]))
        if rng.random() < 0.1:
            c["disable_tqdm"] = True
        c["screen"] = rng.random() < 0.3
        cases[f"random{seed}_hf_{i}"] = c
    for i in range(count):
        n = rng.randint(10, 2000)
        b = rng.randint(max(1, n // 150), max(1, min(64, n)))
        c = dict(fw="lightning", n=n, b=b, accum=rng.choice([1, 1, 2, 3, 4, 5]), bar=rng.choice(["tqdm", "rich"]))
        limits = rng.choice(["epochs", "epochs", "steps", "both"])
        if limits in ("epochs", "both"):
            c["max_epochs"] = rng.randint(1, 4)
        if limits in ("steps", "both"):
            c["max_steps"] = rng.randint(1, 60)
        if rng.random() < 0.2 and "max_epochs" in c:
            c.update(max_epochs=8, val=True, patience=rng.choice([1, 2]))
        if rng.random() < 0.1:
            c["limit"] = rng.choice([0.5, 0.25, 3])
        if rng.random() < 0.1:
            c["devices"] = 2
        if rng.random() < 0.1:
            c["no_bar"] = True
        c["screen"] = rng.random() < 0.3
        cases[f"random{seed}_pl_{i}"] = c
    for i in range(count):
        n = rng.randint(10, 2000)
        b = rng.randint(max(1, n // 150), max(1, min(64, n)))
        c = dict(fw="keras", n=n, b=b, epochs=rng.randint(1, 5), verbose=rng.choice([1, 2, "auto"]),
                 accum=rng.choice([1, 1, 2, 3, 4]))
        if rng.random() < 0.2:
            c["steps_per_epoch"] = rng.randint(1, 40)
        if rng.random() < 0.25:
            c.update(epochs=8, val=True, patience=rng.choice([0, 1, 2]))
        if rng.random() < 0.1 and c["epochs"] > 2:
            c["initial_epoch"] = 1
        c["screen"] = rng.random() < 0.3
        cases[f"random{seed}_keras_{i}"] = c
    return cases


def main(argv):
    global OUT
    if argv[:1] == ["--worker"]:
        return worker(json.loads(argv[1]), argv[3])
    if argv[:1] == ["--random"]:  # --random COUNT SEED DIR: unseen setups, captured into DIR
        CASES.clear()
        CASES.update(random_cases(int(argv[1]), int(argv[2])))
        OUT, argv = argv[3], []
    os.makedirs(OUT, exist_ok=True)
    names = argv or list(CASES)
    unknown = [n for n in names if n not in CASES]
    if unknown:
        raise SystemExit(f"unknown case(s): {unknown}")
    for name in names:
        python = interpreter(CASES[name])
        if not python:
            print(f"{name}: skipped, {CASES[name]['python']} is not set", flush=True)
            continue
        run_case(name, CASES[name], versions(python))


if __name__ == "__main__":
    main(sys.argv[1:])
