"""Shared fixtures. Real MNIST comes from $BENCH_DATA_DIR (CI: ../shared/data/mnist) or the cache;
with BENCH_REQUIRE_MNIST=1 (CI) a missing copy fails the tests instead of skipping them."""

from __future__ import annotations

import os
from typing import Any

import numpy as np
import pytest

from bench import data
from bench.errors import DataNotFound

FRAMEWORKS = ("torch", "tensorflow", "jax")
MODULES = {"torch": "torch", "tensorflow": "tensorflow", "jax": "jax"}


def framework_params() -> list[Any]:
    return [pytest.param(fw, id=fw, marks=getattr(pytest.mark, fw)) for fw in FRAMEWORKS]


def require_framework(name: str) -> None:
    # exc_type=ModuleNotFoundError: a broken install (ImportError inside the package) fails loudly.
    pytest.importorskip(MODULES[name], exc_type=ModuleNotFoundError)
    if name == "jax":
        pytest.importorskip("optax", exc_type=ModuleNotFoundError)


@pytest.fixture(scope="session")
def mnist() -> data.Dataset:
    try:
        return data.locate_mnist(allow_download=False)
    except DataNotFound as exc:
        if os.environ.get("BENCH_REQUIRE_MNIST") == "1":
            raise
        pytest.skip(f"real MNIST not available: {exc}")


@pytest.fixture(scope="session")
def batch(mnist: data.Dataset) -> tuple[np.ndarray, np.ndarray]:
    return mnist.train_images[:32], mnist.train_labels[:32]
