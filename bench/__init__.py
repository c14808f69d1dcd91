"""bench: benchmark PyTorch, TensorFlow and JAX on one proven-equivalent AlexNet for MNIST.

Importing this package imports no deep-learning framework; :func:`get_adapter` loads one lazily.
"""

from __future__ import annotations

from bench.registry import available, get_adapter

__version__ = "0.1.0"
__all__ = ["available", "get_adapter", "__version__"]
