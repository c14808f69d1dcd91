"""Rich tables. Every renderer takes a ``Console`` and reads results only (no measuring here)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from rich import box
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from bench.analysis.changepoints import stamp_changes
from bench.analysis.summary import measured_with, provenance_lines

if TYPE_CHECKING:
    from bench.core.data import Dataset
    from bench.core.records import SummaryRow
    from bench.execution.verification import VerifyResult


def _pf(ok: bool) -> str:
    return "[green]PASS[/]" if ok else "[bold red]FAIL[/]"


def verify_table(results: list[VerifyResult], console: Console) -> None:
    """One column per (framework, LRN), one row per checked quantity, plus its tolerance."""
    table = Table(title="Largest normalised difference from the float64 NumPy reference", title_justify="left",
                  box=box.SIMPLE_HEAD)
    table.add_column("quantity", no_wrap=True)
    table.add_column("tolerance", justify="right")
    for r in results:
        mode = (f"\n{r.describe.get('compile_mode', '')} {r.describe.get('lrn_impl_mode', '')}".rstrip()
                if r.describe else "")
        table.add_column(f"{r.framework}\nLRN {'on' if r.lrn else 'off'}{mode}", justify="right", no_wrap=True)
    quantities: list[tuple[str, float]] = []
    for r in results:
        for c in r.checks:
            if c.quantity not in [q for q, _ in quantities]:
                quantities.append((c.quantity, c.tolerance))
    for quantity, tol in quantities:
        cells = []
        for r in results:
            check = next((c for c in r.checks if c.quantity == quantity), None)
            if check is None:
                cells.append("-")
            else:
                style = "green" if check.passed else "bold red"
                cells.append(f"[{style}]{check.difference:.1e}[/]")
        table.add_row(quantity, f"{tol:.0e}", *cells)
    table.add_row("[bold]verdict[/]", "", *[_pf(r.passed) if r.status == "ok" else f"[yellow]{r.status}[/]"
                                            for r in results])
    console.print(table)
    for r in results:
        if r.error:
            console.print(f"[yellow]{r.framework} LRN {'on' if r.lrn else 'off'}: {r.status}: {r.error}[/]")
    console.print("Differences are max|x - ref| / max|ref| per tensor (loss: absolute; adam step: "
                  "max |dw - dw_ref| / lr where the gradient is well-posed); gradients take the worse of weight "
                  "and bias.")


def data_table(ds: Dataset, console: Console) -> None:
    table = Table(title=f"MNIST verified ({ds.location})", title_justify="left")
    for col in ("split", "images", "shape", "pixel range", "label counts 0-9"):
        table.add_column(col)
    import numpy as np

    for split, x, y in (("train", ds.train_images, ds.train_labels), ("test", ds.test_images, ds.test_labels)):
        counts = np.bincount(y, minlength=10)
        table.add_row(split, str(len(x)), "x".join(map(str, x.shape[1:])), f"[{x.min():.0f}, {x.max():.0f}]",
                      " ".join(map(str, counts)))
    console.print(table)


def _fmt(value: object, spec: str = ".1f", missing: str = "-") -> str:
    if value is None or (isinstance(value, float) and value != value):
        return missing
    return format(value, spec)


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}%"


def run_rows(rows: list[SummaryRow]) -> list[list[str]]:
    """The cells of the run table; shared by the terminal and the Markdown summary."""
    out = []
    for r in rows:
        lrn = "on" if r.lrn else "off"
        if r.median_ms is None:
            out.append([r.framework, r.mode, str(r.batch_size), lrn] + ["-"] * (len(RUN_HEADERS) - 7)
                       + [f"{r.status}: {r.error or ''}"[:60], "-"])
            continue
        mem = (f"GPU {_fmt(r.alloc_peak_mib, '.0f')}" if r.alloc_peak_mib is not None
               else f"RSS {_fmt(r.host_peak_rss_mib, '.0f')}")
        status = r.status
        if r.unstable:
            status += f" ⚠ CV {100 * (r.cv or 0):.0f}%"
        if r.rounds < 2:
            status += " (1 process)"
        out.append([
            r.framework, r.mode, str(r.batch_size), lrn,
            f"{r.median_ms:.1f} [{_fmt(r.median_ci_low_ms)}, {_fmt(r.median_ci_high_ms)}]",
            f"±{_fmt(r.ci_half_width_pct)}%", str(r.rounds), _pct(r.between_process_pct), _pct(r.within_process_pct),
            f"{_fmt(r.mean_ms)} ± {_fmt(r.std_ms)}", _fmt(r.p95_ms),
            _fmt(r.images_per_s, ".0f"), _fmt(r.achieved_gflops), _fmt(r.pct_of_peak),
            _fmt(r.compile_s, ".2f"), mem, status, f"{_fmt(r.relative_to_fastest, '.2f')}x",
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


def run_table(rows: list[SummaryRow], console: Console, title: str = "Time per step") -> None:
    narrow = console.width < FULL_WIDTH
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
        console.print("(narrow terminal: the mean, p95, img/s, GFLOP/s, % of peak and memory are in summary.csv "
                      "and summary.md)")
    console.print(table)
    sources = sorted({str(r.data_source) for r in rows if r.data_source})
    if "synthetic" in sources:
        console.print("[bold yellow]Data: SYNTHETIC MNIST-shaped batches (asked for, or MNIST was not found: "
                      "env.json says which); times are valid, no accuracy is implied.[/]")
    wide = [r for r in rows if r.target_ci_pct and r.ci_half_width_pct and r.ci_half_width_pct > r.target_ci_pct]
    for r in wide:
        name = f"{r.framework} {r.mode} {r.batch_size}{' LRN' if r.lrn else ''}"
        console.print(f"[yellow]{name}: ±{r.ci_half_width_pct:.1f}% is wider than the ±{r.target_ci_pct:g}% asked: "
                      f"its {r.rounds} processes differ by {_pct(r.between_process_pct)} (between) against "
                      f"{_pct(r.within_process_pct)} step noise "
                      f"(within); about {r.processes_needed} processes would reach it (--max-rounds).[/]")
    for line in provenance_lines(rows):
        console.print(escape(line), style="yellow" if "kept apart" in line else None)
    if any(r.unstable for r in rows):
        console.print("[yellow]⚠ unstable rows (CV > 10% over all steps): close other programs and pin --threads; "
                      "the median and its interval over processes stay valid, the mean does not.[/]")
    console.print("median: each worker process's median step, averaged over the processes (procs); 95% CI: a "
                  "t-interval over those processes, the promise about the next run; between: the process-to-process "
                  "sd beyond step noise, within: the robust sd of steps inside a process (both % of the median); "
                  "mean ± sd over every step, for reference; % peak: against a GEMM measured in the same worker; "
                  "mem: peak worker host RSS on CPU, framework allocator peak on GPU.")


def calibrate_table(rows: list[dict[str, Any]], console: Console) -> None:
    table = Table(title="Calibration", title_justify="left", box=box.SIMPLE_HEAD)
    for h in ("framework", "status", "timer res ns", "sync idle µs", "GEMM GFLOP/s", "bare loop ms",
              "harness ms", "A/B overhead [95% CI]", "verdict", "per-step cost"):
        table.add_column(h, justify="left" if h in ("framework", "status", "verdict") else "right")
    for r in rows:
        if r.get("status") != "ok":
            table.add_row(r["framework"], r.get("status", "?"), *["-"] * 6, str(r.get("error") or ""), "-")
            continue
        lo, hi = r["overhead_ci"]
        table.add_row(r["framework"], "ok", f"{r['timer']['observed_min_ns']:.0f}", f"{r['sync_idle_ns'] / 1e3:.1f}",
                      f"{r['gemm_gflops']:.1f}", f"{r['bare_mean_ms']:.1f}", f"{r['harness_mean_ms']:.1f}",
                      f"{100 * (r['overhead_ratio'] - 1):+.2f}% [{100 * (lo - 1):+.2f}, {100 * (hi - 1):+.2f}]",
                      "no measurable overhead" if r["overhead_verdict"] == "inconclusive" else r["overhead_verdict"],
                      f"{r['harness_cost_us']:.1f} µs = {r['harness_cost_pct']:.3f}%")
    console.print(table)
    console.print("A/B overhead: harness mean step (synchronised at both edges) / bare loop mean step (one sync at "
                  "the end), interleaved rounds in one process; inconclusive = the CI includes 1 or is within 1%. "
                  "per-step cost: the timed region around a no-op step (2 syncs, 2 clock reads), measured directly, "
                  "as a share of the bare step.")


def env_table(env: dict[str, Any], frameworks: list[dict[str, Any]], console: Console) -> None:
    table = Table(title="Environment", title_justify="left", box=box.SIMPLE_HEAD, show_header=False)
    table.add_column("what")
    table.add_column("value")
    table.add_row("CPU", f"{env['cpu_model']} ({env['cpu_affinity']} of {env['cpu_count']} cores usable)")
    table.add_row("RAM", f"{(env.get('ram_bytes') or 0) / 2**30:.1f} GiB")
    table.add_row("platform", f"{env['platform']}, Python {env['python']}")
    git = env.get("git") or {}
    table.add_row("bench commit", f"{git.get('commit')}{' (dirty)' if git.get('dirty') else ''}")
    if env["gpus"]:
        for g in env["gpus"]:
            table.add_row(f"GPU {g['index']}", f"{g['name']}, {g['memory_total_bytes'] / 2**30:.0f} GiB, "
                          f"driver {g['driver']}, CUDA {g['cuda_driver']}")
    else:
        table.add_row("GPU", "none found by NVML")
    for fw in frameworks:
        table.add_row(fw["framework"], fw["text"])
    for k, v in env.get("flags", {}).items():
        table.add_row(f"${k}", v)
    console.print(table)


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
                      f"{r['added_ms']:+.1f}", f"{r['lrn_share_pct']:.0f}%", _fmt(r.get("memory_added_mib")),
                      r["vs_book"].split(": ", 1)[1], r["lrn_impl"], style=style)
    console.print(table)
    console.print("off/on ms: medians; slowdown: each process's median(on) / median(off), their geometric mean, and "
                  "a t-interval over the processes (with one process: a bootstrap over its steps, which says nothing "
                  "about the next run); LRN share: (on - off) / on; inconclusive when the CI includes 1 or the "
                  "ratio is within 1% of it; memory added: framework allocator peak difference (GPU only).")
    _print_measured_with(rows, console)


def framework_table(rows: list[dict[str, Any]], console: Console) -> None:
    table = Table(title="Frameworks side by side (ratio to the fastest on the same config)", title_justify="left",
                  box=box.SIMPLE_HEAD, pad_edge=False, collapse_padding=True)
    for h in ("mode", "batch", "LRN", "framework", "median ms [95% CI]", "procs", "vs fastest [95% CI]", "p",
              "verdict"):
        table.add_column(h, justify="right" if h in ("batch", "procs", "p") else "left")
    for r in rows:
        table.add_row(r["mode"], str(r["batch_size"]), "on" if r["lrn"] else "off", r["framework"],
                      f"{r['median_ms']:.1f} [{_fmt(r['ci_low_ms'])}, {_fmt(r['ci_high_ms'])}]", str(r["processes"]),
                      f"{r['ratio']:.2f}x [{_fmt(r['ratio_ci_low'], '.2f')}, {_fmt(r['ratio_ci_high'], '.2f')}]",
                      _fmt(r["p_value"], ".1e"), r["verdict"],
                      style="bold" if r["verdict"] == "fastest" else None)
    console.print(table)
    console.print("median over each framework's worker processes (t-interval over them); vs fastest: ratio of "
                  "medians, interval and p by Welch's t over the two sides' process estimates (log scale).")
    _print_measured_with(rows, console)


def _print_measured_with(rows: list[dict[str, Any]], console: Console) -> None:
    """The versions and code fingerprints a comparison table's rows were measured with."""
    line = measured_with((r["framework"], r.get("versions"), r.get("fingerprint")) for r in rows)
    if line:
        console.print(escape(line))


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


