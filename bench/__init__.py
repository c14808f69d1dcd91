"""bench: benchmark PyTorch, TensorFlow and JAX on one proven-equivalent AlexNet for MNIST.

Importing this package imports no deep-learning framework: :func:`get_adapter` loads one lazily,
and :func:`load` reads a run folder into pandas DataFrames. Both live in :mod:`bench.api` and are
looked up on first use (PEP 562): every ``import bench.core...`` runs this file first, so it imports
no layer itself, and the layers' import contracts see each module's real dependencies.
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"
__all__ = ["available", "get_adapter", "load", "__version__"]


def __getattr__(name: str) -> Any:
    if name in ("available", "get_adapter", "load"):
        return getattr(importlib.import_module("bench.api"), name)
    raise AttributeError(f"module 'bench' has no attribute {name!r}")
