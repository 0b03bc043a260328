"""Every worked example of ../shared/framework-semantics.md (sections 1-9) that applies to
HF >= 4.52, Lightning 2.x, Keras 3 and the two hand-written loops, one test each, citing the
framework's file and function. Numbers marked "run" there were seen on the real frameworks.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from epochsteps import Setup, SetupError, loading, make_plan, schedules
from epochsteps.conventions import hf, lightning


def plan(**kw):
    return make_plan(Setup(**kw))


def steps(**kw):
    p = plan(**kw)
    return p.total_optimizer_steps, p.steps.tolist()


def evals(**kw):
    return plan(**kw).evaluations.global_step.tolist()


# -- 1. PyTorch data loading -----------------------------------------------------------

@pytest.mark.parametrize(
    "n, b, keep, keep_last, drop, drop_last",
    [(1000, 32, 32, 8, 31, 32), (10, 3, 4, 1, 3, 3), (100, 7, 15, 2, 14, 7), (7, 10, 1, 7, 0, None)],
)
def test_1_2_batch_sampler_len_and_last_batch(n, b, keep, keep_last, drop, drop_last):
    # torch/utils/data/sampler.py BatchSampler.__len__ / __iter__
    assert loading.torch_dataloader(n, b, False)[:2] == (keep, keep_last)
    assert loading.torch_dataloader(n, b, True)[:2] == (drop, drop_last)


def test_1_3_distributed_sampler_pads_with_duplicates():
    # torch/utils/data/distributed.py DistributedSampler.__init__/__iter__: N=10, W=3 -> 4 per rank, 2 duplicates
    load = loading.distributed_sampler(10, 4, 3, False)
    assert (load.batches, load.last_batch_size, load.samples) == (1, 4, 12)
    p = plan(dataset_size=10, batch_size=4, devices=3, epochs=1)
    assert p.samples_duplicated == 2 and p.samples_dropped == 0


def test_1_3_sampler_keeps_padding_loader_drops():
    # N=11, B=3, W=2: sampler drop_last False + loader drop_last True -> 2 batches per rank
    assert loading.distributed_sampler(11, 3, 2, True).batches == 2


def test_1_4_accelerate_tops_up_every_rank_batch():
    # accelerate/data_loader.py BatchSamplerShard._iter_with_no_split: N=10, B=3, W=2 -> 2 full batches per rank
    load = loading.accelerate_shard(10, 3, 2, False)
    assert (load.batches, load.last_batch_size, load.samples) == (2, 3, 12)


def test_1_4_hf_and_lightning_differ_with_drop_last():
    # §1.4 / §6 row K (run): N=11, B=3, W=2, D -> HF 1 batch per rank, Lightning 2
    assert plan(framework="hf", dataset_size=11, batch_size=3, devices=2, drop_last=True, epochs=1).batches.tolist() == [1]
    assert plan(framework="lightning", dataset_size=11, batch_size=3, devices=2, drop_last=True, epochs=1).batches.tolist() == [2]


# -- 2. HF Trainer -----------------------------------------------------------------------

@pytest.mark.parametrize(
    "epochs, max_steps, total, per_epoch, final_epoch",
    [(3, None, 24, [8, 8, 8], 3.0), (2.5, None, 20, [8, 8, 4], 2.5), (0.3, None, 3, [3], 0.375), (3, 10, 10, [8, 2], 1.25)],
)
def test_2_1_hf_steps_fractional_epochs_and_max_steps(epochs, max_steps, total, per_epoch, final_epoch):
    # transformers/trainer.py Trainer.set_initial_training_values, _run_epoch; run 5.24: N=1000, B=32, G=4
    p = plan(framework="hf", dataset_size=1000, batch_size=32, grad_accum=4, epochs=epochs, max_steps=max_steps)
    assert (p.total_optimizer_steps, p.steps.tolist()) == (total, per_epoch)
    assert p.epoch_at(p.total_optimizer_steps) == pytest.approx(final_epoch)


@pytest.mark.parametrize("ratio, total, expected", [(0.25, 10, 3), (1.0, 10, 1), (2.7, 10, 2), (0.999, 10, 10), (0.07, 100, 8)])
def test_2_1_hf_warmup_rounding(ratio, total, expected):
    # training_args.py TrainingArguments.get_warmup_steps (v5); §7.1 float64 ceil(100 * 0.07) = 8
    assert schedules.hf_warmup_steps(ratio, total) == expected


@pytest.mark.parametrize(
    "every, expected",
    [(0.25, [6, 12, 18, 24]), (0.3, [8, 16, 24]), (0.2, [5, 10, 15, 20, 24]), (7, [7, 14, 21, 24])],
)
def test_2_1_hf_eval_steps_and_final_step_eval(every, expected):
    # trainer_callback.py TrainerState.compute_steps, DefaultFlowCallback.on_step_end (final-step eval, 5.4+)
    assert evals(framework="hf", dataset_size=1000, batch_size=32, grad_accum=4, epochs=3, eval_every_steps=every) == expected


def test_2_1_hf_epoch_eval_with_max_steps_cut():
    # DefaultFlowCallback.on_epoch_end fires for the cut epoch too: U=8, max_steps=10 -> [8, 10]
    assert evals(framework="hf", dataset_size=1000, batch_size=32, grad_accum=4, epochs=3, max_steps=10) == [8, 10]


def test_7_1_hf_eval_ratio_float64():
    # ceil(100 * 0.07) = ceil(7.000000000000001) = 8
    assert hf.eval_steps(0.07, 100) == 8


@pytest.mark.parametrize(
    "kind, expected",
    [("linear", [0, 0.5, 1, 0.75, 0.5, 0.25]), ("cosine", [0, 0.5, 1, 0.854, 0.5, 0.146])],
)
def test_5_hf_schedule_update_k_uses_lambda_k_minus_1(kind, expected):
    # transformers/optimization.py _get_linear/_get_cosine_schedule_with_warmup_lr_lambda; run w=2, T=6
    p = plan(framework="hf", dataset_size=6, batch_size=1, epochs=1, lr_schedule=kind, lr=1.0, warmup_steps=2)
    assert p.lr_at(np.arange(1, 7)) == pytest.approx(expected, abs=1e-3)


def test_2_1_hf_threshold_creeps_against_best_metric():
    # trainer_callback.py EarlyStoppingCallback.check_metric_value + trainer.py _determine_best_metric:
    # falling 0.01 per eval, threshold 0.015, patience 2 -> stops at the 3rd evaluation (run 5.24)
    metrics = tuple(1.0 - 0.01 * i for i in range(20))
    p = plan(framework="hf", dataset_size=100, batch_size=10, epochs=20, patience=2, min_delta=0.015, metrics=metrics)
    assert p.early_stop.stopped and p.early_stop.evaluations_done == 3
    assert p.early_stop.best_eval_index == 2  # best_metric moved on every strict improvement


def test_6_falling_series_with_min_delta_runs_on_in_lightning_and_keras():
    # lightning callbacks/early_stopping.py, keras callbacks/early_stopping.py: best moves only on a real improvement
    metrics = tuple(1.0 - 0.01 * i for i in range(12)) + (0.89,) * 10
    for fw in ("lightning", "keras"):
        p = plan(framework=fw, dataset_size=10, batch_size=10, epochs=22, patience=2, min_delta=0.015, metrics=metrics)
        assert p.early_stop.stopped
        assert p.early_stop.evaluations_done > 12  # runs until the series flattens
    hf_plan = plan(framework="hf", dataset_size=10, batch_size=10, epochs=22, patience=2, min_delta=0.015, metrics=metrics)
    assert hf_plan.early_stop.evaluations_done == 3


@pytest.mark.parametrize("fw, evaluations", [("hf", 1), ("lightning", 2), ("keras", 2)])
def test_6_patience_zero(fw, evaluations):
    # HF stops right after the first evaluation; Lightning and Keras treat 0 like 1
    p = plan(framework=fw, dataset_size=10, batch_size=10, epochs=5, patience=0, metrics=(1.0,) * 5)
    assert p.early_stop.stopped and p.early_stop.evaluations_done == evaluations


@pytest.mark.parametrize("fw, evaluations", [("hf", 3), ("lightning", 2), ("keras", 2)])
def test_9_1_float32_comparison_in_lightning_and_keras(fw, evaluations):
    # 0.8, 0.7, 0.7 with min_delta 0.1, patience 1: |0.7 - 0.8| > 0.1 in float64 (HF), not in float32
    p = plan(framework=fw, dataset_size=10, batch_size=10, epochs=5, patience=1, min_delta=0.1, metrics=(0.8, 0.7, 0.7, 0.7, 0.7))
    assert p.early_stop.stopped and p.early_stop.evaluations_done == evaluations


def test_2_1_hf_steps_eval_stop_mid_epoch():
    # should_training_stop is set inside the evaluation; the loop exits after the current step
    p = plan(framework="hf", dataset_size=1000, batch_size=32, grad_accum=4, epochs=3, eval_every_steps=3, patience=1, metrics=(1.0, 0.9, 0.95, 0.9, 0.8, 0.7, 0.6, 0.5))
    assert p.early_stop.stop_global_step == 9 and p.steps.tolist() == [8, 1] and p.batches.tolist() == [32, 4]
    assert p.early_stop.stop_epoch == 2 and p.evaluations.global_step.tolist() == [3, 6, 9]


def test_7_6_hf_refuses_zero_batches_in_epoch_mode():
    # trainer.py: `if len_dataloader:` treats 0 as no length -> "args.max_steps must be set"
    with pytest.raises(SetupError, match="max_steps must be set"):
        plan(framework="hf", dataset_size=7, batch_size=10, drop_last=True, epochs=3)


def test_9_5_hf_zero_batches_with_max_steps_runs_one_empty_epoch():
    p = plan(framework="hf", dataset_size=7, batch_size=10, drop_last=True, max_steps=5)
    assert p.total_optimizer_steps == 0 and p.batches.tolist() == [0]
    assert p.to_dict()["last_batch_size"] == [None]
    assert p.evaluations.global_step.tolist() == [0]  # eval_strategy="epoch" evaluates once, at step 0


# -- 3. Lightning ----------------------------------------------------------------------------

@pytest.mark.parametrize(
    "epochs, max_steps, per_epoch",
    [(3, 10, [8, 2]), (3, 100, [8, 8, 8]), (None, 20, [8, 8, 4])],
)
def test_3_lightning_whichever_limit_first(epochs, max_steps, per_epoch):
    # loops/utilities.py _parse_loop_limits, loops/fit_loop.py _FitLoop.done; L=32, G=4
    assert steps(framework="lightning", dataset_size=1000, batch_size=32, grad_accum=4, epochs=epochs, max_steps=max_steps)[1] == per_epoch


def test_3_lightning_default_max_epochs_is_1000():
    assert plan(framework="lightning", dataset_size=10, batch_size=10).epochs_started == 1000


def test_3_lightning_ddp():
    # DDP run, W=2: 1000, 32, 4 -> 16 batches per rank, 12 steps over 3 epochs
    p = plan(framework="lightning", dataset_size=1000, batch_size=32, grad_accum=4, devices=2, epochs=3)
    assert p.batches.tolist() == [16, 16, 16] and p.total_optimizer_steps == 12


@pytest.mark.parametrize(
    "kw, expected",
    [
        ({"val_check_interval": 0.25}, [2, 4, 6, 8, 10]),
        ({"val_check_interval": 0.3}, [3, 6, 9]),
        ({"val_check_interval": 4}, [4, 8]),
    ],
)
def test_3_lightning_val_check_interval(kw, expected):
    # loops/training_epoch_loop.py _should_check_val_fx; fit_loop.py setup_data: int(L * f), L=10
    assert evals(framework="lightning", dataset_size=10, batch_size=1, epochs=1, **kw) == expected


def test_3_lightning_int_interval_across_epochs_when_check_val_every_n_epoch_none():
    assert evals(framework="lightning", dataset_size=10, batch_size=1, epochs=2, val_check_interval=4, check_val_every_n_epoch=None) == [4, 8, 12, 16, 20]


def test_3_lightning_check_val_every_n_epoch():
    p = plan(framework="lightning", dataset_size=10, batch_size=1, epochs=4, check_val_every_n_epoch=2)
    assert p.evaluations.epoch.tolist() == [1, 3]


def test_3_lightning_no_validation_added_at_mid_epoch_max_steps():
    assert evals(framework="lightning", dataset_size=10, batch_size=1, epochs=5, max_steps=15) == [10]


def test_3_lightning_validation_mid_accumulation_window():
    # G=4, f=0.5 on L=10: validation after batch 5 while global_step is 1
    p = plan(framework="lightning", dataset_size=10, batch_size=1, grad_accum=4, epochs=1, val_check_interval=0.5)
    assert p.evaluations.global_step.tolist() == [1, 3] and p.evaluations.batches_done.tolist() == [5, 10]


def test_3_lightning_patience_counts_checks():
    # values 1.0, 0.9, 0.95 ... patience 3 -> stopped at the 5th validation
    p = plan(framework="lightning", dataset_size=10, batch_size=10, epochs=10, patience=3, metrics=(1.0, 0.9) + (0.95,) * 8)
    assert p.early_stop.stopped and p.early_stop.evaluations_done == 5 and p.early_stop.best_eval_index == 1


def test_3_lightning_stops_mid_epoch_on_mid_epoch_validation():
    # f=0.5 -> validation after batch 5 of every epoch; the stop takes effect at once
    p = plan(framework="lightning", dataset_size=10, batch_size=1, epochs=3, val_check_interval=0.5, patience=1, metrics=(1.0, 0.9, 0.95, 0.9, 0.9, 0.9))
    assert p.early_stop.stop_epoch == 2 and p.batches.tolist() == [10, 5] and p.early_stop.stop_global_step == 15


def test_7_2_lightning_floors_fraction_with_int():
    # int(100 * 0.29) = 28
    assert lightning.val_check_batch(Setup(dataset_size=100, batch_size=1, framework="lightning", val_check_interval=0.29), 100) == 28


def test_9_4_lightning_refuses_float_interval_without_epoch_cadence():
    with pytest.raises(SetupError, match="float val_check_interval"):
        plan(framework="lightning", dataset_size=10, batch_size=1, epochs=1, val_check_interval=1.0, check_val_every_n_epoch=None)


@pytest.mark.parametrize("interval, max_steps, expected", [(0.5, 3, [3]), (3, 9, [3, 6, 9])])
def test_9_6_lightning_validates_on_the_max_steps_batch_when_scheduled(interval, max_steps, expected):
    assert evals(framework="lightning", dataset_size=6, batch_size=1, epochs=5, val_check_interval=interval, max_steps=max_steps) == expected


def test_9_7_lightning_int_one_checks_once_per_epoch():
    # EarlyStopping.setup: check_on_train_epoch_end = (val_check_interval == 1.0 and check_val_every_n_epoch == 1)
    metrics = (1.0, 0.8, 0.7, 0.75, 0.72, 0.71) + (0.9,) * 30
    p = plan(framework="lightning", dataset_size=37, batch_size=7, epochs=6, val_check_interval=1, patience=2, metrics=metrics)
    assert p.early_stop.stopped and p.early_stop.evaluations_done == 18
    assert p.early_stop.stop_epoch == 3 and p.early_stop.stop_global_step == 18


def test_9_9_lightning_zero_batches_starts_no_epoch():
    p = plan(framework="lightning", dataset_size=7, batch_size=10, drop_last=True, epochs=3)
    d = p.to_dict()
    assert d["batches_per_epoch"] == [] and d["total_optimizer_steps"] == 0 and d["epoch_end_global_steps"] == []


def test_3_lightning_lr_horizon_is_estimated_stepping_batches():
    # trainer/trainer.py Trainer.estimated_stepping_batches = ceil(L / G) * max_epochs, capped at max_steps
    p = plan(framework="lightning", dataset_size=1000, batch_size=32, grad_accum=5, epochs=3, lr_schedule="linear", lr=1.0)
    assert p.schedule.lr_horizon == 21
    assert p.lr_at([21])[0] == pytest.approx(1 / 21)


# -- 4. Keras ----------------------------------------------------------------------------------

@pytest.mark.parametrize("spe, epochs, expected", [(10, 5, [10, 10, 10, 2, 10]), (40, 2, [32, 32])])
def test_4_keras_steps_per_epoch_continues_the_iterator(spe, epochs, expected):
    # keras/src/trainers/epoch_iterator.py EpochIterator._enumerate_iterator, L=32
    assert plan(framework="keras", dataset_size=1000, batch_size=32, epochs=epochs, steps_per_epoch=spe).batches.tolist() == expected


@pytest.mark.parametrize("freq, expected", [(2, [1, 3]), ((1, 3), [0, 2])])
def test_4_keras_validation_freq(freq, expected):
    # keras/src/trainers/trainer.py Trainer._should_eval
    assert plan(framework="keras", dataset_size=10, batch_size=5, epochs=4, validation_freq=freq).evaluations.epoch.tolist() == expected


@pytest.mark.parametrize(
    "n, b, g, e, per_epoch, total",
    [(1000, 32, 5, 3, [6, 6, 7], 19), (1000, 32, 3, 3, [10, 11, 11], 32), (10, 3, 5, 2, [0, 1], 1), (91, 10, 4, 10, [2, 3] * 5, 25)],
)
def test_4_keras_accumulation_counts_across_epochs(n, b, g, e, per_epoch, total):
    # keras/src/optimizers/base_optimizer.py _backend_apply_gradients: global micro-batch counter
    assert steps(framework="keras", dataset_size=n, batch_size=b, grad_accum=g, epochs=e) == (total, per_epoch)


@pytest.mark.parametrize("patience", [0, 1])
def test_4_keras_patience_zero_and_one_stop_at_first_miss(patience):
    # callbacks/early_stopping.py on_epoch_end: wait += 1 first; never stops at epoch 0
    p = plan(framework="keras", dataset_size=10, batch_size=10, epochs=10, patience=patience, metrics=(1.0,) * 10)
    assert p.early_stop.stopped and p.early_stop.stop_epoch == 2


def test_4_keras_patience_counts_validated_epochs():
    # validation_freq=2, patience 1 on a flat series -> stopped after epoch 4
    p = plan(framework="keras", dataset_size=10, batch_size=10, epochs=10, validation_freq=2, patience=1, metrics=(1.0,) * 5)
    assert p.early_stop.stop_epoch == 4 and p.early_stop.evaluations_done == 2


def test_4_keras_start_from_epoch():
    # start_from_epoch=3, patience 2, rising series -> stopped at 1-indexed epoch 6
    p = plan(framework="keras", dataset_size=10, batch_size=10, epochs=20, start_from_epoch=3, patience=2, metrics=tuple(float(i) for i in range(20)))
    assert p.early_stop.stop_epoch == 6 and p.early_stop.best_eval_index == 3


def test_9_2_keras_cosine_decay_with_warmup_in_micro_batches():
    # learning_rate_schedule.py CosineDecay.__call__; base_optimizer.py calls it with the raw _iterations
    p = plan(framework="keras", dataset_size=37, batch_size=7, epochs=2, grad_accum=2, lr_schedule="cosine", lr=0.01, warmup_steps=3)
    assert p.lr_at(np.arange(1, 7)) == pytest.approx([0.00333, 0.0100, 0.00883, 0.00587, 0.00250, 0.000302], rel=2e-3)


@pytest.mark.parametrize("kw", [{"drop_last": True}, {"devices": 2}, {"max_steps": 5}, {"epochs": 2.5}, {"lr_schedule": "linear"}])
def test_keras_refuses_what_fit_has_no_counterpart_for(kw):
    base = {"framework": "keras", "dataset_size": 100, "batch_size": 10, "epochs": 2}
    with pytest.raises(SetupError):
        plan(**{**base, **kw})


# -- 6. worked examples where frameworks disagree ------------------------------------------------

TABLE_6 = {
    # row: (N, B, G, E, drop_last): {convention: total optimizer steps}
    "A": ((1000, 32, 4, 3, False), {"hf": 24, "lightning": 24, "keras": 24, "pytorch": 24}),
    "B": ((1000, 32, 4, 3, True), {"hf": 24, "lightning": 24, "pytorch": 21}),
    "C": ((10, 3, 2, 3, False), {"hf": 6, "lightning": 6, "keras": 6, "pytorch": 6}),
    "D": ((10, 3, 3, 2, False), {"hf": 4, "lightning": 4, "keras": 2, "pytorch": 2}),
    "E": ((10, 3, 5, 2, False), {"hf": 2, "lightning": 2, "keras": 1, "pytorch": 0}),
    "F": ((1000, 32, 5, 3, False), {"hf": 21, "lightning": 21, "keras": 19, "pytorch": 18}),
    "G": ((1000, 32, 3, 3, False), {"hf": 33, "lightning": 33, "keras": 32, "pytorch": 30}),
    "H": ((100, 8, 3, 3, False), {"hf": 15, "lightning": 15, "keras": 13, "pytorch": 12}),
    "I": ((91, 10, 4, 10, False), {"hf": 30, "lightning": 30, "keras": 25, "pytorch": 20}),
}


@pytest.mark.parametrize("row", sorted(TABLE_6))
def test_6_table(row):
    (n, b, g, e, d), expected = TABLE_6[row]
    for fw, total in expected.items():
        p = plan(framework=fw, dataset_size=n, batch_size=b, grad_accum=g, epochs=e, drop_last=d)
        assert p.total_optimizer_steps == total, (row, fw)
    # pytorch-flush steps the leftover window like HF >= 4.52 and Lightning
    flush = plan(framework="pytorch-flush", dataset_size=n, batch_size=b, grad_accum=g, epochs=e, drop_last=d)
    assert flush.total_optimizer_steps == expected["hf"]


def test_6_row_j_fractional_epochs_hf_only():
    assert steps(framework="hf", dataset_size=1000, batch_size=32, grad_accum=4, epochs=2.5) == (20, [8, 8, 4])
    with pytest.raises(SetupError, match="whole epochs"):
        plan(framework="lightning", dataset_size=1000, batch_size=32, epochs=2.5)


def test_6_row_l_two_devices():
    for fw in ("hf", "lightning"):
        p = plan(framework=fw, dataset_size=1000, batch_size=32, grad_accum=4, devices=2, epochs=3)
        assert p.total_optimizer_steps == 12 and p.batches.tolist() == [16, 16, 16]


def test_6_naive_loop_leftover_leaks():
    p = plan(framework="pytorch", dataset_size=100, batch_size=8, grad_accum=3, epochs=3)
    assert p.steps.tolist() == [4, 4, 4] and any("leak" in n for n in p.notes)


def test_5_lr_step_k_uses_schedule_k_minus_1_in_loops():
    # torch/optim/lr_scheduler.py LRScheduler: after k step() calls last_epoch = k
    p = plan(framework="pytorch", dataset_size=6, batch_size=1, epochs=1, lr_schedule="linear", lr=1.0, warmup_steps=2)
    assert p.lr_at(np.arange(1, 7)).tolist() == pytest.approx([0, 0.5, 1, 0.75, 0.5, 0.25])


def test_closed_forms():
    # §6 closed forms, over a grid
    for n in (1, 7, 10, 91, 1000):
        for b in (1, 3, 32):
            for g in (1, 2, 5):
                for e in (1, 3):
                    L = math.ceil(n / b)
                    assert plan(framework="hf", dataset_size=n, batch_size=b, grad_accum=g, epochs=e).total_optimizer_steps == e * max(1, math.ceil(L / g))
                    assert plan(framework="lightning", dataset_size=n, batch_size=b, grad_accum=g, epochs=e).total_optimizer_steps == e * math.ceil(L / g)
                    assert plan(framework="keras", dataset_size=n, batch_size=b, grad_accum=g, epochs=e).total_optimizer_steps == (e * L) // g
                    assert plan(framework="pytorch", dataset_size=n, batch_size=b, grad_accum=g, epochs=e).total_optimizer_steps == e * (L // g)


def test_zero_batch_epochs_drop_every_sample():
    # N < B with drop_last: every epoch runs and yields nothing (seen on torch 2.13: 14 dropped over 2 epochs)
    p = plan(dataset_size=7, batch_size=10, drop_last=True, epochs=2)
    assert p.batches.tolist() == [0, 0] and p.samples_dropped == 14 and p.samples_seen == 0


def test_lightning_validation_cadence_past_the_last_epoch():
    p = plan(framework="lightning", dataset_size=100, batch_size=10, epochs=1, check_val_every_n_epoch=2)
    assert len(p.evaluations) == 0 and p.total_optimizer_steps == 10
