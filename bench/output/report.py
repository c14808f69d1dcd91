"""Turn a run folder's records into its derived files: summary.csv and samples.csv after every
record, summary.md and the PNG at the end (and again on ``bench report DIR``). The CSVs are the
DataFrames :func:`bench.load` returns, written as they are."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from bench.analysis import summary
from bench.core import storage
from bench.core.records import SummaryRow
from bench.output import frames, plots, render


def refresh(run_dir: Path) -> list[SummaryRow]:
    """Rewrite summary.csv and samples.csv from results.jsonl; returns the summary rows."""
    recs = storage.read_records(run_dir)
    rows = summary.summarise(recs)
    storage.write_frame(run_dir / storage.SUMMARY_CSV, frames.summary_frame(rows))
    storage.write_frame(run_dir / storage.SAMPLES_CSV, frames.samples_frame(recs))
    return rows


def markdown(rows: list[SummaryRow], env: dict[str, Any], title: str) -> str:
    lines = [f"# {title}", ""]
    git = env.get("git") or {}
    gpus = ", ".join(g["name"] for g in env.get("gpus", [])) or "none"
    lines += [f"- UTC: {env.get('utc')}; bench commit {git.get('commit')}{' (dirty)' if git.get('dirty') else ''}",
              f"- CPU: {env.get('cpu_model')} ({env.get('cpu_affinity')} usable cores); GPU: {gpus}",
              "- packages: " + ", ".join(f"{k} {v}" for k, v in (env.get("packages") or {}).items() if v),
              f"- data: {', '.join(sorted({str(r.data_source) for r in rows}))}",
              *(f"- {line}" for line in summary.provenance_lines(rows)), ""]
    lines.append("| " + " | ".join(render.RUN_HEADERS) + " |")
    lines.append("|" + "---|" * len(render.RUN_HEADERS))
    for cells in render.run_rows(rows):
        lines.append("| " + " | ".join(c.replace("|", "/") for c in cells) + " |")
    lines += ["", "Columns and units: see reports/README.md in the bench repository.", ""]
    return "\n".join(lines)


def finalize(run_dir: Path, title: str = "bench run") -> list[SummaryRow]:
    rows = refresh(run_dir)
    env_path = run_dir / storage.ENV
    env = storage.read_json(env_path) if env_path.exists() else {}
    storage.atomic_write(run_dir / "summary.md", markdown(rows, env, title))
    plots.step_distributions(storage.read_records(run_dir), run_dir / "step_times.png")
    return rows
