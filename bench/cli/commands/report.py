"""``bench report [DIR]``: re-render every table, CSV and plot a run folder's records support."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from bench.cli import common, options
from bench.core import storage
from bench.output import render, report


def add_parser(sub: Any) -> None:
    p = sub.add_parser("report", help="re-render tables, CSVs and plots of a stored run")
    p.add_argument("dir", nargs="?", help="run folder, or a bench ab folder [default: reports/latest]")
    options.finish(p, main)


def main(args: argparse.Namespace) -> int:
    console = common.make_console()
    target = Path(args.dir) if args.dir else storage.latest()
    if (target / "ab.json").exists():  # a bench ab folder: its two halves and the gate
        return _report_ab(target, console)
    run_dir = storage.resolve_existing(args.dir)
    recs = storage.read_records(run_dir)
    if any(r.get("kind") in ("parity", "trajectory") for r in recs):
        from bench.cli.commands.parity import report_parity

        env_path = run_dir / storage.ENV
        verdict = (storage.read_json(env_path) if env_path.exists() else {}).get("parity", {})
        return report_parity(run_dir, verdict.get("target", 99.0), verdict.get("max_gap", 0.3),
                             verdict.get("seeds", 1), console)
    if any(r.get("kind") == "profile" for r in recs):
        from bench.cli.commands.profile import report as report_profile

        return 0 if report_profile(run_dir, console) else 1
    rows = report.finalize(run_dir, title=f"bench report {run_dir.name}")
    if rows:
        render.run_table(rows, console, title=f"Stored results: {run_dir}")
    console.print(f"Re-rendered summary.csv, samples.csv, summary.md and step_times.png in {run_dir}")
    common.report_comparisons(run_dir, console)
    return 0


def _report_ab(ab_dir: Path, console: Any) -> int:
    from bench.analysis import gate
    from bench.output import gate_report, series

    for side in ("base", "candidate"):
        report.finalize(ab_dir / side, title=f"bench ab {side}")
    base, cand = series.load([str(ab_dir / "base")], "base"), series.load([str(ab_dir / "candidate")], "candidate")
    diffs = gate.provenance_differences(base.provenance, cand.provenance)
    result = gate.check(base.series, cand.series)
    caveat = series.apart(base, cand)
    notes = [line for side, what in ((base, "base"), (cand, "candidate")) if (line := series.measured_with(side, what))]
    gate_report.table(result, console, diffs, title=f"bench ab {ab_dir.name} (default gate settings)",
                      caveat=caveat, notes=notes)
    gate_report.write(result, ab_dir, diffs, caveat)
    storage.atomic_write(ab_dir / "gate.md", gate_report.markdown(result, diffs, (base.commits, cand.commits),
                                                                  caveat=caveat, notes=notes))
    console.print(f"Re-rendered base/, candidate/ and gate.csv, gate.json, gate.md in {ab_dir}")
    return result.exit_code
