"""``bench profile``, parent side: from each framework's profile record to the per-layer breakdown.
Pure: records in, rows out (the worker side is :mod:`bench.worker.tasks.profile`).

Two sources side by side, per scope (:func:`bench.model.spec.ModelSpec.scopes`) and pass (forward, backward,
update): the framework's own profiler over steps of the real model (its ops attributed to scopes by
name), and each scope timed alone at its real shapes. Both are set against the whole step measured
in the same worker, so what neither explains (dispatch between ops, fusion across layers, ops the
profiler could not attribute) is a number, not hidden.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from bench.analysis import sanity
from bench.core.fingerprint import UNKNOWN
from bench.core.records import JobKey
from bench.model import spec

UNATTRIBUTED = "(unattributed)"
# The key fields every other table carries (records.JobKey, tuning and precision included), then the figures.
LAYER_COLUMNS = (*JobKey.names(), "source", "scope", "kind", "pass", "ms", "share_pct", "gflops", "pct_of_peak",
                 "calls")
# profile_summary.csv (:func:`summary_row`) and profile_ops.csv (:func:`top_ops`), headed the same way
SUMMARY_COLUMNS = (*JobKey.names(), "status", "error", "step_ms", "profiler_attributed_ms", "profiler_unattributed_ms",
                   "coverage_pct", "remainder_ms", "isolated_sum_ms", "isolated_remainder_ms", "tiny_step_ms",
                   "fixed_ms", "per_image_ms", "fixed_share_pct", "host_return_ms", "host_share_pct",
                   "page_faults_per_step", "peak_gflops", "clock", "traces", "profiler", "tiny_batch", "versions",
                   "fingerprint", "warnings")
OPS_COLUMNS = (*JobKey.names(), "op", "scope", "pass", "ms", "calls_per_step", "share_pct")


def _median_ms(samples: Sequence[int]) -> float:
    return float(np.median(samples)) / 1e6 if len(samples) else math.nan


def _ident(rec: dict[str, Any]) -> dict[str, Any]:
    """A profile record's key fields, named and ordered as :class:`JobKey` declares them (the machine
    from the identity its worker recorded), so a tuned or default-precision profile is told apart."""
    cfg = rec.get("config") or {}
    model = cfg.get("model") or {}
    identity = rec.get("identity") or {}
    values = {"framework": rec["framework"], "mode": cfg.get("mode"), "batch_size": cfg.get("batch_size"),
              "lrn": model.get("lrn"), "compile": model.get("compile"), "lrn_impl": model.get("lrn_impl"),
              "device": model.get("device"), "threads": model.get("threads"), "host": identity.get("host") or "",
              "gpu": identity.get("gpu"), "precision": model.get("precision") or "strict",
              "tuning": "+".join(model.get("tuning") or ()), "model": model.get("model") or spec.DEFAULT_MODEL}
    return {name: values[name] for name in JobKey.names()}


def _flops(model: spec.ModelSpec, scope: spec.Scope, batch: int, pass_: str, ms: float,
           peak: float | None) -> tuple[Any, Any]:
    flops = model.scope_flops(scope, batch, pass_)
    if flops is None or not ms > 0:
        return None, None
    gflops = flops / (ms / 1e3) / 1e9
    return gflops, (100 * gflops / (peak / 1e9) if peak else None)


Totals = dict[tuple[str, ...], list[float]]


def _per_step(prof: dict[str, Any], key: Callable[[dict[str, Any]], tuple[str, ...]]) -> Totals:
    """The profiled ops grouped by ``key``: [ms, calls] per step."""
    steps = int(prof["steps"])
    totals: Totals = {}
    for op in prof["ops"]:
        entry = totals.setdefault(key(op), [0.0, 0])
        entry[0] += op["total_ns"] / steps / 1e6
        entry[1] += op["calls"] / steps
    return totals


def layer_rows(rec: dict[str, Any]) -> list[dict[str, Any]]:
    """profile_layers.csv: one row per (source, scope, pass) in ms per step, share of the whole step."""
    ident = _ident(rec)
    batch, lrn = int(ident["batch_size"]), bool(ident["lrn"])
    whole = _median_ms(rec["samples_ns"])
    peak = rec.get("gemm_flops_per_s")
    model = spec.get_model(str(ident["model"]))
    scopes = {s.name: s for s in model.scopes(lrn)}
    passes = ("forward",) if ident["mode"] == "forward" else spec.PASSES
    rows: list[dict[str, Any]] = []

    def add(source: str, scope: str, pass_: str, ms: float, calls: int | None) -> None:
        s = scopes.get(scope)
        gflops, pct = _flops(model, s, batch, pass_, ms, peak) if s else (None, None)
        rows.append({**ident, "source": source, "scope": scope, "kind": s.kind if s else "", "pass": pass_,
                     "ms": ms, "share_pct": 100 * ms / whole if whole else None, "gflops": gflops,
                     "pct_of_peak": pct, "calls": calls})

    prof = rec.get("profile") or {}
    if prof.get("ops"):
        totals = _per_step(prof, lambda op: (op["scope"] or UNATTRIBUTED, op["pass_"] if op["scope"] else ""))
        for name in [*scopes, UNATTRIBUTED]:
            for pass_ in (*passes, ""):
                if (name, pass_) in totals:
                    ms, calls = totals[(name, pass_)]
                    add("profiler", name, pass_, ms, round(calls))
    iso = rec.get("isolated")
    if isinstance(iso, list):
        for case in iso:
            fwd = _median_ms(case.get("forward_ns") or [])
            fb = _median_ms(case.get("forward_backward_ns") or [])
            if scopes[case["scope"]].kind == "optimizer":
                add("isolated", case["scope"], "update", fwd, None)
                continue
            add("isolated", case["scope"], "forward", fwd, None)
            if math.isfinite(fb):
                add("isolated", case["scope"], "backward", max(fb - fwd, 0.0), None)
    return rows


def summary_row(rec: dict[str, Any], rows: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """profile_summary.csv (:data:`SUMMARY_COLUMNS`): the whole step against the sums, the remainder, the
    profiler's coverage, and the fixed (dispatch) cost of a step from the batch-1 step."""
    ident = _ident(rec)
    whole = _median_ms(rec["samples_ns"])
    prof_rows = [r for r in rows if r["source"] == "profiler"]
    attributed = sum(r["ms"] for r in prof_rows if r["scope"] != UNATTRIBUTED)
    unattributed = sum(r["ms"] for r in prof_rows if r["scope"] == UNATTRIBUTED)
    iso_sum = sum(r["ms"] for r in rows if r["source"] == "isolated")
    tiny, n = _median_ms(rec.get("tiny_samples_ns") or []), int(ident["batch_size"])
    tiny_batch = int(rec.get("tiny_batch") or 1)
    per_image = (whole - tiny) / (n - tiny_batch) if n > tiny_batch and math.isfinite(tiny) else None
    fixed = tiny - tiny_batch * per_image if per_image is not None else None
    host = _median_ms(rec.get("dispatch_ns") or [])
    prof = rec.get("profile") or {}
    faults = rec.get("page_faults") or []
    return sanity.checked({**ident, "status": rec.get("status"), "error": rec.get("error"), "step_ms": whole,
            "profiler_attributed_ms": attributed if prof_rows else None,
            "profiler_unattributed_ms": unattributed if prof_rows else None,
            "coverage_pct": 100 * attributed / (attributed + unattributed) if attributed + unattributed else None,
            "remainder_ms": whole - attributed - unattributed if prof_rows else None,
            "isolated_sum_ms": iso_sum or None, "isolated_remainder_ms": whole - iso_sum if iso_sum else None,
            "tiny_step_ms": tiny, "fixed_ms": fixed, "per_image_ms": per_image,
            "fixed_share_pct": 100 * fixed / whole if fixed is not None and whole else None,
            "host_return_ms": host, "host_share_pct": 100 * host / whole if whole else None,
            "page_faults_per_step": sum(faults) / len(faults) if faults else None,
            "peak_gflops": (rec.get("gemm_flops_per_s") or 0) / 1e9 or None, "clock": prof.get("clock"),
            "traces": ";".join(prof.get("traces") or []), "profiler": prof.get("unsupported") or "ok",
            "tiny_batch": tiny_batch,
            "versions": ";".join(f"{k}={v}" for k, v in sorted((rec.get("versions") or {}).items())) or None,
            "fingerprint": rec.get("fingerprint") or UNKNOWN})


