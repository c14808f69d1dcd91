"""What every table's cells share: a figure or a dash, a percentage, PASS or FAIL. One spelling of
each, so a missing figure looks the same in every command's table."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from rich.console import Console
from rich.markup import escape


def pass_fail(ok: bool) -> str:
    """PASS in green or FAIL in bold red."""
    return "[green]PASS[/]" if ok else "[bold red]FAIL[/]"


def fmt(value: object, spec: str = ".1f", missing: str = "-") -> str:
    """``value`` formatted with ``spec``; ``missing`` for None and NaN (a figure that does not exist)."""
    if value is None or (isinstance(value, float) and value != value):
        return missing
    return format(value, spec)


def print_measured_with(rows: Sequence[dict[str, Any]], console: Console) -> None:
    """The versions and code fingerprints a comparison table's rows were measured with."""
    from bench.analysis.summary import measured_with

    line = measured_with((r["framework"], r.get("versions"), r.get("fingerprint")) for r in rows)
    if line:
        console.print(escape(line))


def pct(value: float | None) -> str:
    """A percentage with one decimal, or a dash."""
    return "-" if value is None else f"{value:.1f}%"


def wide_notes(named: Sequence[tuple[str, dict[str, Any]]], console: Any) -> list[str]:
    """One yellow line per ratio still wider than the target, with its reason (``wide_reason``, from
    :func:`bench.analysis.lockstep_ratios.name_wide`). Returns the lines printed."""
    lines = [f"{name}: {r['wide_reason']}" for name, r in named if r.get("wide_reason")]
    for line in lines:
        console.print(f"[yellow]{line}[/]")
    return lines
