"""Rich tables. Every renderer takes a ``Console`` and reads results only (no measuring here)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from rich import box
from rich.console import Console
from rich.table import Table

if TYPE_CHECKING:
    from bench.data import Dataset
    from bench.verify import VerifyResult


def _pf(ok: bool) -> str:
    return "[green]PASS[/]" if ok else "[bold red]FAIL[/]"


def verify_table(results: list[VerifyResult], console: Console) -> None:
    """One column per (framework, LRN), one row per checked quantity, plus its tolerance."""
    table = Table(title="Largest normalised difference from the float64 NumPy reference", title_justify="left",
                  box=box.SIMPLE_HEAD)
    table.add_column("quantity", no_wrap=True)
    table.add_column("tolerance", justify="right")
    for r in results:
        table.add_column(f"{r.framework}\nLRN {'on' if r.lrn else 'off'}", justify="right", no_wrap=True)
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
    console.print("Differences are max|x - ref| / max|ref| per tensor (loss: absolute; adam step: max |dw - dw_ref| / lr "
                  "where the gradient is well-posed); gradients take the worse of weight and bias.")


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
