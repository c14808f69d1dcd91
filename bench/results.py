"""Result records (one per worker job, as stored in results.jsonl) and the summary rows derived
from them. Pure: reads records, computes statistics, never measures or writes."""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from bench.stats import Stats

SCHEMA_VERSION = 1
NS_PER_MS = 1e6
MB = 1024 * 1024
KEY_FIELDS = ("framework", "mode", "batch_size", "lrn", "compile", "lrn_impl", "device", "threads")

# Columns of summary.csv, in order (documented in reports/README.md).
SUMMARY_COLUMNS = (
    "framework", "mode", "batch_size", "lrn", "compile", "lrn_impl", "device", "threads", "data_source",
    "status", "error", "rounds", "n", "mean_ms", "std_ms", "min_ms", "median_ms", "p5_ms", "p95_ms", "iqr_ms",
    "cv", "mean_ci_low_ms", "mean_ci_high_ms", "median_ci_low_ms", "median_ci_high_ms", "ci_half_width_pct",
    "unstable", "images_per_s", "flops_per_step", "achieved_gflops", "peak_gflops", "pct_of_peak",
    "relative_to_fastest", "compile_s", "block_mean_ms", "sync_overhead_pct", "host_peak_rss_mb",
    "alloc_peak_mb", "alloc_reserved_mb", "nvml_process_mb", "nvml_device_used_mb", "versions",
)


def job_key(record: dict[str, Any]) -> tuple[Any, ...]:
    return tuple(record.get(f) for f in KEY_FIELDS)


def latest_per_round(records: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """The last record of each (config, round): a resumed or retried job replaces its earlier try."""
    latest: dict[tuple[Any, ...], dict[str, Any]] = {}
    for rec in records:
        if rec.get("kind", "measure") == "measure":
            latest[job_key(rec) + (rec.get("round", 0),)] = rec
    return list(latest.values())


def _mb(value: Any) -> float | None:
    return None if value is None else round(float(value) / MB, 1)


def _max_or_none(values: Iterable[Any]) -> Any:
    present = [v for v in values if v is not None]
    return max(present) if present else None


@dataclass(frozen=True)
class Peak:
    """A GEMM reference for one device: the denominator of 'percent of peak'."""

    device: str
    flops: float
    source: str


def peaks(records: Iterable[dict[str, Any]]) -> dict[str, Peak]:
    out: dict[str, Peak] = {}
    for rec in records:
        if rec.get("kind") == "gemm" and rec.get("status") == "ok":
            peak = Peak(rec["device"], float(rec["flops_per_s"]), rec.get("source", ""))
            if rec["device"] not in out or peak.flops > out[rec["device"]].flops:
                out[rec["device"]] = peak
    return out


def summarise(records: list[dict[str, Any]], seed: int = 0) -> list[dict[str, Any]]:
    """One row per (framework, config), pooling the samples of every round."""
    groups: dict[tuple[Any, ...], list[dict[str, Any]]] = {}
    for rec in latest_per_round(records):
        groups.setdefault(job_key(rec), []).append(rec)
    device_peaks = peaks(records)
    rows = []
    for key, recs in groups.items():
        row: dict[str, Any] = dict(zip(KEY_FIELDS, key, strict=True))
        ok = [r for r in recs if r.get("status") == "ok" and r.get("samples_ns")]
        first = ok[0] if ok else recs[-1]
        row["data_source"] = first.get("data_source")
        row["rounds"] = len(ok)
        row["versions"] = ";".join(f"{k}={v}" for k, v in sorted((first.get("versions") or {}).items()))
        if not ok:
            row.update(status=recs[-1].get("status", "failed"), error=recs[-1].get("error"))
            rows.append(row)
            continue
        bad = [r for r in recs if r.get("status") != "ok"]
        row["status"] = "ok" if not bad else "partial"
        row["error"] = bad[-1].get("error") if bad else None
        samples = [s for r in ok for s in r["samples_ns"]]
        st = Stats.from_samples(samples, seed=seed)
        for name, value in st.scaled(1 / NS_PER_MS).items():
            row[name if name in ("n", "cv") else f"{name}_ms"] = value
        row["ci_half_width_pct"] = 100 * st.ci_half_width_rel
        row["unstable"] = st.unstable
        mean_s = st.mean / 1e9
        row["images_per_s"] = row["batch_size"] / mean_s
        flops = int(first["flops_per_step"])
        row["flops_per_step"] = flops
        row["achieved_gflops"] = flops / mean_s / 1e9
        own = _max_or_none(r.get("gemm_flops_per_s") for r in ok)  # measured in the same worker
        run_peak = device_peaks.get(str(row["device"]))
        peak_flops = own if own is not None else (run_peak.flops if run_peak else None)
        row["peak_gflops"] = peak_flops / 1e9 if peak_flops else None
        row["pct_of_peak"] = 100 * row["achieved_gflops"] / row["peak_gflops"] if peak_flops else None
        row["compile_s"] = sum(r["compile_ns"] for r in ok) / len(ok) / 1e9
        blocks = [r["block_mean_ns"] for r in ok if r.get("block_mean_ns")]
        row["block_mean_ms"] = sum(blocks) / len(blocks) / NS_PER_MS if blocks else None
        row["sync_overhead_pct"] = (100 * (row["mean_ms"] - row["block_mean_ms"]) / row["mean_ms"]
                                    if row["block_mean_ms"] else None)
        mems = [r.get("memory") or {} for r in ok]
        row["host_peak_rss_mb"] = _mb(_max_or_none(m.get("host_peak_rss_bytes") for m in mems))
        row["alloc_peak_mb"] = _mb(_max_or_none(m.get("alloc_peak_bytes") for m in mems))
        row["alloc_reserved_mb"] = _mb(_max_or_none(m.get("alloc_reserved_bytes") for m in mems))
        row["nvml_process_mb"] = _mb(_max_or_none(m.get("nvml_process_bytes") for m in mems))
        row["nvml_device_used_mb"] = _mb(_max_or_none(m.get("nvml_device_used_bytes") for m in mems))
        rows.append(row)
    _relative_to_fastest(rows)
    return [{c: r.get(c) for c in SUMMARY_COLUMNS} for r in rows]


def _relative_to_fastest(rows: list[dict[str, Any]]) -> None:
    """Mean step time over the fastest mean among rows of the same mode, batch, LRN and device."""
    best: dict[tuple[Any, ...], float] = {}
    for r in rows:
        if r.get("mean_ms") is not None:
            g = (r["mode"], r["batch_size"], r["lrn"], r["device"])
            best[g] = min(best.get(g, math.inf), r["mean_ms"])
    for r in rows:
        if r.get("mean_ms") is not None:
            r["relative_to_fastest"] = r["mean_ms"] / best[(r["mode"], r["batch_size"], r["lrn"], r["device"])]
