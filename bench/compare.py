"""Comparisons with confidence intervals: LRN off vs on per framework, frameworks against the
fastest, and the LRN layer micro-benchmark. The ``*_rows`` functions are pure (records in, rows
out); ``run_*`` functions drive workers and append records."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

from bench import registry, results, storage
from bench.config import LRN_IMPLS, RunConfig
from bench.env import utc_now
from bench.runner import run_worker
from bench.stats import Ratio, Stats

BOOK_SLOWDOWN = 3.0  # "LRN makes the forward and backward pass ... down to about 1/3 of the speed"


def _pooled(records: Sequence[dict[str, Any]]) -> dict[tuple[Any, ...], dict[str, Any]]:
    """Samples of every ok measurement pooled over rounds, keyed by the config key."""
    out: dict[tuple[Any, ...], dict[str, Any]] = {}
    for rec in results.latest_per_round(records):
        if rec.get("status") == "ok" and rec.get("samples_ns"):
            entry = out.setdefault(results.job_key(rec), {"samples": [], "rec": rec})
            entry["samples"] = entry["samples"] + [s / 1e6 for s in rec["samples_ns"]]
    return out


def book_verdict(r: Ratio) -> str:
    text = r.describe()
    if r.verdict == "inconclusive":
        return f"{text}: inconclusive, no cost measurable at this noise"
    if r.verdict == "faster":
        return f"{text}: LRN-on measured faster (noise or a fused path), not 3x"
    if r.ci_high < BOOK_SLOWDOWN:
        return f"{text}: not 3x"
    if r.ci_low > BOOK_SLOWDOWN:
        return f"{text}: worse than the book's 3x"
    return f"{text}: consistent with the book's ~3x"


def lrn_rows(records: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    pooled = _pooled(records)
    rows = []
    for key, on in pooled.items():
        k = dict(zip(results.KEY_FIELDS, key, strict=True))
        if not k["lrn"]:
            continue
        off_key = tuple(False if f == "lrn" else v for f, v in zip(results.KEY_FIELDS, key, strict=True))
        off = pooled.get(off_key)
        if off is None:
            continue
        r = Ratio.of(off["samples"], on["samples"])
        off_ms, on_ms = float(np.mean(off["samples"])), float(np.mean(on["samples"]))
        mem_on = (on["rec"].get("memory") or {}).get("alloc_peak_bytes")
        mem_off = (off["rec"].get("memory") or {}).get("alloc_peak_bytes")
        rows.append({
            "framework": k["framework"], "mode": k["mode"], "batch_size": k["batch_size"], "device": k["device"],
            "compile": k["compile"], "lrn_impl": (on["rec"].get("describe") or {}).get("lrn_impl", k["lrn_impl"]),
            "n_off": len(off["samples"]), "n_on": len(on["samples"]), "off_ms": off_ms, "on_ms": on_ms,
            "slowdown": r.ratio, "ci_low": r.ci_low, "ci_high": r.ci_high, "p_value": r.p_value,
            "verdict": r.verdict, "added_ms": on_ms - off_ms, "lrn_share_pct": 100 * (on_ms - off_ms) / on_ms,
            "memory_added_mb": (mem_on - mem_off) / 2**20 if mem_on is not None and mem_off is not None else None,
            "vs_book": book_verdict(r),
        })
    return rows


def framework_rows(records: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """Each framework against the fastest on the same (mode, batch, LRN, device)."""
    pooled = _pooled(records)
    groups: dict[tuple[Any, ...], list[tuple[str, dict[str, Any]]]] = {}
    for key, entry in pooled.items():
        k = dict(zip(results.KEY_FIELDS, key, strict=True))
        groups.setdefault((k["mode"], k["batch_size"], k["lrn"], k["device"]), []).append((k["framework"], entry))
    rows = []
    for (mode, batch, lrn, device), members in groups.items():
        fastest_fw, fastest = min(members, key=lambda m: float(np.mean(m[1]["samples"])))
        for fw, entry in members:
            st = Stats.from_samples(entry["samples"])
            r = Ratio.of(fastest["samples"], entry["samples"])
            rows.append({"mode": mode, "batch_size": batch, "lrn": lrn, "device": device, "framework": fw,
                         "compile": entry["rec"].get("compile"), "n": st.n, "mean_ms": st.mean,
                         "ci_low_ms": st.mean_ci_low, "ci_high_ms": st.mean_ci_high, "fastest": fastest_fw,
                         "ratio": r.ratio, "ratio_ci_low": r.ci_low, "ratio_ci_high": r.ci_high,
                         "p_value": r.p_value,
                         "verdict": "fastest" if fw == fastest_fw else
                         ("slower" if r.verdict == "slower" else "not separable from the fastest")})
    return sorted(rows, key=lambda r: (r["mode"], r["batch_size"], r["lrn"], r["ratio"]))


def layer_rows(records: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    out = []
    for rec in records:
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


def run_layer(run_dir: Path, frameworks: Sequence[str], device: str, batch: int, steps: int, threads: int | None,
              lrn_params: dict[str, Any], timeout: float | None, progress: Callable[[str], None]) -> None:
    for fw in frameworks:
        if not registry.is_available(fw):
            continue
        progress(f"LRN layer micro-benchmark: {fw} ({', '.join(LRN_IMPLS[fw])})")
        params = {"framework": fw, "device": device, "batch_size": batch, "steps": steps, "rounds": 4,
                  "lrn_params": lrn_params}
        out = run_worker("lrn_layer", params, threads=threads, device=device, timeout=timeout)
        storage.append_record(run_dir, {"schema_version": results.SCHEMA_VERSION, "kind": "lrn_layer",
                                        "utc": utc_now(), "framework": fw, "device": device, "status": out.status,
                                        "error": out.error, "wall_s": out.wall_s, **out.result})


def run_pairs(run_dir: Path, configs: Sequence[RunConfig], timeout: float | None,
              progress: Callable[[str], None], after_each: Callable[[], None]) -> None:
    """LRN off/on pairs, one worker each; both records appended as soon as the pair finishes."""
    from bench.sweep import Job, done_keys, record_for

    finished = done_keys(storage.read_records(run_dir))
    for i, cfg in enumerate(configs):
        jobs = {lrn: Job(replace(cfg, model=replace(cfg.model, lrn=lrn)), 0) for lrn in (False, True)}
        if all(tuple(j.key_fields().values()) + (0,) in finished for j in jobs.values()):
            continue
        fw = cfg.model.framework
        progress(f"[{i + 1}/{len(configs)}] LRN off vs on: {fw} {cfg.mode} batch {cfg.batch_size}")
        if not registry.is_available(fw):
            for job in jobs.values():
                storage.append_record(run_dir, record_for(job, "skipped", error=registry.install_hint(fw)))
            continue
        out = run_worker("lrn_pair", {"config": cfg.to_dict()}, threads=cfg.model.threads, device=cfg.model.device,
                         timeout=timeout)
        for lrn, job in jobs.items():
            if out.status == "ok":
                variant = next(v for v in out.result["variants"] if v["lrn"] == lrn)
                rec = record_for(job, "ok", variant, wall_s=out.wall_s)
                rec["pair"] = True
            else:
                rec = record_for(job, out.status, error=out.error, wall_s=out.wall_s)
            storage.append_record(run_dir, rec)
        after_each()
