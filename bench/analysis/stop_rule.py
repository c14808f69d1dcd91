"""The stop rule across processes, the pure half: how wide each config's interval still is, and which
configs need one more worker process. Records in, round numbers out; reading the run folder and running
the rounds is :mod:`bench.execution.sweep`.

More steps per process cannot narrow the part of the interval that comes from processes differing;
only more processes can. So a config whose two-level interval is still wider than its ``target_ci``
gets one more round (worker process), until it has ``max_rounds``; failed rounds count as tried, so a
config that keeps failing is not retried without end.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from bench.analysis.intervals import TwoLevel
from bench.core import records
from bench.core.records import JobKey

HalfWidthOf = Callable[[JobKey, list[dict[str, Any]]], float | None]  # a key's half-width in %, None: unknown


def median_half_width(key: JobKey, recs: list[dict[str, Any]]) -> float | None:
    """The half-width (% of the estimate) of the median's two-level interval for ``key``; None with fewer
    than two finished processes."""
    groups = [m.samples_ns for m in records.latest_per_round(records.measurements(recs)) if m.key == key and m.ok]
    return TwoLevel.of(groups, "median").half_width_pct if len(groups) > 1 else None


def next_rounds(targets: Sequence[tuple[JobKey, float | None]], recs: list[dict[str, Any]], max_rounds: int,
                width: HalfWidthOf) -> dict[JobKey, int]:
    """For each key (its first entry with a target, in order) whose interval, by ``width`` (the half-width
    in %, None when unknown), is wider than its target and that has fewer than ``max_rounds`` tried rounds:
    the round to run next (one above the highest tried)."""
    tried = {(m.key, m.round) for m in records.measurements(recs)}  # failed rounds count: no endless retries
    out: dict[JobKey, int] = {}
    seen: set[JobKey] = set()
    for key, target in targets:
        if key in seen or target is None:
            continue
        seen.add(key)
        rounds = [r for k, r in tried if k == key]
        half = width(key, recs)
        if rounds and len(rounds) < max_rounds and half is not None and not half <= target:
            out[key] = max(rounds) + 1
    return out
