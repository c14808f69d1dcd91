"""The Python API: ``bench.get_adapter``, ``bench.load`` and ``bench.available`` (re-exported by
``bench/__init__``). It sits at the top beside the command line, since ``load`` reaches the output
layer; importing it imports no deep-learning framework."""

from __future__ import annotations

import os
import warnings
from typing import TYPE_CHECKING, Any

from bench.core import contract
from bench.core.config import ModelConfig
from bench.core.registry import available
from bench.worker import process

if TYPE_CHECKING:
    from bench.core.contract import FrameworkAdapter
    from bench.output.frames import RunFrames

__all__ = ["available", "get_adapter", "load"]


def get_adapter(name: str, lrn: bool = False, device: str = "cpu", **options: Any) -> FrameworkAdapter:
    """Build the adapter for ``name`` with canonical weights (``init``, ``seed``) loaded, in this process
    with the environment a worker sets (:func:`bench.worker.process.apply_in_process`): a warning says
    when the framework was imported first and may not honour it.

    ``options`` are the other :class:`bench.core.config.ModelConfig` fields: dropout, compile,
    lrn_impl, threads, init, seed, and the LRN parameters.
    """
    config = ModelConfig(framework=name, lrn=lrn, device=device, **options)
    _, already = process.apply_in_process(config.threads, config.device)
    if name in already:
        warnings.warn(f"bench: {name} was imported before bench.get_adapter, so the environment bench sets "
                      f"before a framework loads (bench.worker.process.prepare_process: threads, GPU memory "
                      f"preallocation, one GPU by UUID) may not apply to it; import bench first", stacklevel=2)
    return contract.adapter_class(name)(config)


def load(run_dir: str | os.PathLike[str]) -> RunFrames:
    """A run folder (``reports/<time>-run``) as DataFrames: ``.summary`` (one row per config, the
    columns of summary.csv) and ``.samples`` (one row per timed step)."""
    from pathlib import Path

    from bench.core import storage
    from bench.output import frames

    return frames.frames(storage.read_records(storage.resolve_existing(Path(run_dir))))
