"""``bench report [DIR]``: re-render every table, CSV and plot a run folder's records support."""

from __future__ import annotations

import argparse
from typing import Any

from bench import render, report, storage
from bench.commands import common, options


def add_parser(sub: Any) -> None:
    p = sub.add_parser("report", help="re-render tables, CSVs and plots of a stored run")
    p.add_argument("dir", nargs="?", help="run folder [default: reports/latest]")
    options.finish(p, main)


def main(args: argparse.Namespace) -> int:
    run_dir = storage.resolve_existing(args.dir)
    console = common.make_console()
    recs = storage.read_records(run_dir)
    if any(r.get("kind") in ("parity", "trajectory") for r in recs):
        from bench.commands.parity import report_parity

        env_path = run_dir / storage.ENV
        verdict = (storage.read_json(env_path) if env_path.exists() else {}).get("parity", {})
        return report_parity(run_dir, verdict.get("target", 99.0), verdict.get("max_gap", 0.3),
                             verdict.get("seeds", 1), console)
    if any(r.get("kind") == "profile" for r in recs):
        from bench.commands.profile import report as report_profile

        return 0 if report_profile(run_dir, console) else 1
    rows = report.finalize(run_dir, title=f"bench report {run_dir.name}")
    if rows:
        render.run_table(rows, console, title=f"Stored results: {run_dir}")
    console.print(f"Re-rendered summary.csv, samples.csv, summary.md and step_times.png in {run_dir}")
    common.report_comparisons(run_dir, console)
    return 0
