"""A run folder's report, in one pass: its records are read once (:func:`read`), analysis turns them
into every row (:func:`bench.analysis.run_rows.analyse`), and from those same rows come the CSVs,
summary.md, the PNGs (:func:`finalize`), the terminal tables (:func:`print_comparisons`) and
report.html (:mod:`bench.output.html_pages`). summary.csv and samples.csv are also rewritten after
every record (:func:`refresh`); they are the DataFrames :func:`bench.load` returns, written as they
are."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.analysis import summary
from bench.analysis.run_rows import RunRows, analyse
from bench.core import storage
from bench.core.records import SummaryRow
from bench.output import frames, lockstep_report, plots
from bench.output.tables import comparisons, runs

LAYER_CSV, LRN_CSV, FRAMEWORKS_CSV = "lrn_layer.csv", "lrn_comparison.csv", "framework_comparison.csv"


@dataclass(frozen=True)
class Folder:
    """A run folder read once: its records, its env.json and every row analysis makes of them."""

    run_dir: Path
    records: list[dict[str, Any]]
    env: dict[str, Any]
    rows: RunRows


def read_env(run_dir: Path) -> dict[str, Any]:
    env_path = run_dir / storage.ENV
    return dict(storage.read_json(env_path)) if env_path.exists() else {}


def read(run_dir: Path) -> Folder:
    recs = storage.read_records(run_dir)
    return Folder(run_dir, recs, read_env(run_dir), analyse(recs))


def refresh(run_dir: Path) -> list[SummaryRow]:
    """Rewrite summary.csv and samples.csv from results.jsonl; returns the summary rows."""
    recs = storage.read_records(run_dir)
    rows = summary.summarise(recs)
    _write_frames(run_dir, recs, rows)
    return rows


def _write_frames(run_dir: Path, recs: list[dict[str, Any]], rows: list[SummaryRow]) -> None:
    storage.write_frame(run_dir / storage.SUMMARY_CSV, frames.summary_frame(rows))
    storage.write_frame(run_dir / storage.SAMPLES_CSV, frames.samples_frame(recs))


def markdown(rows: list[SummaryRow], env: dict[str, Any], title: str) -> str:
    lines = [f"# {title}", ""]
    git = env.get("git") or {}
    gpus = ", ".join(g["name"] for g in env.get("gpus", [])) or "none"
    lines += [f"- UTC: {env.get('utc')}; bench commit {git.get('commit')}{' (dirty)' if git.get('dirty') else ''}",
              f"- CPU: {env.get('cpu_model')} ({env.get('cpu_affinity')} usable cores); GPU: {gpus}",
              "- packages: " + ", ".join(f"{k} {v}" for k, v in (env.get("packages") or {}).items() if v),
              f"- data: {', '.join(sorted({str(r.data_source) for r in rows}))}",
              *(f"- {line}" for line in summary.provenance_lines(rows)), ""]
    lines.append("| " + " | ".join(runs.RUN_HEADERS) + " |")
    lines.append("|" + "---|" * len(runs.RUN_HEADERS))
    for cells in runs.run_rows(rows):
        lines.append("| " + " | ".join(c.replace("|", "/") for c in cells) + " |")
    lines += ["", "Columns and units: see reports/README.md in the bench repository.", ""]
    return "\n".join(lines)


def finalize(run_dir: Path, title: str = "bench run") -> Folder:
    """Read the folder once and write every file its rows support (:func:`write_files`)."""
    return write_files(read(run_dir), title)


def write_files(folder: Folder, title: str) -> Folder:
    """summary.csv, samples.csv, summary.md, step_times.png, and the comparison CSVs and PNGs where
    the records hold them, all from ``folder``'s rows."""
    rows, run_dir = folder.rows, folder.run_dir
    _write_frames(run_dir, folder.records, rows.summary)
    storage.atomic_write(run_dir / "summary.md", markdown(rows.summary, folder.env, title))
    plots.step_distributions(rows.processes, run_dir / "step_times.png")
    if rows.layer:
        storage.write_rows(run_dir / LAYER_CSV, rows.layer)
    if rows.lrn:
        storage.write_rows(run_dir / LRN_CSV, rows.lrn)
        plots.lrn_plots(rows.lrn, run_dir)
    if rows.frameworks:
        storage.write_rows(run_dir / FRAMEWORKS_CSV, rows.frameworks)
    return folder


def print_answer(folder: Folder, console: Any) -> list[str]:
    """The answer block (:func:`bench.output.answer.answer_lines`), bold, before any table; report.html
    opens with the same lines. Returns them."""
    from bench.output import answer, answer_verdicts

    lines = answer.answer_lines(folder.rows, folder.run_dir)
    answer_verdicts.show(lines, console)
    return lines


def print_comparisons(folder: Folder, console: Any, wide: bool = False) -> bool:
    """The layer, LRN and framework tables (their CSVs and plots are written by :func:`finalize`); ``wide``:
    every column and every layer variant. Returns False when a layer benchmark worker failed."""
    rows = folder.rows
    for rec in rows.failed_layers:
        console.print(f"[red]LRN layer benchmark for {rec['framework']}: {rec['status']}: {rec.get('error')}[/]")
    if rows.layer:
        comparisons.layer_table(rows.layer, rows.fastest_exact, console, wide=wide)
    if rows.lrn:
        comparisons.lrn_table(rows.lrn, console, wide=wide)
    if rows.frameworks and rows.framework_method == "lockstep":
        lockstep_report.framework_table(rows.frameworks, console, wide=wide)
    elif rows.frameworks:
        comparisons.framework_table(rows.frameworks, console, wide=wide)
    console.print(f"All files in {folder.run_dir}")
    return not rows.failed_layers
