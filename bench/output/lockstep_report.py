"""Tables and notes for issue-19 analyses: the framework ratios from lockstep groups, the process
clusters and interference flags of a run's rows, and the profile figures that contradict themselves.
Rendering only (the figures come from :mod:`bench.analysis`)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from rich.markup import escape

from bench.analysis import clusters, interference, sanity
from bench.analysis.intervals import TwoLevel
from bench.analysis.summary import group
from bench.core import records
from bench.output.answer import num
from bench.output.tables.cells import print_measured_with, wide_notes


def _name(r: dict[str, Any]) -> str:
    return f"{r['framework']} / {r['fastest']}, {r['mode']} batch {r['batch_size']} LRN {'on' if r['lrn'] else 'off'}"


def framework_table(rows: Sequence[dict[str, Any]], console: Any, wide: bool = False) -> None:
    """The frameworks side by side from lockstep groups (the rows of
    :func:`bench.analysis.lockstep_ratios.framework_rows`). Every ratio keeps its interval; a cluster
    note (only where the clusters' ratios lie further apart than the interval or the target) and an
    interference figure go in lines below the table (in the verdict cell with ``wide``), so the table
    fits 120 columns."""
    from rich import box
    from rich.table import Table

    table = Table(title="Frameworks side by side, in lockstep (ratio to the fastest on the same config)",
                  title_justify="left", box=box.SIMPLE_HEAD, pad_edge=False, collapse_padding=True)
    headers = ("mode", "batch", "LRN", "framework", "median ms", "vs fastest [95% CI]", "+-", "groups", "method",
               "verdict")
    shown = headers if wide else tuple(h for h in headers if h != "method")  # all "lockstep": the title says it
    for h in shown:
        table.add_column(h, justify="right" if h in ("batch", "median ms", "+-", "groups") else "left",
                         no_wrap=not wide or h != "verdict")
    notes = []
    for r in rows:
        fastest = r["framework"] == r["fastest"]
        ratio = ("1.00x" if fastest else "-" if r["ratio"] is None  # refused: not equivalent
                 else f"{r['ratio']:.2f}x [{num(r['ratio_ci_low'])}, {num(r['ratio_ci_high'])}]")
        width = "" if fastest or r["ratio"] is None else f"{num(r['half_width_pct'], '.1f')}%"
        verdict, _, extra = str(r["verdict"]).partition("; ")
        if r.get("clusters"):
            notes.append(f"{_name(r)}: {r['clusters']}")
            verdict += " (clusters, below)" if not wide else f"; {r['clusters']}"
        if extra:
            notes.append(f"{_name(r)}: {extra}")
            verdict += f"; {extra}" if wide else ""
        style = "bold" if fastest else ("yellow" if r["within_target"] is False else
                                        "red" if r["ratio"] is None else None)
        cells = dict(zip(headers, (r["mode"], str(r["batch_size"]), "on" if r["lrn"] else "off", r["framework"],
                                   num(r["median_ms"]), ratio, width, str(r["groups"]), "lockstep", verdict),
                         strict=True))
        table.add_row(*(cells[h] for h in shown), style=style)
    console.print(table)
    console.print("lockstep: one worker per framework alive at once, taking turns one step at a time (A B C C B A "
                  "...); the ratio is the median of the step-by-step ratios within a group, its interval a t over "
                  "groups. Yellow: wider than --target-ci.")
    if not wide:
        for line in notes:
            console.print(f"[yellow]{escape(line)}[/]")
    wide_notes([(_name(r), r) for r in rows], console)
    print_measured_with(rows, console)


def process_notes(recs: Sequence[dict[str, Any]], console: Any) -> list[str]:
    """One line per config whose processes fall into clusters further apart than its interval (over
    the processes) or the target reaches (clusters inside it are in the interval already), and per
    config measured while other processes took a large share of the CPUs (with the figure). Returns
    the lines printed."""
    lines = []
    for key, ms in group(records.measurements(list(recs))).items():
        ok = [m for m in ms if m.ok]
        found = clusters.of_records(ok)
        half = TwoLevel.of([m.samples_ns for m in ok]).half_width_pct if len(ok) > 1 else None
        target = next((m.target_ci for m in ok if m.target_ci), None)
        if clusters.changes_conclusion([c.median_ms for c in found], half, target):
            lines.append(f"{key.label()}: processes in {len(found)} clusters by {found[0].by} (one interval over "
                         f"them would describe neither): " + "; ".join(c.describe() for c in found))
        flag = interference.flagged(ok)
        if flag:
            lines.append(f"{key.label()}: {flag}; its times may be slower than a quiet machine's")
    for line in lines:
        console.print(f"[yellow]{line}[/]")
    return lines


def profile_warnings(summaries: Sequence[dict[str, Any]], console: Any) -> list[str]:
    """The warning rows of ``bench profile``: each figure that contradicts itself, named."""
    lines = [f"{s['framework']} {s['mode']} batch {s['batch_size']}: {w}" for s in summaries
             for w in sanity.warning_list(s)]
    for line in lines:
        console.print(f"[bold yellow]warning: {line}[/]")
    return lines
