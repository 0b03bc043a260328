#!/usr/bin/env python
"""Ground-truth oracle: run the REAL framework on CPU with a tiny model and count
what happens with hooks/callbacks.  Prints one JSON object on stdout.

usage: /tmp/fw/bin/python oracle.py --framework hf --dataset-size 100 --batch-size 8 --epochs 3 ...

Every count comes from a hook:
  * micro-batches and their sizes: recorded inside the model's forward / training_step / train_step
  * optimizer steps and their LR: a torch optimizer step-pre-hook (pytorch, hf, lightning) or a wrapper
    around keras' optimizer._backend_update_step (keras), reading the LR the step is about to use
  * epochs: the framework's epoch-begin callback, with the global step at that moment
  * evaluations: the framework's own evaluation (compute_metrics / on_validation_epoch_end / logs
    with val_loss in on_epoch_end), with the global step at that moment
Framework errors are printed as {"error": "..."}.
"""
import argparse
import json
import math
import os
import sys
import tempfile
import traceback

FRAMEWORKS = ["pytorch", "pytorch-flush", "hf", "lightning", "keras"]
SCHEDULES = ["constant", "constant_with_warmup", "linear", "cosine"]


class OracleError(Exception):
    """A refusal decided by the project's contract, not by the framework."""


class MetricsRanOut(OracleError):
    pass


def parse(argv):
    p = argparse.ArgumentParser()
    p.add_argument("--framework", default="pytorch", choices=FRAMEWORKS)
    p.add_argument("--dataset-size", type=int, required=True)
    p.add_argument("--batch-size", type=int, required=True)
    p.add_argument("--epochs", type=float)
    p.add_argument("--max-steps", type=int)
    p.add_argument("--grad-accum", type=int, default=1)
    p.add_argument("--devices", type=int, default=1)
    p.add_argument("--drop-last", action="store_true")
    p.add_argument("--eval-every-steps", type=str)
    p.add_argument("--val-check-interval", type=str)
    p.add_argument("--check-val-every-n-epoch", type=str)
    p.add_argument("--validation-freq", type=str)
    p.add_argument("--steps-per-epoch", type=int)
    p.add_argument("--patience", type=int)
    p.add_argument("--min-delta", type=float, default=0.0)
    p.add_argument("--metrics", type=str)
    p.add_argument("--start-from-epoch", type=int, default=0)
    p.add_argument("--lr-schedule", choices=SCHEDULES)
    p.add_argument("--lr", type=float)
    p.add_argument("--warmup-steps", type=float, default=0.0)
    # round 3: checkpoints, logs and Lightning's limits (each the framework's own argument)
    p.add_argument("--eval-strategy", choices=["no", "epoch", "steps"])
    p.add_argument("--save-strategy", choices=["no", "epoch", "steps", "best"])
    p.add_argument("--save-steps", type=str)
    p.add_argument("--logging-strategy", choices=["no", "epoch", "steps"])
    p.add_argument("--logging-steps", type=str)
    p.add_argument("--logging-first-step", action="store_true")
    p.add_argument("--load-best-model-at-end", action="store_true")
    p.add_argument("--every-n-train-steps", type=int)
    p.add_argument("--every-n-epochs", type=int)
    p.add_argument("--save-last", action="store_true")
    p.add_argument("--save-top-k", type=int)
    p.add_argument("--monitor", type=str)
    p.add_argument("--log-every-n-steps", type=int)
    p.add_argument("--min-epochs", type=int)
    p.add_argument("--min-steps", type=int)
    p.add_argument("--limit-train-batches", type=str)
    p.add_argument("--save-freq", type=str)
    p.add_argument("--save-best-only", action="store_true")
    p.add_argument("--save-every-steps", type=int)
    p.add_argument("--json", action="store_true")
    p.add_argument("--_worker", action="store_true", help=argparse.SUPPRESS)
    a = p.parse_args(argv)
    a.metric_values = [float(v) for v in a.metrics.split(",")] if a.metrics else None
    if a.validation_freq is not None:  # keras: an int, or a list of 1-indexed epochs ("1,3")
        vf = [int(v) for v in a.validation_freq.split(",") if v.strip()]
        a.validation_freq = vf if "," in a.validation_freq else vf[0]
    return a


def num(s):
    """'3' -> int 3 ; '0.5' / '2.0' -> float (type matters for Lightning/HF)."""
    if s is None:
        return None
    if "." in s or "e" in s.lower():
        return float(s)
    return int(s)


def int_epochs(a, fw):
    if a.epochs is None:
        return None
    if a.epochs != int(a.epochs):
        raise OracleError(f"{fw} takes an integer number of epochs, got {a.epochs}")
    return int(a.epochs)


def hf_warmup(w, total):
    # transformers TrainingArguments.get_warmup_steps (v5)
    return int(w) if w >= 1 else math.ceil(total * w)


