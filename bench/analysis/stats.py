"""Pure statistics over raw step times. No I/O, no clocks, no frameworks.

Percentiles come from NumPy, confidence intervals from ``scipy.stats.bootstrap`` (BCa, seeded so
a report re-rendered from stored samples prints the same interval), significance from
``scipy.stats.mannwhitneyu``.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, fields
from typing import Any

import numpy as np

CONFIDENCE = 0.95
N_RESAMPLES = 2000
UNSTABLE_CV = 0.10  # rows above this coefficient of variation are flagged
# Resamples (and BCa's jackknife samples) evaluated at a time: without a batch, the jackknife of n samples
# is one n x (n - 1) array (gigabytes at 10,000 step times); with it, memory is ~batch x n.
BOOTSTRAP_BATCH = 256
# A ratio within 1% of 1 is not called slower or faster, however narrow its interval: the floor of every
# Ratio (bench compare's framework and LRN-cost rows, bench calibrate's overhead). The regression gate
# (gate.REGRESSION_FLOOR) and the history's step changes (changepoints.SHIFT_FLOOR) have their own.
DIFFERENCE_FLOOR = 0.01
_NAN = float("nan")


def _bootstrap_ci(data: tuple[np.ndarray, ...], statistic: Callable[..., Any], seed: int) -> tuple[float, float]:
    from scipy import stats

    if any(len(d) < 2 for d in data):
        return (_NAN, _NAN)
    if all(np.ptp(d) == 0 for d in data):  # degenerate: every resample gives the same value
        value = float(statistic(*data))
        return (value, value)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = stats.bootstrap(data, statistic, confidence_level=CONFIDENCE, n_resamples=N_RESAMPLES,
                              method="BCa", rng=np.random.default_rng(seed), vectorized=True,
                              batch=BOOTSTRAP_BATCH)
        lo, hi = float(res.confidence_interval.low), float(res.confidence_interval.high)
        if not (math.isfinite(lo) and math.isfinite(hi)):
            res = stats.bootstrap(data, statistic, confidence_level=CONFIDENCE, n_resamples=N_RESAMPLES,
                                  method="percentile", rng=np.random.default_rng(seed), vectorized=True,
                                  batch=BOOTSTRAP_BATCH)
            lo, hi = float(res.confidence_interval.low), float(res.confidence_interval.high)
    return (lo, hi)


def _mean(x: np.ndarray, axis: int = -1) -> np.ndarray:
    return np.asarray(np.mean(x, axis=axis))


def _median(x: np.ndarray, axis: int = -1) -> np.ndarray:
    return np.asarray(np.median(x, axis=axis))


def _in(unit: str) -> Any:
    """Declares a field's unit: "sample" fields carry the samples' own unit and scale with them."""
    return field(metadata={"unit": unit})


@dataclass(frozen=True)
class Stats:
    """Summary of one sample of step times (any unit; the caller keeps it consistent)."""

    n: int = _in("count")
    mean: float = _in("sample")
    std: float = _in("sample")  # sample standard deviation, ddof=1
    min: float = _in("sample")
    max: float = _in("sample")
    median: float = _in("sample")
    p5: float = _in("sample")
    p95: float = _in("sample")
    iqr: float = _in("sample")
    cv: float = _in("ratio")  # std / mean
    mean_ci_low: float = _in("sample")
    mean_ci_high: float = _in("sample")
    median_ci_low: float = _in("sample")
    median_ci_high: float = _in("sample")

    @classmethod
    def from_samples(cls, samples: Sequence[float] | np.ndarray, seed: int = 0, intervals: bool = True) -> Stats:
        """``intervals=False`` skips the bootstraps (their fields are NaN): for descriptive use."""
        x = np.asarray(samples, dtype=np.float64)
        if x.ndim != 1 or x.size == 0:
            raise ValueError(f"need a non-empty 1-D sample, got shape {x.shape}")
        if not np.isfinite(x).all():
            raise ValueError("samples contain NaN or inf")
        n = int(x.size)
        mean = float(x.mean())
        std = float(x.std(ddof=1)) if n > 1 else _NAN
        p5, q1, median, q3, p95 = (float(v) for v in np.percentile(x, [5, 25, 50, 75, 95]))
        mlo, mhi = _bootstrap_ci((x,), _mean, seed) if intervals else (_NAN, _NAN)
        dlo, dhi = _bootstrap_ci((x,), _median, seed) if intervals else (_NAN, _NAN)
        return cls(n=n, mean=mean, std=std, min=float(x.min()), max=float(x.max()), median=median, p5=p5,
                   p95=p95, iqr=q3 - q1, cv=std / mean if mean else _NAN, mean_ci_low=mlo, mean_ci_high=mhi,
                   median_ci_low=dlo, median_ci_high=dhi)

    @property
    def unstable(self) -> bool:
        return bool(self.cv > UNSTABLE_CV)

    def scaled(self, factor: float) -> dict[str, float]:
        """Every field in the samples' unit multiplied by ``factor`` (ns -> ms); counts and ratios as they are."""
        return {f.name: getattr(self, f.name) * (factor if f.metadata["unit"] == "sample" else 1)
                for f in fields(self)}


