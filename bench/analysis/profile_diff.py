"""Where a regression is: two sides' profiles, scope by scope and pass by pass. Pure: the profile
records of both sides in, ranked rows out (running them is :mod:`bench.execution.ab_profile`).

Each side was profiled in rounds that alternate with the other side's (base, candidate, candidate,
base, ...), so round r of one side and round r of the other ran close in time: the ratio of a scope is
taken within each round and its interval is a t over rounds (:func:`bench.analysis.intervals.log_ratio_paired`),
the same construction the gate uses for lockstep pairs. Rows come from
:func:`bench.analysis.attribution.layer_rows`, so each source (the framework's profiler, or each scope
timed alone) is diffed on its own and never added to the other. Ranked by the milliseconds a scope
added per step: the top row names the layer a slowdown lives in.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from bench.analysis import attribution
from bench.analysis.intervals import log_ratio_paired

IDENT = ("framework", "mode", "batch_size", "lrn", "compile", "lrn_impl", "device")
COLUMNS = (*IDENT, "source", "scope", "pass", "base_ms", "candidate_ms", "added_ms", "ratio", "ci_low", "ci_high",
           "rounds")
SOURCES = ("profiler", "isolated")  # the preferred one first, for the headline


def _by_round(recs: Sequence[dict[str, Any]]) -> dict[tuple[Any, ...], dict[int, dict[tuple[str, str, str], float]]]:
    """{config ident: {round: {(source, scope, pass): ms}}} of the records that finished."""
    out: dict[tuple[Any, ...], dict[int, dict[tuple[str, str, str], float]]] = {}
    for rec in recs:
        if rec.get("status") != "ok":
            continue
        rows = attribution.layer_rows(rec)
        if not rows:
            continue
        ident = tuple(rows[0][k] for k in IDENT)
        ms = {(r["source"], r["scope"], r["pass"]): float(r["ms"]) for r in rows}
        out.setdefault(ident, {})[int(rec.get("round", 0))] = ms
    return out


def _ratio(base: list[float], cand: list[float]) -> tuple[float, float, float]:
    """candidate / base with a 95% interval over rounds; nan where a round has no time on a side."""
    if not base or min(base + cand) <= 0 or not all(map(math.isfinite, base + cand)):
        return math.nan, math.nan, math.nan
    lr = log_ratio_paired([[x] for x in base], [[y] for y in cand])
    lo, hi = lr.interval() if len(base) > 1 else (math.nan, math.nan)
    return lr.ratio, lo, hi


def diff(base: Sequence[dict[str, Any]], candidate: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """profile_diff.csv: one row per (config, source, scope, pass) that both sides profiled in the same
    rounds, ranked by milliseconds added (most first)."""
    a, b = _by_round(base), _by_round(candidate)
    rows: list[dict[str, Any]] = []
    for ident in a.keys() & b.keys():
        rounds = sorted(a[ident].keys() & b[ident].keys())
        if not rounds:
            continue
        keys = [k for k in a[ident][rounds[0]] if all(k in a[ident][r] and k in b[ident][r] for r in rounds)]
        for source, scope, pass_ in keys:
            xs = [a[ident][r][(source, scope, pass_)] for r in rounds]
            ys = [b[ident][r][(source, scope, pass_)] for r in rounds]
            base_ms, cand_ms = float(np.mean(xs)), float(np.mean(ys))
            ratio, lo, hi = _ratio(xs, ys)
            rows.append({**dict(zip(IDENT, ident, strict=True)), "source": source, "scope": scope, "pass": pass_,
                         "base_ms": base_ms, "candidate_ms": cand_ms, "added_ms": cand_ms - base_ms, "ratio": ratio,
                         "ci_low": lo, "ci_high": hi, "rounds": len(rounds)})
    return sorted(rows, key=lambda r: -r["added_ms"])


def headline(rows: Sequence[dict[str, Any]]) -> str | None:
    """The top row in words ("conv3 backward +9.8 ms, 1.31x [1.22, 1.40]"), from the framework's profiler
    where there is one, else from the scopes timed alone; None without rows."""
    for source in SOURCES:
        ranked = [r for r in rows if r["source"] == source and r["scope"] != attribution.UNATTRIBUTED]
        if ranked:
            return describe(ranked[0])
    return None


def describe(row: dict[str, Any]) -> str:
    interval = (f" [{row['ci_low']:.2f}, {row['ci_high']:.2f}]" if math.isfinite(row["ci_low"]) else "")
    ratio = f", {row['ratio']:.2f}x{interval}" if math.isfinite(row["ratio"]) else ""
    where = f"{row['scope']} {row['pass']}".strip()
    return f"{where} {row['added_ms']:+.3g} ms{ratio} ({row['source']}, {row['framework']} {row['mode']})"
