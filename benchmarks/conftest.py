"""The pytest-benchmark suite (``nox -s perf``): one benchmark per framework x mode at batch 128.

pytest-benchmark times in-process, so each pytest process must hold one framework (two frameworks'
thread pools in one process disturb each other): select it with ``-m torch`` (``nox -s perf`` runs
one process per framework). Machine info is extended with what a framework benchmark needs to be
compared fairly: the GPU model, the CPU model, and the package versions.
"""

from __future__ import annotations

import platform
from typing import Any

import pytest

from bench.core import gpus, provenance, registry


def pytest_configure(config: pytest.Config) -> None:
    for name, reg in registry.registrations().items():
        config.addinivalue_line("markers", f"{name}: needs {', '.join(reg.requires)} ({reg.install_hint()})")


@pytest.hookimpl(trylast=True)  # after -m / -k have deselected
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    chosen = sorted({item.callspec.params["framework"] for item in items
                     if hasattr(item, "callspec") and "framework" in item.callspec.params})
    if len(chosen) > 1 and not config.getoption("collectonly"):
        raise pytest.UsageError(f"one framework per pytest process (pytest-benchmark times in-process), got "
                                f"{', '.join(chosen)}; select one with -m {chosen[0]}, or run nox -s perf")


def pytest_benchmark_update_machine_info(config: pytest.Config, machine_info: dict[str, Any]) -> None:
    found = gpus.gpu_inventory()
    machine_info["bench"] = {
        "host": platform.node(),
        "cpu_model": provenance.cpu_model(),
        "gpu": found[0]["name"] if found else None,
        "gpus": [g["name"] for g in found],
        "cuda_driver": found[0]["cuda_driver"] if found else None,
        **{name: version for name, version in provenance.package_versions().items() if version},
    }
