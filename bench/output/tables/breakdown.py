"""The tables of ``bench profile``: where one framework's step goes, scope by scope (its profiler and each
scope alone), and what a step costs before any arithmetic. Rows from :mod:`bench.analysis.attribution`."""

from __future__ import annotations

from typing import Any

from rich import box
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from bench.output.tables.cells import fmt, pct, print_measured_with


def profile_table(rows: list[dict[str, Any]], summary: dict[str, Any], ops: list[dict[str, Any]],
                  console: Console) -> None:
    """One framework: ms per step per scope and pass, from its profiler and from each scope alone."""
    from bench.analysis.attribution import UNATTRIBUTED

    s = summary
    default = " default precision" if s.get("precision", "strict") != "strict" else ""
    tuned = f" +{s['tuning']}" if s.get("tuning") else ""
    model = f"{s['model']} " if s.get("model", "mnist") != "mnist" else ""
    title = (f"{model}{s['framework']} {s['mode']} batch {s['batch_size']}{' LRN' if s['lrn'] else ''} ({s['compile']})"
             f"{default}{tuned}: where a {s['step_ms']:.1f} ms step goes")
    table = Table(title=title, title_justify="left", box=box.SIMPLE_HEAD, pad_edge=False, collapse_padding=True)
    for h in ("scope", "pass", "profiler ms", "share", "GFLOP/s", "% peak", "alone ms", "alone GFLOP/s"):
        table.add_column(h, justify="left" if h in ("scope", "pass") else "right")
    by = {(r["source"], r["scope"], r["pass"]): r for r in rows}
    keys = list(dict.fromkeys((r["scope"], r["pass"]) for r in rows))
    first: dict[str, int] = {}  # scopes in the order the rows first name them
    for n, r in enumerate(rows):
        first.setdefault(r["scope"], n)
    keys.sort(key=lambda k: (k[0] == UNATTRIBUTED, first[k[0]]))
    for scope, pass_ in keys:
        p = by.get(("profiler", scope, pass_)) or {}
        i = by.get(("isolated", scope, pass_)) or {}
        table.add_row(scope, pass_ or "-", fmt(p.get("ms"), ".2f"), pct(p.get("share_pct")), fmt(p.get("gflops")),
                      fmt(p.get("pct_of_peak"), ".0f"), fmt(i.get("ms"), ".2f"), fmt(i.get("gflops")),
                      style="yellow" if scope == UNATTRIBUTED else None)
    console.print(table)
    if s.get("profiler_attributed_ms") is not None:
        console.print(f"whole step {s['step_ms']:.1f} ms = profiler ops {s['profiler_attributed_ms']:.1f} ms in "
                      f"scopes + {s['profiler_unattributed_ms']:.1f} ms unattributed + remainder "
                      f"{s['remainder_ms']:+.1f} ms (time between ops: dispatch, waits; negative: ops overlapped); "
                      f"attribution covers {s['coverage_pct']:.1f}% of op time ({s['clock']}).")
    else:
        console.print(f"[yellow]no profiler breakdown: {s['profiler']}[/]")
    if s.get("isolated_sum_ms"):
        console.print(f"each scope alone adds up to {s['isolated_sum_ms']:.1f} ms; the step is "
                      f"{s['isolated_remainder_ms']:+.1f} ms beyond that (fusion and overlap make it smaller, "
                      f"dispatch and cache misses larger).")
    if ops:
        console.print("top ops: " + "; ".join(f"{escape(o['op'])} ({o['scope']} {o['pass'] or '-'}) {o['ms']:.1f} ms "
                                              f"{pct(o['share_pct'])}" for o in ops))


def profile_overhead_table(summaries: list[dict[str, Any]], console: Console) -> None:
    table = Table(title="What a step costs before any arithmetic (fit of t(batch) = fixed + batch x per-image, "
                  "from the batch-1 step)", title_justify="left", box=box.SIMPLE_HEAD, pad_edge=False,
                  collapse_padding=True)
    for h in ("framework", "batch", "step ms", "batch-1 step ms", "fixed ms", "fixed share", "per image ms",
              "host returns after", "page faults/step", "profile coverage"):
        table.add_column(h, justify="left" if h == "framework" else "right")
    for s in summaries:
        table.add_row(s["framework"], str(s["batch_size"]), fmt(s["step_ms"]), fmt(s["tiny_step_ms"], ".2f"),
                      fmt(s["fixed_ms"], ".2f"), pct(s["fixed_share_pct"]), fmt(s["per_image_ms"], ".3f"),
                      f"{fmt(s['host_return_ms'])} ms ({pct(s['host_share_pct'])})",
                      fmt(s["page_faults_per_step"], ".0f"), pct(s["coverage_pct"]))
    console.print(table)
    console.print("host returns after: how long a step call takes to return to Python, against the whole "
                  "synchronised step; an asynchronous framework returns before its work is done.")
    print_measured_with(summaries, console)
