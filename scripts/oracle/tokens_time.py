#!/usr/bin/env python
"""Token and time oracle (#15): build real token data, train on it with the REAL framework on
CPU, and count what happens. Prints one JSON object. Never imported by the project.

usage: /tmp/fw/bin/python tokens_time.py --framework hf --seq-len 16 --documents 40 --tokens-per-document 20 --batch-size 4 ...

The data: `--documents D --tokens-per-document L` makes D documents of L tokens (`--vary`
makes their lengths vary around L with the same total); `--dataset-tokens N` makes one
stream of N tokens. Without `--packing` each document is tokenized to `--seq-len` with
truncation and max_length padding (an attention mask of its real tokens); with `--packing`
the texts are concatenated and cut into blocks of seq_len, the remainder dropped once
(run_clm.py's group_texts over one map batch holding every text). `map_batch_samples` is
what group_texts makes when it runs per map batch of 1,000 texts, for comparison.

Counted:
  * rows and real tokens (the attention mask's sum) of every training batch, inside the
    model's forward / training_step / train_step, on every rank;
  * HF: the Trainer's own `state.num_input_tokens_seen` (include_num_input_tokens_seen="non_padding");
  * a virtual clock: the samples every rank has run when each epoch ends and each evaluation
    starts (evaluations from the framework's own hooks). Times are these divided by the
    samples per second, which is what the plan's time model claims.
"""
import argparse
import json
import os
import sys
import tempfile

import numpy as np

MAP_BATCH = 1000  # datasets.Dataset.map(batched=True) default batch_size


def parse(argv):
    p = argparse.ArgumentParser()
    p.add_argument("--framework", default="pytorch")
    p.add_argument("--batch-size", type=int, required=True)
    p.add_argument("--epochs", type=float)
    p.add_argument("--max-steps", type=int)
    p.add_argument("--grad-accum", type=int, default=1)
    p.add_argument("--devices", type=int, default=1)
    p.add_argument("--drop-last", action="store_true")
    p.add_argument("--eval-every-steps", type=int)
    p.add_argument("--val-check-interval", type=str)
    p.add_argument("--validation-freq", type=int)
    p.add_argument("--dataset-tokens", type=int)
    p.add_argument("--documents", type=int)
    p.add_argument("--tokens-per-document", type=int)
    p.add_argument("--seq-len", type=int, required=True)
    p.add_argument("--packing", action="store_true")
    p.add_argument("--token-budget", type=int)
    p.add_argument("--seconds-per-step", type=float)
    p.add_argument("--samples-per-second", type=float)
    p.add_argument("--vary", action="store_true")
    p.add_argument("--_worker", action="store_true")
    return p.parse_args(argv)


