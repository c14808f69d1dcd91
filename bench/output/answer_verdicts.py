"""The answer block of ``bench ab`` (the gate), ``bench profile`` and ``bench parity``: a few plain lines
printed before any table, and the very lines report.html opens with (as :mod:`bench.output.answer` does
for run and compare). Each renderer reads the rows its command's tables are made of (the gate's
:class:`~bench.analysis.gate.GateResult`, the profile's layer and summary rows, the parity pairs) and
only words them: every figure is a cell of a table below or a sum of them, never a second computation.
Pure: rows in, lines out (no markup), except :func:`show`, which prints lines it is given. Every line
but the last ("Report: PATH") fits ``WIDTH`` columns."""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from bench.analysis import attribution, sanity
from bench.analysis.gate import GateResult, GateRow
from bench.output.answer import WIDTH, cap, num

GATE_ORDER = ("regression", "inconclusive", "improvement", "no change")  # the gate's verdict: the first present
REPORT = "report.html"


def _fit(line: str) -> str:
    """``line``, cut to ``WIDTH`` columns with an ellipsis when longer (a worker's error text, a long name)."""
    return line if len(line) <= WIDTH else line[: WIDTH - 3] + "..."


def _report(run_dir: Path | str | None) -> list[str]:
    return [f"Report: {Path(run_dir) / REPORT}"] if run_dir is not None else []


def _cap(body: list[str], tail: list[str]) -> list[str]:
    """:func:`bench.output.answer.cap`, every line of ``body`` cut to ``WIDTH``."""
    return cap([_fit(line) for line in body], tail)


# --- bench ab / bench check --out: the gate ---------------------------------------------------------------


def unit_name(r: GateRow) -> str:
    """What the gate row's interval is over: lockstep pairs (bench ab) or processes."""
    return "pairs" if r.method.startswith("t over lockstep") else "procs"


def threshold(r: GateRow, result: GateResult) -> str:
    """The bound the row's verdict was judged against (:func:`bench.analysis.gate._verdict`), with the
    end of its interval that decided it."""
    floor, detect = result.settings.noise_floor, result.settings.detect
    if r.units < 2 or not (math.isfinite(r.ci_low) and math.isfinite(r.ci_high)):
        return "one process on a side: no interval over units"
    if r.verdict == "regression":
        return f"low end > {1 + floor:.3f}, the {100 * floor:g}% floor"
    if r.verdict == "improvement":
        return f"high end < {1 / (1 + floor):.3f}, the {100 * floor:g}% floor"
    band = f"[{1 / (1 + detect):.3f}, {1 + detect:.3f}]"
    if r.verdict == "no change":
        return f"inside {band}: {100 * detect:g}% ruled out"
    return f"not inside {band}: {100 * detect:g}% not ruled out"


def gate_word(result: GateResult) -> str:
    """The gate's verdict in one word: regression when any row is one, else inconclusive when any row is,
    else improvement when any row is, else no change."""
    present = {r.verdict for r in result.rows}
    return next((v for v in GATE_ORDER if v in present), "no change")


def gate_lines(result: GateResult, run_dir: Path | str | None = None) -> list[str]:
    """The gate's answer: its verdict with the rows per verdict, the pairs and the interval's confidence;
    one line per row with its ratio, interval, units, verdict and the bound it was judged against; then
    where the report is."""
    if not result.rows:
        return []
    counts = ", ".join(f"{n} {v}" for v in GATE_ORDER if (n := sum(r.verdict == v for r in result.rows)))
    units = sorted({r.units for r in result.rows})
    unit = unit_name(result.rows[0]) if len({unit_name(r) for r in result.rows}) == 1 else "units"
    many = f"{units[0]}" if len(units) == 1 else f"{units[0]}-{units[-1]}"
    conf = 100 * (1 - result.settings.alpha / max(1, result.tested))
    rows = f"{len(result.rows)} row{'s' if len(result.rows) != 1 else ''}"
    body = [f"Gate verdict: {gate_word(result).upper()} ({counts}; {rows}, exit {result.exit_code}); "
            f"{many} {unit} per row",
            f"Candidate / baseline step time per row [{conf:.2f}% simultaneous CI], the verdict and the bound it was "
            "judged against:"]
    for r in result.rows:
        line = (f"  {r.label}: {r.ratio:.3f}x [{num(r.ci_low, '.3f')}, {num(r.ci_high, '.3f')}], "
                f"{r.units} {unit_name(r)}: {r.verdict}")
        why = f"({threshold(r, result)})"
        body += [f"{line} {why}"] if len(line) + 1 + len(why) <= WIDTH else [line, f"    {why}"]
    return _cap(body, _report(run_dir))


# --- bench profile -------------------------------------------------------------------------------------------


def peak_pct(rows: Sequence[dict[str, Any]], step_ms: float) -> float | None:
    """The step's arithmetic rate as % of the GEMM peak, from the profiler rows the table shows: each row's
    ``pct_of_peak`` is 100 x its FLOP/s / peak, so pct x ms summed over the rows, over the whole step's ms,
    is 100 x (the FLOPs of the scopes with a FLOP count) / step time / peak. None without a peak."""
    timed = [r for r in rows if r["source"] == "profiler" and r.get("pct_of_peak") is not None]
    if not timed or not step_ms or not math.isfinite(step_ms):
        return None
    return sum(float(r["pct_of_peak"]) * float(r["ms"]) for r in timed) / step_ms


