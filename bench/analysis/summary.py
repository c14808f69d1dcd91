"""Summary rows from measurement records. Pure: reads records, computes statistics, never measures
or writes. The same rows become the CSV files and ``bench.load``'s DataFrames
(:mod:`bench.output.frames`), so what a user loads is exactly what the tables show."""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from typing import Any

from bench.analysis import interference
from bench.analysis.intervals import TwoLevel
from bench.analysis.stats import UNSTABLE_CV, Stats
from bench.core.fingerprint import UNKNOWN, Stamp
from bench.core.records import NOT_EQUIVALENT, JobKey, Measurement, SummaryRow, latest_per_round, measurements

NS_PER_MS = 1e6
MIB = 1024 * 1024
# the target an unstable flag is judged against when the run asked for none: --target-ci's default of
# bench compare (the suite), the precision a reader of these tables is promised
DEFAULT_TARGET_PCT = 3.0


def unstable(cv: float | None, median: TwoLevel, target_pct: float | None) -> bool:
    """The unstable flag of a row: its steps are noisy (CV over every step above ``UNSTABLE_CV``) *and*
    that noise is what makes the headline, the median's interval, wider than the target (``target_pct``,
    or ``DEFAULT_TARGET_PCT`` when none was asked). A noisy mean under a tight median interval changes no
    conclusion; an interval widened by processes that differ (``between_dominates``) is the process
    spread's doing, said by its own columns and note, and closing other programs is not its remedy."""
    if cv is None or not cv > UNSTABLE_CV or median.processes < 1:
        return False
    wide = median.half_width_pct > (target_pct if target_pct else DEFAULT_TARGET_PCT)
    return bool(wide and not median.between_dominates)


def _mib(value: Any) -> float | None:
    return None if value is None else round(float(value) / MIB, 1)


def _per_step(counts: Sequence[Sequence[int]]) -> float | None:
    """Mean count per timed step over the rounds that recorded one (older records did not)."""
    steps = [c for per_round in counts for c in per_round]
    return sum(steps) / len(steps) if steps else None


def _first(values: Iterable[Any]) -> str | None:
    """The first text given (the processes of one config all say the same), else None."""
    return next((str(v) for v in values if v is not None), None)


def _max_or_none(values: Iterable[Any]) -> Any:
    present = [v for v in values if v is not None]
    return max(present) if present else None


def equivalence_columns(recs: Sequence[Measurement]) -> dict[str, Any]:
    """The ``equiv_*`` columns of one key's rounds: the worst check over the rounds (largest share of its
    tolerance), its tier, and the mean time a check took. All None where no round was checked."""
    checked = [m.equivalence for m in recs if m.equivalence]
    if not checked:
        return {}
    worst = max(checked, key=lambda e: float(e["error"]) / float(e["tolerance"]) if e["tolerance"] else math.inf)
    return {"equiv_tier": worst["tier"], "equiv_worst": worst["worst"], "equiv_error": float(worst["error"]),
            "equiv_tolerance": float(worst["tolerance"]),
            "equiv_check_s": sum(float(e["seconds"]) for e in checked) / len(checked)}


def equivalence_lines(records: Sequence[dict[str, Any]]) -> list[str]:
    """What a run says of its in-run equivalence checks: one line per config that failed (its error against
    its tolerance; no time reported for it), then their cost, once."""
    ms = [m for m in latest_per_round(measurements(list(records))) if m.equivalence]
    if not ms:
        return []
    lines, seen = [], set()
    for m in ms:
        if m.status == NOT_EQUIVALENT and m.key not in seen:
            seen.add(m.key)
            lines.append(f"NOT EQUIVALENT: {m.key.label()} (compile {m.key.compile}, LRN impl {m.key.lrn_impl}): "
                         f"{m.error}")
    seconds = sum(float(m.equivalence.get("seconds") or 0.0) for m in ms)
    configs = len({m.key for m in ms})
    lines.append(f"in-run equivalence: {configs} config{'s' if configs != 1 else ''} checked against the float64 "
                 f"reference, {len(ms)} worker check{'s' if len(ms) != 1 else ''} taking {seconds:.1f} s in all "
                 f"(workers of one group check side by side), outside the timed region; {len(seen)} not equivalent")
    return lines