def parity_tables(summary: list[dict[str, Any]], pairs: list[dict[str, Any]], console: Console) -> None:
    table = Table(title="Accuracy parity on MNIST (10,000 test images)", title_justify="left", box=box.SIMPLE_HEAD,
                  pad_edge=False, collapse_padding=True)
    for h in ("framework", "seeds", "final test acc %", "last checkpoint %", "test loss", "train time s",
              "time to 98%", "time to 99%", "step ms [95% CI]", "status"):
        table.add_column(h, justify="left" if h in ("framework", "status") else "right")
    for s in summary:
        if not s.get("seeds"):
            table.add_row(s["framework"], "0", *["-"] * 7, f"{s['status']}: {s.get('error') or ''}"[:60])
            continue
        sd = f" ± {s['final_acc_sd']:.2f}" if s.get("final_acc_sd") is not None else ""
        t98, t99 = s.get("time_to_98_s"), s.get("time_to_99_s")
        reach = [f"{t:.0f} s ({s[k]})" if t is not None else f"not reached ({s[k]})"
                 for t, k in ((t98, "reached_98"), (t99, "reached_99"))]
        status = s["status"] + (f" PLANTED {s['planted'].split(':')[0]}" if s.get("planted") else "")
        table.add_row(s["framework"], str(s["seeds"]), f"{s['final_acc_mean']:.2f}{sd}",
                      f"{s['last_checkpoint_acc']:.2f}", f"{s['final_test_loss']:.4f}", f"{s['train_time_s']:.0f}",
                      *reach, f"{s['step_mean_ms']:.0f} [{s['step_ci_low_ms']:.0f}, {s['step_ci_high_ms']:.0f}]",
                      status, style="yellow" if s.get("planted") else None)
    console.print(table)
    if pairs:
        pt = Table(title="Pairwise difference of final accuracy (paired by seed) against the margin",
                   title_justify="left", box=box.SIMPLE_HEAD, pad_edge=False, collapse_padding=True)
        for h in ("pair", "seeds", "difference pp", "90% CI (TOST)", "margin", "verdict", "detectable pp",
                  "seeds to settle"):
            pt.add_column(h, justify="left" if h in ("pair", "verdict") else "right")
        colour = {"PASS": "green", "FAIL": "bold red", "INCONCLUSIVE": "yellow"}
        for p in pairs:
            ci = f"[{p['ci90_low_pp']:+.2f}, {p['ci90_high_pp']:+.2f}]" if p["seeds"] > 1 else "- (1 seed)"
            pt.add_row(f"{p['a']} - {p['b']}", str(p["seeds"]), f"{p['diff_pp']:+.2f}", ci, f"±{p['margin_pp']:g}",
                       f"[{colour[p['verdict']]}]{p['verdict']}[/]", _fmt(p.get("detectable_pp"), ".2f"),
                       str(p["seeds_needed"]) if p.get("seeds_needed") else "-")
        console.print(pt)
        console.print("PASS: the 90% interval lies inside ±margin (two one-sided tests at 5%); FAIL: it lies beyond "
                      "the margin; detectable: the smallest difference this many seeds could have found (5% two-sided, "
                      "80% power).")
    console.print("train time excludes evaluation and includes each batch's host-to-device copy; time to N%: "
                  "training time at the first evaluation at or above N% (resolution: --eval-every).")


