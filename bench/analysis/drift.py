"""The machine's drift across invocations, put into the interval of an absolute time. Pure, no I/O.

Why: the worker processes of one ``bench run`` start within seconds of each other, so their
spread (the two-level interval of :mod:`bench.analysis.intervals`) holds nothing of how the
machine's speed moves over minutes: invocations run one after another spread more than each one's
interval admits (the figures: docs/measurement.md, "Across invocations").

How: the earlier invocations of the same config, measured with the same code and framework versions
on the same host (their folders beside this one), are samples of that drift. With this invocation's
estimate and ``k - 1`` earlier ones, the interval for the level reruns centre on is this estimate
times exp(+-t(k - 1) * s), s the sd of the k log estimates (each already holds its process and step
noise). Not :func:`bench.analysis.intervals.over_units` (the units' mean): one invocation stands for the
level, the centre, with s (not s / sqrt(k)). This estimate takes part in s, so it errs wide: in simulated
sequences of 8 invocations drifting 12% (sd) with 3 processes of 2% each, it held the machine's level
in 98.8% (k of 3 to 8), where the two-level interval alone held it in under 30% (tests/test_drift.py).
The interval shown is the wider of that and the two-level one, on each side. With no earlier
invocation the two-level interval stays, and ``method`` says it covers this invocation only.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from bench.analysis.intervals import t_quantile
from bench.analysis.stats import CONFIDENCE

THIS_ONLY = "this invocation only: no earlier run of this config, code and host beside it"
OVER_INVOCATIONS = "t over invocations (this and earlier runs of the same config, code and host)"


@dataclass(frozen=True)
class Drift:
    """This invocation's estimate with the interval that takes the drift across invocations in."""

    invocations: int  # this one and the earlier ones the interval is over
    estimate: float
    ci_low: float
    ci_high: float
    process_ci_low: float  # the two-level interval over this invocation's processes
    process_ci_high: float
    spread_pct: float | None  # sd of the invocations' log estimates, in % (None with one invocation)
    earlier_median: float | None  # the median of the earlier invocations' estimates
    method: str

    @property
    def half_width_pct(self) -> float:
        return 100 * (self.ci_high - self.ci_low) / 2 / self.estimate


def across(estimate: float, ci_low: float, ci_high: float, earlier: Sequence[float]) -> Drift:
    """This invocation's ``estimate`` and two-level interval, with ``earlier`` invocations' estimates
    (same unit, any order)."""
    values = [float(v) for v in earlier]
    if not (math.isfinite(estimate) and estimate > 0) or not all(math.isfinite(v) and v > 0 for v in values):
        raise ValueError(f"estimates must be positive and finite; got {estimate!r} and {values!r}")
    if not values:
        return Drift(1, estimate, ci_low, ci_high, ci_low, ci_high, None, None, THIS_ONLY)
    logs = np.log([estimate, *values])
    k = logs.size
    s = float(logs.std(ddof=1))
    half = t_quantile(CONFIDENCE, k - 1) * s
    low, high = estimate * math.exp(-half), estimate * math.exp(half)
    return Drift(k, estimate, min(low, ci_low), max(high, ci_high), ci_low, ci_high, 100 * s,
                 float(np.median(values)), OVER_INVOCATIONS)
