"""Re-exports the four tables :mod:`bench.cli.common` still names as ``render.*`` (that module is being
reworked on another branch this round): the tables live in :mod:`bench.output.tables`, one module per
kind of result. Delete this module once ``bench.cli.common`` imports ``bench.output.tables`` itself;
nothing else may import it."""

from __future__ import annotations

from bench.output.tables.comparisons import framework_table, layer_table, lrn_table
from bench.output.tables.runs import run_table

__all__ = ["framework_table", "layer_table", "lrn_table", "run_table"]
