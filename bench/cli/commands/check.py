"""``bench check --baseline PATH --candidate PATH``: the regression gate on stored results (bench run
folders, the halves of a ``bench ab`` job, or pytest-benchmark saves). Exit 1 on a regression, 0
otherwise, 2 on bad input."""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from bench.analysis import gate
from bench.cli import options, progress
from bench.core import storage
from bench.core.errors import UsageError
from bench.output import answer_verdicts, export, gate_report, html_pages
from bench.output.report import Folder
from bench.store import series


def add_parser(sub: Any) -> None:
    p = sub.add_parser("check", help="the regression gate: candidate vs baseline results, exit 1 on a regression")
    p.add_argument("--baseline", nargs="+", required=True, metavar="PATH",
                   help="run folder(s), or pytest-benchmark JSON save(s) or folders of them (each file is one "
                        "process: several per side give the two-level interval)")
    p.add_argument("--candidate", nargs="+", required=True, metavar="PATH", help="the same, for the candidate")
    p.add_argument("--out", help="also write gate.csv, gate.json, gate.md and report.html into this folder")
    options.add_gate(p)
    options.finish(p, main)


def validate(args: argparse.Namespace) -> None:
    """The gate's options, checked before anything is read or measured."""
    options.parse_exports(args.export)
    gate.Settings(args.alpha, args.noise_floor, args.detect)


def run_gate(args: argparse.Namespace, base: series.GateSide, cand: series.GateSide, out_dir: Path | None,
             console: Any, title: str = "bench check: candidate vs baseline",
             sides: Sequence[Folder] = (), answer: bool = False) -> gate.GateResult:
    """Compare, print, and write every requested output (with ``out_dir``: gate.csv, gate.json, gate.md
    and report.html, which shows each of ``sides``' step times too); the gate's result. ``answer``: the
    answer block first, before the table (``bench check``; ``bench ab`` prints its own above this output)."""
    exports = options.parse_exports(args.export)
    s = gate.Settings(args.alpha, args.noise_floor, args.detect)
    diffs = gate.provenance_differences(base.provenance, cand.provenance)
    if args.strict and diffs:
        shown = "; ".join(f"{n}: {a!r} vs {b!r}" for n, a, b in diffs[:4])
        raise UsageError(f"--strict: the sides' provenance differs in {len(diffs)} field(s): {shown}")
    caveat = series.apart(base, cand)
    if args.strict and caveat:
        raise UsageError(f"--strict: {caveat}")
    notes = [line for side, what in ((base, "baseline"), (cand, "candidate"))
             if (line := series.measured_with(side, what))]
    result = gate.check(base.series, cand.series, s)
    if answer:  # the same lines report.html opens with, its path where it is written
        answer_verdicts.show(answer_verdicts.gate_lines(result, out_dir), console)
    gate_report.table(result, console, diffs, title=title, caveat=caveat, notes=notes)
    markdown = [Path(args.markdown)] if args.markdown else []
    if out_dir is not None:
        gate_report.write(result, out_dir, diffs, caveat)
        markdown.append(out_dir / "gate.md")
        html_pages.write(html_pages.gate_page(result, gate_report.overall(result), out_dir, sides, diffs, title),
                         out_dir)
    for md in markdown:
        storage.atomic_write(md, gate_report.markdown(result, diffs, (base.commits, cand.commits), title, caveat,
                                                      notes))
    for kind, path in exports:
        for written in export.write(kind, Path(path), gate_report.points(cand, result)):
            console.print(f"exported {kind}: {written}")
    return result


def main(args: argparse.Namespace) -> int:
    validate(args)
    base, cand = series.load(args.baseline, "baseline"), series.load(args.candidate, "candidate")
    out_dir = storage.create_run_dir(args.out, prefix="check") if args.out else None
    return run_gate(args, base, cand, out_dir, progress.make_console(), answer=True).exit_code