@dataclass(frozen=True)
class Peak:
    """A GEMM reference for one device: the denominator of 'percent of peak'."""

    device: str
    flops: float
    source: str


def peaks(records: Iterable[dict[str, Any]]) -> dict[str, Peak]:
    """The run-level GEMM references (``kind: gemm``), best per device."""
    out: dict[str, Peak] = {}
    for rec in records:
        if rec.get("kind") == "gemm" and rec.get("status") == "ok":
            peak = Peak(rec["device"], float(rec["flops_per_s"]), rec.get("source", ""))
            if rec["device"] not in out or peak.flops > out[rec["device"]].flops:
                out[rec["device"]] = peak
    return out


def group(ms: Sequence[Measurement]) -> dict[JobKey, list[Measurement]]:
    """The latest record of every (key, round), grouped by key in first-seen order."""
    groups: dict[JobKey, list[Measurement]] = {}
    for m in latest_per_round(list(ms)):
        groups.setdefault(m.key, []).append(m)
    return groups


def _row(key: JobKey, recs: list[Measurement], device_peaks: dict[str, Peak], seed: int) -> SummaryRow:
    ok = [m for m in recs if m.ok]
    first = ok[0] if ok else recs[-1]
    base: dict[str, Any] = {**key.to_dict(), "data_source": first.data_source, "rounds": len(ok),
                            "versions": ";".join(f"{k}={v}" for k, v in sorted(first.versions.items())) or None,
                            "fingerprint": first.fingerprint or UNKNOWN, **equivalence_columns(recs)}
    refused = [m for m in recs if m.status == NOT_EQUIVALENT]
    if refused:  # one round that computed something else refuses the config's time, whatever the others did
        return SummaryRow(**{**base, "rounds": 0}, status=NOT_EQUIVALENT, error=refused[-1].error)
    if not ok:
        return SummaryRow(**base, status=recs[-1].status or "failed", error=recs[-1].error)
    bad = [m for m in recs if m.status != "ok"]
    groups = [[s / NS_PER_MS for s in m.samples_ns] for m in ok]  # one group per worker process
    st = Stats.from_samples([s for g in groups for s in g], intervals=False)  # descriptive, over every step
    med, mean = TwoLevel.of(groups, "median", seed), TwoLevel.of(groups, "mean", seed)
    headline_s = med.estimate / 1e3  # throughput and FLOP/s from the headline, the median
    flops = int(first.flops_per_step or 0)
    own = _max_or_none(m.gemm_flops_per_s for m in ok)  # measured in the same worker
    run_peak = device_peaks.get(key.device)
    peak_flops = own if own is not None else (run_peak.flops if run_peak else None)
    achieved = flops / headline_s / 1e9
    blocks = [m.block_mean_ns for m in ok if m.block_mean_ns]
    block_ms = sum(blocks) / len(blocks) / NS_PER_MS if blocks else None
    mems = [m.memory for m in ok]
    return SummaryRow(
        **base, status="ok" if not bad else "partial", error=bad[-1].error if bad else None,
        n=st.n, mean_ms=mean.estimate, std_ms=st.std, min_ms=st.min, median_ms=med.estimate,
        p5_ms=st.p5, p95_ms=st.p95, iqr_ms=st.iqr, cv=st.cv,
        mean_ci_low_ms=mean.ci_low, mean_ci_high_ms=mean.ci_high,
        median_ci_low_ms=med.ci_low, median_ci_high_ms=med.ci_high, ci_half_width_pct=med.half_width_pct,
        between_process_pct=100 * med.between_sd / med.estimate if math.isfinite(med.between_sd) else None,
        within_process_pct=100 * med.within_sd / med.estimate, ci_method=med.method,
        unstable=unstable(st.cv, med, first.target_ci),
        target_ci_pct=first.target_ci,
        processes_needed=med.processes_for(first.target_ci) if first.target_ci else None,
        images_per_s=key.batch_size / headline_s, flops_per_step=flops, achieved_gflops=achieved,
        peak_gflops=peak_flops / 1e9 if peak_flops else None,
        pct_of_peak=100 * achieved / (peak_flops / 1e9) if peak_flops else None,
        compile_s=sum(m.compile_ns or 0 for m in ok) / len(ok) / 1e9, block_mean_ms=block_ms,
        page_faults_per_step=_per_step([m.page_faults for m in ok]),
        preemptions_per_step=_per_step([m.preemptions for m in ok]),
        others_cpu_pct=None if (share := interference.others_share(ok)) is None else 100 * share,
        sync_overhead_pct=100 * (mean.estimate - block_ms) / mean.estimate if block_ms else None,
        host_peak_rss_mib=_mib(_max_or_none(m.get("host_peak_rss_bytes") for m in mems)),
        alloc_peak_mib=_mib(_max_or_none(m.get("alloc_peak_bytes") for m in mems)),
        alloc_reserved_mib=_mib(_max_or_none(m.get("alloc_reserved_bytes") for m in mems)),
        nvml_process_mib=_mib(_max_or_none(m.get("nvml_process_bytes") for m in mems)),
        nvml_device_used_mib=_mib(_max_or_none(m.get("nvml_device_used_bytes") for m in mems)),
        alloc_peak_scope=_first(m.get("alloc_peak_scope") for m in mems),
        nvml_process_source=_first(m.get("nvml_process_source") for m in mems),
    )


