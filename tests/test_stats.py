from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bench.analysis.stats import DIFFERENCE_FLOOR, Ratio, Stats, verdict_of


def test_exact_values() -> None:
    s = Stats.from_samples([1, 2, 3, 4, 5, 6, 7, 8, 9, 10])
    assert s.n == 10
    assert s.mean == 5.5
    assert s.std == pytest.approx(3.0276503540974917)  # ddof=1
    assert s.median == 5.5
    assert s.min == 1 and s.max == 10
    assert s.p5 == pytest.approx(1.45) and s.p95 == pytest.approx(9.55)  # NumPy linear interpolation
    assert s.iqr == pytest.approx(4.5)
    assert s.cv == pytest.approx(3.0276503540974917 / 5.5)
    assert s.mean_ci_low < 5.5 < s.mean_ci_high
    assert s.median_ci_low <= 5.5 <= s.median_ci_high


def test_constant_samples_have_zero_width() -> None:
    s = Stats.from_samples([7.0] * 20)
    assert s.std == 0 and s.cv == 0
    assert (s.mean_ci_low, s.mean_ci_high) == (7.0, 7.0)
    assert not s.unstable


def test_single_sample_and_bad_input() -> None:
    s = Stats.from_samples([3.0])
    assert s.mean == 3.0 and np.isnan(s.std) and np.isnan(s.mean_ci_low)
    with pytest.raises(ValueError, match="non-empty"):
        Stats.from_samples([])
    with pytest.raises(ValueError, match="NaN"):
        Stats.from_samples([1.0, float("nan")])


def test_ci_is_reproducible_and_covers_known_mean() -> None:
    x = np.random.default_rng(1).normal(100.0, 5.0, 200)
    a, b = Stats.from_samples(x), Stats.from_samples(x)
    assert (a.mean_ci_low, a.mean_ci_high) == (b.mean_ci_low, b.mean_ci_high)
    assert a.mean_ci_low < 100.0 < a.mean_ci_high
    half = 1.96 * 5.0 / np.sqrt(200)  # normal-theory half-width
    assert (a.mean_ci_high - a.mean_ci_low) / 2 == pytest.approx(half, rel=0.2)


def test_unstable_flag() -> None:
    assert Stats.from_samples([1.0, 1.5, 0.6, 1.4, 0.5]).unstable
    assert not Stats.from_samples([1.0, 1.01, 0.99, 1.0]).unstable


samples = st.lists(st.floats(min_value=1e-3, max_value=1e6, allow_nan=False), min_size=2, max_size=60)


@settings(max_examples=40, deadline=None)
@given(samples)
def test_order_properties(xs: list[float]) -> None:
    s = Stats.from_samples(xs)
    eps = 1e-9 * max(xs)
    assert s.min - eps <= s.p5 <= s.median + eps <= s.p95 + 2 * eps <= s.max + 3 * eps
    assert s.min - eps <= s.mean <= s.max + eps
    assert s.std >= 0 and s.iqr >= 0
    assert s.mean_ci_low <= s.mean_ci_high


@settings(max_examples=25, deadline=None)
@given(samples, st.sampled_from([0.5, 2.0, 8.0, 1024.0]))
def test_scale_equivariance(xs: list[float], k: float) -> None:
    # powers of two scale floats exactly, so bootstrap ties break the same way at both scales
    a, b = Stats.from_samples(xs), Stats.from_samples([k * x for x in xs])
    for field in ("mean", "std", "median", "p95", "iqr", "mean_ci_low", "mean_ci_high"):
        assert getattr(b, field) == pytest.approx(k * getattr(a, field), rel=1e-6, abs=1e-9)
    assert b.cv == pytest.approx(a.cv, rel=1e-6, abs=1e-12)


