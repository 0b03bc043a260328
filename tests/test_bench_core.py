"""Benchmarks (pytest-benchmark) of the plan: ImageNet scale and 10^9 samples x 10^4 epochs.

Reported in the notes; the assertions check the numbers, not the time.
"""

import pytest

from epochsteps import FRAMEWORKS, Setup, make_plan


@pytest.mark.parametrize("framework", FRAMEWORKS)
def test_bench_imagenet(benchmark, framework):
    setup = Setup(framework=framework, dataset_size=1_281_167, batch_size=256, epochs=90)
    plan = benchmark(make_plan, setup)
    assert plan.total_optimizer_steps == 90 * 5005


@pytest.mark.parametrize("framework", FRAMEWORKS)
def test_bench_billion_samples_ten_thousand_epochs(benchmark, framework):
    setup = Setup(framework=framework, dataset_size=10**9, batch_size=1, epochs=10**4)
    plan = benchmark(make_plan, setup)
    assert plan.total_optimizer_steps == 10**13 and plan.epochs_started == 10**4


def test_bench_hf_every_feature(benchmark):
    setup = Setup(
        framework="hf", dataset_size=10**9, batch_size=8, devices=4, grad_accum=4, epochs=3.5,
        eval_every_steps=0.01, patience=3, metrics=tuple(1.0 / (i + 1) for i in range(101)),
        lr_schedule="cosine", warmup_steps=0.05,
    )
    plan = benchmark(make_plan, setup)
    # T = ceil(3.5 * 7,812,500) = 27,343,750; eval_steps = ceil(0.01 * T) = 273,438 -> 99 evaluations + the final step
    assert plan.planned_optimizer_steps == 27_343_750 and len(plan.schedule.evaluations) == 100
    assert plan.early_stop.evaluations_done == len(plan.evaluations) == 100 and not plan.early_stop.stopped
