"""The table of ``bench history report``: each benchmark's trend over commits, with its step changes
(:mod:`bench.analysis.changepoints`)."""

from __future__ import annotations

from typing import Any

from rich import box
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from bench.analysis.changepoints import stamp_changes
from bench.output.tables.cells import fmt


def history_table(trends: list[Any], console: Console) -> None:
    table = Table(title="Performance history (per benchmark and machine, in commit order)", title_justify="left",
                  box=box.SIMPLE_HEAD, pad_edge=False, collapse_padding=True)
    for h in ("benchmark", "machine", "commits", "first ms", "latest ms [95% CI]", "step changes (commit: change)"):
        table.add_column(h, justify="right" if h in ("commits", "first ms", "latest ms [95% CI]") else "left")
    for t in trends:
        first, last = t.entries[0], t.entries[-1]
        changes = ", ".join(f"{t.entries[c.index].commit[:10]}: {100 * (c.ratio - 1):+.1f}% (p {c.p_value:.3f})"
                            for c in t.changes) or "none"
        table.add_row(escape(t.label), t.machine, str(len(t.entries)), f"{first.estimate_ms:.1f}",
                      f"{last.estimate_ms:.1f} [{fmt(last.ci_low_ms)}, {fmt(last.ci_high_ms)}]", changes,
                      style="yellow" if t.changes else None)
    console.print(table)
    console.print("step change: binary segmentation of the per-commit medians (log scale), each split tested by a "
                  "permutation test on the largest two-sample t (so every split tried is accounted for), beyond the "
                  "noise floor; the commit named is the first of the new level.")
    for line in (line for t in trends for line in stamp_changes(t)):
        console.print(escape(line), style="yellow")
    latest = list(dict.fromkeys(t.entries[-1].stamp for t in trends if t.entries[-1].stamp))
    if latest:
        console.print(escape("latest points measured with: " + " | ".join(latest)))