def trajectory_table(rows: list[dict[str, Any]], console: Console) -> None:
    fws = [k[5:] for k in rows[0] if k.startswith("loss_")]
    table = Table(title="Loss trajectories, dropout off, same batches: how float32 rounding grows",
                  title_justify="left", box=box.SIMPLE_HEAD, pad_edge=False, collapse_padding=True)
    for h in ["step", *fws, "max rel diff", "envelope"]:
        table.add_column(h, justify="right")
    marks = {1, 2, 3, 5, 10, 20, 30, 50, 75, 100, 200, 500, len(rows)}
    for r in rows:
        if r["step"] in marks:
            table.add_row(str(r["step"]), *[f"{r['loss_' + fw]:.5f}" for fw in fws], f"{r['max_rel_diff']:.1e}",
                          f"{r['envelope']:.1e}")
    console.print(table)
    console.print("max rel diff: largest |loss_a - loss_b| / |loss_b| over framework pairs; envelope: the "
                  "tolerance tests/test_parity.py defends (doubling from 1e-4 per step, capped at 15%).")


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
                      f"{last.estimate_ms:.1f} [{_fmt(last.ci_low_ms)}, {_fmt(last.ci_high_ms)}]", changes,
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


def profile_table(rows: list[dict[str, Any]], summary: dict[str, Any], ops: list[dict[str, Any]],
                  console: Console) -> None:
    """One framework: ms per step per scope and pass, from its profiler and from each scope alone."""
    from bench.analysis.attribution import UNATTRIBUTED

    s = summary
    default = " default precision" if s.get("precision", "strict") != "strict" else ""
    tuned = f" +{s['tuning']}" if s.get("tuning") else ""
    title = (f"{s['framework']} {s['mode']} batch {s['batch_size']}{' LRN' if s['lrn'] else ''} ({s['compile']})"
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
        table.add_row(scope, pass_ or "-", _fmt(p.get("ms"), ".2f"), _pct(p.get("share_pct")), _fmt(p.get("gflops")),
                      _fmt(p.get("pct_of_peak"), ".0f"), _fmt(i.get("ms"), ".2f"), _fmt(i.get("gflops")),
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
                                              f"{_pct(o['share_pct'])}" for o in ops))