def top_ops(rec: dict[str, Any], k: int = 8) -> list[dict[str, Any]]:
    """profile_ops.csv (:data:`OPS_COLUMNS`): the ops (kernels) the profiler spent most time in, ms per step."""
    prof = rec.get("profile") or {}
    if not prof.get("ops"):
        return []
    whole = _median_ms(rec["samples_ns"])
    merged = _per_step(prof, lambda op: (op["name"], op["scope"] or UNATTRIBUTED, op["pass_"]))
    ranked = sorted(merged.items(), key=lambda kv: -kv[1][0])[:k]
    return [{**_ident(rec), "op": name, "scope": scope, "pass": pass_, "ms": ms, "calls_per_step": calls,
             "share_pct": 100 * ms / whole if whole else None} for (name, scope, pass_), (ms, calls) in ranked]


def top_layers(rows: Sequence[dict[str, Any]], source: str = "profiler", k: int = 3) -> list[tuple[str, float, float]]:
    """(scope, ms, share %) of the ``k`` scopes with the most time, passes summed."""
    per: dict[str, list[float]] = {}
    for r in rows:
        if r["source"] == source and r["scope"] != UNATTRIBUTED:
            entry = per.setdefault(r["scope"], [0.0, 0.0])
            entry[0] += r["ms"]
            entry[1] += r["share_pct"] or 0.0
    return [(s, v[0], v[1]) for s, v in sorted(per.items(), key=lambda kv: -kv[1][0])[:k]]
