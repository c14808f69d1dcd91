"""Shared fixtures. Real MNIST comes from $BENCH_DATA_DIR (CI: ../shared/data/mnist) or the cache;
with BENCH_REQUIRE_MNIST=1 (CI) a missing copy fails the tests instead of skipping them.

Frameworks come from the registry: one pytest marker each (``-m torch``), parametrised ids. A test
carrying a framework's marker skips when that framework is not installed (``nox -s jax`` installs jax
alone: the torch and tensorflow tests skip by their markers), and fails when it is installed but broken.

The browser tests get playwright from :func:`require_browser`: they skip with the reason when
/usr/bin/chromium or playwright is missing or playwright cannot be imported, and fail instead under
``BENCH_REQUIRE_BROWSER=1`` (CI)."""

from __future__ import annotations

import importlib
import os
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np
import pytest

from bench.core import data, registry
from bench.core.errors import DataNotFound

FRAMEWORKS = registry.names()
NUMPY_FRAMEWORK = "tests.numpy_framework:REGISTRATION"  # the test-only fourth framework
CHROMIUM = Path("/usr/bin/chromium")  # Debian's chromium; playwright's own browser download is never used
REQUIRE_BROWSER = "BENCH_REQUIRE_BROWSER"


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--screenshots", metavar="DIR", help="keep the browser tests' screenshots of every report kind "
                     "in DIR (or set BENCH_SCREENSHOTS=DIR)")


def pytest_configure(config: pytest.Config) -> None:
    for name, reg in registry.registrations().items():
        config.addinivalue_line("markers", f"{name}: needs {', '.join(reg.requires)} ({reg.install_hint()})")


def pytest_runtest_setup(item: pytest.Item) -> None:
    for name in registry.names():  # a framework's marker is enough to skip its tests where it is not installed
        if item.get_closest_marker(name) is not None:
            require_framework(name)


def framework_params() -> list[Any]:
    return [pytest.param(fw, id=fw, marks=getattr(pytest.mark, fw)) for fw in FRAMEWORKS]


def require_framework(name: str) -> None:
    # exc_type=ModuleNotFoundError: a broken install (ImportError inside the package) fails loudly.
    for module in registry.get(name).requires:
        pytest.importorskip(module, exc_type=ModuleNotFoundError)


def require_browser(chromium: Path = CHROMIUM) -> ModuleType:
    """``playwright.sync_api``, for the tests that open reports in ``chromium``. Skips with the reason when
    chromium or playwright is missing or playwright cannot be imported; with BENCH_REQUIRE_BROWSER=1 each of
    those fails the test instead, so CI never passes with the browser tests silently skipped."""
    if not chromium.exists():
        problem = f"{chromium} not found: the HTML report tests need Debian's chromium (apt-get install -y chromium)"
    else:
        try:
            return importlib.import_module("playwright.sync_api")
        except Exception as exc:  # missing (ModuleNotFoundError) or broken: whatever its import raises
            problem = f"playwright.sync_api cannot be imported ({type(exc).__name__}: {exc}): pip install playwright"
    if os.environ.get(REQUIRE_BROWSER) == "1":
        pytest.fail(f"{problem}; {REQUIRE_BROWSER}=1 makes that a failure", pytrace=False)
    pytest.skip(problem)


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
