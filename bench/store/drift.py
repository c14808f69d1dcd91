"""``bench run``'s absolute times across invocations: the earlier run folders beside this one that
measured the same config with the same code and framework versions on the same host give the
machine's drift (:mod:`bench.analysis.drift`), put into each row's interval; written to drift.csv (its
table is :func:`bench.output.tables.runs.drift_table`)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path

from bench.analysis import drift, summary
from bench.core import storage
from bench.core.records import JobKey, SummaryRow

DRIFT_CSV = "drift.csv"
# drift.csv's header, written whatever the run measured (a run whose every job failed has no rows)
DRIFT_COLUMNS = (*JobKey.names(), "median_ms", "process_ci_low_ms", "process_ci_high_ms", "invocations",
                 "drift_sd_pct", "earlier_median_ms", "ci_low_ms", "ci_high_ms", "ci_half_width_pct", "method")
MAX_FOLDERS = 60  # the newest sibling folders read (a reports/ folder can hold hundreds)
MAX_EARLIER = 19  # earlier invocations per row at most (20 in all)


def _same(a: SummaryRow, b: SummaryRow) -> bool:
    return (a.key == b.key and a.fingerprint == b.fingerprint and a.versions == b.versions
            and a.data_source == b.data_source)


def _usable(r: SummaryRow) -> bool:
    return r.status in ("ok", "partial") and r.median_ms is not None and math.isfinite(r.median_ms) and r.median_ms > 0


def earlier_folders(run_dir: Path) -> list[Path]:
    """Run folders beside ``run_dir`` (newest first by their results file), ``run_dir`` itself left out."""
    here = run_dir.resolve()
    found = []
    for d in run_dir.parent.iterdir() if run_dir.parent.is_dir() else []:
        path = d / storage.RESULTS
        if d.is_dir() and not d.is_symlink() and d.resolve() != here and path.is_file():
            found.append((path.stat().st_mtime, d))
    return [d for _, d in sorted(found, reverse=True)[:MAX_FOLDERS]]


def earlier_estimates(run_dir: Path, rows: Sequence[SummaryRow]) -> list[list[float]]:
    """For each row, the median step times (ms) of the earlier invocations that measured it alike."""
    out: list[list[float]] = [[] for _ in rows]
    for folder in earlier_folders(run_dir):
        try:
            theirs = [r for r in summary.summarise(storage.read_records(folder)) if _usable(r)]
        except (OSError, ValueError, KeyError, TypeError):
            continue  # a folder another tool wrote, or one cut off mid-write: not an invocation of ours
        for i, row in enumerate(rows):
            match = next((r for r in theirs if _same(r, row)), None)
            if match is not None and len(out[i]) < MAX_EARLIER:
                out[i].append(float(match.median_ms))  # type: ignore[arg-type]
    return out


def across(run_dir: Path, rows: Sequence[SummaryRow]) -> list[tuple[SummaryRow, drift.Drift]]:
    usable = [r for r in rows if _usable(r) and r.median_ci_low_ms is not None and r.median_ci_high_ms is not None]
    return [(r, drift.across(float(r.median_ms), float(r.median_ci_low_ms), float(r.median_ci_high_ms), e))  # type: ignore[arg-type]
            for r, e in zip(usable, earlier_estimates(run_dir, usable), strict=True)]


def write(run_dir: Path, pairs: Sequence[tuple[SummaryRow, drift.Drift]]) -> None:
    storage.write_rows(run_dir / DRIFT_CSV, [
        {**r.key.to_dict(), "median_ms": d.estimate, "process_ci_low_ms": d.process_ci_low,
         "process_ci_high_ms": d.process_ci_high, "invocations": d.invocations, "drift_sd_pct": d.spread_pct,
         "earlier_median_ms": d.earlier_median, "ci_low_ms": d.ci_low, "ci_high_ms": d.ci_high,
         "ci_half_width_pct": d.half_width_pct, "method": d.method} for r, d in pairs], columns=DRIFT_COLUMNS)

