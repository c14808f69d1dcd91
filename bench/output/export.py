"""Results in the JSON formats of the dashboards teams already run, so a gate's or a history's figures
can be charted there: github-action-benchmark's ``customSmallerIsBetter`` list and Bencher's BMF.

What the consumers do with them decides the shape:

- github-action-benchmark matches entries *by name* across runs (``{name, unit, value, range, extra}``),
  so every name carries the machine: two machines never share a series.
- Bencher keys BMF by benchmark name and takes the machine as the *testbed* of the upload, so there is
  one BMF file per machine (``FILE`` itself with one machine, else ``STEM.<machine>.json`` each; pick
  one with ``bench history report --machine``). Its ``latency`` measure is in nanoseconds.
- Values keep six significant digits, never rounded to a fixed number of decimals: a 40 ns step
  exports as 4e-05 ms (github) / 40 ns (BMF), not 0.
- The interval is the 95% t-interval over the worker processes' estimates on the log scale, centred on
  their geometric mean (:func:`bench.analysis.intervals.log_scale_interval`), so it never reaches below zero. It is
  not a standard deviation; github's ``range`` holds its larger half-width and ``extra`` says so.
- With one process there is no interval to export (it would say nothing about the next run): github
  gets no ``range`` and ``extra`` says why; BMF gets no ``lower_value``/``upper_value``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.analysis.intervals import log_scale_interval
from bench.core import storage

FORMATS = ("github", "bencher")
DIGITS = 6  # significant digits of an exported value
NS_PER_MS = 1e6
ONE_PROCESS = "one process: no interval exported (a single process says nothing about the next run)"


def significant(x: float, digits: int = DIGITS) -> float:
    """``x`` to ``digits`` significant digits (a float JSON writes as is; tiny values stay non-zero)."""
    return float(f"{x:.{digits}g}")


@dataclass(frozen=True)
class Point:
    """One benchmark's figure on one machine: the two-level median step time (ms) and the estimate of
    each worker process behind it (the interval's units)."""

    name: str
    machine: str
    value_ms: float
    process_ms: tuple[float, ...]
    extra: str = ""

    @property
    def interval_ms(self) -> tuple[float, float] | None:
        """The 95% CI over processes on the log scale; None with fewer than two."""
        return log_scale_interval(self.process_ms)

    @property
    def label(self) -> str:
        """The name with the machine: what github-action-benchmark matches runs by."""
        return f"{self.name} [{self.machine}]"


def _interval_text(p: Point) -> str:
    ci = p.interval_ms
    if ci is None:
        return ONE_PROCESS
    return (f"95% CI [{ci[0]:.4g}, {ci[1]:.4g}] ms over {len(p.process_ms)} processes (log scale; range: its "
            "larger half-width, not a standard deviation)")


def github_action_benchmark(points: Sequence[Point]) -> list[dict[str, Any]]:
    """``tool: customSmallerIsBetter``: name (with the machine), unit, value, range, extra."""
    out = []
    for p in points:
        entry: dict[str, Any] = {"name": p.label, "unit": "ms", "value": significant(p.value_ms)}
        ci = p.interval_ms
        if ci is not None:
            entry["range"] = f"± {significant(max(p.value_ms - ci[0], ci[1] - p.value_ms), 3):g}"
        entry["extra"] = "; ".join(x for x in (f"machine {p.machine}", _interval_text(p), p.extra) if x)
        out.append(entry)
    return out


def bencher(points: Sequence[Point]) -> dict[str, Any]:
    """Bencher Metric Format of one machine (the testbed): {benchmark: {"latency": {value, lower_value,
    upper_value}}} in nanoseconds; no bounds where one process stands behind the value."""
    machines = {p.machine for p in points}
    if len(machines) > 1:
        raise ValueError(f"one BMF file holds one testbed; got machines {', '.join(sorted(machines))}")
    out: dict[str, Any] = {}
    for p in points:
        if p.name in out:
            raise ValueError(f"benchmark {p.name!r} appears twice on machine {p.machine}")
        metric: dict[str, float] = {"value": significant(p.value_ms * NS_PER_MS)}
        ci = p.interval_ms
        if ci is not None:
            metric.update(lower_value=significant(ci[0] * NS_PER_MS), upper_value=significant(ci[1] * NS_PER_MS))
        out[p.name] = {"latency": metric}
    return out


def per_machine(path: Path, machines: Sequence[str]) -> dict[str, Path]:
    """The BMF file of each machine: ``path`` itself for one, else ``STEM.<machine><SUFFIX>`` beside it."""
    if len(machines) == 1:
        return {machines[0]: path}
    return {m: path.with_name(f"{path.stem}.{m}{path.suffix or '.json'}") for m in machines}


def write(kind: str, path: Path, points: Sequence[Point]) -> list[Path]:
    """Write ``points`` in format ``kind``; returns the files written (one per machine for bencher)."""
    if kind == "github":
        storage.write_json(path, github_action_benchmark(points))
        return [path]
    machines = list(dict.fromkeys(p.machine for p in points))
    if not machines:
        storage.write_json(path, {})
        return [path]
    files = per_machine(path, machines)
    for machine, file in files.items():
        storage.write_json(file, bencher([p for p in points if p.machine == machine]))
    return list(files.values())
