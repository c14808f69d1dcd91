"""Every row a run folder's reports show, computed once from its records: the summary, the step
times of each worker process, the LRN layer micro-benchmark, LRN off vs on and the frameworks side
by side. The CSVs, the terminal tables, the PNGs and the HTML report are all written from one
:class:`RunRows` (:mod:`bench.output.report`), so none of them can disagree with another.
Pure: records in, rows out."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from bench.analysis import comparisons, lockstep_ratios, summary
from bench.core.records import JobKey, SummaryRow, latest_per_round, measurements


@dataclass(frozen=True)
class Process:
    """One worker process's timed steps of one config (ms), as samples.csv holds them."""

    key: JobKey
    round: int
    status: str
    samples_ms: tuple[float, ...]


@dataclass(frozen=True)
class RunRows:
    """All the rows of one run folder. ``frameworks`` is empty unless two or more frameworks ran;
    ``lrn`` is empty unless LRN off/on pairs were measured in one process."""

    summary: list[SummaryRow]
    processes: list[Process]
    layer: list[dict[str, Any]]
    fastest_exact: dict[str, str]
    lrn: list[dict[str, Any]]
    frameworks: list[dict[str, Any]]
    framework_method: str  # "lockstep" (ratios turn by turn, interval over groups) or "independent" (Welch)
    failed_layers: list[dict[str, Any]]  # the LRN layer benchmark records that did not end ok

    @property
    def sweep(self) -> bool:
        """More than one batch size for some framework: a sweep, worth a step time vs batch plot."""
        sizes: dict[tuple[str, str, bool], set[int]] = {}
        for r in self.summary:
            if r.status == "ok":
                sizes.setdefault((r.framework, r.mode, r.lrn), set()).add(r.batch_size)
        return any(len(s) > 1 for s in sizes.values())


def processes(records: list[dict[str, Any]]) -> list[Process]:
    return [Process(m.key, m.round, m.status, tuple(s / 1e6 for s in m.samples_ns))
            for m in latest_per_round(measurements(records))]


def analyse(records: Sequence[dict[str, Any]], seed: int = 0) -> RunRows:
    """The one pass from a folder's records to every row its reports need."""
    recs = list(records)
    layer = comparisons.layer_rows(recs)
    target = next((r["config"].get("target_ci") for r in recs if isinstance(r.get("config"), dict)
                   and r["config"].get("target_ci")), None)
    fw_rows, method = lockstep_ratios.framework_rows(recs, target), "lockstep"
    if len({r["framework"] for r in fw_rows}) < 2:  # no lockstep groups of two or more frameworks
        fw_rows, method = comparisons.framework_rows(recs), "independent"
    lrn = comparisons.lrn_rows(recs) if any(r.get("pair") for r in recs) else []
    if method == "lockstep":  # every ratio still wider than --target-ci says why (the stop rule's record)
        stop = next((r for r in reversed(recs) if r.get("kind") == "stop_rule"), None)
        lockstep_ratios.name_wide(fw_rows, lrn, target, stop)
    return RunRows(
        summary=summary.summarise(recs, seed),
        processes=processes(recs),
        layer=layer,
        fastest_exact=comparisons.fastest_exact(layer) if layer else {},
        lrn=lrn,
        frameworks=fw_rows if len({r["framework"] for r in fw_rows}) > 1 else [],
        framework_method=method,
        failed_layers=[r for r in recs if r.get("kind") == "lrn_layer" and r.get("status") != "ok"],
    )