# --------------------------------------------------------------------------- recorder
class Rec:
    def __init__(self):
        self.epochs = []          # per epoch: {"gs0": global step at epoch begin, "b": [sizes], "steps": n}
        self.lrs = []
        self.evals = []           # global step at each evaluation
        self.eval_epochs = []     # 0-based epoch of each evaluation
        self.hook_epoch_end = []  # framework on_epoch_end global step (cross-check only)
        self.fired = False
        self.best_idx = None
        self.notes = []
        self.stray_steps = 0
        self.saves = []           # (global step, hook, moment id) at every checkpoint file written
        self.logs = []            # global step at every training-loss log
        self.best_loaded = None   # HF: the global step of the checkpoint load_best_model_at_end loads

    def epoch_begin(self, gs):
        self.epochs.append({"gs0": int(gs), "b": [], "steps": 0})

    def batch(self, n):
        self.epochs[-1]["b"].append(int(n))

    def step(self, lr):
        if not self.epochs:
            self.stray_steps += 1
        else:
            self.epochs[-1]["steps"] += 1
        self.lrs.append(float(lr))

    def summary(self):
        return {"epochs": self.epochs, "lrs": self.lrs, "evals": self.evals,
                "eval_epochs": self.eval_epochs, "hook_epoch_end": self.hook_epoch_end,
                "fired": self.fired, "best_idx": self.best_idx, "notes": self.notes,
                "stray_steps": self.stray_steps, "saves": self.saves, "logs": self.logs,
                "best_loaded": self.best_loaded}


def metric_for(a, i):
    if a.metric_values is None:
        if a.patience is not None:
            raise OracleError("--patience needs --metrics")
        return 0.0
    if i >= len(a.metric_values):
        raise MetricsRanOut(f"--metrics ran out: evaluation {i + 1} needs a value but only "
                            f"{len(a.metric_values)} were given")
    return a.metric_values[i]


def assemble(a, ranks, total_gs, eff_batch, notes, cut_short=False, unapplied=False):
    """ranks: list of Rec.summary() (rank 0 first)."""
    r0 = ranks[0]
    ep = r0["epochs"]
    out = {}
    out["batches_per_epoch"] = [len(e["b"]) for e in ep]
    out["last_batch_size"] = [e["b"][-1] if e["b"] else None for e in ep]
    out["optimizer_steps_per_epoch"] = [e["steps"] for e in ep]
    out["total_optimizer_steps"] = int(total_gs)
    out["epoch_end_global_steps"] = [ep[i + 1]["gs0"] for i in range(len(ep) - 1)] + ([int(total_gs)] if ep else [])
    out["eval_global_steps"] = list(r0["evals"])
    out["effective_batch_size"] = int(eff_batch)
    out["samples_seen"] = sum(sum(e["b"]) for r in ranks for e in r["epochs"])
    W = len(ranks)
    # samples_dropped only where unambiguous: one process, every epoch a full pass, no gradients left unapplied
    if W == 1 and not cut_short and not unapplied:
        out["samples_dropped"] = sum(a.dataset_size - sum(e["b"]) for e in ep)
    if a.patience is None:
        out["early_stop"] = None
    else:
        out["early_stop"] = {
            "stopped": bool(r0["fired"]),
            "stop_global_step": int(total_gs),
            "stop_epoch": len(ep),
            "evaluations_done": len(r0["evals"]),
            "best_eval_index": r0["best_idx"],
        }
    if a.lr_schedule:
        out["lr_per_step"] = list(r0["lrs"])
    # round 3: one entry per moment a checkpoint is written (several files at one moment count once)
    moments, seen = [], set()
    for gs, hook, mid in r0["saves"]:
        if mid not in seen:
            seen.add(mid)
            moments.append((gs, hook))
    out["checkpoint_global_steps"] = [gs for gs, _ in moments]
    out["log_global_steps"] = list(r0["logs"])
    out["steps_after_last_checkpoint"] = int(total_gs) - (moments[-1][0] if moments else 0)
    if a.load_best_model_at_end:
        out["best_checkpoint_global_step"] = r0["best_loaded"]
    out["_checkpoint_hooks"] = [h for _, h in moments]
    # ---- cross checks (keys starting with "_" are informational; compare.py ignores them)
    if sum(out["optimizer_steps_per_epoch"]) + r0["stray_steps"] != total_gs:
        notes.append(f"hooked steps {sum(out['optimizer_steps_per_epoch'])} != framework global step {total_gs}")
    if r0["stray_steps"]:
        notes.append(f"{r0['stray_steps']} optimizer steps outside any epoch")
    if r0["hook_epoch_end"] and r0["hook_epoch_end"] != out["epoch_end_global_steps"]:
        notes.append(f"framework on_epoch_end global steps {r0['hook_epoch_end']}")
    if W > 1:
        per = [[len(e["b"]) for e in r["epochs"]] for r in ranks]
        lasts = [[e["b"][-1] if e["b"] else None for e in r["epochs"]] for r in ranks]
        out["_per_rank_batches"] = per
        if any(p != per[0] for p in per) or any(l != lasts[0] for l in lasts):
            out["_per_rank_last_batch"] = lasts
            notes.append("ranks differ")
    notes.extend(r0["notes"])
    if notes:
        out["_notes"] = notes
    return out


