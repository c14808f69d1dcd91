"""``bench report [DIR] [--html]``: re-render every table, CSV and plot a run folder's records support,
and with ``--html`` its report.html (one self-contained page)."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from bench.cli import options, progress
from bench.core import storage
from bench.output import html_pages, report
from bench.output.tables import runs


def add_parser(sub: Any) -> None:
    p = sub.add_parser("report", help="re-render tables, CSVs and plots of a stored run")
    p.add_argument("dir", nargs="?", help="run folder, or a bench ab folder [default: reports/latest]")
    p.add_argument("--html", action="store_true", help="also write report.html: verdicts, interactive plots, every "
                   "table and the provenance in one file that opens offline")
    p.add_argument("--wide", action="store_true", help="every column of every table, and every LRN layer variant")
    options.finish(p, main)


def main(args: argparse.Namespace) -> int:
    console = progress.make_console()
    target = Path(args.dir) if args.dir else storage.latest()
    if (target / "ab.json").exists():  # a bench ab folder: its two halves and the gate
        return _report_ab(target, console, args.html)
    run_dir = storage.resolve_existing(args.dir)
    folder = report.read(run_dir)
    if any(r.get("kind") in ("parity", "trajectory") for r in folder.records):
        from bench.cli.commands.parity import report_parity

        verdict = folder.env.get("parity", {})
        return report_parity(run_dir, verdict.get("target", 99.0), verdict.get("max_gap", 0.3),
                             verdict.get("seeds", 1), console, html=args.html)
    if any(r.get("kind") == "profile" for r in folder.records):
        from bench.cli.commands.profile import report as report_profile

        return 0 if report_profile(run_dir, console, html=args.html) else 1
    title = f"bench report {run_dir.name}"
    report.write_files(folder, title)
    report.print_answer(folder, console)
    if folder.rows.summary:
        runs.run_table(folder.rows.summary, console, title=f"Stored results: {run_dir}", wide=args.wide)
    console.print(f"Re-rendered summary.csv, samples.csv, summary.md and step_times.png in {run_dir}")
    report.print_comparisons(folder, console, wide=args.wide)
    if args.html:
        console.print(f"Report: {html_pages.write(html_pages.run_page(folder, title), run_dir)}")
    return 0


def _report_ab(ab_dir: Path, console: Any, html: bool) -> int:
    from bench.analysis import gate
    from bench.output import answer_verdicts, gate_report
    from bench.store import series

    folders = [report.finalize(ab_dir / side, title=f"bench ab {side}") for side in ("base", "candidate")]
    base, cand = series.load([str(ab_dir / "base")], "base"), series.load([str(ab_dir / "candidate")], "candidate")
    diffs = gate.provenance_differences(base.provenance, cand.provenance)
    result = gate.check(base.series, cand.series)
    caveat = series.apart(base, cand)
    notes = [line for side, what in ((base, "base"), (cand, "candidate")) if (line := series.measured_with(side, what))]
    title = f"bench ab {ab_dir.name} (default gate settings)"
    answer_verdicts.show(answer_verdicts.gate_lines(result, ab_dir if html else None), console)
    gate_report.table(result, console, diffs, title=title, caveat=caveat, notes=notes)
    gate_report.write(result, ab_dir, diffs, caveat)
    storage.atomic_write(ab_dir / "gate.md", gate_report.markdown(result, diffs, (base.commits, cand.commits),
                                                                  caveat=caveat, notes=notes))
    console.print(f"Re-rendered base/, candidate/ and gate.csv, gate.json, gate.md in {ab_dir}")
    if html:
        page = html_pages.gate_page(result, gate_report.overall(result), ab_dir, folders, diffs, title)
        console.print(f"Report: {html_pages.write(page, ab_dir)}")
    return result.exit_code
