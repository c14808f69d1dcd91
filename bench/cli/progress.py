"""Running a command's jobs under a progress bar: provenance first, the GEMM reference, the work, and
on Ctrl-C every finished record kept and the report still written (:mod:`bench.output.report`, which
also writes report.html)."""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Callable
from typing import Any

from bench.analysis import summary
from bench.cli.validation import Selection
from bench.core import provenance, storage
from bench.execution import gemm_reference
from bench.output import html_pages, lockstep_report, report
from bench.output.tables import runs
from bench.store import drift

Work = Callable[[Callable[[str], None], Callable[[], None], Callable[[str], None]], None]


def make_console() -> Any:
    from rich.console import Console

    console = Console()
    if not console.is_terminal and "COLUMNS" not in os.environ:
        console = Console(width=120)  # files and pipes (nox, CI logs): the width every default table fits
    return console


def with_progress(console: Any, total: int, work: Work, first: Callable[[Callable[[str], None]], None] | None = None,
                  refresh: Callable[[], object] | None = None) -> bool:
    """``work(show, after_each, say)`` under a progress bar of ``total`` jobs (``first``, if given, is one
    more step before them). Returns True when Ctrl-C stopped it: every finished record is on disk."""
    # What the reports need, imported before any work: a Ctrl-C landing inside a first import (the
    # refresh after each job imports these) leaves a half-initialised module that breaks the final
    # report, and the run would end in an internal error instead of keeping its results.
    import matplotlib.figure  # noqa: F401
    import pandas  # noqa: F401
    import scipy.stats  # noqa: F401
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    jobs = total + (1 if first else 0)
    log = None if console.is_terminal else JobLog(console, jobs)
    try:
        # Repainted only when a job starts or ends: on a 2-core machine a 10 Hz progress bar in the
        # parent steals measurable CPU from the worker being timed.
        with Progress(TextColumn("{task.description}"), BarColumn(), TimeElapsedColumn(), console=console,
                      transient=True, auto_refresh=False, disable=log is not None) as progress:
            task = progress.add_task("starting", total=jobs)

            def show(text: str) -> None:
                progress.update(task, description=text, refresh=True)
                if log is not None:
                    log.started(text)

            if first:
                first(show)
                progress.advance(task)
                if log is not None:
                    log.finished()

            def after_each() -> None:
                if refresh:
                    refresh()
                progress.update(task, advance=1, refresh=True)
                if log is not None:
                    log.finished()

            work(show, after_each, progress.console.print)
    except KeyboardInterrupt:
        return True
    return False


def execute_and_report(args: argparse.Namespace, sel: Selection, title: str, total: int, work: Work,
                       show_run_table: bool = True, across_invocations: bool = False) -> tuple[int, report.Folder]:
    """Provenance, the GEMM reference, then ``work(show, after_each, say)`` under a progress bar;
    Ctrl-C keeps every finished record and still writes the report (report.html too). Returns the exit
    code and the folder as read once for its report (a command prints more from the same rows).
    ``across_invocations``: also each row's interval with the drift seen across the earlier run
    folders beside this one (drift.csv and a table, :mod:`bench.store.drift`)."""
    console = make_console()
    run_dir = sel.run_dir
    environment = provenance.collect()
    environment.update({"argv": sys.argv, "device": sel.device, "data": sel.data_text})
    env_path = run_dir / storage.ENV
    storage.write_json(env_path if not env_path.exists() else run_dir / f"env-resumed-{environment['utc']}.json",
                       environment)
    if "synthetic" in sel.data_text:
        console.print(f"[bold yellow]Data: {sel.data_text}. Timing only; every row is marked synthetic.[/]")
    console.print(f"{total} jobs, one worker process each, on {sel.device}; results in [bold]{run_dir}[/]")

    def gemm(show: Callable[[str], None]) -> None:
        if not any(r.get("kind") == "gemm" and r.get("status") == "ok" for r in storage.read_records(run_dir)):
            show("GEMM reference for % of peak")
            gemm_reference.run_gemm(run_dir, sel.frameworks, sel.device, args.threads, args.timeout,
                           precision=sel.base.model.precision)

    interrupted = with_progress(console, total, work, first=gemm, refresh=lambda: report.refresh(run_dir))
    folder = report.finalize(run_dir, title)
    html_pages.write(html_pages.run_page(folder, title), run_dir)
    rows = folder.rows.summary
    storage.update_latest(run_dir)
    wide = bool(getattr(args, "wide", False))
    report.print_answer(folder, console)  # the answer first, from the rows every table below is made of
    if show_run_table:
        runs.run_table(rows, console, title=f"{title}: time per step ({sel.device})", wide=wide)
    if across_invocations:
        pairs = drift.across(run_dir, rows)
        drift.write(run_dir, pairs)
        runs.drift_table(pairs, console)
    lockstep_report.process_notes(folder.records, console)  # clusters, interference
    for line in summary.equivalence_lines(folder.records):  # a config refused, in one line; the checks' cost once
        console.print(line, style="bold red" if line.startswith("NOT EQUIVALENT") else None, markup=False)
    console.print(f"Files: {run_dir}/summary.csv, samples.csv, results.jsonl, env.json, summary.md, step_times.png, "
                  f"report.html{', ' + drift.DRIFT_CSV if across_invocations else ''}")
    if interrupted:
        console.print(f"[yellow]Interrupted: finished rows are kept; continue with --resume --out {run_dir}[/]")
        return 130, folder
    return (0 if all(r.status in ("ok", "skipped") for r in rows) else 1), folder


class JobLog:
    """Progress where no live display can be drawn (stderr a file or a pipe, as under CI and nox): one
    line per finished job, what it was, how long it took, the time elapsed and an estimate of the time
    left (the mean job so far times the jobs left)."""

    def __init__(self, console: Any, total: int) -> None:
        self.clock = time.monotonic
        self.console, self.total, self.done = console, total, 0
        self.start = self.job_start = self.clock()
        self.what = "starting"

    def started(self, what: str) -> None:
        self.what = what

    def finished(self) -> None:
        now = self.clock()
        self.done += 1
        elapsed = now - self.start
        left = max(self.total - self.done, 0)
        eta = (f"about {_clock(elapsed / self.done * left)} left" if left else
               "the last planned job" if self.done == self.total else "beyond the plan (added by the stop rule)")
        self.console.print(f"[{self.done}/{self.total}] {self.what}: {now - self.job_start:.0f} s; elapsed "
                           f"{_clock(elapsed)}, {eta}", highlight=False, soft_wrap=True)
        self.job_start = now


def _clock(seconds: float) -> str:
    m, s = divmod(round(seconds), 60)
    return f"{m}m{s:02d}s" if m else f"{s}s"
