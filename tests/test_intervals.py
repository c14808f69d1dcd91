"""Two-level intervals: exact numbers on small cases, and the promise checked by simulation: runs
drawn with a process effect (as measured on the development machine) land inside each other's
intervals about as often as 95% says, where the one-level interval of the steps does not."""

from __future__ import annotations

import math

import numpy as np
import pytest

from bench.analysis.intervals import (
    ONE_PROCESS,
    WELCH,
    LogRatio,
    TwoLevel,
    independent_ratio,
    log_ratio_lockstep,
    log_ratio_welch,
    paired_ratio,
    robust_sd,
)
from bench.analysis.stats import Stats


def test_estimate_is_the_average_of_process_medians_with_a_t_interval() -> None:
    groups = [[1.0, 2.0, 3.0, 100.0], [2.0, 3.0, 4.0], [3.0, 4.0, 5.0, 6.0, 7.0]]  # a stall in the first
    # medians 2.5, 3, 5: estimate 3.5; sd (ddof=1) 1.3228757; t.ppf(0.975, 2) = 4.3026527;
    # half = 4.3026527 * 1.3228757 / sqrt(3) = 3.2862053: [0.2137947, 6.7862053]
    tl = TwoLevel.of(groups)
    assert tl.estimate == pytest.approx(3.5, rel=1e-12)
    assert (tl.ci_low, tl.ci_high) == pytest.approx((0.2137947, 6.7862053), rel=1e-6)
    assert tl.processes == 3 and tl.n == 12 and tl.method.startswith("t over")
    # means 26.5, 3, 5: estimate 11.5; sd 13.0288142; half = 4.3026527 * 13.0288142 / sqrt(3) = 32.3653687
    mean = TwoLevel.of(groups, "mean")
    assert mean.estimate == pytest.approx(11.5, rel=1e-12)  # the stall moves the mean, not the median
    assert (mean.ci_low, mean.ci_high) == pytest.approx((-20.8653687, 43.8653687), rel=1e-6)


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
    """Hand computation (scipy.stats.t.ppf, numpy):
    per-process ratios 30/10, 66/20, 42/15 = 3.0, 3.3, 2.8; logs 1.0986123, 1.1939225, 1.0296194;
    mean log 1.1073847 -> ratio exp(1.1073847) = 3.0264331 (the geometric mean);
    sd (ddof=1) 0.0825021, se = 0.0825021 / sqrt(3) = 0.0476326; t.ppf(0.975, 2) = 4.3026527;
    half = 4.3026527 * 0.0476326 = 0.2049465; interval exp(1.1073847 -+ 0.2049465) = [2.4656075, 3.7148236];
    p = 2 * t.sf(1.1073847 / 0.0476326 = 23.248469, 2) = 0.0018450.
    Planted mistakes land elsewhere: z for t [2.757, 3.323]; sd for se [2.122, 4.316]; df = 3 [2.601, 3.522]."""
    off = [[10.0, 10.0, 10.0], [20.0, 20.0, 20.0], [15.0, 15.0, 15.0]]
    on = [[30.0, 30.0, 30.0], [66.0, 66.0, 66.0], [42.0, 42.0, 42.0]]  # 3.0, 3.3, 2.8
    r = paired_ratio(off, on)
    assert r.ratio == pytest.approx(3.0264331, rel=1e-6) and r.processes == 3
    assert (r.ci_low, r.ci_high) == pytest.approx((2.4656075, 3.7148236), rel=1e-6)
    assert r.p_value == pytest.approx(0.0018450, rel=1e-4)
    assert r.verdict == "slower" and r.method == "t over per-process ratios"


def test_paired_ratio_takes_each_process_median_not_its_mean() -> None:
    """Process medians 10 and 20 (baseline) and 12, 26 (other), whatever the stalls: ratios 1.2 and 1.3;
    logs 0.1823216, 0.2623643; mean 0.2223429 -> ratio 1.2489996 (= sqrt(1.56));
    sd = |0.2623643 - 0.1823216| / sqrt(2) = 0.0565987, se = 0.0565987 / sqrt(2) = 0.0400214;
    t.ppf(0.975, 1) = 12.7062047; half = 0.5085195; interval exp(0.2223429 -+ 0.5085195) = [0.7511300, 2.0768710]."""
    base = [[10.0, 10.0, 50.0], [20.0, 19.0, 21.0]]
    other = [[12.0, 90.0, 11.0], [26.0, 26.0, 26.0]]
    r = paired_ratio(base, other)
    assert r.ratio == pytest.approx(1.2489996, rel=1e-6)
    assert (r.ci_low, r.ci_high) == pytest.approx((0.7511300, 2.0768710), rel=1e-6)
    assert r.verdict == "inconclusive"


