"""Performance history, the pure half: each benchmark's trend over commits with its step changes
flagged at the commit that made them. The store the entries come from is
:mod:`bench.store.history_store`.

Step changes are found by **binary segmentation with a permutation test** (the idea of E-Divisive, as
MongoDB's and Hunter's CI tooling use): in a series of per-commit log estimates, the split with the
largest two-sample t statistic is a change when that maximum exceeds the maximum found in all but
``alpha`` of random reorderings of the same points (so the many splits tried are accounted for), and
the level shift is beyond the noise floor; then both halves are searched again. Each commit is one point (its estimate),
so the noise between days and runners is what a change must stand out from, not the much smaller
spread between processes of one run. It asks where a series' level moves, not how wide one estimate's
interval is, so it is no t-interval over units (:func:`bench.analysis.intervals.over_units`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

ALPHA = 0.05
MIN_SIZE = 2  # points on each side of a change: one odd commit is an outlier, not a new level
# A level shift between commits smaller than 3% is not called a change, however significant: its
# point estimate (after / before - 1) is compared, not an interval. ``bench history report --noise-floor``.
SHIFT_FLOOR = 0.03
PERMUTATIONS = 999


@dataclass(frozen=True)
class Entry:
    """One benchmark at one commit on one machine."""

    machine: str
    commit: str
    commit_time: str  # ISO 8601, committer date: orders the points
    utc: str  # when it was measured
    label: str
    key: dict[str, str]
    estimate_ms: float
    ci_low_ms: float
    ci_high_ms: float
    processes: int
    process_ms: list[float]
    source: str = ""
    schema_version: int = 1
    kind: str = "history"
    stamp: str = ""  # the framework versions and code fingerprint that measured it ("" before they were kept)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Entry:
        names = {f for f in cls.__dataclass_fields__}
        return cls(**{k: v for k, v in d.items() if k in names})


# --- change points (pure) -----------------------------------------------------------------------
@dataclass(frozen=True)
class Change:
    index: int  # first point of the new level
    before: float  # geometric mean of the segment before (same unit as the values)
    after: float
    ratio: float  # after / before
    p_value: float


def _max_t(x: np.ndarray, min_size: int) -> tuple[float, int]:
    """The largest |two-sample t| over splits of ``x`` (pooled sd), and where it is."""
    n = x.size
    splits = np.arange(min_size, n - min_size + 1)
    c1, c2 = np.cumsum(x), np.cumsum(x * x)
    n_l, n_r = splits, n - splits
    s_l, s_r = c1[splits - 1], c1[-1] - c1[splits - 1]
    q_l, q_r = c2[splits - 1], c2[-1] - c2[splits - 1]
    m_l, m_r = s_l / n_l, s_r / n_r
    ss = (q_l - n_l * m_l**2) + (q_r - n_r * m_r**2)
    var = np.maximum(ss / np.maximum(n - 2, 1), 1e-24)
    t = np.abs(m_r - m_l) / np.sqrt(var * (1 / n_l + 1 / n_r))
    i = int(np.argmax(t))
    return float(t[i]), int(splits[i])


def change_points(values: Sequence[float], alpha: float = ALPHA, min_size: int = MIN_SIZE,
                  noise_floor: float = SHIFT_FLOOR, permutations: int = PERMUTATIONS, seed: int = 0) -> list[Change]:
    """Step changes in a series of positive figures (step times), by binary segmentation with a
    permutation test on the maximal t statistic (log scale); sorted by index."""
    logs = np.log(np.asarray(values, dtype=np.float64))
    rng = np.random.default_rng(seed)
    found: list[Change] = []
    segments = [(0, logs.size)]
    while segments:
        lo, hi = segments.pop()
        x = logs[lo:hi]
        if x.size < 2 * min_size or np.ptp(x) == 0:
            continue
        t_obs, split = _max_t(x, min_size)
        exceed = sum(_max_t(rng.permutation(x), min_size)[0] >= t_obs for _ in range(permutations))
        p = (1 + exceed) / (1 + permutations)
        before, after = float(np.exp(x[:split].mean())), float(np.exp(x[split:].mean()))
        if p < alpha and abs(after / before - 1) > noise_floor:
            found.append(Change(lo + split, before, after, after / before, p))
            segments += [(lo, lo + split), (lo + split, hi)]
    return sorted(found, key=lambda c: c.index)


@dataclass
class Trend:
    """One (machine, benchmark) series in commit order, with its changes."""

    machine: str
    label: str
    key: dict[str, str]
    entries: list[Entry]
    changes: list[Change] = field(default_factory=list)


def trends(entries: Sequence[Entry], alpha: float = ALPHA, min_size: int = MIN_SIZE,
           noise_floor: float = SHIFT_FLOOR) -> list[Trend]:
    groups: dict[tuple[str, str], list[Entry]] = {}
    for e in entries:
        groups.setdefault((e.machine, e.label), []).append(e)
    out = []
    for (machine, label), es in groups.items():
        es = sorted(es, key=lambda e: (e.commit_time, e.utc))
        values = [e.estimate_ms for e in es]
        changes = change_points(values, alpha, min_size, noise_floor) if all(v > 0 for v in values) else []
        out.append(Trend(machine, label, es[0].key, es, changes))
    return sorted(out, key=lambda t: (t.machine, t.label))


def framework_of(trend: Trend) -> str:
    return trend.key.get("framework") or "pytest-benchmark"


HISTORY_FIGURES = ("commit", "commit_time", "utc", "median_ms", "ci_low_ms", "ci_high_ms", "processes", "change",
                   "change_p", "measured_with")


def columns(ts: Sequence[Trend]) -> tuple[str, ...]:
    """history.csv's header: machine, benchmark, the trends' key fields, then :data:`HISTORY_FIGURES`."""
    return tuple(dict.fromkeys(("machine", "benchmark", *(k for t in ts for k in t.key), *HISTORY_FIGURES)))


def rows(ts: Sequence[Trend]) -> list[dict[str, Any]]:
    """history.csv (:func:`columns`): one row per point, the change flagged on the commit that starts the new level."""
    out = []
    for t in ts:
        starts = {c.index: c for c in t.changes}
        for i, e in enumerate(t.entries):
            c = starts.get(i)
            out.append({"machine": t.machine, "benchmark": t.label, **t.key, "commit": e.commit,
                        "commit_time": e.commit_time, "utc": e.utc, "median_ms": e.estimate_ms,
                        "ci_low_ms": e.ci_low_ms, "ci_high_ms": e.ci_high_ms, "processes": e.processes,
                        "change": "" if c is None else f"{100 * (c.ratio - 1):+.1f}%",
                        "change_p": None if c is None else c.p_value, "measured_with": e.stamp})
    return out


def stamp_changes(t: Trend) -> list[str]:
    """Where the versions or code that measured a trend changed between commits: a step change at that
    commit may be the framework's or the harness's, not the commit's own code."""
    return [f"{t.label} [{t.machine}]: measured with other versions or code from {e.commit[:10]}: "
            f"{prev.stamp or 'unknown'} -> {e.stamp or 'unknown'}"
            for prev, e in zip(t.entries, t.entries[1:], strict=False) if prev.stamp != e.stamp]


CHANGE_COLUMNS = ("machine", "benchmark", "commit", "previous_commit", "commit_time", "before_ms", "after_ms",
                  "ratio", "p_value", "direction")


def change_rows(ts: Sequence[Trend]) -> list[dict[str, Any]]:
    """changes.csv (:data:`CHANGE_COLUMNS`): one row per step change, at the commit that made it."""
    return [{"machine": t.machine, "benchmark": t.label, "commit": t.entries[c.index].commit,
             "previous_commit": t.entries[c.index - 1].commit, "commit_time": t.entries[c.index].commit_time,
             "before_ms": c.before, "after_ms": c.after, "ratio": c.ratio, "p_value": c.p_value,
             "direction": "slower" if c.ratio > 1 else "faster"} for t in ts for c in t.changes]