def profile_overhead_table(summaries: list[dict[str, Any]], console: Console) -> None:
    table = Table(title="What a step costs before any arithmetic (fit of t(batch) = fixed + batch x per-image, "
                  "from the batch-1 step)", title_justify="left", box=box.SIMPLE_HEAD, pad_edge=False,
                  collapse_padding=True)
    for h in ("framework", "batch", "step ms", "batch-1 step ms", "fixed ms", "fixed share", "per image ms",
              "host returns after", "page faults/step", "profile coverage"):
        table.add_column(h, justify="left" if h == "framework" else "right")
    for s in summaries:
        table.add_row(s["framework"], str(s["batch_size"]), _fmt(s["step_ms"]), _fmt(s["tiny_step_ms"], ".2f"),
                      _fmt(s["fixed_ms"], ".2f"), _pct(s["fixed_share_pct"]), _fmt(s["per_image_ms"], ".3f"),
                      f"{_fmt(s['host_return_ms'])} ms ({_pct(s['host_share_pct'])})",
                      _fmt(s["page_faults_per_step"], ".0f"), _pct(s["coverage_pct"]))
    console.print(table)
    console.print("host returns after: how long a step call takes to return to Python, against the whole "
                  "synchronised step; an asynchronous framework returns before its work is done.")
    _print_measured_with(summaries, console)
