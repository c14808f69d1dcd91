"""``bench ab``'s share of the stop rule: which gate rows are still inconclusive, and how narrow each
one's interval must get for a verdict. Pure: gate rows in, what :func:`bench.analysis.lockstep_ratios.more_groups`
needs out.

A row says "no change" once its interval lies inside [1/(1 + detect), 1 + detect], and "regression"
(or "improvement") once it clears the noise floor on one side; so the half-width (on the log scale)
it needs is the larger of log(1 + detect) - |log r| and |log r| - log(1 + floor), at the ratio r seen.
A ratio right at a boundary needs a very narrow interval: ``MIN_TARGET`` keeps that finite, and the
budget and ``--max-rounds`` bound what it can take.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from bench.analysis.gate import GateRow, Settings
from bench.analysis.intervals import t_quantile
from bench.analysis.lockstep_ratios import RatioWidth

MIN_TARGET = 0.5  # percent


def needs(rows: Sequence[GateRow], settings: Settings) -> dict[str, tuple[RatioWidth, float]]:
    """label -> (where the row stands, the half-width % it needs), for inconclusive rows with an
    interval over two or more pairs."""
    out: dict[str, tuple[RatioWidth, float]] = {}
    for r in rows:
        if r.verdict != "inconclusive" or r.units < 2 or not (r.ci_low > 0 and math.isfinite(r.ci_high)):
            continue
        half_log = (math.log(r.ci_high) - math.log(r.ci_low)) / 2
        sd = half_log / t_quantile(r.confidence, r.units - 1) * math.sqrt(r.units)
        width = RatioWidth(100 * math.expm1(half_log), r.units, sd, r.confidence)
        log_r = abs(math.log(r.ratio))
        need = max(math.log1p(settings.detect) - log_r, log_r - math.log1p(settings.noise_floor))
        out[r.label] = (width, max(MIN_TARGET, 100 * math.expm1(need)))
    return out