def test_planted_slowdown_is_found() -> None:
    rng = np.random.default_rng(0)
    base = rng.normal(100, 4, 80)
    slow = rng.normal(150, 6, 80)
    r = Ratio.of(base, slow)
    assert r.verdict == "slower"
    assert r.ci_low < 1.5 < r.ci_high and r.ci_low > 1.4
    assert r.p_value < 1e-10
    assert Ratio.of(slow, base).verdict == "faster"


def test_identical_samples_are_inconclusive() -> None:
    x = np.random.default_rng(2).normal(100, 4, 80)
    r = Ratio.of(x, x.copy())
    assert r.ratio == 1.0 and r.verdict == "inconclusive" and r.ci_low <= 1.0 <= r.ci_high


def test_differences_under_the_noise_floor_are_inconclusive() -> None:
    rng = np.random.default_rng(3)
    x = rng.normal(100, 0.01, 500)
    y = x * (1 + DIFFERENCE_FLOOR / 2)  # clearly separated, but below the floor
    assert Ratio.of(x, y).verdict == "inconclusive"


def test_one_verdict_rule_for_one_level_and_over_processes() -> None:
    """Ratio.of and the ratios over processes (bench.analysis.intervals) call slower/faster by one rule."""
    from bench.analysis.intervals import independent_ratio, paired_ratio

    assert verdict_of(1.10, 1.05, 1.15) == "slower" and verdict_of(0.90, 0.85, 0.95) == "faster"
    assert verdict_of(1.10, 0.99, 1.2) == "inconclusive"  # the interval holds 1
    assert verdict_of(1 + DIFFERENCE_FLOOR / 2, 1.001, 1.009) == "inconclusive"  # inside the floor
    assert verdict_of(1.10, float("nan"), float("nan")) == "inconclusive"
    rng = np.random.default_rng(5)
    base = [rng.normal(100, 2, 40) for _ in range(4)]
    slow = [b * 1.2 for b in base]
    for r in (Ratio.of(base[0], slow[0]), paired_ratio(base, slow), independent_ratio(base, slow)):
        assert r.verdict == verdict_of(r.ratio, r.ci_low, r.ci_high) == "slower"


def test_precise_enough_uses_the_normal_approximation_with_a_margin() -> None:
    from bench.analysis.stats import BCA_MARGIN, approx_ci_half_width_pct, precise_enough

    x = np.random.default_rng(4).normal(100, 10, 100)
    half = approx_ci_half_width_pct(x)
    assert half == pytest.approx(1.96 * x.std(ddof=1) / 10 / x.mean() * 100)
    assert precise_enough(x, half / BCA_MARGIN * 1.01) and not precise_enough(x, half)
    assert precise_enough(x, None)


def test_one_level_ratio_p_is_the_exact_mann_whitney_and_the_floor_is_a_strict_edge() -> None:
    """Baseline 1, 2, 3 against other 4, 5, 7 (every other above every baseline, U = 9): the exact two-sided
    Mann-Whitney p is 2 x 1 / C(6, 3) = 2 / 20 = 0.1; ratio of means 16/3 / 2 = 2.6666667, of medians 5 / 2 = 2.5.
    The verdict's floor (1%, |ratio - 1| on the linear scale): 1.0101 with [1.005, 1.02] is slower, 1.0099 is
    inside the floor; 0.9899 with [0.98, 0.995] is faster, 0.9901 is not."""
    r = Ratio.of([1.0, 2.0, 3.0], [4.0, 5.0, 7.0])
    assert r.ratio == pytest.approx(8 / 3, rel=1e-12) and r.p_value == pytest.approx(0.1, rel=1e-12)
    assert Ratio.of([1.0, 2.0, 3.0], [4.0, 5.0, 7.0], estimator="median").ratio == pytest.approx(2.5, rel=1e-12)
    assert verdict_of(1.0101, 1.005, 1.02) == "slower" and verdict_of(1.0099, 1.005, 1.02) == "inconclusive"
    assert verdict_of(0.9899, 0.98, 0.995) == "faster" and verdict_of(0.9901, 0.98, 0.995) == "inconclusive"
