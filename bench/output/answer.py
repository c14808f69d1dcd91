"""The answer a run folder gives, in a few plain lines, before any table: what LRN costs per framework
and mode against the book's 3x, the fastest framework per config and the others as ratios with their
intervals, in one line what is less precise than asked and why, and where the report is. The terminal
prints these lines first and report.html opens with the very same lines: both call :func:`answer_lines`
on the rows the tables are made of (:class:`bench.analysis.run_rows.RunRows`), so the answer can never
disagree with a table. Pure: rows in, lines out (no markup: the HTML escapes them as text)."""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from bench.analysis.comparisons import BOOK_SLOWDOWN
from bench.analysis.run_rows import RunRows

MAX_LINES = 12  # the most a reader takes in before the tables; longer sweeps point to the tables
WIDTH = 120  # issue 32: no line of an answer block wider than this (the report's path aside)
_ABOUT = re.compile(r"; about (\d+) would reach it$")


def num(x: Any, spec: str = ".2f") -> str:
    """``x`` formatted with ``spec``; "-" for None, NaN and infinity (a figure no run gave)."""
    return "-" if x is None or (isinstance(x, float) and not math.isfinite(x)) else format(x, spec)


def cap(body: list[str], tail: list[str]) -> list[str]:
    """At most ``MAX_LINES`` lines: a longer body ends with where the rest is."""
    room = MAX_LINES - len(tail)
    if len(body) > room:
        body = body[: room - 1] + [f"  ... {len(body) - room + 1} more lines: the tables below"]
    return body + tail


def fit(line: str, width: int = WIDTH) -> list[str]:
    """``line`` as it fits ``width`` columns: broken after a ", " or "; " outside brackets (an interval stays
    whole), the rest indented under it."""
    out: list[str] = []
    while len(line) > width:
        depth, cut = 0, -1
        for i, ch in enumerate(line[:width - 1]):
            depth += (ch == "[") - (ch == "]")
            if depth == 0 and line[i:i + 2] in (", ", "; "):
                cut = i
        if cut <= 4:
            break
        out.append(line[:cut + 1])
        line = "    " + line[cut + 2:]
    return out + [line]


def _config(mode: str, batch: int, lrn: bool | None, batches: int) -> str:
    """A config's short name: the batch only when the run holds several."""
    parts = [mode] + ([f"b{batch}"] if batches > 1 else []) + ([] if lrn is None else [f"LRN {'on' if lrn else 'off'}"])
    return ", ".join(parts)


def lrn_lines(lrn: Sequence[dict[str, Any]]) -> list[str]:
    """One line per mode (and batch): each framework's slowdown with its interval, then the verdict
    against the book's 3x, once when every framework gets the same one."""
    batches = len({r["batch_size"] for r in lrn})
    by: dict[tuple[str, int], list[dict[str, Any]]] = {}
    for r in lrn:
        by.setdefault((r["mode"], r["batch_size"]), []).append(r)
    out = [f"What LRN costs (time with LRN / without, one worker each; the book says {BOOK_SLOWDOWN:g}x):"]
    for (mode, batch), rows in sorted(by.items(), key=lambda kv: (kv[0][0] != "train", kv[0])):
        words = [str(r["vs_book"]).split(": ", 1)[-1] for r in rows]
        same = len(set(words)) == 1
        cells = [f"{r['framework']} {r['slowdown']:.2f}x [{num(r['ci_low'])}, {num(r['ci_high'])}]"
                 + ("" if same else f" {w}") for r, w in zip(rows, words, strict=True)]
        tail = "" if not same else (": none is 3x" if words[0] == "not 3x" and len(rows) > 1 else f": {words[0]}")
        out += fit(f"  {_config(mode, batch, None, batches)}: " + ", ".join(cells) + tail)
    return out


def framework_lines(frameworks: Sequence[dict[str, Any]]) -> list[str]:
    """One line per config: the fastest framework, then the others as time ratios to it with intervals
    (and "not separable" where the interval cannot tell them apart)."""
    batches = len({r["batch_size"] for r in frameworks})
    by: dict[tuple[str, int, bool], list[dict[str, Any]]] = {}
    for r in frameworks:
        by.setdefault((r["mode"], r["batch_size"], bool(r["lrn"])), []).append(r)
    out = ["Fastest framework per config (the others: their time / the fastest's):"]
    for (mode, batch, lrn), rows in sorted(by.items(), key=lambda kv: (kv[0][0] != "train", kv[0])):
        fastest = rows[0]["fastest"]
        others = sorted((r for r in rows if r["framework"] != fastest and r["ratio"] is not None),
                        key=lambda r: r["ratio"])
        cells = [f"{r['framework']} {r['ratio']:.2f}x [{num(r['ratio_ci_low'])}, {num(r['ratio_ci_high'])}]"
                 + (" (not separable)" if r["verdict"].startswith("not separable") else "") for r in others]
        cells += [f"{r['framework']} not equivalent (no time)" for r in rows if r["ratio"] is None]  # refused
        head = f"{fastest} fastest" if fastest else "no time"
        out += fit(f"  {_config(mode, batch, lrn, batches)}: {head}" + ("; " if cells else "") + ", ".join(cells))
    return out