def test_independent_ratio_is_welch_on_the_ratio_of_two_level_estimates() -> None:
    """Hand computation (scipy.stats.t.ppf, numpy): process medians a = 10, 11, 12 and b = 20, 24, 30, 22
    (each process's steps have a stall the median ignores). Means 11 and 24: ratio 24/11 = 2.1818182,
    log 0.7801586. Relative variance of each side's mean (delta method):
    va = var(a)/3/11^2 = 1/3/121 = 0.0027548, vb = var(b)/4/24^2 = 18.666667/4/576 = 0.0081019;
    se = sqrt(va + vb) = 0.1041954; Welch df = (va + vb)^2 / (va^2/2 + vb^2/3) = 4.5908294;
    t.ppf(0.975, 4.5908294) = 2.6410457; half = 0.2751847;
    interval exp(0.7801586 -+ 0.2751858) = [1.6569422, 2.8729612]; p = 2 * t.sf(0.7801586 / se, df) = 0.00096887.
    Planted mistakes land elsewhere: pooled df 5 [1.66915, 2.85195]; z for t [1.77880, 2.67615]."""
    a = [[v, v, 5 * v] for v in (10.0, 11.0, 12.0)]
    b = [[v, 3 * v, v] for v in (20.0, 24.0, 30.0, 22.0)]
    lr = log_ratio_welch(a, b)
    assert lr.log == pytest.approx(0.7801586, rel=1e-6) and lr.units == 3 and lr.method == WELCH
    assert lr.se == pytest.approx(0.1041954, rel=1e-6) and lr.df == pytest.approx(4.5908294, rel=1e-6)
    r = independent_ratio(a, b)
    assert r.ratio == pytest.approx(24 / 11, rel=1e-9) and r.processes == 3 and r.method == WELCH
    assert (r.ci_low, r.ci_high) == pytest.approx((1.6569422, 2.8729612), rel=1e-6)
    assert r.p_value == pytest.approx(0.00096887, rel=1e-4) and r.verdict == "slower"


def test_lockstep_log_ratio_is_the_median_of_step_ratios_with_a_t_over_pairs() -> None:
    """Hand computation (scipy.stats.t.ppf, numpy):
    pair 1: steps 13/10, 21/20, 24/8 = 1.3, 1.05, 3.0 -> median log ln 1.3 = 0.2623643
            (a ratio of medians would give 21/10 = 2.1, the mean of step logs 0.4699);
    pair 2: 4 base steps, 3 other: the first 3 turns only: 22/20, 40/40, 13/10 = 1.1, 1.0, 1.3 -> ln 1.1 = 0.0953102;
    pair 3: 6/5, 6.5/5 = 1.2, 1.3 -> median of two logs (ln 1.2 + ln 1.3)/2 = 0.2223429;
    mean 0.1933391 -> ratio 1.2132942; sd (ddof=1) 0.0872220, se = 0.0872220 / sqrt(3) = 0.0503577;
    t.ppf(0.975, 2) = 4.3026527: half 0.2166717, interval [0.9769377, 1.5068338];
    p = 2 * t.sf(0.1933391 / 0.0503577 = 3.839318, 2) = 0.0616353."""
    base = [[10.0, 20.0, 8.0], [20.0, 40.0, 10.0, 99.0], [5.0, 5.0]]
    other = [[13.0, 21.0, 24.0], [22.0, 40.0, 13.0], [6.0, 6.5]]
    lr = log_ratio_lockstep(base, other)
    assert lr.log == pytest.approx(0.1933391, rel=1e-6) and lr.ratio == pytest.approx(1.2132942, rel=1e-6)
    assert lr.se == pytest.approx(0.0503577, rel=1e-6) and lr.df == 2 and lr.units == 3
    assert lr.interval() == pytest.approx((0.9769377, 1.5068338), rel=1e-6)
    assert lr.p_value == pytest.approx(0.0616353, rel=1e-5)
    with pytest.raises(ValueError, match="both sides of every pair; got 3 and 2"):
        log_ratio_lockstep(base, other[:2])


def test_a_log_ratio_interval_at_another_confidence() -> None:
    """LogRatio(log 0.1, se 0.02, df 4): t.ppf(0.95, 4) = 2.1318468 for 90%: half 0.0426369,
    interval exp(0.1 -+ 0.0426369) = [1.0590402, 1.1533110]; t.ppf(0.995, 4) = 4.6040949 for 99%:
    half 0.0920819, [1.0079495, 1.2117698]; p = 2 * t.sf(0.1 / 0.02 = 5, 4) = 0.0074904."""
    lr = LogRatio(0.1, 0.02, 4, 5, "hand")
    assert lr.interval(0.90) == pytest.approx((1.0590402, 1.1533110), rel=1e-6)
    assert lr.interval(0.99) == pytest.approx((1.0079495, 1.2117698), rel=1e-6)
    assert lr.p_value == pytest.approx(0.0074904, rel=1e-4)


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
