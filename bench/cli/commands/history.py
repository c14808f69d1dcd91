"""``bench history append RUN_DIR... --store DIR`` and ``bench history report --store DIR``: the
performance history CI keeps on the main branch (JSON lines keyed by commit and machine), its trend
per benchmark as CSV and one PNG per framework, and the step changes flagged at their commit."""

from __future__ import annotations

import argparse
import subprocess
from pathlib import Path
from typing import Any

from bench.analysis import changepoints
from bench.analysis.intervals import TwoLevel
from bench.cli import options, progress
from bench.core import records, storage
from bench.core.errors import UsageError
from bench.output import export, html_history, html_pages, plots
from bench.output.tables import trends
from bench.store import history_store, series


def add_parser(sub: Any) -> None:
    p = sub.add_parser("history", help="the performance history: append results by commit, report trends and "
                                       "step changes")
    inner = p.add_subparsers(dest="action", required=True, parser_class=options.Parser)
    a = inner.add_parser("append", help="add run folders (or pytest-benchmark saves) to the store")
    a.add_argument("paths", nargs="+", metavar="RUN_DIR", help="run folder(s), e.g. reports/latest, or the "
                   "candidate/ half of a bench ab job, or pytest-benchmark JSON saves")
    a.add_argument("--store", default=history_store.STORE, help=f"the store folder [default: {history_store.STORE}]")
    a.add_argument("--commit", help="the commit measured [default: the one recorded in the run (env.json)]")
    a.add_argument("--machine", help="name the machine instead of its host name (e.g. on CI runners whose host "
                                     "names change every job); the CPU or GPU model is always part of the id")
    options.finish(a, append)
    r = inner.add_parser("report", help="trend per benchmark and machine, step changes by commit, CSV and PNG")
    r.add_argument("--store", default=history_store.STORE, help=f"the store folder [default: {history_store.STORE}]")
    r.add_argument("--out", help="folder for history.csv, changes.csv and the PNGs [default: reports/<time>-history]")
    r.add_argument("--machine", help="only this machine id (the store's file names)")
    r.add_argument("--min-size", type=options.positive, default=changepoints.MIN_SIZE,
                   help=f"points on each side of a change [default: {changepoints.MIN_SIZE}]")
    r.add_argument("--noise-floor", type=options.percent, default=changepoints.SHIFT_FLOOR, metavar="PCT",
                   help=f"smaller level shifts are not called changes [default: {100 * changepoints.SHIFT_FLOOR:g}]")
    r.add_argument("--export", nargs=2, action="append", metavar=("FORMAT", "FILE"),
                   help="the newest point of every benchmark for a dashboard: github or bencher; repeatable")
    r.add_argument("--html", action="store_true", help="also write report.html: each benchmark's trend with its "
                   "interval band and the step changes marked, one file that opens offline")
    r.add_argument("--commit-url", metavar="TEMPLATE", type=commit_url,
                   help="with --html: link each change to its commit, e.g. "
                        "https://github.com/OWNER/REPO/commit/{commit} [default: plain hashes]")
    options.finish(r, report)


def commit_url(value: str) -> str:
    """--commit-url: a URL template holding ``{commit}`` and nothing else in braces."""
    try:
        probe = value.format(commit="0" * 40)
    except (KeyError, IndexError, ValueError):
        probe = ""
    if "{commit}" not in value or not probe.startswith(("http://", "https://")):
        raise argparse.ArgumentTypeError(f"expected an http(s) URL with {{commit}} in it, e.g. "
                                         f"https://github.com/OWNER/REPO/commit/{{commit}}; received {value!r}")
    return value


def _commit_time(commit: str, fallback: str) -> str:
    """The committer date of ``commit`` from git when this checkout has it, else ``fallback``."""
    try:
        out = subprocess.run(["git", "show", "-s", "--format=%cI", commit, "--"], capture_output=True, text=True,
                             timeout=10, check=True, cwd=Path(__file__).resolve().parent)
        return out.stdout.strip() or fallback
    except (OSError, subprocess.SubprocessError):
        return fallback


def entries_of(path: str, commit: str | None, machine: str | None = None) -> list[changepoints.Entry]:
    side = series.load([path], "path")
    sha = commit or (side.commits[0] if side.commits else None)
    if not sha:
        raise UsageError(f"{path}: no commit recorded (env.json has no git commit); pass --commit SHA")
    utc = records.utc_now()
    when = _commit_time(sha, utc)
    out = []
    for s in side.series:
        groups = list(s.groups.values())
        tl = TwoLevel.of(groups)
        out.append(changepoints.Entry(series.machine(side, s, machine), sha, when, utc, s.label,
                                 dict(s.key), tl.estimate, tl.ci_low, tl.ci_high, tl.processes,
                                 [TwoLevel.of([g]).estimate for g in groups], path, stamp=s.stamp))
    return out


def append(args: argparse.Namespace) -> int:
    entries = [e for path in args.paths for e in entries_of(path, args.commit, args.machine)]
    store = history_store.append(Path(args.store), entries)
    machines = sorted({e.machine for e in entries})
    print(f"appended {len(entries)} benchmark(s) at {entries[0].commit[:10]} to {store} ({', '.join(machines)})")
    return 0


def report(args: argparse.Namespace) -> int:
    exports = options.parse_exports(args.export)
    if args.commit_url and not args.html:
        raise UsageError("--commit-url links the commits of report.html: add --html")
    entries = history_store.read(Path(args.store))
    if args.machine:
        known = sorted({e.machine for e in entries})
        if args.machine not in known:
            raise UsageError(f"--machine {args.machine!r} is not in {args.store}; known: {', '.join(known) or 'none'}")
        entries = [e for e in entries if e.machine == args.machine]
    if not entries:
        raise UsageError(f"the history store {args.store} holds no entries yet")
    ts = changepoints.trends(entries, min_size=args.min_size, noise_floor=args.noise_floor)
    out_dir = storage.create_run_dir(args.out, prefix="history")
    storage.write_rows(out_dir / "history.csv", changepoints.rows(ts), columns=changepoints.columns(ts))
    changes = changepoints.change_rows(ts)
    storage.write_rows(out_dir / "changes.csv", changes, columns=changepoints.CHANGE_COLUMNS)
    pngs = plots.history_plots(ts, out_dir)
    console = progress.make_console()
    trends.history_table(ts, console)
    for kind, path in exports:
        points = [export.Point(t.label, t.machine, t.entries[-1].estimate_ms, tuple(t.entries[-1].process_ms),
                               f"commit {t.entries[-1].commit[:10]}") for t in ts]
        for written in export.write(kind, Path(path), points):
            console.print(f"exported {kind}: {written}")
    if args.html:
        page = html_history.history_page(ts, args.commit_url, "bench history", args.store)
        html_pages.write(page, out_dir)
    console.print(f"Files: {out_dir}/history.csv, changes.csv, " + ", ".join(p.name for p in pngs)
                  + (", report.html" if args.html else ""))
    return 0