# --------------------------------------------------------------------------- token data
def documents(a):
    if a.dataset_tokens is not None:
        return [a.dataset_tokens]
    if not a.vary:
        return [a.tokens_per_document] * a.documents
    L = a.tokens_per_document
    d = np.random.default_rng(0).integers(-(L - 1), L, a.documents // 2)
    lengths = np.full(a.documents, L)
    lengths[0 : 2 * len(d) : 2] += d  # pairs of documents L + d and L - d: same total, same mean
    lengths[1 : 2 * len(d) : 2] -= d
    return lengths.tolist()


def group_texts(lengths, S):
    """Blocks of S token positions cut from the concatenated texts, remainder dropped."""
    total = sum(lengths)
    return total // S, total - total // S * S


def make_data(a):
    """(mask [n, S] of real tokens, data facts)."""
    S = a.seq_len
    lengths = documents(a)
    total = sum(lengths)
    if a.packing:
        n, dropped = group_texts(lengths, S)
        mask = np.ones((n, S), dtype=np.float32)
        per_batch = sum(group_texts(lengths[i:i + MAP_BATCH], S)[0] for i in range(0, len(lengths), MAP_BATCH))
        padded = 0
    else:
        L = np.array(lengths)
        real = np.minimum(L, S)
        mask = (np.arange(S)[None, :] < real[:, None]).astype(np.float32)
        dropped, padded = int(np.maximum(L - S, 0).sum()), int(np.maximum(S - L, 0).sum())
        per_batch = len(lengths)
    return mask, {"total_tokens": total, "samples": len(mask), "tokens_dropped": int(dropped), "tokens_padded": int(padded),
                  "map_batch_samples": int(per_batch)}


# --------------------------------------------------------------------------- recorder
class Rec:
    def __init__(self):
        self.rows = 0
        self.real = 0
        self.epoch_rows = []
        self.eval_rows = []
        self.eval_steps = []

    def batch(self, mask):
        self.rows += int(mask.shape[0])
        self.real += int(round(float(mask.sum())))

    def epoch_end(self):
        self.epoch_rows.append(self.rows)

    def evaluation(self, step):
        self.eval_rows.append(self.rows)
        self.eval_steps.append(int(step))

    def to_dict(self):
        return dict(rows=self.rows, real=self.real, epoch_rows=self.epoch_rows, eval_rows=self.eval_rows, eval_steps=self.eval_steps)


def combine(ranks):
    """Sum the ranks' counts (all devices together); events from rank 0."""
    r0 = ranks[0]
    out = {"samples_seen": sum(r["rows"] for r in ranks), "tokens_trained": sum(r["real"] for r in ranks)}
    out["epoch_samples"] = [sum(r["epoch_rows"][i] for r in ranks) for i in range(len(r0["epoch_rows"]))]
    out["eval_samples"] = [sum(r["eval_rows"][i] for r in ranks) for i in range(len(r0["eval_rows"]))]
    out["eval_global_steps"] = r0["eval_steps"]
    return out


# --------------------------------------------------------------------------- frameworks
def run_pytorch(a, mask, flush):
    import torch
    from torch.utils.data import DataLoader, DistributedSampler, TensorDataset

    B, A, W = a.batch_size, a.grad_accum, a.devices
    E = int(a.epochs) if a.epochs is not None else (None if a.max_steps else 1)
    ds = TensorDataset(torch.from_numpy(mask))
    ranks, gs_total = [], None
    for r in range(W):
        torch.manual_seed(0)
        rec = Rec()
        model = torch.nn.Linear(a.seq_len, 1)
        opt = torch.optim.SGD(model.parameters(), lr=0.01)
        sampler = DistributedSampler(ds, num_replicas=W, rank=r, shuffle=True, seed=0) if W > 1 else None
        dl = DataLoader(ds, batch_size=B, drop_last=a.drop_last, sampler=sampler, shuffle=sampler is None)
        gs, epoch, stop = 0, 0, False
        while (E is None or epoch < E) and not stop:
            if sampler is not None:
                sampler.set_epoch(epoch)
            pending = 0
            for i, (m,) in enumerate(dl):
                rec.batch(m)
                model(m).mean().backward()
                pending += 1
                if (i + 1) % A == 0:
                    opt.step()
                    opt.zero_grad()
                    gs, pending = gs + 1, 0
                    if a.eval_every_steps and gs % a.eval_every_steps == 0:
                        rec.evaluation(gs)
                    if a.max_steps is not None and gs >= a.max_steps:
                        stop = True
                        break
            if flush and pending and not stop:
                opt.step()
                opt.zero_grad()
                gs += 1
                if a.eval_every_steps and gs % a.eval_every_steps == 0:
                    rec.evaluation(gs)
                if a.max_steps is not None and gs >= a.max_steps:
                    stop = True
            rec.epoch_end()
            epoch += 1
        ranks.append(rec.to_dict())
        gs_total = gs
    return combine(ranks), {"total_optimizer_steps": gs_total}


def run_hf(a, mask):
    if a.devices > 1 and not a._worker:
        return launch_torchrun(a)
    import torch

    torch.set_num_threads(1)
    import transformers
    from transformers import Trainer, TrainerCallback, TrainingArguments

    transformers.logging.set_verbosity_error()
    rec = Rec()
    data = torch.from_numpy(mask)
    ids = (data > 0).long() * 7 + 1  # never the pad id 0 where the mask is 1

    class DS(torch.utils.data.Dataset):
        def __init__(self, n):
            self.n = n

        def __len__(self):
            return self.n

        def __getitem__(self, i):
            return {"input_ids": ids[i], "attention_mask": data[i], "labels": torch.tensor([0.0])}

    class M(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.lin = torch.nn.Linear(a.seq_len, 1)

        def forward(self, input_ids=None, attention_mask=None, labels=None):
            if self.training:
                rec.batch(attention_mask)
            out = self.lin(attention_mask)
            return {"loss": ((out - labels) ** 2).mean(), "logits": out}

    trainer_ref = {}

    class CB(TrainerCallback):
        def on_epoch_end(self, args, state, control, **kw):
            rec.epoch_end()

        def on_evaluate(self, args, state, control, **kw):
            rec.evaluation(state.global_step)

    kw = dict(
        output_dir=tempfile.mkdtemp(prefix="hf_tokens_"), per_device_train_batch_size=a.batch_size, per_device_eval_batch_size=1,
        gradient_accumulation_steps=a.grad_accum, num_train_epochs=a.epochs if a.epochs is not None else 3.0,
        max_steps=a.max_steps if a.max_steps is not None else -1, dataloader_drop_last=a.drop_last,
        eval_strategy="steps" if a.eval_every_steps else "epoch", report_to=[], save_strategy="no", use_cpu=True,
        logging_strategy="no", disable_tqdm=True, remove_unused_columns=False, seed=0, dataloader_num_workers=0,
        include_num_input_tokens_seen="non_padding",
    )
    if a.eval_every_steps:
        kw["eval_steps"] = a.eval_every_steps
    if a.devices > 1:
        kw["ddp_backend"] = "gloo"
    t = Trainer(model=M(), args=TrainingArguments(**kw), train_dataset=DS(len(mask)), eval_dataset=DS(max(1, a.devices)),
                callbacks=[CB()])
    trainer_ref["t"] = t
    t.train()
    extra = {"total_optimizer_steps": t.state.global_step, "hf_num_input_tokens_seen": int(t.state.num_input_tokens_seen)}
    summ = rec.to_dict()
    if a.devices > 1:
        import torch.distributed as dist

        allr = [None] * dist.get_world_size()
        dist.all_gather_object(allr, summ)
        if dist.get_rank() != 0:
            return None, None
        return combine(allr), extra
    return combine([summ]), extra


def launch_torchrun(a):
    import subprocess

    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={a.devices}",
           os.path.abspath(__file__), *sys.argv[1:], "--_worker"]
    p = subprocess.run(cmd, capture_output=True, text=True, env=dict(os.environ, OMP_NUM_THREADS="1"), timeout=900)
    lines = [line for line in p.stdout.splitlines() if line.startswith("{")]
    if not lines:
        raise RuntimeError("torchrun failed: " + "\n".join(p.stderr.splitlines()[-20:]))
    out = json.loads(lines[-1])
    return out["counted"], out["framework"]


def run_lightning(a, mask):
    import logging
    import warnings

    import torch

    torch.set_num_threads(1)
    warnings.filterwarnings("ignore")
    logging.getLogger("lightning.pytorch").setLevel(logging.ERROR)
    import lightning.pytorch as pl
    from torch.utils.data import DataLoader, TensorDataset

    rec = Rec()
    pl.seed_everything(0, verbose=False)

    class M(pl.LightningModule):
        def __init__(self):
            super().__init__()
            self.lin = torch.nn.Linear(a.seq_len, 1)

        def training_step(self, batch, bi):
            (m,) = batch
            rec.batch(m)
            return self.lin(m).mean()

        def validation_step(self, batch, bi):
            return None

        def on_validation_epoch_end(self):
            if not self.trainer.sanity_checking:
                rec.evaluation(self.trainer.global_step)

        def on_train_epoch_end(self):
            rec.epoch_end()

        def configure_optimizers(self):
            return torch.optim.SGD(self.parameters(), lr=0.01)

    out = {}

    class Gather(pl.Callback):
        def on_train_end(self, trainer, pl_module):
            import torch.distributed as dist

            summ = rec.to_dict()
            allr = [summ]
            if dist.is_available() and dist.is_initialized():
                allr = [None] * dist.get_world_size()
                dist.all_gather_object(allr, summ)
            out["ranks"], out["gs"] = allr, trainer.global_step

    kw = dict(max_epochs=int(a.epochs) if a.epochs is not None else None, max_steps=a.max_steps or -1,
              accumulate_grad_batches=a.grad_accum, num_sanity_val_steps=0, logger=False, enable_checkpointing=False,
              enable_progress_bar=False, enable_model_summary=False, accelerator="cpu", callbacks=[Gather()],
              devices=a.devices, strategy="ddp" if a.devices > 1 else "auto")
    if a.val_check_interval is not None:
        v = a.val_check_interval
        kw["val_check_interval"] = float(v) if "." in v else int(v)
    trainer = pl.Trainer(**kw)
    tl = DataLoader(TensorDataset(torch.from_numpy(mask)), batch_size=a.batch_size, shuffle=True, drop_last=a.drop_last)
    vl = DataLoader(TensorDataset(torch.zeros(1, a.seq_len)), batch_size=1)
    trainer.fit(M(), train_dataloaders=tl, val_dataloaders=vl)
    if trainer.global_rank != 0:
        return None, None
    if "ranks" not in out:  # no batches: fit ends before on_train_end
        out["ranks"], out["gs"] = [rec.to_dict()], trainer.global_step
    return combine(out["ranks"]), {"total_optimizer_steps": out["gs"]}


def run_keras(a, mask):
    os.environ["KERAS_BACKEND"] = "torch"
    import warnings

    import torch

    torch.set_num_threads(1)
    warnings.filterwarnings("ignore")
    import keras

    keras.utils.set_random_seed(0)
    rec = Rec()

    class CM(keras.Model):
        def __init__(self):
            super().__init__()
            self.d = keras.layers.Dense(1)

        def call(self, x):
            return self.d(x)

        def train_step(self, data):
            rec.batch(keras.ops.convert_to_numpy(data[0]))
            return super().train_step(data)

    opt = keras.optimizers.SGD(0.01, gradient_accumulation_steps=a.grad_accum if a.grad_accum > 1 else None)
    model = CM()
    model.compile(optimizer=opt, loss="mse", jit_compile=False)

    class CB(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            # Keras validates before on_epoch_end: the clock has not moved since the epoch's last batch
            if logs and "val_loss" in logs:
                rec.evaluation(int(opt.iterations))
            rec.epoch_end()

    y = np.zeros((len(mask), 1), dtype="float32")
    model.fit(mask, y, batch_size=a.batch_size, epochs=int(a.epochs or 1), verbose=0, shuffle=True, callbacks=[CB()],
              validation_data=(np.zeros((1, a.seq_len), "float32"), np.zeros((1, 1), "float32")),
              validation_freq=a.validation_freq or 1)
    return combine([rec.to_dict()]), {"total_optimizer_steps": int(opt.iterations)}


def main():
    a = parse(sys.argv[1:])
    real_out = os.dup(1)
    os.dup2(2, 1)  # framework chatter to stderr
    mask, facts = make_data(a)
    fw = a.framework
    if fw in ("pytorch", "pytorch-flush"):
        counted, extra = run_pytorch(a, mask, flush=fw == "pytorch-flush")
    elif fw == "hf":
        counted, extra = run_hf(a, mask)
    elif fw == "lightning":
        counted, extra = run_lightning(a, mask)
    else:
        counted, extra = run_keras(a, mask)
    if counted is None:
        return
    res = {"data": facts, "counted": counted, "framework": extra}
    with os.fdopen(real_out, "w") as f:
        f.write(json.dumps(res) + "\n")


if __name__ == "__main__":
    main()
