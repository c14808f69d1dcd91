"""The tables of the checks made before measuring: the environment (``bench env``), the data (``bench
data``), the instrument (``bench calibrate``) and each framework against the float64 reference
(``bench verify``)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from rich import box
from rich.console import Console
from rich.table import Table

from bench.analysis.stats import DIFFERENCE_FLOOR
from bench.output.tables.cells import pass_fail

if TYPE_CHECKING:
    from bench.core.data import Dataset
    from bench.execution.verification import VerifyResult


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
                  "the end), interleaved rounds in one process; inconclusive = the CI includes 1 or is within "
                  f"{100 * DIFFERENCE_FLOOR:g}%. "
                  "per-step cost: the timed region around a no-op step (2 syncs, 2 clock reads), measured directly, "
                  "as a share of the bare step.")


def verify_table(results: list[VerifyResult], console: Console) -> None:
    """One column per (framework, LRN), one row per checked quantity, plus its tolerance."""
    models = sorted({r.model for r in results} - {"mnist"})  # mnist's title reads as before models
    title = "Largest normalised difference from the float64 NumPy reference" + (
        f" (model {', '.join(models)})" if models else "")
    table = Table(title=title, title_justify="left", box=box.SIMPLE_HEAD)
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
    table.add_row("[bold]verdict[/]", "", *[pass_fail(r.passed) if r.status == "ok" else f"[yellow]{r.status}[/]"
                                            for r in results])
    console.print(table)
    for r in results:
        if r.error:
            console.print(f"[yellow]{r.framework} LRN {'on' if r.lrn else 'off'}: {r.status}: {r.error}[/]")
    console.print("Differences are max|x - ref| / max|ref| per tensor (loss: absolute; adam step: "
                  "max |dw - dw_ref| / lr where the gradient is well-posed); gradients take the worse of weight "
                  "and bias.")