# --------------------------------------------------------------------------- pytorch loop
def run_pytorch(a, flush):
    import torch
    from torch.utils.data import DataLoader, TensorDataset, DistributedSampler
    N, B, A, W, D = a.dataset_size, a.batch_size, a.grad_accum, a.devices, a.drop_last
    E = int_epochs(a, "pytorch")
    S = a.max_steps
    if E is None and S is None:
        raise OracleError("pytorch loop needs --epochs or --max-steps")
    K = a.eval_every_steps
    if K is not None:
        K = num(K)
        if not isinstance(K, int) or K < 1:
            raise OracleError("pytorch loop: --eval-every-steps must be a positive integer")
    ds = TensorDataset(torch.arange(N, dtype=torch.float32).unsqueeze(1), torch.zeros(N, 1))
    ranks = []
    total = None
    for r in range(W):
        torch.manual_seed(0)
        rec = Rec()
        model = torch.nn.Linear(1, 1)
        opt = torch.optim.SGD(model.parameters(), lr=a.lr if a.lr is not None else 0.01)
        opt.register_step_pre_hook(lambda o, args, kw: rec.step(o.param_groups[0]["lr"]))
        sampler = DistributedSampler(ds, num_replicas=W, rank=r, shuffle=True, seed=0) if W > 1 else None
        dl = DataLoader(ds, batch_size=B, drop_last=D, sampler=sampler, shuffle=(sampler is None))
        L = len(dl)
        U = -(-L // A) if flush else L // A
        sched = None
        if a.lr_schedule:
            from transformers import get_scheduler
            T = S if S is not None else U * E
            sched = get_scheduler(a.lr_schedule, opt, num_warmup_steps=hf_warmup(a.warmup_steps, T),
                                  num_training_steps=T)

        gs = 0
        epoch = 0
        unapplied = False
        es = {"best": math.inf, "wait": 0, "stop": False}

        def evaluate():
            # the hand-written early stopping the project models (round 3): better than the best by more than
            # min_delta resets the count, else a miss; stop right after the evaluation at `patience` misses
            rec.evals.append(gs)
            rec.eval_epochs.append(epoch)
            if a.patience is None:
                return
            value = metric_for(a, len(rec.evals) - 1)
            if value < es["best"] - abs(a.min_delta):
                es["best"], es["wait"] = value, 0
                rec.best_idx = len(rec.evals) - 1
            else:
                es["wait"] += 1
                if es["wait"] >= a.patience:
                    es["stop"] = rec.fired = True

        def do_step():
            nonlocal gs
            opt.step()
            if sched is not None:
                sched.step()
            opt.zero_grad()
            gs += 1
            # our model of a hand-written loop: `if global_step % save_every == 0: save()`, nothing at the end
            if a.save_every_steps and gs % a.save_every_steps == 0:
                rec.saves.append((gs, "step", len(rec.saves)))
            if K is not None and gs % K == 0:
                evaluate()

        while (E is None or epoch < E) and not (S is not None and gs >= S) and not es["stop"]:
            if E is None and epoch > 100000:
                raise OracleError("max_steps is never reached (no optimizer step per epoch)")
            if sampler is not None:
                sampler.set_epoch(epoch)
            rec.epoch_begin(gs)
            gs_before = gs
            pending = 0
            stopped = False
            for i, (x, y) in enumerate(dl):
                rec.batch(x.shape[0])
                loss = ((model(x / N) - y) ** 2).mean() / A
                loss.backward()
                pending += 1
                if (i + 1) % A == 0:
                    do_step()
                    pending = 0
                    if (S is not None and gs >= S) or es["stop"]:
                        stopped = True
                        break
            if not stopped and flush and pending:
                do_step()
            elif not stopped and pending:
                unapplied = True
            epoch += 1
            if E is None and gs == gs_before:
                raise OracleError("max_steps is never reached: an epoch makes no optimizer step")
        ranks.append(rec.summary())
        total = gs if total is None else total
    cut = S is not None and E is not None and total >= S and len(ranks[0]["epochs"]) > 0 and \
        sum(len(e["b"]) for e in ranks[0]["epochs"]) < L * len(ranks[0]["epochs"])
    cut = cut or E is None or rec.fired
    out = assemble(a, ranks, total, B * A * W, [] if W == 1 else
                   ["devices simulated: one DistributedSampler per rank in one process (no real DDP)"],
                   cut_short=cut, unapplied=unapplied)
    return out


# --------------------------------------------------------------------------- HF Trainer
def run_hf(a):
    W = a.devices
    if W > 1 and not a._worker:
        return launch_torchrun(a)
    import torch
    torch.set_num_threads(1)
    import transformers
    from transformers import Trainer, TrainingArguments, TrainerCallback, EarlyStoppingCallback
    transformers.logging.set_verbosity_error()
    N, B, A, D = a.dataset_size, a.batch_size, a.grad_accum, a.drop_last
    rec = Rec()

    class DS(torch.utils.data.Dataset):
        def __init__(self, n):
            self.n = n

        def __len__(self):
            return self.n

        def __getitem__(self, i):
            return {"x": torch.tensor([float(i)]), "labels": torch.tensor([0.0])}

    class M(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.lin = torch.nn.Linear(1, 1)

        def forward(self, x, labels=None):
            if self.training:
                rec.batch(x.shape[0])
            out = self.lin(x / N)
            loss = ((out - labels) ** 2).mean()
            return {"loss": loss, "logits": out}

    trainer_ref = {}

    def compute_metrics(ep):
        i = len(rec.evals)
        st = trainer_ref["t"].state
        rec.evals.append(st.global_step)
        rec.eval_epochs.append(len(rec.epochs) - 1)
        return {"metric": metric_for(a, i)}

    class CB(TrainerCallback):
        where = "train_begin"

        def on_epoch_begin(self, args, state, control, **kw):
            rec.epoch_begin(state.global_step)

        def on_epoch_end(self, args, state, control, **kw):
            rec.hook_epoch_end.append(state.global_step)
            self.where = "epoch_end"

        def on_step_end(self, args, state, control, **kw):
            self.where = "step_end"

        def on_save(self, args, state, control, **kw):
            # _maybe_log_save_evaluate -> _save_checkpoint -> on_save, right after the checkpoint folder is written
            rec.saves.append((state.global_step, self.where, len(rec.saves)))

        def on_log(self, args, state, control, logs=None, **kw):
            # the training-loss log of _maybe_log_save_evaluate; not evaluation logs nor the end-of-training summary
            if logs and "loss" in logs and "train_loss" not in logs and not any(k.startswith("eval_") for k in logs):
                rec.logs.append(state.global_step)

    class ES(EarlyStoppingCallback):
        def on_evaluate(self, args, state, control, metrics, **kw):
            super().on_evaluate(args, state, control, metrics, **kw)
            if self.early_stopping_patience_counter >= self.early_stopping_patience:
                rec.fired = True

    class T(Trainer):
        def create_optimizer(self, model=None):
            opt = super().create_optimizer(model) if model is not None else super().create_optimizer()
            opt.register_step_pre_hook(lambda o, args, kw: rec.step(o.param_groups[0]["lr"]))
            return opt

        def _determine_best_metric(self, metrics, trial):
            r = super()._determine_best_metric(metrics, trial)
            if r:
                rec.best_idx = len(rec.evals) - 1
            return r

    K = num(a.eval_every_steps)
    eval_strategy = a.eval_strategy or ("steps" if K is not None else "epoch")
    out_dir = os.environ.get("HF_ORACLE_DIR") or tempfile.mkdtemp(prefix="hf_oracle_")  # one dir for all ranks
    kw = dict(
        output_dir=out_dir,
        per_device_train_batch_size=B, per_device_eval_batch_size=1,
        gradient_accumulation_steps=A,
        num_train_epochs=a.epochs if a.epochs is not None else 3.0,
        max_steps=a.max_steps if a.max_steps is not None else -1,
        dataloader_drop_last=D,
        eval_strategy=eval_strategy,
        report_to=[], use_cpu=True,
        disable_tqdm=True, remove_unused_columns=False, seed=0, dataloader_num_workers=0,
        warmup_steps=a.warmup_steps,
    )
    if K is not None:
        kw["eval_steps"] = K
    # round 3: HF's own defaults when a flag is absent (save and log every 500 steps)
    for flag in ("save_strategy", "logging_strategy"):
        if getattr(a, flag) is not None:
            kw[flag] = getattr(a, flag)
    for flag in ("save_steps", "logging_steps"):
        if getattr(a, flag) is not None:
            kw[flag] = num(getattr(a, flag))
    if a.logging_first_step:
        kw["logging_first_step"] = True
    if a.load_best_model_at_end:
        kw["load_best_model_at_end"] = True
    if a.lr_schedule:
        kw["lr_scheduler_type"] = a.lr_schedule
    if a.lr is not None:
        kw["learning_rate"] = a.lr
    if W > 1:
        kw["ddp_backend"] = "gloo"
    callbacks = [CB()]
    if a.patience is not None or a.load_best_model_at_end or a.save_strategy == "best":
        kw["metric_for_best_model"] = "metric"
        kw["greater_is_better"] = False
    if a.patience is not None:
        callbacks.append(ES(early_stopping_patience=a.patience, early_stopping_threshold=a.min_delta))
    args = TrainingArguments(**kw)
    t = T(model=M(), args=args, train_dataset=DS(N), eval_dataset=DS(max(1, W)),
          compute_metrics=compute_metrics, callbacks=callbacks)
    trainer_ref["t"] = t
    t.train()
    if args.load_best_model_at_end and t.state.best_model_checkpoint is not None:  # what _finalize_training loads
        rec.best_loaded = int(os.path.basename(t.state.best_model_checkpoint).rsplit("-", 1)[1])
    if "HF_ORACLE_DIR" not in os.environ:
        import shutil
        shutil.rmtree(out_dir, ignore_errors=True)
    eff = t.get_total_train_batch_size(args)
    total = t.state.global_step
    cut = (a.max_steps is not None) or (a.epochs is not None and a.epochs != int(a.epochs)) or rec.fired
    summ = rec.summary()
    if W > 1:
        import torch.distributed as dist
        allr = [None] * dist.get_world_size()
        dist.all_gather_object(allr, summ)
        if dist.get_rank() != 0:
            return None
        return assemble(a, allr, total, eff, ["devices: real DDP via torchrun, gloo, CPU"], cut_short=True)
    return assemble(a, [summ], total, eff, [], cut_short=cut)


def launch_torchrun(a):
    import subprocess
    argv = [x for x in sys.argv[1:]]
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={a.devices}",
           os.path.abspath(__file__)] + argv + ["--_worker"]
    import shutil
    shared = tempfile.mkdtemp(prefix="hf_oracle_ddp_")
    env = dict(os.environ, OMP_NUM_THREADS="1", HF_ORACLE_DIR=shared)
    try:
        p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, timeout=900)
    finally:
        shutil.rmtree(shared, ignore_errors=True)
    lines = [l for l in p.stdout.splitlines() if l.startswith("{")]
    if not lines:
        tail = "\n".join(p.stderr.splitlines()[-30:])
        raise RuntimeError(f"torchrun failed rc={p.returncode}: {tail}")
    return json.loads(lines[-1])


