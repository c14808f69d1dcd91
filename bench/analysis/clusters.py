"""Process effects named, not averaged away: when a config's worker processes fall into clusters (say,
processes of one framework that take about 20,000 page faults per step and others that take none,
each set with its own speed), one interval over all of them is wide and describes none. Pure:
numbers in, clusters out.

The split is gap-based, on one axis at a time, and only ever in two: first the per-process page
faults per step (a gap of at least ``FAULT_RATIO`` times between the sets, the upper set at least
``MIN_FAULTS`` per step), then the per-process median step time (a gap of at least ``MIN_GAP`` of
the lower set's time that is also at least ``SPREAD_FACTOR`` times the widest spread inside either
set). Fewer than three processes never make clusters by time: two values always have a gap.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from bench.core.records import Measurement

MIN_GAP = 0.10  # step-time gap, relative to the lower set's median
SPREAD_FACTOR = 2.0  # the gap must exceed this many times the widest within-set range
FAULT_RATIO = 10.0  # the upper set's fewest faults over the lower set's most (both +1)
MIN_FAULTS = 1000.0  # page faults per step below which no set is worth naming


@dataclass(frozen=True)
class Cluster:
    """Processes alike on ``by``: their indices (into what was split), median step ms, faults per step."""

    members: tuple[int, ...]
    median_ms: float
    page_faults: float | None
    by: str  # "page faults" or "step time"

    def describe(self) -> str:
        faults = f", {self.page_faults:,.0f} page faults/step" if self.page_faults is not None else ""
        n = len(self.members)
        return f"{n} process{'es' if n != 1 else ''} at {self.median_ms:.2f} ms{faults}"


def _largest_gap(values: np.ndarray) -> int:
    """The index i (into the sorted values) after which the largest gap lies."""
    return int(np.argmax(np.diff(values)))


def _make(idx: np.ndarray, medians: np.ndarray, faults: np.ndarray | None, by: str) -> Cluster:
    return Cluster(tuple(int(i) for i in sorted(idx)), float(np.median(medians[idx])),
                   None if faults is None else float(np.median(faults[idx])), by)


def split(medians: Sequence[float], faults: Sequence[float] | None = None) -> list[Cluster]:
    """Two clusters when the processes fall apart on page faults or on step time, else none."""
    m = np.asarray(medians, dtype=np.float64)
    f = np.asarray(faults, dtype=np.float64) if faults is not None and len(faults) == len(m) else None
    if m.size < 2 or not np.isfinite(m).all():
        return []
    if f is not None and np.isfinite(f).all():
        order = np.argsort(f)
        i = _largest_gap(np.log1p(f[order]))
        low, high = order[: i + 1], order[i + 1:]
        if f[high].min() >= MIN_FAULTS and (f[high].min() + 1) / (f[low].max() + 1) >= FAULT_RATIO:
            return [_make(low, m, f, "page faults"), _make(high, m, f, "page faults")]
    if m.size < 3:
        return []
    order = np.argsort(m)
    i = _largest_gap(m[order])
    low, high = order[: i + 1], order[i + 1:]
    gap = float(m[high].min() - m[low].max())
    spread = max(float(np.ptp(m[low])), float(np.ptp(m[high])))
    if gap >= MIN_GAP * float(np.median(m[low])) and gap > SPREAD_FACTOR * spread:
        return [_make(low, m, f, "step time"), _make(high, m, f, "step time")]
    return []


def per_step_faults(m: Measurement) -> float | None:
    return float(np.mean(m.page_faults)) if m.page_faults else None


def apart_pct(ratios: Sequence[float]) -> float:
    """How far apart the clusters' ratios lie: 100 x (largest / smallest - 1), in percent."""
    lo, hi = min(ratios), max(ratios)
    return 100 * (hi / lo - 1) if lo > 0 else math.inf


def changes_conclusion(ratios: Sequence[float], half_width_pct: float | None, target_pct: float | None) -> bool:
    """Whether clusters are worth a note beside a ratio: their own ratios lie further apart than the
    ratio's interval reaches (its half-width) and than the target asked. Clusters inside the interval
    are already in it, and clusters within the target change no conclusion a reader would draw."""
    if len(ratios) < 2:
        return False
    reach = max(h for h in (half_width_pct, target_pct, 0.0) if h is not None and math.isfinite(h))
    return apart_pct(ratios) > reach


def of_records(ms: Sequence[Measurement]) -> list[Cluster]:
    """Clusters among the ok records of one config (one worker process each)."""
    ok = [m for m in ms if m.ok]
    medians = [float(np.median(m.samples_ns)) / 1e6 for m in ok]
    faults = [per_step_faults(m) for m in ok]
    known = None if any(x is None for x in faults) else [float(x) for x in faults if x is not None]
    return split(medians, known)