def approx_ci_half_width_pct(samples: Sequence[float] | np.ndarray, estimator: str = "mean") -> float:
    """Normal-theory half-width of the 95% CI of the mean (or of the median: sqrt(pi/2) x a robust sd,
    IQR / 1.349, so stalled steps do not inflate it) in percent of the estimate: cheap enough to
    decide, between chunks of steps, whether to keep sampling."""
    x = np.asarray(samples, dtype=np.float64)
    if x.size < 2:
        return math.inf
    if estimator == "median":
        q1, med, q3 = np.percentile(x, [25, 50, 75])
        spread, center = math.sqrt(math.pi / 2) * (q3 - q1) / 1.349, med
    else:
        spread, center = x.std(ddof=1), x.mean()
    if center == 0:
        return math.inf
    return float(100 * 1.96 * spread / math.sqrt(x.size) / center)


# Step times are right-skewed, so the BCa interval reported at the end runs a few percent wider than
# the normal approximation used to decide when to stop sampling.
BCA_MARGIN = 0.95


def precise_enough(samples: Sequence[float] | np.ndarray, target_pct: float | None, estimator: str = "mean") -> bool:
    """Whether the estimate's 95% CI half-width within this process is within ``target_pct`` percent
    (None: always). Workers use it on the median, the headline, for their own steps; the interval
    across processes is the parent's business (bench.analysis.stop_rule decides when to add processes)."""
    return target_pct is None or approx_ci_half_width_pct(samples, estimator) <= BCA_MARGIN * target_pct


def _ratio_of_means(a: np.ndarray, b: np.ndarray, axis: int = -1) -> np.ndarray:
    return np.asarray(np.mean(a, axis=axis) / np.mean(b, axis=axis))


def _ratio_of_medians(a: np.ndarray, b: np.ndarray, axis: int = -1) -> np.ndarray:
    return np.asarray(np.median(a, axis=axis) / np.median(b, axis=axis))


STEPS_BOOTSTRAP = "steps in one process (bootstrap)"  # a Ratio's method: the steps as the unit


def verdict_of(ratio: float, lo: float, hi: float, noise_floor: float = DIFFERENCE_FLOOR) -> str:
    """What a ratio (other / baseline) with its interval ``[lo, hi]`` says: "slower" or "faster" only when
    the interval excludes 1 and the ratio is at least ``noise_floor`` away from it, else "inconclusive".
    Every :class:`Ratio`, one-level or over processes, is judged here."""
    separated = math.isfinite(lo) and (lo > 1.0 or hi < 1.0)
    if not separated or abs(ratio - 1.0) < noise_floor:
        return "inconclusive"
    return "slower" if ratio > 1.0 else "faster"


@dataclass(frozen=True)
class Ratio:
    """How many times slower ``other`` is than ``baseline``, with a 95% CI. :meth:`of` treats the
    steps as independent draws (right within one process, e.g. the harness against a bare loop);
    :mod:`bench.analysis.intervals` builds the ratios that hold across processes."""

    ratio: float
    ci_low: float
    ci_high: float
    p_value: float  # Mann-Whitney U on the raw samples (of); a t-test over processes (bench.analysis.intervals)
    verdict: str  # "slower", "faster" or "inconclusive" (verdict_of)
    method: str = STEPS_BOOTSTRAP
    processes: int = 1

    @classmethod
    def of(cls, baseline: Sequence[float] | np.ndarray, other: Sequence[float] | np.ndarray,
           noise_floor: float = DIFFERENCE_FLOOR, seed: int = 0, estimator: str = "mean") -> Ratio:
        from scipy import stats

        a = np.asarray(other, dtype=np.float64)
        b = np.asarray(baseline, dtype=np.float64)
        center = np.median if estimator == "median" else np.mean
        ratio = float(center(a) / center(b))
        lo, hi = _bootstrap_ci((a, b), _ratio_of_medians if estimator == "median" else _ratio_of_means, seed)
        if len(a) > 1 and len(b) > 1 and (np.ptp(a) > 0 or np.ptp(b) > 0 or a[0] != b[0]):
            p = float(stats.mannwhitneyu(a, b, alternative="two-sided").pvalue)
        else:
            p = _NAN if len(a) < 2 or len(b) < 2 else 1.0
        return cls(ratio, lo, hi, p, verdict_of(ratio, lo, hi, noise_floor))

    def describe(self) -> str:
        return f"{self.ratio:.2f}x [{self.ci_low:.2f}, {self.ci_high:.2f}]"
