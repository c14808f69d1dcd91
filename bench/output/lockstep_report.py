"""Tables and notes for issue-19 analyses: the framework ratios from lockstep groups, the process
clusters and interference flags of a run's rows, and the profile figures that contradict themselves.
Rendering only (the figures come from :mod:`bench.analysis`)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from bench.analysis import clusters, interference
from bench.analysis.summary import group
from bench.core import records
from bench.output.tables.cells import print_measured_with, wide_notes


def _f(x: Any, spec: str = ".2f") -> str:
    return "-" if x is None or (isinstance(x, float) and not math.isfinite(x)) else format(x, spec)


def framework_table(rows: Sequence[dict[str, Any]], console: Any) -> None:
    """The frameworks side by side from lockstep groups (the rows of
    :func:`bench.analysis.lockstep_ratios.framework_rows`)."""
    from rich import box
    from rich.table import Table

    table = Table(title="Frameworks side by side, in lockstep (ratio to the fastest on the same config)",
                  title_justify="left", box=box.SIMPLE_HEAD, pad_edge=False, collapse_padding=True)
    for h in ("mode", "batch", "LRN", "framework", "median ms", "vs fastest [95% CI]", "+-", "groups", "method",
              "verdict"):
        table.add_column(h, justify="right" if h in ("batch", "median ms", "+-", "groups") else "left")
    for r in rows:
        fastest = r["framework"] == r["fastest"]
        if r["clusters"] and not fastest:  # the ratio over all groups describes none of them
            ratio, width = f"{r['ratio']:.2f}x (clusters)", "-"
        else:
            ratio = "1.00x" if fastest else (f"{r['ratio']:.2f}x [{_f(r['ratio_ci_low'])}, "
                                             f"{_f(r['ratio_ci_high'])}]")
            width = "" if fastest else f"{_f(r['half_width_pct'], '.1f')}%"
        style = "bold" if fastest else ("yellow" if r["within_target"] is False else None)
        table.add_row(r["mode"], str(r["batch_size"]), "on" if r["lrn"] else "off", r["framework"],
                      _f(r["median_ms"]), ratio, width, str(r["groups"]), "lockstep", r["verdict"], style=style)
    console.print(table)
    console.print("lockstep: one worker per framework alive at once, taking turns one step at a time (A B C C B A "
                  "...); the ratio is the median of the step-by-step ratios within a group, its interval a t over "
                  "groups. Yellow: wider than --target-ci.")
    wide_notes([(f"{r['framework']} / {r['fastest']}, {r['mode']} batch {r['batch_size']} LRN "
                 f"{'on' if r['lrn'] else 'off'}", r) for r in rows], console)
    print_measured_with(rows, console)


def process_notes(recs: Sequence[dict[str, Any]], console: Any) -> list[str]:
    """One line per config whose processes fall into clusters, and per config measured while other
    processes took a large share of the CPUs (with the figure). Returns the lines printed."""
    lines = []
    for key, ms in group(records.measurements(list(recs))).items():
        ok = [m for m in ms if m.ok]
        found = clusters.of_records(ok)
        if found:
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
    lines = [f"{s['framework']} {s['mode']} batch {s['batch_size']}: {w}"
             for s in summaries for w in (s.get("warnings") or "").split("; ") if w]
    for line in lines:
        console.print(f"[bold yellow]warning: {line}[/]")
    return lines
