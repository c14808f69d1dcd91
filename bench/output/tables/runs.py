"""The time-per-step table of ``bench run``, ``bench report`` and ``bench compare``: one row per config
from summary.csv, narrowed on a small terminal. Its cells are shared with the Markdown summary
(:mod:`bench.output.report`)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from rich import box
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from bench.analysis.summary import provenance_lines
from bench.output.tables.cells import fmt, pct

if TYPE_CHECKING:
    from collections.abc import Sequence

    from bench.analysis.drift import Drift
    from bench.core.records import SummaryRow


def run_rows(rows: list[SummaryRow]) -> list[list[str]]:
    """The cells of the run table; shared by the terminal and the Markdown summary."""
    out = []
    for r in rows:
        lrn = "on" if r.lrn else "off"
        if r.median_ms is None:
            out.append([r.framework, r.mode, str(r.batch_size), lrn] + ["-"] * (len(RUN_HEADERS) - 6)
                       + [f"{r.status}: {r.error or ''}"[:60], "-"])
            continue
        mem = (f"GPU {fmt(r.alloc_peak_mib, '.0f')}" if r.alloc_peak_mib is not None
               else f"RSS {fmt(r.host_peak_rss_mib, '.0f')}")
        status = r.status
        if r.unstable:
            status += f" ⚠ CV {100 * (r.cv or 0):.0f}%"
        if r.rounds < 2:
            status += " (1 process)"
        out.append([
            r.framework, r.mode, str(r.batch_size), lrn,
            f"{r.median_ms:.1f} [{fmt(r.median_ci_low_ms)}, {fmt(r.median_ci_high_ms)}]",
            f"±{fmt(r.ci_half_width_pct)}%", str(r.rounds), pct(r.between_process_pct), pct(r.within_process_pct),
            f"{fmt(r.mean_ms)} ± {fmt(r.std_ms)}", fmt(r.p95_ms),
            fmt(r.images_per_s, ".0f"), fmt(r.achieved_gflops), fmt(r.pct_of_peak),
            fmt(r.compile_s, ".2f"), mem, status, f"{fmt(r.relative_to_fastest, '.2f')}x",
        ])
    return out


RUN_HEADERS = ["framework", "mode", "batch", "LRN", "median ms [95% CI]", "CI ±", "procs", "between", "within",
               "mean ± sd ms", "p95", "img/s", "GFLOP/s", "% peak", "compile s", "mem MiB", "status", "vs fastest"]


# Below this console width the table keeps the columns a reader needs to trust a row (the CSV and
# summary.md keep everything): config in one cell, the median with its interval and where the noise is.
FULL_WIDTH = 175
NARROW_HEADERS = ("config", "median ms [95% CI]", "CI ±", "procs", "between", "within", "vs fastest", "status")


def _narrow(cells: list[str]) -> list[str]:
    full = dict(zip(RUN_HEADERS, cells, strict=True))
    full["config"] = f"{full['framework']} {full['mode']} {full['batch']}" + (" LRN" if full["LRN"] == "on" else "")
    return [full[h] for h in NARROW_HEADERS]


def run_table(rows: list[SummaryRow], console: Console, title: str = "Time per step", wide: bool = False) -> None:
    """One row per config; below ``FULL_WIDTH`` columns (unless ``wide``) the columns that fit 120."""
    narrow = not wide and console.width < FULL_WIDTH
    headers = NARROW_HEADERS if narrow else RUN_HEADERS
    table = Table(title=title, title_justify="left", box=box.SIMPLE_HEAD, pad_edge=False, collapse_padding=True)
    for h in headers:
        shown = h.replace(" ", "\n", 1) if narrow and h not in ("CI ±", "LRN", "median ms [95% CI]") else h
        table.add_column(shown, justify="left" if h in ("framework", "config", "mode", "LRN", "status") else "right",
                         no_wrap=h != "status")
    for cells, r in zip(run_rows(rows), rows, strict=True):
        style = "yellow" if r.unstable else ("red" if r.status not in ("ok", "partial") else None)
        table.add_row(*(_narrow(cells) if narrow else cells), style=style)
    if narrow:
        console.print("(the mean, p95, img/s, GFLOP/s, % of peak and memory: summary.csv and summary.md, or --wide)")
    console.print(table)
    sources = sorted({str(r.data_source) for r in rows if r.data_source})
    if "synthetic" in sources:
        shapes = ", ".join(sorted({f"{r.model}-shaped" for r in rows if str(r.data_source) == "synthetic"}))
        console.print(f"[bold yellow]Data: SYNTHETIC {shapes} batches (asked for, a model with no dataset here, or "
                      "MNIST was not found: env.json says which); times are valid, no accuracy is implied.[/]")
    too_wide = [r for r in rows if r.target_ci_pct and r.ci_half_width_pct and r.ci_half_width_pct > r.target_ci_pct]
    for r in too_wide:
        name = f"{r.framework} {r.mode} {r.batch_size}{' LRN' if r.lrn else ''}"
        console.print(f"[yellow]{name}: ±{r.ci_half_width_pct:.1f}% is wider than the ±{r.target_ci_pct:g}% asked: "
                      f"its {r.rounds} processes differ by {pct(r.between_process_pct)} (between) against "
                      f"{pct(r.within_process_pct)} step noise "
                      f"(within); about {r.processes_needed} processes would reach it (--max-rounds).[/]")
    for line in provenance_lines(rows):
        console.print(escape(line), style="yellow" if "kept apart" in line else None)
    if any(r.unstable for r in rows):
        console.print("[yellow]⚠ noisy steps (CV > 10%) are what make the median's interval wider than the target "
                      "(--target-ci, else ±3%): close other programs and pin --threads, or time more steps.[/]")
    console.print("median: each worker process's median step, averaged over the processes (procs); 95% CI: a "
                  "t-interval over those processes, the promise about the next run; between: the process-to-process "
                  "sd beyond step noise, within: the robust sd of steps inside a process (both % of the median); "
                  "mean ± sd over every step, for reference; % peak: against a GEMM measured in the same worker; "
                  "mem: peak worker host RSS on CPU, framework allocator peak on GPU.")


def drift_table(pairs: Sequence[tuple[SummaryRow, Drift]], console: Console) -> None:
    if not pairs:
        return
    t = Table(title="Across invocations: the median with the machine's drift (earlier runs beside this one)",
              title_justify="left", box=box.SIMPLE_HEAD, pad_edge=False, collapse_padding=True)
    for h in ("benchmark", "median ms", "over processes", "invocations", "drift sd", "earlier median",
              "with drift [95% CI]", "CI ±"):
        t.add_column(h, justify="left" if h == "benchmark" else "right")
    for r, d in pairs:
        t.add_row(r.key.label(), f"{d.estimate:.2f}", f"[{d.process_ci_low:.2f}, {d.process_ci_high:.2f}]",
                  str(d.invocations), "-" if d.spread_pct is None else f"{d.spread_pct:.1f}%",
                  "-" if d.earlier_median is None else f"{d.earlier_median:.2f}",
                  "-" if d.invocations == 1 else f"[{d.ci_low:.2f}, {d.ci_high:.2f}]",
                  "-" if d.invocations == 1 else f"±{d.half_width_pct:.1f}%")
    console.print(t)
    alone = [r for r, d in pairs if d.invocations == 1]
    if alone:
        console.print(f"[yellow]{len(alone)} of {len(pairs)} rows: the interval over processes covers this invocation "
                      "only (its processes ran within seconds of each other); the machine's drift over minutes is "
                      "in no interval until this config has been run again with the same --out parent folder "
                      "(docs/validation.md: how far back-to-back invocations spread). The "
                      "lockstep ratios of bench compare do not depend on it.[/]")
