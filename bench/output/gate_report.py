"""The gate's outputs: the rich table, a Markdown summary fit for a CI job page, gate.csv/gate.json,
and the dashboard exports of the candidate's figures. Reads a :class:`bench.analysis.gate.GateResult` only."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import fields
from pathlib import Path
from typing import Any

from rich import box
from rich.console import Console
from rich.markup import escape
from rich.measure import Measurement
from rich.padding import Padding
from rich.table import Table
from rich.text import Text

from bench.analysis.gate import GateResult, GateRow
from bench.analysis.intervals import TwoLevel
from bench.core import storage
from bench.output import export
from bench.output.answer import num
from bench.output.answer_verdicts import unit_name
from bench.store.series import GateSide, machine

COLOURS = {"regression": "bold red", "improvement": "green", "no change": "green", "inconclusive": "yellow"}
HEADERS = ("benchmark", "baseline ms", "candidate ms", "ratio [simultaneous CI]", "p (Holm)", "units", "detects",
           "verdict", "why")
# The terminal table's columns (issue 32: it fits 120 columns with the benchmark's name whole): p, detects and
# why are printed below it, one line per row (:func:`why_line`); gate.md and report.html keep every column.
TABLE_COLUMNS = (0, 1, 2, 3, 5, 7)
# each header on two lines, for a table that would not fit with them on one (the numbers never wrap)
TWO_LINE = {"baseline ms": "baseline\nms", "candidate ms": "candidate\nms",
            "ratio [simultaneous CI]": "ratio\n[simultaneous CI]"}


def cells(r: GateRow) -> list[str]:
    unit = unit_name(r)
    return [r.label, f"{r.baseline_ms:.2f}", f"{r.candidate_ms:.2f}",
            f"{r.ratio:.3f} [{num(r.ci_low, '.3f')}, {num(r.ci_high, '.3f')}]", num(r.p_adjusted, ".2g"),
            f"{r.units} {unit}", "-" if r.detectable_pct is None else f">= {r.detectable_pct:.1f}%", r.verdict,
            r.reason]


def why_line(r: GateRow) -> str:
    """What the terminal table leaves out of a row, whole: its verdict with the Holm-adjusted p and the
    smallest slowdown it would catch, and why (the "why" column of gate.md)."""
    c = cells(r)
    return f"{r.label}: {r.verdict} (p {c[4]}, detects {c[6]}): {r.reason}"


def _table(result: GateResult, title: str, headers: Sequence[str]) -> Table:
    t = Table(title=title, title_justify="left", box=box.SIMPLE_HEAD, pad_edge=False, collapse_padding=True)
    for h in headers:  # no column wraps: the name is whole, the numbers on one line; "[...]" is not markup
        t.add_column(escape(h), justify="left" if h in ("benchmark", "verdict") else "right", no_wrap=True)
    for r in result.rows:
        c = [escape(x) for x in cells(r)]  # names like test_step[fw-train] are not markup
        c[7] = f"[{COLOURS[r.verdict]}]{r.verdict}[/]"
        t.add_row(*(c[i] for i in TABLE_COLUMNS))
    return t


def _fitting(result: GateResult, console: Console, title: str) -> Table:
    """The gate's terminal table: its headers on one line where that fits the console, else on two; a name
    too long even then (over about 50 columns at 120) wraps, never cut: it is whole in the lines below."""
    headers = [HEADERS[i] for i in TABLE_COLUMNS]
    for heads in (headers, [TWO_LINE.get(h, h) for h in headers]):
        t = _table(result, title, heads)
        if Measurement.get(console, console.options.update_width(10_000), t).maximum <= console.width:
            return t
    t.columns[0].no_wrap, t.columns[0].overflow = False, "fold"
    return t


def overall(result: GateResult) -> str:
    verdicts = {r.verdict for r in result.rows}
    if "regression" in verdicts:
        return f"REGRESSION in {len(result.regressions)} of {len(result.rows)} rows"
    if "inconclusive" in verdicts:
        n = sum(r.verdict == "inconclusive" for r in result.rows)
        return (f"no regression found; {n} of {len(result.rows)} rows inconclusive (a slowdown of "
                f"{100 * result.settings.detect:g}% could not be ruled out there)")
    return f"no regression in {len(result.rows)} rows"


def settings_text(result: GateResult) -> str:
    s = result.settings
    m = max(1, result.tested)
    return (f"ratio = candidate / baseline of the median step time (two-level: each process's median); intervals "
            f"{100 * (1 - s.alpha / m):.2f}% simultaneous (Bonferroni over {m} rows), p-values "
            f"Holm-adjusted, family-wise alpha {s.alpha:g}; regression: significant and the interval's lower end "
            f"above 1 + the {100 * s.noise_floor:g}% noise floor; no change: a slowdown of {100 * s.detect:g}% or "
            f"more ruled out; detects: the smallest slowdown caught with 80% power.")


def table(result: GateResult, console: Console, differences: Sequence[tuple[str, Any, Any]] = (),
          title: str = "bench check: candidate vs baseline", caveat: str = "", notes: Sequence[str] = ()) -> None:
    """The gate's table; ``caveat`` (the sides not measured together) is printed above the verdict and
    repeated in it; ``notes`` are provenance lines (what each side was measured with)."""
    console.print(_fitting(result, console, title))
    if result.rows:
        console.print("why each row's verdict (p: Holm-adjusted; detects: the smallest slowdown caught with 80% "
                      "power):")
        for r in result.rows:  # a long line wraps indented, under its row's name
            console.print(Padding(Text(why_line(r)), (0, 0, 0, 2), expand=False))
    for what, labels in (("baseline", result.only_baseline), ("candidate", result.only_candidate)):
        if labels:
            console.print(f"[yellow]only in the {what} (not compared): {escape(', '.join(labels))}[/]")
    for name, a, b in differences:
        console.print(f"[yellow]provenance differs: {escape(f'{name}: baseline {a!r}, candidate {b!r}')}[/]")
    for note in notes:
        console.print(escape(note))
    if caveat:
        console.print(f"[bold yellow]caveat: {escape(caveat)}[/]")
    console.print(settings_text(result))
    colour = "bold red" if result.regressions else "bold green"
    console.print(f"[{colour}]Gate: {escape(verdict_line(result, caveat))}[/]")


def verdict_line(result: GateResult, caveat: str = "") -> str:
    """The overall verdict, qualified when the sides were not measured together."""
    return overall(result) + (f" (caveat: {caveat})" if caveat else "")


def markdown(result: GateResult, differences: Sequence[tuple[str, Any, Any]] = (),
             commits: tuple[Sequence[str], Sequence[str]] = ((), ()), subtitle: str = "", caveat: str = "",
             notes: Sequence[str] = ()) -> str:
    lines = [f"## Performance gate: {overall(result)}", ""] + ([subtitle, ""] if subtitle else [])
    if caveat:
        lines += [f"> **Caveat:** {caveat}.", ""]
    if any(commits):
        lines += [f"baseline {', '.join(c[:10] for c in commits[0]) or '?'} -> candidate "
                  f"{', '.join(c[:10] for c in commits[1]) or '?'}", ""]
    lines += ["| " + " | ".join(HEADERS) + " |", "|" + "---|" * len(HEADERS)]
    for r in result.rows:
        c = cells(r)
        if r.verdict == "regression":
            c[7] = f"**{c[7]}**"
        lines.append("| " + " | ".join(x.replace("|", "/") for x in c) + " |")
    lines.append("")
    for what, labels in (("baseline", result.only_baseline), ("candidate", result.only_candidate)):
        if labels:
            lines.append(f"- only in the {what}: {', '.join(labels)}")
    for name, a, b in differences:
        lines.append(f"- provenance differs: `{name}`: baseline `{a}`, candidate `{b}`")
    lines += [f"- {note}" for note in notes]
    lines += ["", settings_text(result), ""]
    return "\n".join(lines)


def gate_columns(rows: Sequence[GateRow]) -> tuple[str, ...]:
    """gate.csv's header, as :meth:`GateRow.to_dict` lays a row out: the key's fields, then the row's own."""
    own = (f.name for f in fields(GateRow) if f.name != "key")
    return tuple(dict.fromkeys((*(k for r in rows for k in r.key), *own)))


