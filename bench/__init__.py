"""bench: benchmark PyTorch, TensorFlow and JAX on one proven-equivalent AlexNet for MNIST.

Importing this package imports no deep-learning framework: :func:`get_adapter` loads one lazily,
and :func:`load` reads a run folder into pandas DataFrames.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

from bench.registry import available

if TYPE_CHECKING:
    from bench.adapter import FrameworkAdapter
    from bench.summary import RunFrames

__version__ = "0.1.0"
__all__ = ["available", "get_adapter", "load", "__version__"]


def get_adapter(name: str, lrn: bool = False, device: str = "cpu", **options: Any) -> FrameworkAdapter:
    """Build the adapter for ``name`` with canonical weights (``init``, ``seed``) loaded.

    ``options`` are the other :class:`bench.config.ModelConfig` fields: dropout, compile,
    lrn_impl, threads, init, seed, and the LRN parameters.
    """
    from bench import registry
    from bench.config import ModelConfig

    config = ModelConfig(framework=name, lrn=lrn, device=device, **options)
    return registry.adapter_class(name)(config)


def load(run_dir: str | os.PathLike[str]) -> RunFrames:
    """A run folder (``reports/<time>-run``) as DataFrames: ``.summary`` (one row per config, the
    columns of summary.csv) and ``.samples`` (one row per timed step)."""
    from pathlib import Path

    from bench import storage, summary

    return summary.frames(storage.read_records(storage.resolve_existing(Path(run_dir))))
