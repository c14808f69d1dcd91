"""What the timing commands share: validating a selection before any worker starts, the progress
driver that keeps every finished record on Ctrl-C, and re-rendering a run folder's comparisons.

All validation happens before the first worker starts, so bad input costs nothing and gets one
line with exit code 2.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from bench.cli import options
from bench.core import data, provenance, storage
from bench.core.config import ModelConfig, RunConfig
from bench.core.errors import UsageError
from bench.execution import sweep
from bench.output import lockstep_report, render, report

Work = Callable[[Callable[[str], None], Callable[[], None], Callable[[str], None]], None]


def make_console() -> Any:
    from rich.console import Console

    console = Console()
    if not console.is_terminal and "COLUMNS" not in os.environ:
        console = Console(width=180)  # files and pipes: wide enough for every table
    return console


def resolve_device(device: str) -> str:
    if device == "auto":
        return "gpu" if provenance.has_gpu() else "cpu"
    if device == "gpu" and not provenance.has_gpu():
        raise UsageError("--device gpu: no GPU found (NVML sees none); use --device cpu or auto")
    return device


def resolve_data(kind: str, data_dir: str | None, no_download: bool, seed: int) -> tuple[str, str | None, str]:
    """Decide once, in the parent, what every worker loads: (kind, folder, description)."""
    if kind == "synthetic":
        return "synthetic", None, "synthetic MNIST-shaped data (requested)"
    ds = data.load(kind, data_dir, seed=seed, allow_download=not no_download)
    if ds.source == "synthetic":
        return "synthetic", None, "synthetic MNIST-shaped data (MNIST not found)"
    return "mnist", ds.location, f"MNIST from {ds.location} (verified)"


@dataclass(frozen=True)
class Selection:
    frameworks: list[str]
    device: str
    run_dir: Path
    base: RunConfig
    data_text: str


def prepare(args: argparse.Namespace, prefix: str, lrn_used: bool) -> Selection:
    """Everything validated before the first worker: frameworks, device, options that would not take
    effect, the folder, the base config, the data. Protocol options a command does not offer
    (``--target-ci``, ``--resume``, ...) take their defaults."""
    frameworks = options.parse_frameworks(args.frameworks)
    device = resolve_device(args.device)
    if not lrn_used:
        options.refuse(args, options.LRN_PARAM_DESTS, "without LRN (add --lrn on or --lrn both)")
    target_ci = getattr(args, "target_ci", None)
    if target_ci is None:
        options.refuse(args, ["max_steps"], "without --target-ci (it caps the adaptive sampling)")
    lrn = options.lrn_params(args)
    for fw in frameworks:  # LRN parameters against every backend that will run them (GPU kernel limits)
        ModelConfig(fw, lrn=True, device=device, **lrn)
    base = RunConfig(ModelConfig(frameworks[0], device=device, threads=args.threads, seed=args.seed,
                                 dropout=args.dropout, precision=getattr(args, "precision", "strict"), **lrn),
                     steps=args.steps, warmup=args.warmup, block_steps=getattr(args, "block_steps", 0),
                     include_transfer=getattr(args, "include_transfer", False), target_ci=target_ci,
                     max_steps=getattr(args, "max_steps", 0))
    kind, data_dir, data_text = resolve_data(args.data, args.data_dir, args.no_download, args.seed)
    resume = getattr(args, "resume", False)
    if resume and args.out is None:
        run_dir = storage.resolve_existing(None)
    else:  # last: a refused run leaves no empty folder behind
        run_dir = storage.create_run_dir(args.out, prefix=prefix, resume=resume)
    return Selection(frameworks, device, run_dir, replace(base, data=kind, data_dir=data_dir), data_text)


def max_rounds(args: argparse.Namespace, rounds: int, default: int) -> int:
    """--max-rounds: only with --target-ci (it is that rule's cap), and at least --rounds."""
    if args.target_ci is None:
        options.refuse(args, ["max_rounds"], "without --target-ci (it caps the processes that rule adds)")
        return rounds
    value = args.max_rounds if args.max_rounds is not None else max(default, rounds)
    if value < rounds:
        raise UsageError(f"--max-rounds {value} is below --rounds {rounds}; allowed: {rounds} or more")
    return int(value)


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

    try:
        # Repainted only when a job starts or ends: on a 2-core machine a 10 Hz progress bar in the
        # parent steals measurable CPU from the worker being timed.
        with Progress(TextColumn("{task.description}"), BarColumn(), TimeElapsedColumn(), console=console,
                      transient=True, auto_refresh=False) as progress:
            task = progress.add_task("starting", total=total + (1 if first else 0))

            def show(text: str) -> None:
                progress.update(task, description=text, refresh=True)

            if first:
                first(show)
                progress.advance(task)

            def after_each() -> None:
                if refresh:
                    refresh()
                progress.update(task, advance=1, refresh=True)

            work(show, after_each, progress.console.print)
    except KeyboardInterrupt:
        return True
    return False


def execute_and_report(args: argparse.Namespace, sel: Selection, title: str, total: int, work: Work,
                       show_run_table: bool = True) -> int:
    """Provenance, the GEMM reference, then ``work(show, after_each, say)`` under a progress bar;
    Ctrl-C keeps every finished record and still writes the summary. Returns the exit code."""
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
            sweep.run_gemm(run_dir, sel.frameworks, sel.device, args.threads, args.timeout,
                           precision=sel.base.model.precision)

    interrupted = with_progress(console, total, work, first=gemm, refresh=lambda: report.refresh(run_dir))
    rows = report.finalize(run_dir, title)
    storage.update_latest(run_dir)
    if show_run_table:
        render.run_table(rows, console, title=f"{title}: time per step ({sel.device})")
    lockstep_report.process_notes(storage.read_records(run_dir), console)  # clusters, interference
    console.print(f"Files: {run_dir}/summary.csv, samples.csv, results.jsonl, env.json, summary.md, step_times.png")
    if interrupted:
        console.print(f"[yellow]Interrupted: finished rows are kept; continue with --resume --out {run_dir}[/]")
        return 130
    return 0 if all(r.status in ("ok", "skipped") for r in rows) else 1


def report_comparisons(run_dir: Path, console: Any) -> bool:
    """Layer, LRN and framework tables with their CSVs and plots, from stored records alone.
    Returns False when a layer benchmark worker failed."""
    from bench.analysis import comparisons
    from bench.output import plots

    recs = storage.read_records(run_dir)
    ok = True
    for rec in recs:
        if rec.get("kind") == "lrn_layer" and rec.get("status") != "ok":
            console.print(f"[red]LRN layer benchmark for {rec['framework']}: {rec['status']}: {rec.get('error')}[/]")
            ok = False
    layer = comparisons.layer_rows(recs)
    if layer:
        storage.write_rows(run_dir / "lrn_layer.csv", layer)
        render.layer_table(layer, comparisons.fastest_exact(layer), console)
    lrn_rows = comparisons.lrn_rows(recs) if any(r.get("pair") for r in recs) else []
    if lrn_rows:
        storage.write_rows(run_dir / "lrn_comparison.csv", lrn_rows)
        plots.lrn_plots(lrn_rows, run_dir)
        render.lrn_table(lrn_rows, console)
    lockstep = lockstep_report.framework_table(recs, run_dir, console)  # lockstep groups: their own table
    fw_rows = [] if lockstep else comparisons.framework_rows(recs)
    if len({r["framework"] for r in fw_rows}) > 1:
        storage.write_rows(run_dir / "framework_comparison.csv", fw_rows)
        render.framework_table(fw_rows, console)
    console.print(f"All files in {run_dir}")
    return ok
