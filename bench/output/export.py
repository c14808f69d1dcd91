"""Results in the JSON formats of the dashboards teams already run, so a gate's or a history's figures
can be charted there: github-action-benchmark's ``customSmallerIsBetter`` list and Bencher's BMF.

Both carry the two-level interval where the format has room for one: github-action-benchmark's
``range`` string, Bencher's ``lower_value``/``upper_value`` (its ``latency`` measure is in ns).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.core import storage

FORMATS = ("github", "bencher")


@dataclass(frozen=True)
class Point:
    """One benchmark's figure: the two-level median step time and its 95% interval, in ms."""

    name: str
    value_ms: float
    low_ms: float
    high_ms: float
    extra: str = ""


def github_action_benchmark(points: Sequence[Point]) -> list[dict[str, Any]]:
    """``tool: customSmallerIsBetter``: name, unit, value, range (the interval's half-width), extra."""
    out = []
    for p in points:
        entry: dict[str, Any] = {"name": p.name, "unit": "ms", "value": round(p.value_ms, 4)}
        if math.isfinite(p.low_ms) and math.isfinite(p.high_ms):
            entry["range"] = f"± {(p.high_ms - p.low_ms) / 2:.4f}"
        if p.extra:
            entry["extra"] = p.extra
        out.append(entry)
    return out


def bencher(points: Sequence[Point]) -> dict[str, Any]:
    """Bencher Metric Format: {benchmark: {"latency": {value, lower_value, upper_value}}} in nanoseconds."""
    out: dict[str, Any] = {}
    for p in points:
        metric: dict[str, float] = {"value": p.value_ms * 1e6}
        if math.isfinite(p.low_ms) and math.isfinite(p.high_ms):
            metric.update(lower_value=p.low_ms * 1e6, upper_value=p.high_ms * 1e6)
        out[p.name] = {"latency": metric}
    return out


def write(kind: str, path: Path, points: Sequence[Point]) -> None:
    data = github_action_benchmark(points) if kind == "github" else bencher(points)
    storage.write_json(path, data)