def time_lines(rows: RunRows) -> list[str]:
    """Without comparison rows (``bench run``): per config the fastest framework's median with its
    interval and the others' medians as ratios to it (from the summary rows the run table shows)."""
    ok = [r for r in rows.summary if r.status == "ok" and r.median_ms is not None]
    batches = len({r.batch_size for r in ok})
    by: dict[tuple[str, int, bool], list[Any]] = {}
    for r in ok:
        by.setdefault((r.mode, r.batch_size, r.lrn), []).append(r)
    out = ["Time per step, median over worker processes [95% CI]:"]
    for (mode, batch, lrn), rs in sorted(by.items(), key=lambda kv: (kv[0][0] != "train", kv[0])):
        rs = sorted(rs, key=lambda r: r.median_ms)
        best = rs[0]
        head = (f"{best.framework} {best.median_ms:.1f} ms [{num(best.median_ci_low_ms, '.1f')}, "
                f"{num(best.median_ci_high_ms, '.1f')}]")
        rest = [f"{r.framework} {r.median_ms / best.median_ms:.2f}x" for r in rs[1:]]
        out += fit(f"  {_config(mode, batch, lrn, batches)}: " + (f"{head} fastest; " if rest else head)
                   + ", ".join(rest))
    return out


def _span(values: Sequence[float]) -> str:
    lo, hi = min(values), max(values)
    return f"±{lo:.1f}%" if f"{lo:.1f}" == f"{hi:.1f}" else f"±{lo:.1f}-{hi:.1f}%"


def precision_lines(rows: RunRows) -> list[str]:
    """Which ratios are wider than the target asked and how wide, then why (the most common
    ``wide_reason`` they carry, with the range of groups that would reach the target); none when every
    ratio is within it."""
    parts, reasons, need = [], [], []
    target = None
    for what, rs in (("framework ratios", [r for r in rows.frameworks if r["framework"] != r["fastest"]]),
                     ("LRN slowdowns", rows.lrn)):
        wide = [r for r in rs if r.get("wide_reason")]
        if not wide:
            continue
        parts.append(f"{len(wide)}/{len(rs)} {what} {_span([float(r['half_width_pct']) for r in wide])}")
        for r in wide:
            text = str(r["wide_reason"])
            head, _, why = text.partition(": ")
            target = target or head.rpartition("±")[2]
            if m := _ABOUT.search(why):
                need.append(int(m.group(1)))
                why = why[: m.start()]
            reasons.append(why)
    if not parts:
        return []
    why = max(set(reasons), key=reasons.count)
    more = f"; {min(need)}-{max(need)} groups would reach it" if need and min(need) != max(need) else (
        f"; {need[0]} groups would reach it" if need else "")
    return [f"Wider than the ±{target} asked: " + ", ".join(parts) + ":", f"  {why}{more}"]


def summary_precision_lines(rows: RunRows) -> list[str]:
    """``bench run``: the configs whose median interval is wider than the target the run asked for."""
    wide = [r for r in rows.summary if r.target_ci_pct and r.ci_half_width_pct
            and r.ci_half_width_pct > r.target_ci_pct]
    if not wide:
        return []
    between = sum(1 for r in wide if (r.between_process_pct or 0) > (r.within_process_pct or 0))
    return [f"Wider than the ±{wide[0].target_ci_pct:g}% asked: {len(wide)}/{len(rows.summary)} configs "
            f"{_span([float(r.ci_half_width_pct or 0) for r in wide])} ({between} by process spread: more "
            "processes, --max-rounds, narrow it)"]


def answer_lines(rows: RunRows, run_dir: Path | str | None = None) -> list[str]:
    """The answer block: at most ``MAX_LINES`` lines (a longer sweep's lines end with where the rest
    is), plain text, the same for the terminal and report.html."""
    body: list[str] = []
    if rows.lrn:
        body += lrn_lines(rows.lrn)
    if rows.frameworks:
        body += framework_lines(rows.frameworks)
    if not body and rows.summary:
        body += time_lines(rows)
    if not body:
        return []
    tail = (precision_lines(rows) if (rows.lrn or rows.frameworks) else summary_precision_lines(rows)) + (
        [f"Report: {Path(run_dir) / 'report.html'} (every column: the CSVs beside it, or --wide)"] if run_dir else [])
    return cap(body, tail)