def write(result: GateResult, out_dir: Path, differences: Sequence[tuple[str, Any, Any]] = (),
          caveat: str = "") -> None:
    storage.write_rows(out_dir / "gate.csv", [r.to_dict() for r in result.rows], columns=gate_columns(result.rows))
    storage.write_json(out_dir / "gate.json", {
        "overall": overall(result), "caveat": caveat or None, "exit_code": result.exit_code,
        "settings": vars(result.settings),
        "rows": [r.to_dict() for r in result.rows], "only_baseline": result.only_baseline,
        "only_candidate": result.only_candidate,
        "provenance_differences": [{"field": n, "baseline": a, "candidate": b} for n, a, b in differences]})


def points(side: GateSide, result: GateResult | None = None) -> list[export.Point]:
    """The candidate's figures for the dashboards (its own two-level estimate and per-process estimates),
    named with its machine, with the gate's verdict."""
    verdicts = {r.label: r for r in result.rows} if result else {}
    out = []
    for s in side.series:
        groups = list(s.groups.values())
        row = verdicts.get(s.label)
        extra = f"{row.verdict}: {row.ratio:.3f}x baseline" if row else ""
        out.append(export.Point(s.label, machine(side, s), TwoLevel.of(groups).estimate,
                                tuple(TwoLevel.of([g]).estimate for g in groups), extra))
    return out