# --------------------------------------------------------------------------- Lightning
def run_lightning(a):
    import torch
    torch.set_num_threads(1)
    import logging
    logging.getLogger("lightning").setLevel(logging.ERROR)
    logging.getLogger("lightning.pytorch").setLevel(logging.ERROR)
    import warnings
    warnings.filterwarnings("ignore")
    import lightning.pytorch as pl
    from lightning.pytorch.callbacks import EarlyStopping, ModelCheckpoint
    from lightning.pytorch.loggers.logger import Logger
    from torch.utils.data import DataLoader, TensorDataset
    N, B, A, W, D = a.dataset_size, a.batch_size, a.grad_accum, a.devices, a.drop_last
    E = a.epochs if a.epochs is None or a.epochs != int(a.epochs) else int(a.epochs)  # a float goes to the framework as is
    S = a.max_steps
    rec = Rec()
    pl.seed_everything(0, verbose=False)

    class M(pl.LightningModule):
        def __init__(self):
            super().__init__()
            self.lin = torch.nn.Linear(1, 1)

        def training_step(self, batch, bi):
            x, y = batch
            rec.batch(x.shape[0])
            loss = ((self.lin(x / N) - y) ** 2).mean()
            self.log("train_loss", loss)  # on_step=True, on_epoch=False: the usual training-loss log
            return loss

        def validation_step(self, batch, bi):
            return None

        def on_validation_epoch_end(self):
            if self.trainer.sanity_checking:
                return
            i = len(rec.evals)
            rec.evals.append(self.trainer.global_step)
            rec.eval_epochs.append(self.trainer.current_epoch)
            self.log("val_metric", metric_for(a, i))

        def on_train_epoch_start(self):
            rec.epoch_begin(self.trainer.global_step)

        def on_train_epoch_end(self):
            rec.hook_epoch_end.append(self.trainer.global_step)

        def configure_optimizers(self):
            opt = torch.optim.SGD(self.parameters(), lr=a.lr if a.lr is not None else 0.01)
            opt.register_step_pre_hook(lambda o, args, kw: rec.step(o.param_groups[0]["lr"]))
            if not a.lr_schedule:
                return opt
            from transformers import get_scheduler
            T = self.trainer.estimated_stepping_batches
            if T == float("inf"):
                raise OracleError("estimated_stepping_batches is infinite")
            T = int(T)
            sch = get_scheduler(a.lr_schedule, opt, num_warmup_steps=hf_warmup(a.warmup_steps, T),
                                num_training_steps=T)
            rec.notes.append(f"LambdaLR horizon estimated_stepping_batches={T}")
            return {"optimizer": opt, "lr_scheduler": {"scheduler": sch, "interval": "step"}}

    class ES(EarlyStopping):
        def _evaluate_stopping_criteria(self, current):
            before = self.best_score
            stop, reason = super()._evaluate_stopping_criteria(current)
            if self.best_score is not before:
                rec.best_idx = len(rec.evals) - 1
            if stop:
                rec.fired = True
            return stop, reason

    class Gather(pl.Callback):
        def on_train_end(self, trainer, pl_module):
            import torch.distributed as dist
            summ = rec.summary()
            if dist.is_available() and dist.is_initialized():
                allr = [None] * dist.get_world_size()
                dist.all_gather_object(allr, summ)
            else:
                allr = [summ]
            gather_out["ranks"] = allr
            gather_out["gs"] = trainer.global_step
            gather_out["rank"] = trainer.global_rank

    class RecMC(ModelCheckpoint):
        """The checkpoint callback Lightning adds by default (ModelCheckpoint()), or the one the flags configure;
        each hook call is one moment, each `_save_checkpoint` one file (top-k and last.ckpt can share a moment)."""
        moment = ("init", 0)

        def _enter(self, hook):
            self.moment = (hook, self.moment[1] + 1)

        def on_train_batch_end(self, trainer, *args, **kw):
            self._enter("train_batch_end")
            return super().on_train_batch_end(trainer, *args, **kw)

        def on_train_epoch_end(self, trainer, pl_module):
            self._enter("train_epoch_end")
            return super().on_train_epoch_end(trainer, pl_module)

        def on_validation_end(self, trainer, pl_module):
            self._enter("validation_end")
            return super().on_validation_end(trainer, pl_module)

        def on_train_end(self, trainer, pl_module):
            self._enter("train_end")
            return super().on_train_end(trainer, pl_module)

        def _save_checkpoint(self, trainer, filepath):
            super()._save_checkpoint(trainer, filepath)
            rec.saves.append((trainer.global_step, self.moment[0], self.moment[1]))

    class RecLogger(Logger):
        """Stands in for the default logger; records the global step of every training-loss log."""

        @property
        def name(self):
            return "oracle"

        @property
        def version(self):
            return 0

        def log_metrics(self, metrics, step=None):
            if "train_loss" in metrics:
                rec.logs.append(trainer_ref["t"].global_step)

        def log_hyperparams(self, *args, **kwargs):
            pass

    trainer_ref = {}
    ckpt_dir = tempfile.mkdtemp(prefix="pl_oracle_")
    mc_kw = {"dirpath": ckpt_dir}
    for flag in ("every_n_train_steps", "every_n_epochs", "save_top_k"):
        if getattr(a, flag) is not None:
            mc_kw[flag] = getattr(a, flag)
    if a.save_last:
        mc_kw["save_last"] = True
    if a.monitor is not None:
        mc_kw["monitor"] = "val_metric"  # --monitor names the validated metric whose values are --metrics
        mc_kw["mode"] = "min"
    gather_out = {}
    callbacks = [Gather()]
    if a.patience is not None:
        callbacks.append(ES(monitor="val_metric", patience=a.patience, min_delta=a.min_delta, mode="min"))
    callbacks.append(RecMC(**mc_kw))
    # round 3: Lightning's defaults for the sanity check (2 batches), the logger and checkpointing
    kw = dict(max_epochs=E, max_steps=S if S is not None else -1, accumulate_grad_batches=A,
              logger=RecLogger(), enable_checkpointing=True, default_root_dir=ckpt_dir,
              enable_progress_bar=False, enable_model_summary=False, accelerator="cpu",
              callbacks=callbacks)
    for flag in ("log_every_n_steps", "min_epochs", "min_steps"):
        if getattr(a, flag) is not None:
            kw[flag] = getattr(a, flag)
    if a.limit_train_batches is not None:
        kw["limit_train_batches"] = num(a.limit_train_batches)
    if a.val_check_interval is not None:
        kw["val_check_interval"] = num(a.val_check_interval)
    if a.check_val_every_n_epoch is not None:
        kw["check_val_every_n_epoch"] = None if a.check_val_every_n_epoch.lower() == "none" \
            else int(a.check_val_every_n_epoch)
    if W > 1:
        kw["devices"] = W
        kw["strategy"] = "ddp"
    else:
        kw["devices"] = 1
    trainer = pl.Trainer(**kw)
    trainer_ref["t"] = trainer
    ds = TensorDataset(torch.arange(N, dtype=torch.float32).unsqueeze(1), torch.zeros(N, 1))
    tl = DataLoader(ds, batch_size=B, shuffle=True, drop_last=D)
    vl = DataLoader(TensorDataset(torch.zeros(1, 1), torch.zeros(1, 1)), batch_size=1)
    try:
        trainer.fit(M(), train_dataloaders=tl, val_dataloaders=vl)
    finally:
        import shutil
        shutil.rmtree(ckpt_dir, ignore_errors=True)
    if trainer.global_rank != 0:
        return None
    if "ranks" not in gather_out:  # on_train_end not reached (e.g. no batches)
        allr = [rec.summary()]
        gs = trainer.global_step
    else:
        allr, gs = gather_out["ranks"], gather_out["gs"]
        allr[0] = rec.summary()  # checkpoint callbacks run after Gather.on_train_end (save_last at train end)
    cut = S is not None or rec.fired or W > 1
    notes = ["devices: real DDP (strategy='ddp', gloo, CPU)"] if W > 1 else []
    return assemble(a, allr, gs, B * A * W, notes, cut_short=cut)


