"""Intervals that hold from one run to the next: estimates from several worker processes, with the
process as the unit. Pure functions, no I/O.

Why processes: a worker carries its own state (thread placement, memory layout, the machine's speed
while it ran), so its steps are not independent draws of what the next run will see: invocations of
one config differ by more than a one-level interval admits (docs/measurement.md, "Processes are the unit").

How: each process gives one estimate (its median step time by default: robust to the 2-5x stalls
of a shared host; or its mean); the run's estimate is their average, and its interval a t-interval
over the process estimates. That is the variance-components estimate the process-level design
allows: the spread of process estimates holds both the between-process and the within-process
noise, and the t quantile keeps the interval honest with the few processes a run can afford (with
3, a bootstrap over processes has only 10 distinct resamples and comes out too narrow). The two
parts are reported apart: ``between_sd`` (the process effect beyond step noise) and ``within_sd``
(step-to-step spread inside a process).

Ratios: within one process (LRN off vs on) each process gives one ratio and the interval is over
their logs; across processes (framework A vs B) the log estimates are compared with Welch's t.
With one process there is nothing to say about the next run: the interval falls back to the
steps of that process (bootstrap) and says so in ``method``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from bench.analysis.stats import CONFIDENCE, DIFFERENCE_FLOOR, Ratio, _bootstrap_ci, _mean, _median, verdict_of

ESTIMATORS = ("median", "mean")
ONE_PROCESS = "one process: steps resampled (covers this process only; use 3+ rounds)"
OVER_PROCESSES = "t over process estimates"
_NAN = float("nan")
# se of a sample median relative to sd/sqrt(n) for a normal sample: sqrt(pi / 2)
_MEDIAN_SE = math.sqrt(math.pi / 2)


def _estimate(x: np.ndarray, estimator: str) -> float:
    if estimator not in ESTIMATORS:
        raise ValueError(f"estimator must be one of {', '.join(ESTIMATORS)}; got {estimator!r}")
    return float(np.median(x) if estimator == "median" else np.mean(x))


def robust_sd(x: np.ndarray) -> float:
    """IQR / 1.349: the sd of a normal sample, unmoved by a few stalled steps."""
    q1, q3 = np.percentile(x, [25, 75])
    return float((q3 - q1) / 1.349)


def _within_se(x: np.ndarray, estimator: str) -> float:
    if x.size < 2:
        return _NAN
    spread = robust_sd(x) * _MEDIAN_SE if estimator == "median" else float(x.std(ddof=1))
    return spread / math.sqrt(x.size)


def t_quantile(confidence: float, df: float) -> float:
    """The two-sided t quantile (``confidence`` of t with ``df`` degrees of freedom inside +-it): every t
    quantile of bench.analysis; a one-sided one, q (a power), is ``t_quantile(2 * q - 1, df)``."""
    from scipy import stats

    return float(stats.t.ppf(0.5 + confidence / 2, df))


def units_for(sd: float, target: float, start: int = 2, confidence: float = CONFIDENCE, cap: int = 1000) -> int:
    """The units a target needs (the stop rules'): the fewest n from ``start`` (at most ``cap``) with
    t(n - 1) * sd / sqrt(n) within ``target``, ``sd`` one unit's spread on the target's scale (% or log)."""
    n = start
    while n < cap and t_quantile(confidence, n - 1) * sd / math.sqrt(n) > target:
        n += 1
    return n


def _groups(groups: Sequence[Sequence[float] | np.ndarray]) -> list[np.ndarray]:
    out = [np.asarray(g, dtype=np.float64) for g in groups if len(g)]
    if not out:
        raise ValueError("need at least one process with samples")
    if not all(np.isfinite(g).all() for g in out):
        raise ValueError("samples contain NaN or inf")
    return out


@dataclass(frozen=True)
class TwoLevel:
    """An estimate (in the samples' unit) from one or more processes, with a 95% interval: a linear t over
    the process estimates (not :func:`over_units`' log scale: it is about the arithmetic mean tables show)."""

    estimator: str
    processes: int
    n: int  # steps over all processes
    estimate: float
    ci_low: float
    ci_high: float
    between_sd: float  # sd of the process effect beyond step noise (nan with one process)
    within_sd: float  # robust step-to-step sd inside a process (median over processes)
    se_within: float  # the within-process part of the estimate's standard error
    method: str

    @classmethod
    def of(cls, groups: Sequence[Sequence[float] | np.ndarray], estimator: str = "median", seed: int = 0) -> TwoLevel:
        gs = _groups(groups)
        ests = np.array([_estimate(g, estimator) for g in gs])
        ses = np.array([_within_se(g, estimator) for g in gs])
        p = len(gs)
        est = float(ests.mean())
        se_within = float(math.sqrt(np.nansum(ses**2)) / p) if np.isfinite(ses).any() else _NAN
        within = float(np.median([robust_sd(g) for g in gs]))
        if p == 1:
            lo, hi = _bootstrap_ci((gs[0],), _median if estimator == "median" else _mean, seed)
            return cls(estimator, 1, int(gs[0].size), est, lo, hi, _NAN, within, se_within, ONE_PROCESS)
        sd = float(ests.std(ddof=1))
        half = t_quantile(CONFIDENCE, p - 1) * sd / math.sqrt(p)
        between = math.sqrt(max(0.0, sd**2 - float(np.nanmean(ses**2)))) if np.isfinite(ses).any() else sd
        return cls(estimator, p, int(sum(g.size for g in gs)), est, est - half, est + half, between, within,
                   se_within, OVER_PROCESSES)

    @property
    def half_width_pct(self) -> float:
        """Half-width of the interval in percent of the estimate."""
        return 100 * (self.ci_high - self.ci_low) / 2 / self.estimate if self.estimate else _NAN

    def processes_for(self, target_pct: float) -> int | None:
        """About how many processes would bring the half-width to ``target_pct`` at the process spread
        seen (the t quantile taken for that many); None with one process."""
        if self.processes < 2 or not self.estimate:
            return None
        half = (self.ci_high - self.ci_low) / 2
        sd_pct = 100 * half / t_quantile(CONFIDENCE, self.processes - 1) * math.sqrt(self.processes) / self.estimate
        return units_for(sd_pct, target_pct, cap=10_000)

    @property
    def between_dominates(self) -> bool:
        """Whether more processes (not more steps per process) are what would narrow the interval."""
        return self.processes > 1 and (self.between_sd**2 / self.processes > self.se_within**2
                                       or not math.isfinite(self.se_within))


@dataclass(frozen=True)
class LogRatio:
    """log(other / baseline) with its standard error and degrees of freedom: every ratio interval and
    test here is built from these three numbers, at whatever confidence a caller needs (a gate over
    many rows asks for a wider, simultaneous one)."""

    log: float
    se: float
    df: float
    units: int  # the independent units behind se: pairs, or the smaller side's processes
    method: str

    @property
    def ratio(self) -> float:
        return math.exp(self.log)

    def interval(self, confidence: float = CONFIDENCE) -> tuple[float, float]:
        if not math.isfinite(self.se):
            return (_NAN, _NAN)
        half = t_quantile(confidence, self.df) * self.se if self.se > 0 else 0.0
        return (math.exp(self.log - half), math.exp(self.log + half))

    @property
    def p_value(self) -> float:
        """Two-sided p of 'no difference' (t with ``df``)."""
        from scipy import stats

        if not math.isfinite(self.se):
            return _NAN
        if self.se == 0:
            return 1.0 if self.log == 0 else 0.0
        return float(2 * stats.t.sf(abs(self.log) / self.se, self.df))


PAIRED = "t over per-process ratios"
WELCH = "Welch t over process estimates"


def log_ratio_paired(baseline: Sequence[Sequence[float] | np.ndarray], other: Sequence[Sequence[float] | np.ndarray],
                     estimator: str = "median") -> LogRatio:
    """other / baseline measured side by side (``baseline[i]`` with ``other[i]``: one process holding
    both, or two processes run in lockstep): one log ratio per pair, their mean and its standard error."""
    a, b = _groups(baseline), _groups(other)
    if len(a) != len(b):
        raise ValueError(f"a paired ratio needs the same pairs on both sides; got {len(a)} and {len(b)}")
    logs = np.log([_estimate(y, estimator) / _estimate(x, estimator) for x, y in zip(a, b, strict=True)])
    return over_units(logs, PAIRED)


def over_units(logs: np.ndarray, method: str) -> LogRatio:
    """The one interval that promises something about the next run: a t over units on a log scale. ``logs``:
    one value per independent unit (a pair's log ratio, a process's log estimate: the caller's concern); their
    mean, its standard error over the units, df = units - 1 (:meth:`LogRatio.interval`: the ratio scale)."""
    p = len(logs)
    se = float(logs.std(ddof=1)) / math.sqrt(p) if p > 1 else _NAN
    return LogRatio(float(logs.mean()), se, p - 1, p, method)


LOCKSTEP = "t over lockstep pairs"


def log_ratio_lockstep(baseline: Sequence[Sequence[float] | np.ndarray],
                       other: Sequence[Sequence[float] | np.ndarray]) -> LogRatio:
    """other / baseline from lockstep pairs (``bench ab``): in pair i the two sides' workers took turns
    step by step, so step t of one and step t of the other ran moments apart. The pair's log ratio is
    the median over t of log(other_t / baseline_t): a slow spell of the machine hits both steps of a
    turn and cancels, one that hits a single step is an outlier the median ignores. The interval is a
    t over pairs (the processes' own effects stay in it)."""
    a, b = _groups(baseline), _groups(other)
    if len(a) != len(b):
        raise ValueError(f"lockstep pairs need both sides of every pair; got {len(a)} and {len(b)}")
    logs = np.array([float(np.median(np.log(y[:n] / x[:n]))) for x, y in zip(a, b, strict=True)
                     for n in [min(x.size, y.size)]])
    return over_units(logs, LOCKSTEP)


def log_ratio_welch(baseline: Sequence[Sequence[float] | np.ndarray], other: Sequence[Sequence[float] | np.ndarray],
                    estimator: str = "median") -> LogRatio:
    """other / baseline measured in different processes: the ratio of the two sides' two-level
    estimates (mean of process estimates), its log's standard error by the delta method, Welch's df.
    Not :func:`over_units`: two independent samples have no per-unit ratio to take the t over."""
    ea = np.array([_estimate(g, estimator) for g in _groups(baseline)])
    eb = np.array([_estimate(g, estimator) for g in _groups(other)])
    log = float(math.log(eb.mean() / ea.mean()))
    units = int(min(ea.size, eb.size))
    if units < 2:
        return LogRatio(log, _NAN, _NAN, units, WELCH)
    va = float(ea.var(ddof=1)) / ea.size / float(ea.mean()) ** 2  # relative variance of each side's estimate
    vb = float(eb.var(ddof=1)) / eb.size / float(eb.mean()) ** 2
    se = math.sqrt(va + vb)
    df = (va + vb) ** 2 / (va**2 / (ea.size - 1) + vb**2 / (eb.size - 1)) if se > 0 else float(ea.size + eb.size - 2)
    return LogRatio(log, se, df, units, WELCH)


def paired_ratio(baseline: Sequence[Sequence[float] | np.ndarray], other: Sequence[Sequence[float] | np.ndarray],
                 estimator: str = "median", noise_floor: float = DIFFERENCE_FLOOR, seed: int = 0) -> Ratio:
    """other / baseline where both were measured in the same processes (``baseline[i]`` and
    ``other[i]`` interleaved in process i): one ratio per process, the interval over their logs."""
    a, b = _groups(baseline), _groups(other)
    if len(a) != len(b):
        raise ValueError(f"paired ratio needs the same processes on both sides; got {len(a)} and {len(b)}")
    if len(a) == 1:
        r = Ratio.of(a[0], b[0], noise_floor, seed, estimator=estimator)
        return Ratio(r.ratio, r.ci_low, r.ci_high, r.p_value, r.verdict, ONE_PROCESS, 1)
    lr = log_ratio_paired(a, b, estimator)
    lo, hi = lr.interval()
    return Ratio(lr.ratio, lo, hi, lr.p_value, verdict_of(lr.ratio, lo, hi, noise_floor), PAIRED, lr.units)


def independent_ratio(baseline: Sequence[Sequence[float] | np.ndarray], other: Sequence[Sequence[float] | np.ndarray],
                      estimator: str = "median", noise_floor: float = DIFFERENCE_FLOOR, seed: int = 0) -> Ratio:
    """other / baseline measured in different processes: each side's two-level estimate, the interval
    of their ratio by Welch's t on the logs."""
    a, b = _groups(baseline), _groups(other)
    if len(a) < 2 or len(b) < 2:
        r = Ratio.of(np.concatenate(a), np.concatenate(b), noise_floor, seed, estimator=estimator)
        return Ratio(r.ratio, r.ci_low, r.ci_high, r.p_value, r.verdict, ONE_PROCESS, min(len(a), len(b)))
    lr = log_ratio_welch(a, b, estimator)
    lo, hi = lr.interval()
    return Ratio(lr.ratio, lo, hi, lr.p_value, verdict_of(lr.ratio, lo, hi, noise_floor), WELCH, lr.units)


def log_scale_interval(estimates: Sequence[float], confidence: float = CONFIDENCE) -> tuple[float, float] | None:
    """The 95% interval of a time from its per-process estimates: :func:`over_units` of their logs, taken
    back with exp. A time is positive, and so is this interval's lower end, however few the processes or
    wide the spread (a linear interval of two processes can reach below zero). None with fewer than two
    processes: one process says nothing about the next run.

    It is centred on the processes' geometric mean, the centre of the t-interval on the log scale: the
    interval of the level a process lands at (the median of lognormal process estimates), at exactly its
    nominal coverage. It once applied the log half-width as a factor around the arithmetic mean, which
    lies about s^2 / 2 above the geometric mean on the log scale: an interval of no quantity, covering
    neither the median nor the mean at the nominal rate once the spread is wide (simulated, 5 lognormal
    processes of log-sd 0.8: 93.9% and 92.3%). At the few-% spreads of real runs the two centres differ by
    under 0.1%, so the exports' value (the two-level estimate, an arithmetic mean) sits well inside it."""
    x = np.asarray(estimates, dtype=float)
    if x.size < 2 or not bool(np.all(x > 0)):
        return None
    return over_units(np.log(x), OVER_PROCESSES).interval(confidence)
