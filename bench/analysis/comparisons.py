"""Comparisons with confidence intervals: LRN off vs on per framework, frameworks against the
fastest, and the LRN layer micro-benchmark. Pure: records in, rows out (the workers that measure
them are driven by :mod:`bench.execution.lrn_pairs`)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

from bench.analysis.intervals import TwoLevel, independent_ratio, paired_ratio
from bench.analysis.stats import Ratio, Stats
from bench.analysis.summary import by_stamp, group
from bench.core import fingerprint, records
from bench.core.errors import UsageError
from bench.core.records import JobKey, Measurement

BOOK_SLOWDOWN = 3.0  # "LRN makes the forward and backward pass ... down to about 1/3 of the speed"


@dataclass(frozen=True)
class Pooled:
    """The ok measurements of one key: step times (ms) per worker process (round), and one record."""

    rounds: dict[int, list[float]]
    first: Measurement

    @property
    def groups(self) -> list[list[float]]:
        return list(self.rounds.values())

    @property
    def samples(self) -> list[float]:
        return [s for g in self.rounds.values() for s in g]


def _pooled(recs: Sequence[dict[str, Any]]) -> dict[JobKey, Pooled]:
    """The ok rounds of each key; rounds measured with different versions or code are refused, not
    pooled (one line naming the difference)."""
    out: dict[JobKey, Pooled] = {}
    for key, ms in group(records.measurements(list(recs))).items():
        ok = sorted((m for m in ms if m.ok), key=lambda m: m.round)
        parts = by_stamp(ok)
        if len(parts) > 1:
            raise UsageError(f"{key.label()}: rounds measured with different versions or code "
                             f"({fingerprint.difference(parts[0][0], parts[1][0])}); a comparison pools only rows "
                             "that agree: measure again into a new run folder")
        if ok:
            out[key] = Pooled({m.round: [s / 1e6 for s in m.samples_ns] for m in ok}, ok[0])
    return out


def stamp(m: Measurement) -> dict[str, str]:
    """The versions and code fingerprint a comparison row's measurements share (summary.csv's format)."""
    return {"versions": ";".join(f"{k}={v}" for k, v in sorted(m.versions.items())),
            "fingerprint": m.fingerprint or fingerprint.UNKNOWN}


def book_verdict(r: Ratio) -> str:
    """The slowdown against the book's 3x, in words short enough for a table cell and an answer line: "holds
    3x" when the interval does, "not 3x" when it lies below (the tables' footnote says when a ratio is
    inconclusive: its interval holds 1)."""
    text = r.describe()
    if r.verdict == "inconclusive":
        return f"{text}: inconclusive"
    if r.verdict == "faster":
        return f"{text}: LRN on faster, not 3x"
    if r.ci_high < BOOK_SLOWDOWN:
        return f"{text}: not 3x"
    if r.ci_low > BOOK_SLOWDOWN:
        return f"{text}: worse than 3x"
    return f"{text}: holds 3x"


def _mib(value: Any) -> float | None:
    return value / 2**20 if value is not None else None


def lrn_rows(recs: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """LRN on / off per framework and config: one ratio of medians per worker process (both variants
    interleaved in it), the interval over processes (bench.analysis.intervals.paired_ratio)."""
    pooled = _pooled(recs)
    rows = []
    for key, on in pooled.items():
        off = pooled.get(replace(key, lrn=False))
        if not key.lrn or off is None:
            continue
        both = sorted(set(off.rounds) & set(on.rounds))  # processes that measured both variants
        if not both:
            continue
        r = paired_ratio([off.rounds[i] for i in both], [on.rounds[i] for i in both])
        off_ms = TwoLevel.of([off.rounds[i] for i in both]).estimate
        on_ms = TwoLevel.of([on.rounds[i] for i in both]).estimate
        mem_on, mem_off = on.first.memory.get("alloc_peak_bytes"), off.first.memory.get("alloc_peak_bytes")
        rows.append({
            "framework": key.framework, "mode": key.mode, "batch_size": key.batch_size, "device": key.device,
            "host": key.host, "gpu": key.gpu, "compile": key.compile,
            "lrn_impl": on.first.describe.get("lrn_impl", key.lrn_impl), "processes": len(both),
            "n_off": sum(len(off.rounds[i]) for i in both), "n_on": sum(len(on.rounds[i]) for i in both),
            "off_ms": off_ms, "on_ms": on_ms,
            "slowdown": r.ratio, "ci_low": r.ci_low, "ci_high": r.ci_high, "p_value": r.p_value,
            "verdict": r.verdict, "ci_method": r.method, "added_ms": on_ms - off_ms,
            "lrn_share_pct": 100 * (on_ms - off_ms) / on_ms,
            "memory_added_mib": (mem_on - mem_off) / 2**20 if mem_on is not None and mem_off is not None else None,
            "peak_off_mib": _mib(mem_off), "peak_on_mib": _mib(mem_on),
            # process-wide (both models resident in the pair's process): beside the peak, not a difference
            "reserved_mib": _mib(on.first.memory.get("alloc_reserved_bytes")),
            "nvml_process_mib": _mib(on.first.memory.get("nvml_process_bytes")),
            "nvml_process_source": on.first.memory.get("nvml_process_source"),
            "vs_book": book_verdict(r), **stamp(on.first),
        })
    return rows


def framework_rows(recs: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """Each framework against the fastest (by median) on the same (mode, batch, LRN, device, machine):
    different processes on each side, so the ratio's interval is Welch's t over process estimates."""
    groups: dict[tuple[Any, ...], list[tuple[JobKey, Pooled]]] = {}
    for key, entry in _pooled(recs).items():
        groups.setdefault((key.mode, key.batch_size, key.lrn, key.device, key.host, key.gpu), []).append((key, entry))
    rows = []
    for (mode, batch, lrn, device, _, _), members in groups.items():
        est = {key: TwoLevel.of(entry.groups) for key, entry in members}
        fastest_key, fastest = min(members, key=lambda m: est[m[0]].estimate)
        for key, entry in members:
            tl = est[key]
            r = independent_ratio(fastest.groups, entry.groups)
            rows.append({"mode": mode, "batch_size": batch, "lrn": lrn, "device": device, "framework": key.framework,
                         "compile": key.compile, "processes": tl.processes, "n": tl.n, "median_ms": tl.estimate,
                         "ci_low_ms": tl.ci_low, "ci_high_ms": tl.ci_high, "fastest": fastest_key.framework,
                         "ratio": r.ratio, "ratio_ci_low": r.ci_low, "ratio_ci_high": r.ci_high,
                         "p_value": r.p_value, "ci_method": r.method,
                         "verdict": "fastest" if key == fastest_key else
                         ("slower" if r.verdict == "slower" else "not separable from the fastest"),
                         **stamp(entry.first)})
    return sorted(rows, key=lambda r: (r["mode"], r["batch_size"], r["lrn"], r["ratio"]))


def layer_rows(recs: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    out = []
    for rec in recs:
        if rec.get("kind") != "lrn_layer" or rec.get("status") != "ok":
            continue
        for row in rec["rows"]:
            st = Stats.from_samples([s / 1e6 for s in row["samples_ns"]])
            out.append({k: v for k, v in row.items() if k != "samples_ns"} | {
                "device": rec["device"], "shape": "x".join(map(str, row["shape"])), "n": st.n, "mean_ms": st.mean,
                "ci_low_ms": st.mean_ci_low, "ci_high_ms": st.mean_ci_high, "cv": st.cv})
    return out


def fastest_exact(layer: Sequence[dict[str, Any]]) -> dict[str, str]:
    """Per framework, the exact variant with the least forward+backward time over both LRN layers."""
    totals: dict[tuple[str, str], float] = {}
    for row in layer:
        if row["exact"] and row["direction"] == "forward_backward":
            key = (row["framework"], row["impl"])
            totals[key] = totals.get(key, 0.0) + row["mean_ms"]
    best: dict[str, str] = {}
    for fw, impl in sorted(totals, key=lambda key: totals[key]):
        best.setdefault(fw, impl)
    return best
