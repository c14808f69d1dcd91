"""The tables of ``bench compare``: what LRN costs (off vs on in each process), the frameworks side by
side, and the LRN layer alone. Rows from :mod:`bench.analysis.comparisons`."""

from __future__ import annotations

from typing import Any

from rich import box
from rich.console import Console
from rich.table import Table

from bench.analysis.stats import DIFFERENCE_FLOOR
from bench.output.tables.cells import fmt, print_measured_with, wide_notes


def lrn_table(rows: list[dict[str, Any]], console: Console) -> None:
    table = Table(title="What LRN costs (LRN off vs on, interleaved in each worker process)",
                  title_justify="left", box=box.SIMPLE_HEAD, pad_edge=False, collapse_padding=True)
    for h in ("framework", "mode", "batch", "off ms", "on ms", "slowdown [95% CI]", "procs", "+ms/step", "LRN share",
              "mem added MiB", "verdict vs the book's 3x", "LRN implementation"):
        table.add_column(h, justify="left" if h[0].isalpha() and h not in ("batch", "procs") else "right")
    for r in rows:
        style = None if r["verdict"] == "slower" else "yellow"
        table.add_row(r["framework"], r["mode"], str(r["batch_size"]), f"{r['off_ms']:.1f}", f"{r['on_ms']:.1f}",
                      f"{r['slowdown']:.2f}x [{r['ci_low']:.2f}, {r['ci_high']:.2f}]", str(r["processes"]),
                      f"{r['added_ms']:+.1f}", f"{r['lrn_share_pct']:.0f}%", fmt(r.get("memory_added_mib")),
                      r["vs_book"].split(": ", 1)[1], r["lrn_impl"], style=style)
    console.print(table)
    console.print("off/on ms: medians; slowdown: each process's median(on) / median(off), their geometric mean, and "
                  "a t-interval over the processes (with one process: a bootstrap over its steps, which says nothing "
                  "about the next run); LRN share: (on - off) / on; inconclusive when the CI includes 1 or the "
                  f"ratio is within {100 * DIFFERENCE_FLOOR:g}% of it; memory added: framework allocator peak "
                  "difference (GPU only).")
    wide_notes([(f"{r['framework']} {r['mode']} batch {r['batch_size']} LRN slowdown", r) for r in rows], console)
    print_measured_with(rows, console)


def framework_table(rows: list[dict[str, Any]], console: Console) -> None:
    table = Table(title="Frameworks side by side (ratio to the fastest on the same config)", title_justify="left",
                  box=box.SIMPLE_HEAD, pad_edge=False, collapse_padding=True)
    for h in ("mode", "batch", "LRN", "framework", "median ms [95% CI]", "procs", "vs fastest [95% CI]", "p",
              "verdict"):
        table.add_column(h, justify="right" if h in ("batch", "procs", "p") else "left")
    for r in rows:
        table.add_row(r["mode"], str(r["batch_size"]), "on" if r["lrn"] else "off", r["framework"],
                      f"{r['median_ms']:.1f} [{fmt(r['ci_low_ms'])}, {fmt(r['ci_high_ms'])}]", str(r["processes"]),
                      f"{r['ratio']:.2f}x [{fmt(r['ratio_ci_low'], '.2f')}, {fmt(r['ratio_ci_high'], '.2f')}]",
                      fmt(r["p_value"], ".1e"), r["verdict"],
                      style="bold" if r["verdict"] == "fastest" else None)
    console.print(table)
    console.print("median over each framework's worker processes (t-interval over them); vs fastest: ratio of "
                  "medians, interval and p by Welch's t over the two sides' process estimates (log scale).")
    print_measured_with(rows, console)


def layer_table(rows: list[dict[str, Any]], best: dict[str, str], console: Console) -> None:
    table = Table(title="LRN layer alone at the model's shapes (each variant checked against the float64 "
                  "reference first)", title_justify="left", box=box.SIMPLE_HEAD, pad_edge=False,
                  collapse_padding=True)
    for h in ("framework", "variant", "layer", "shape", "direction", "mean ms [95% CI]", "max err fwd/bwd", "exact",
              "first call s"):
        table.add_column(h, justify="right" if h in ("mean ms [95% CI]", "first call s") else "left")
    for r in rows:
        star = " ★" if best.get(r["framework"]) == r["impl"] else ""
        table.add_row(r["framework"], r["impl"] + star, r["layer"], r["shape"],
                      "fwd" if r["direction"] == "forward" else "fwd+bwd",
                      f"{r['mean_ms']:.2f} [{r['ci_low_ms']:.2f}, {r['ci_high_ms']:.2f}]",
                      f"{r['max_err_forward']:.0e}/{r['max_err_backward']:.0e}", "yes" if r["exact"] else "[red]NO[/]",
                      f"{r['first_call_s']:.1f}")
    console.print(table)
    console.print("★ fastest exact variant (least fwd+bwd time over both layers); choose it for the model with "
                  "--lrn-impl " + " ".join(f"{fw}={impl}" for fw, impl in best.items())
                  + " (or --lrn-impl fastest). first call: trace/compile of both directions plus the checks.")
