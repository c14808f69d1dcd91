"""Two-level intervals: exact numbers on small cases, and the promise checked by simulation: runs
drawn with a process effect (as measured on the development machine) land inside each other's
intervals about as often as 95% says, where the one-level interval of the steps does not."""

from __future__ import annotations

import math

import numpy as np
import pytest

from bench.analysis.intervals import ONE_PROCESS, TwoLevel, independent_ratio, paired_ratio, robust_sd
from bench.analysis.stats import Stats


def test_estimate_is_the_average_of_process_medians_with_a_t_interval() -> None:
    groups = [[1.0, 2.0, 3.0, 100.0], [2.0, 3.0, 4.0], [3.0, 4.0, 5.0, 6.0, 7.0]]  # a stall in the first
    tl = TwoLevel.of(groups)
    assert tl.estimate == pytest.approx((2.5 + 3.0 + 5.0) / 3)
    half = 4.302652729911275 * np.std([2.5, 3.0, 5.0], ddof=1) / math.sqrt(3)  # t(0.975, 2)
    assert (tl.ci_low, tl.ci_high) == pytest.approx((tl.estimate - half, tl.estimate + half))
    assert tl.processes == 3 and tl.n == 12 and tl.method.startswith("t over")
    mean = TwoLevel.of(groups, "mean")
    assert mean.estimate == pytest.approx((26.5 + 3.0 + 5.0) / 3)  # the stall moves the mean, not the median


def test_one_process_falls_back_to_its_steps_and_says_so() -> None:
    tl = TwoLevel.of([np.arange(1.0, 41.0)])
    assert tl.method == ONE_PROCESS and tl.ci_low < tl.estimate < tl.ci_high and math.isnan(tl.between_sd)


def test_between_and_within_are_told_apart() -> None:
    rng = np.random.default_rng(0)
    shifts = [0.9, 1.0, 1.1, 1.0, 0.95, 1.05]
    tl = TwoLevel.of([100 * s + rng.normal(0, 1, 200) for s in shifts])
    assert tl.within_sd == pytest.approx(1.0, rel=0.15)
    assert tl.between_sd == pytest.approx(100 * np.std(shifts, ddof=1), rel=0.1)
    assert tl.between_dominates
    quiet = TwoLevel.of([100 + rng.normal(0, 10, 5) for _ in range(6)])
    assert not quiet.between_dominates  # few noisy steps per process: more steps would help


def test_robust_sd_ignores_a_few_stalls() -> None:
    x = np.r_[np.random.default_rng(1).normal(10, 1, 200), [50.0] * 5]
    assert robust_sd(x) == pytest.approx(1.0, rel=0.2) and np.std(x) > 4


def test_paired_ratio_is_the_geometric_mean_of_per_process_ratios() -> None:
    off = [[10.0, 10.0, 10.0], [20.0, 20.0, 20.0], [15.0, 15.0, 15.0]]
    on = [[30.0, 30.0, 30.0], [66.0, 66.0, 66.0], [42.0, 42.0, 42.0]]  # 3.0, 3.3, 2.8
    r = paired_ratio(off, on)
    assert r.ratio == pytest.approx((3.0 * 3.3 * 2.8) ** (1 / 3)) and r.processes == 3
    assert r.ci_low < 2.8 and r.ci_high > 3.3 and r.verdict == "slower"


def test_independent_ratio_separates_a_real_difference_only() -> None:
    rng = np.random.default_rng(2)
    a = [100 * s + rng.normal(0, 2, 40) for s in (0.97, 1.0, 1.03)]
    b = [130 * s + rng.normal(0, 2, 40) for s in (0.98, 1.02, 1.0)]
    r = independent_ratio(a, b)
    assert r.verdict == "slower" and r.ci_low < 1.3 < r.ci_high
    same = independent_ratio(a, [100 * s + rng.normal(0, 2, 40) for s in (1.02, 0.99, 1.0)])
    assert same.verdict == "inconclusive"


def _simulated_run(rng: np.random.Generator, processes: int, steps: int, between: float, within: float,
                   stall_p: float = 0.03) -> list[np.ndarray]:
    """One invocation: each process has its own speed (between), steps jitter (within) and rare 2-5x stalls."""
    out = []
    for _ in range(processes):
        speed = 100.0 * math.exp(rng.normal(0, between))
        x = speed * np.exp(rng.normal(0, within, steps))
        stalls = rng.random(steps) < stall_p
        x[stalls] *= rng.uniform(2, 5, stalls.sum())
        out.append(x)
    return out


def coverage(estimates: np.ndarray, lows: np.ndarray, highs: np.ndarray) -> float:
    """Share of runs whose interval holds the median of the other runs' estimates."""
    hits = [lows[i] <= np.median(np.delete(estimates, i)) <= highs[i] for i in range(len(estimates))]
    return float(np.mean(hits))


@pytest.mark.slow
def test_simulated_coverage_two_level_holds_one_level_does_not() -> None:
    """Process effect 5% (the development machine: six invocations' means 10% apart), steps 3%, stalls."""
    rng = np.random.default_rng(3)
    runs = [_simulated_run(rng, processes=3, steps=40, between=0.05, within=0.03) for _ in range(300)]
    new = [TwoLevel.of(r) for r in runs]
    old = [Stats.from_samples(r[0]) for r in runs[:100]]  # before: one process, its steps as independent draws
    cov_new = coverage(np.array([t.estimate for t in new]), np.array([t.ci_low for t in new]),
                       np.array([t.ci_high for t in new]))
    cov_old = coverage(np.array([s.mean for s in old]), np.array([s.mean_ci_low for s in old]),
                       np.array([s.mean_ci_high for s in old]))
    assert cov_new >= 0.90, cov_new
    assert cov_old < 0.75, cov_old  # far below the 95% it claims


def test_processes_needed_for_a_target() -> None:
    rng = np.random.default_rng(4)
    tl = TwoLevel.of([100 * s + rng.normal(0, 0.5, 30) for s in (0.95, 1.0, 1.05)])  # ~5% process sd
    n = tl.processes_for(3.0)
    assert n is not None and 10 <= n <= 14  # t(n-1) x 5% / sqrt(n) <= 3%: n = 12
    assert tl.processes_for(50.0) == 2 and TwoLevel.of([[1.0, 2.0]]).processes_for(3.0) is None
