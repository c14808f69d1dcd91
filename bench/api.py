"""The Python API: ``bench.get_adapter``, ``bench.load`` and ``bench.available`` (re-exported by
``bench/__init__``). It sits at the top beside the command line, since ``load`` reaches the output
layer; importing it imports no deep-learning framework."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

from bench.core import contract
from bench.core.config import ModelConfig
from bench.core.registry import available

if TYPE_CHECKING:
    from bench.core.contract import FrameworkAdapter
    from bench.output.frames import RunFrames

__all__ = ["available", "get_adapter", "load"]


def get_adapter(name: str, lrn: bool = False, device: str = "cpu", **options: Any) -> FrameworkAdapter:
    """Build the adapter for ``name`` with canonical weights (``init``, ``seed``) loaded.

    ``options`` are the other :class:`bench.core.config.ModelConfig` fields: dropout, compile,
    lrn_impl, threads, init, seed, and the LRN parameters.
    """
    config = ModelConfig(framework=name, lrn=lrn, device=device, **options)
    return contract.adapter_class(name)(config)


def load(run_dir: str | os.PathLike[str]) -> RunFrames:
    """A run folder (``reports/<time>-run``) as DataFrames: ``.summary`` (one row per config, the
    columns of summary.csv) and ``.samples`` (one row per timed step)."""
    from pathlib import Path

    from bench.core import storage
    from bench.output import frames

    return frames.frames(storage.read_records(storage.resolve_existing(Path(run_dir))))
