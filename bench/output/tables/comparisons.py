"""The tables of ``bench compare``: what LRN costs (off vs on in each process), the frameworks side by
side, and the LRN layer alone. Rows from :mod:`bench.analysis.comparisons`."""

from __future__ import annotations

from typing import Any

from rich import box
from rich.console import Console
from rich.table import Table

from bench.analysis.stats import DIFFERENCE_FLOOR
from bench.output.tables.cells import fmt, print_measured_with, wide_notes

LRN_COLUMNS = ("framework", "mode", "batch", "off ms", "on ms", "slowdown [95% CI]", "procs", "+ms/step", "LRN share",
               "mem added MiB", "verdict vs the book's 3x", "LRN implementation")
LRN_NARROW = ("framework", "mode", "batch", "off ms", "on ms", "slowdown [95% CI]", "procs", "+ms/step",
              "verdict vs the book's 3x")  # fits 120 columns; the rest is in lrn_comparison.csv (and --wide)


def lrn_table(rows: list[dict[str, Any]], console: Console, wide: bool = False) -> None:
    table = Table(title="What LRN costs (LRN off vs on, interleaved in each worker process)",
                  title_justify="left", box=box.SIMPLE_HEAD, pad_edge=False, collapse_padding=True)
    shown = LRN_COLUMNS if wide else LRN_NARROW
    for h in shown:
        table.add_column(h, justify="left" if h[0].isalpha() and h not in ("batch", "procs") else "right",
                         no_wrap=True)
    for r in rows:
        style = None if r["verdict"] == "slower" else "yellow"
        cells = dict(zip(LRN_COLUMNS, (
            r["framework"], r["mode"], str(r["batch_size"]), f"{r['off_ms']:.1f}", f"{r['on_ms']:.1f}",
            f"{r['slowdown']:.2f}x [{r['ci_low']:.2f}, {r['ci_high']:.2f}]", str(r["processes"]),
            f"{r['added_ms']:+.1f}", f"{r['lrn_share_pct']:.0f}%", fmt(r.get("memory_added_mib")),
            r["vs_book"].split(": ", 1)[1], r["lrn_impl"]), strict=True))
        table.add_row(*(cells[h] for h in shown), style=style)
    console.print(table)
    console.print("off/on ms: medians; slowdown: each process's median(on) / median(off), their geometric mean, and "
                  "a t-interval over the processes (with one process: a bootstrap over its steps, which says nothing "
                  "about the next run); LRN share: (on - off) / on; inconclusive when the CI includes 1 or the "
                  f"ratio is within {100 * DIFFERENCE_FLOOR:g}% of it; memory added: framework allocator peak "
                  "difference (GPU only).")
    wide_notes([(f"{r['framework']} {r['mode']} batch {r['batch_size']} LRN slowdown", r) for r in rows], console)
    print_measured_with(rows, console)


def framework_table(rows: list[dict[str, Any]], console: Console, wide: bool = False) -> None:
    table = Table(title="Frameworks side by side (ratio to the fastest on the same config)", title_justify="left",
                  box=box.SIMPLE_HEAD, pad_edge=False, collapse_padding=True)
    headers = ("mode", "batch", "LRN", "framework", "median ms [95% CI]", "procs", "vs fastest [95% CI]", "p",
               "verdict")
    shown = headers if wide else tuple(h for h in headers if h != "p")  # p: in framework_comparison.csv
    for h in shown:
        table.add_column(h, justify="right" if h in ("batch", "procs", "p") else "left", no_wrap=True)
    for r in rows:
        cells = dict(zip(headers, (
            r["mode"], str(r["batch_size"]), "on" if r["lrn"] else "off", r["framework"],
            f"{r['median_ms']:.1f} [{fmt(r['ci_low_ms'])}, {fmt(r['ci_high_ms'])}]", str(r["processes"]),
            f"{r['ratio']:.2f}x [{fmt(r['ratio_ci_low'], '.2f')}, {fmt(r['ratio_ci_high'], '.2f')}]",
            fmt(r["p_value"], ".1e"), r["verdict"]), strict=True))
        table.add_row(*(cells[h] for h in shown), style="bold" if r["verdict"] == "fastest" else None)
    console.print(table)
    console.print("median over each framework's worker processes (t-interval over them); vs fastest: ratio of "
                  "medians, interval and p by Welch's t over the two sides' process estimates (log scale).")
    print_measured_with(rows, console)


LAYER_COLUMNS = ("framework", "variant", "layer", "shape", "direction", "mean ms [95% CI]", "max err fwd/bwd", "exact",
                 "first call s")


def layer_table(rows: list[dict[str, Any]], best: dict[str, str], console: Console, wide: bool = False) -> None:
    """Every variant with ``wide``; by default each framework's fastest exact variant only (all rows
    stay in lrn_layer.csv), without the error and first-call columns."""
    title = ("LRN layer alone at the model's shapes (each variant checked against the float64 reference first)"
             if wide else "LRN layer alone at the model's shapes: each framework's fastest exact variant")
    table = Table(title=title, title_justify="left", box=box.SIMPLE_HEAD, pad_edge=False, collapse_padding=True)
    shown = LAYER_COLUMNS if wide else LAYER_COLUMNS[:6] + ("exact",)
    for h in shown:
        table.add_column(h, justify="right" if h in ("mean ms [95% CI]", "first call s") else "left", no_wrap=True)
    for r in rows if wide else [r for r in rows if best.get(r["framework"]) == r["impl"]]:
        star = " ★" if best.get(r["framework"]) == r["impl"] else ""
        cells = dict(zip(LAYER_COLUMNS, (
            r["framework"], r["impl"] + star, r["layer"], r["shape"],
            "fwd" if r["direction"] == "forward" else "fwd+bwd",
            f"{r['mean_ms']:.2f} [{r['ci_low_ms']:.2f}, {r['ci_high_ms']:.2f}]",
            f"{r['max_err_forward']:.0e}/{r['max_err_backward']:.0e}", "yes" if r["exact"] else "[red]NO[/]",
            f"{r['first_call_s']:.1f}"), strict=True))
        table.add_row(*(cells[h] for h in shown))
    console.print(table)
    others = len({(r["framework"], r["impl"]) for r in rows}) - len(best)
    console.print("★ fastest exact variant (least fwd+bwd time over both layers); choose it for the model with "
                  "--lrn-impl " + " ".join(f"{fw}={impl}" for fw, impl in best.items())
                  + " (or --lrn-impl fastest)" + ("; first call: trace/compile of both directions plus the checks."
                                                  if wide else f"; the {others} other variants, errors and first-call "
                                                  f"times: {len(rows)} rows in lrn_layer.csv, or --wide."))
