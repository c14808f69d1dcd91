"""Shared fixtures. Real MNIST comes from $BENCH_DATA_DIR (CI: ../shared/data/mnist) or the cache;
with BENCH_REQUIRE_MNIST=1 (CI) a missing copy fails the tests instead of skipping them.

Frameworks come from the registry: one pytest marker each (``-m torch``), parametrised ids."""

from __future__ import annotations

import os
from typing import Any

import numpy as np
import pytest

from bench.core import data, registry
from bench.core.errors import DataNotFound

FRAMEWORKS = registry.names()
NUMPY_FRAMEWORK = "tests.numpy_framework:REGISTRATION"  # the test-only fourth framework


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--screenshots", metavar="DIR", help="keep the browser tests' screenshots of every report kind "
                     "in DIR (or set BENCH_SCREENSHOTS=DIR)")


def pytest_configure(config: pytest.Config) -> None:
    for name, reg in registry.registrations().items():
        config.addinivalue_line("markers", f"{name}: needs {', '.join(reg.requires)} ({reg.install_hint()})")


def framework_params() -> list[Any]:
    return [pytest.param(fw, id=fw, marks=getattr(pytest.mark, fw)) for fw in FRAMEWORKS]


def require_framework(name: str) -> None:
    # exc_type=ModuleNotFoundError: a broken install (ImportError inside the package) fails loudly.
    for module in registry.get(name).requires:
        pytest.importorskip(module, exc_type=ModuleNotFoundError)


def installed(minimum: int = 1) -> list[str]:
    """The installed frameworks, skipping the test when fewer than ``minimum`` are."""
    names = registry.available()
    if len(names) < minimum:
        pytest.skip(f"needs {minimum} installed framework(s), found {names}")
    return names


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


@pytest.fixture
def numpy_framework(monkeypatch: pytest.MonkeyPatch) -> str:
    """Registers the test-only NumPy framework in this process and in every worker it starts."""
    monkeypatch.setenv(registry.EXTRA_ENV, NUMPY_FRAMEWORK)
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(filter(None, [root, os.environ.get("PYTHONPATH")])))
    assert "numpy" in registry.names()
    return "numpy"