def by_stamp(recs: Sequence[Measurement]) -> list[list[Measurement]]:
    """One key's records split by what measured them (framework versions and code fingerprint): rounds
    measured with different code are different experiments and are kept apart, one row each. Failed
    rounds (no versions of their own) go with the last stamp seen."""
    parts: dict[Stamp, list[Measurement]] = {}
    for m in recs:
        if m.ok:
            parts.setdefault(Stamp.of(m), []).append(m)
    if len(parts) <= 1:
        return [list(recs)]
    out = list(parts.values())
    out[-1] += [m for m in recs if not m.ok]
    return out


def summarise(records: list[dict[str, Any]], seed: int = 0) -> list[SummaryRow]:
    """One row per key and stamp, pooling the samples of every round measured with the same code."""
    device_peaks = peaks(records)
    rows = [_row(key, part, device_peaks, seed) for key, recs in group(measurements(records)).items()
            for part in by_stamp(recs)]
    return _relative_to_fastest(rows)


def measured_with(items: Iterable[tuple[str, str | None, str | None]]) -> str:
    """"measured with: FW: versions; code FINGERPRINT | ..." for each distinct (framework, versions
    as summary.csv writes them, fingerprint): the provenance line under a table."""
    seen = dict.fromkeys((fw, versions or "versions unknown", fp or UNKNOWN) for fw, versions, fp in items)
    shared = [f"{fw}: {v.replace(';', ', ').replace('=', ' ')}; code {fp}" for fw, v, fp in seen]
    return "measured with: " + " | ".join(shared) if shared else ""


def provenance_lines(rows: Sequence[SummaryRow]) -> list[str]:
    """What the rows of a table share, per framework: the versions and the code fingerprint; and where
    one key has rows under several of them, that those were kept apart (not pooled) and why."""
    keys: dict[JobKey, list[SummaryRow]] = {}
    for r in rows:
        keys.setdefault(r.key, []).append(r)
    shared = measured_with((r.framework, r.versions, r.fingerprint) for r in rows)
    lines = [shared] if shared else []
    for key, same in keys.items():
        if len(same) > 1:
            lines.append(f"{key.label()}: {len(same)} rows kept apart, not pooled: measured with different "
                         "versions or code (" + " vs ".join(f"{r.versions}; code {r.fingerprint}" for r in same) + ")")
    return lines


def _relative_to_fastest(rows: list[SummaryRow]) -> list[SummaryRow]:
    """Median step time over the fastest median among rows of the same mode, batch, LRN, device and machine."""
    def where(r: SummaryRow) -> tuple[Any, ...]:
        return (r.mode, r.batch_size, r.lrn, r.device, r.host, r.gpu)

    best: dict[tuple[Any, ...], float] = {}
    for r in rows:
        if r.median_ms is not None:
            best[where(r)] = min(best.get(where(r), math.inf), r.median_ms)
    return [replace(r, relative_to_fastest=r.median_ms / best[where(r)]) if r.median_ms is not None else r
            for r in rows]