# --------------------------------------------------------------------------- Keras
def run_keras(a):
    os.environ["KERAS_BACKEND"] = "torch"
    import torch
    torch.set_num_threads(1)
    import numpy as np
    import keras
    N, B, A = a.dataset_size, a.batch_size, a.grad_accum
    if a.drop_last:
        raise OracleError("keras fit on arrays has no drop_last")
    if a.devices != 1:
        raise OracleError("keras fit on arrays takes a global batch: --devices is not supported")
    if a.max_steps is not None:
        raise OracleError("keras fit has no max_steps")
    E = a.epochs if a.epochs is None or a.epochs != int(a.epochs) else int(a.epochs)  # a float goes to keras as is
    if E is None:
        E = 1
    keras.utils.set_random_seed(0)
    rec = Rec()
    x = np.arange(N, dtype="float32").reshape(-1, 1)
    y = np.zeros((N, 1), dtype="float32")

    class CM(keras.Model):
        def __init__(self):
            super().__init__()
            self.d = keras.layers.Dense(1)

        def call(self, inp):
            return self.d(inp / N)

        def train_step(self, data):
            rec.batch(data[0].shape[0])
            return super().train_step(data)

    lr = a.lr if a.lr is not None else 0.01
    if a.lr_schedule in (None, "constant"):
        lr_arg = lr
    elif a.lr_schedule == "cosine":
        steps = a.steps_per_epoch if a.steps_per_epoch else -(-N // B)
        total = steps * E
        w = hf_warmup(a.warmup_steps, total) if a.warmup_steps else 0
        lr_arg = keras.optimizers.schedules.CosineDecay(0.0, decay_steps=total - w, warmup_target=lr,
                                                        warmup_steps=w)
    else:
        raise OracleError(f"keras has no built-in counterpart of the HF '{a.lr_schedule}' schedule")
    opt = keras.optimizers.SGD(learning_rate=lr_arg, gradient_accumulation_steps=A if A > 1 else None)
    orig = opt._backend_update_step

    def hooked(grads, tv, learning_rate):
        rec.step(float(keras.ops.convert_to_numpy(learning_rate)))
        return orig(grads, tv, learning_rate)

    object.__setattr__(opt, "_backend_update_step", hooked)
    model = CM()
    model.compile(optimizer=opt, loss="mse", jit_compile=False)

    class RecCB(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            rec.epoch_begin(int(opt.iterations))

        def on_epoch_end(self, epoch, logs=None):
            rec.hook_epoch_end.append(int(opt.iterations))
            if logs is not None and "val_loss" in logs:
                i = len(rec.evals)
                rec.evals.append(int(opt.iterations))
                rec.eval_epochs.append(epoch)
                logs["val_metric"] = metric_for(a, i)

    class ES(keras.callbacks.EarlyStopping):
        def on_epoch_end(self, epoch, logs=None):
            was = self.model.stop_training
            super().on_epoch_end(epoch, logs)
            if self.model.stop_training and not was and self.stopped_epoch == epoch:
                rec.fired = True

    callbacks = [RecCB()]
    keras_dir = None
    if a.save_freq is not None or a.save_best_only:
        keras_dir = tempfile.mkdtemp(prefix="keras_oracle_")
        save_freq = "epoch" if a.save_freq in (None, "epoch") else int(a.save_freq)

        class RecMC(keras.callbacks.ModelCheckpoint):
            def _should_save_model(self, epoch, batch, logs, filepath):
                yes = super()._should_save_model(epoch, batch, logs, filepath)
                if yes:
                    rec.saves.append((int(opt.iterations), "epoch_end" if batch is None else "batch_end", len(rec.saves)))
                return yes

        # after RecCB, which puts val_metric (the --metrics value) into the epoch's logs
        callbacks.append(RecMC(os.path.join(keras_dir, "m.keras"), monitor="val_metric", mode="min",
                               save_best_only=a.save_best_only, save_freq=save_freq))
    es = None
    if a.patience is not None:
        es = ES(monitor="val_metric", patience=a.patience, min_delta=a.min_delta, mode="min",
                start_from_epoch=a.start_from_epoch, verbose=0)
        callbacks.append(es)
    fit_kw = dict(batch_size=B, epochs=E, validation_data=(np.zeros((1, 1), "float32"), np.zeros((1, 1), "float32")),
                  validation_freq=a.validation_freq if a.validation_freq is not None else 1,
                  callbacks=callbacks, verbose=0, shuffle=True)
    if a.steps_per_epoch is not None:
        fit_kw["steps_per_epoch"] = a.steps_per_epoch
    import warnings
    warnings.filterwarnings("ignore")
    try:
        history = model.fit(x, y, **fit_kw)
    finally:
        if keras_dir:
            import shutil
            shutil.rmtree(keras_dir, ignore_errors=True)
    total = int(opt.iterations)
    # the training-loss log of Keras: one History record per epoch (History.on_epoch_end)
    rec.logs.extend(rec.hook_epoch_end[: len(history.epoch)])
    if es is not None:
        if es.best is None:
            rec.best_idx = None
        else:
            rec.best_idx = rec.eval_epochs.index(es.best_epoch) if es.best_epoch in rec.eval_epochs else None
            if rec.best_idx is None:
                rec.notes.append(f"keras best_epoch {es.best_epoch} is not an evaluation epoch")
    cut = a.steps_per_epoch is not None or rec.fired
    nb = sum(len(e["b"]) for e in rec.epochs)
    return assemble(a, [rec.summary()], total, B * A, [], cut_short=cut, unapplied=(A > 1 and nb % A != 0))


# --------------------------------------------------------------------------- round 3 contract
ROUND3_OWNERS = {
    "hf": {"eval_strategy", "save_strategy", "save_steps", "logging_strategy", "logging_steps", "logging_first_step",
           "load_best_model_at_end"},
    "lightning": {"every_n_train_steps", "every_n_epochs", "save_last", "save_top_k", "monitor", "log_every_n_steps",
                  "min_epochs", "min_steps", "limit_train_batches"},
    "keras": {"save_freq", "save_best_only"},
    "pytorch": {"save_every_steps"},
    "pytorch-flush": {"save_every_steps"},
}


def refuse_foreign_round3(a, fw):
    """A checkpoint/log flag of another framework: refused by the project's contract, not silently ignored."""
    for owner, flags in ROUND3_OWNERS.items():
        for flag in flags:
            if flag not in ROUND3_OWNERS[fw] and getattr(a, flag) not in (None, False):
                raise OracleError(f"{fw} has no argument {flag} (it belongs to {owner})")


# --------------------------------------------------------------------------- main
def main():
    a = parse(sys.argv[1:])
    # keep framework chatter off stdout (also for child processes): fd 1 -> stderr
    real_out = os.dup(1)
    os.dup2(2, 1)
    sys.stdout = os.fdopen(os.dup(2), "w")
    res = None
    try:
        fw = a.framework
        refuse_foreign_round3(a, fw)
        if fw != "hf" and a.lr_schedule and a.warmup_steps != int(a.warmup_steps):
            # round 2: a fractional warmup (a ratio < 1, or 2.5) is TrainingArguments.get_warmup_steps, an HF
            # notion; transformers.get_scheduler / keras CosineDecay take a step count (DESIGN.md contract)
            raise OracleError(f"warmup_steps={a.warmup_steps:g}: a fractional warmup is an HF TrainingArguments "
                              f"notion; {fw} takes a whole number of steps")
        if fw in ("pytorch", "pytorch-flush"):
            res = run_pytorch(a, flush=(fw == "pytorch-flush"))
        elif fw == "hf":
            res = run_hf(a)
        elif fw == "lightning":
            res = run_lightning(a)
        elif fw == "keras":
            res = run_keras(a)
    except MetricsRanOut as e:
        res = {"error": f"contract: {e}"}
    except OracleError as e:
        res = {"error": f"contract: {e}"}
    except Exception as e:  # the framework refused / raised
        tb = traceback.extract_tb(e.__traceback__)
        where = next((f"{os.path.basename(f.filename)}:{f.lineno}" for f in reversed(tb)
                      if "site-packages" in f.filename), "")
        msg = str(e).strip().splitlines()[0] if str(e).strip() else ""
        # contract errors raised inside framework callbacks arrive wrapped sometimes
        if isinstance(e.__cause__ or e.__context__, OracleError):
            res = {"error": f"contract: {e.__cause__ or e.__context__}"}
        else:
            res = {"error": f"{type(e).__name__}: {msg}", "_where": where}
            if os.environ.get("ORACLE_DEBUG"):
                traceback.print_exc()
    if res is None:  # non-zero rank
        return
    with os.fdopen(real_out, "w") as f:
        f.write(json.dumps(res) + "\n")
        f.flush()
    if "error" in res:  # like the project's CLI contract: a refused setup exits 2
        sys.exit(2)


if __name__ == "__main__":
    main()
