"""Benchmarks (pytest-benchmark) of the training lab, cold (task caches cleared each round).

Budgets from the issue: the textbook run (10,000 samples, batch 100, 10 epochs) under 300 ms,
a run at the caps (50,000 samples, 20,000 optimizer steps) under 1.5 s, on one core:

    OPENBLAS_NUM_THREADS=1 taskset -c 0 python -m pytest tests/test_bench_training.py

The assertions use the fastest round, so a busy machine does not make them flaky.
"""

from __future__ import annotations

import pytest

from epochsteps import Setup
from epochsteps import training as tr

TEXTBOOK = dict(dataset_size=10_000, batch_size=100, epochs=10)


def _cold_train(setup: Setup):
    tr._training_pool.cache_clear()
    tr._fixed_parts.cache_clear()
    return tr.train(setup, seed=0)


def _bench(benchmark, setup: Setup, rounds: int):
    return benchmark.pedantic(_cold_train, args=(setup,), rounds=rounds, iterations=1, warmup_rounds=1)



def fastest(benchmark) -> float:
    """Fastest round in seconds; with --benchmark-disable the one timed call."""
    if benchmark.stats is None:
        return 0.0  # disabled: the run itself was still checked above
    return benchmark.stats.stats.min


@pytest.mark.parametrize("framework", ["pytorch", "hf"])
def test_bench_textbook_run(benchmark, framework):
    run = _bench(benchmark, Setup(framework=framework, **TEXTBOOK), rounds=7)
    assert run.optimizer_steps == 1_000 and run.downsized is None
    assert fastest(benchmark) < 0.300


def test_bench_run_at_the_caps(benchmark):
    # 1,250 steps per epoch for 16 epochs: both caps, and 832,000 sample passes (within MAX_WORK)
    setup = Setup(framework="hf", dataset_size=tr.MAX_TRAIN_SAMPLES, batch_size=40, epochs=16, patience=1_000)
    run = _bench(benchmark, setup, rounds=3)
    assert run.optimizer_steps == tr.MAX_OPTIMIZER_STEPS and run.downsized is None and len(run.val_loss) == 16
    assert fastest(benchmark) < 1.5


def test_bench_work_budget_corner(benchmark):
    # one-sample batches, windows of 150: cut to the work budget, ~6,500 steps of 150 sample passes
    setup = Setup(framework="lightning", dataset_size=tr.MAX_TRAIN_SAMPLES, batch_size=1, epochs=60, grad_accum=150)
    run = _bench(benchmark, setup, rounds=3)
    assert run.downsized is not None and tr.run_cost(run.plan).fits()
    assert fastest(benchmark) < 1.5


def test_bench_imagenet_downsized(benchmark):
    setup = Setup(framework="hf", dataset_size=1_281_167, batch_size=256, epochs=90)
    run = _bench(benchmark, setup, rounds=3)
    assert run.downsized is not None and run.optimizer_steps <= tr.MAX_OPTIMIZER_STEPS
    assert fastest(benchmark) < 1.5