def _config(s: dict[str, Any]) -> str:
    return f"{s['framework']} {s['mode']} b{s['batch_size']}{' LRN' if s['lrn'] else ''}"


def _scopes_line(start: str, tops: Sequence[tuple[str, float, float]], end: str) -> str:
    """``start`` + as many of the top scopes as fit ``WIDTH`` with ``end`` (at least one)."""
    for k in range(len(tops), 0, -1):
        line = start + ", ".join(f"{name} {share:.0f}%" for name, _, share in tops[:k]) + end
        if len(line) <= WIDTH or k == 1:
            return line
    return start + end.lstrip(";, ")


def profile_lines(summaries: Sequence[dict[str, Any]], layers: Sequence[Sequence[dict[str, Any]]],
                  failed: Sequence[dict[str, Any]] = (), run_dir: Path | str | None = None, top: int = 4) -> list[str]:
    """Per profiled config: the whole step's ms and where it goes (the ``top`` scopes by share of the step,
    the framework's profiler, passes summed: :func:`bench.analysis.attribution.top_layers`, as report.html's
    verdicts), what share of op time the attribution covers, the step's % of peak (:func:`peak_pct`);
    each self-check that failed, named; each worker that failed; then where the report is."""
    if not summaries and not failed:
        return []
    body = ["Where a step goes (share of the whole step by scope, passes summed; % of the GEMM peak of its worker):"]
    for s, rows in zip(summaries, layers, strict=True):
        start = f"  {_config(s)}: {s['step_ms']:.1f} ms/step: "
        if s.get("coverage_pct") is not None:
            tops = attribution.top_layers(rows, "profiler", top)
            ends = [f"; {s['coverage_pct']:.1f}% of op time attributed"]
        else:  # no profiler breakdown: each scope timed alone
            tops = attribution.top_layers(rows, "isolated", top)
            start += "no profiler breakdown; timed alone: " if tops else "no profiler breakdown"
            ends = []
        peak = peak_pct(rows, float(s["step_ms"]))
        if peak is not None:
            ends.append(f"; {peak:.0f}% of peak")
        body.append(_scopes_line(start, tops, "".join(ends)) if tops else start + "".join(ends))
        # each failed check named: its warning up to its figures' explanation (in full below the tables)
        for w in sanity.warning_list(s):
            body.append(f"  {_config(s)}: self-check failed: {w.split(': ')[0].split(' (')[0]}")
    body += [f"  {r['framework']}: {r.get('status')}: {r.get('error')}" for r in failed]
    return _cap(body, _report(run_dir))


# --- bench parity --------------------------------------------------------------------------------------------

RELATION = {"PASS": "inside", "FAIL": "beyond", "INCONCLUSIVE": "across"}


def parity_lines(outcome: str, summary: Sequence[dict[str, Any]], pairs: Sequence[dict[str, Any]],
                 run_dir: Path | str | None = None) -> list[str]:
    """The parity verdict, then per framework pair its verdict with the accuracy difference and its 90%
    interval (the equivalence test's) against the margin, and each framework that did not train; then
    where the report is."""
    margin = f"±{pairs[0]['margin_pp']:g} pp" if pairs else ""
    head = f"Accuracy parity: {outcome}" + (
        f" (final test accuracy a - b per pair, paired by seed, 90% CI against the {margin} margin):" if pairs else
        ":")
    body = [head]
    for p in pairs:
        seeds = f"{p['seeds']} seed{'s' if p['seeds'] != 1 else ''}"
        if p["seeds"] > 1 and math.isfinite(p["ci90_low_pp"]) and math.isfinite(p["ci90_high_pp"]):
            where = (f" [{p['ci90_low_pp']:+.2f}, {p['ci90_high_pp']:+.2f}] {RELATION[p['verdict']]} "
                     f"±{p['margin_pp']:g}, {seeds}")
        else:
            where = f", {seeds}: no interval"
        more = f"; about {p['seeds_needed']} seeds would settle it" if p.get("seeds_needed") else ""
        body.append(f"  {p['a']} - {p['b']}: {p['verdict']}: {p['diff_pp']:+.2f} pp{where}{more}")
    body += [f"  {s['framework']}: {s['status']}: {s.get('error') or 'no seed trained'}" for s in summary
             if s["status"] != "ok" or not s.get("seeds")]
    return _cap(body, _report(run_dir))


def trajectory_lines(rows: Sequence[dict[str, Any]], run_dir: Path | str | None = None) -> list[str]:
    """``bench parity --trajectory``: how far the loss curves drift apart, from the trajectory rows."""
    if not rows:
        return []
    worst = max(rows, key=lambda r: r["max_rel_diff"])
    return _cap([f"Loss trajectories (dropout off, same batches): largest relative difference "
                 f"{worst['max_rel_diff']:.3g} (step {worst['step']} of {len(rows)})"], _report(run_dir))


def show(lines: Sequence[str], console: Any) -> None:
    """Print an answer block: headings bold, unwrapped, escaped (no markup in them), then a blank line."""
    from rich.markup import escape

    for line in lines:
        console.print(escape(line), style=None if line.startswith(" ") else "bold", soft_wrap=True)
    if lines:
        console.print()
