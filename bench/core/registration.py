"""The record that registers a framework: plain data, importable without the framework.

A framework is one module in ``impls/`` (its adapter class, importing the framework at module level)
plus one :class:`Registration` line in ``impls/frameworks.py``. This module imports nothing of bench
above it, so the registry can read registrations without the adapter contract.
"""

from __future__ import annotations

import importlib
import importlib.util
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from bench.model import spec


def _no_limits(params: spec.LrnParams) -> list[str]:
    return []


@dataclass(frozen=True)
class Registration:
    """Everything bench needs to know about one framework, as data that imports no framework.

    ``adapter`` is ``"module:Class"`` and is imported only inside a worker (or by the Python API).
    The first of ``compile_modes`` and of ``lrn_impls`` is the default.
    """

    name: str
    adapter: str
    requires: tuple[str, ...]  # top-level modules that must be importable
    extra: str  # the pip extra that installs them: pip install 'bench[EXTRA]'
    packages: tuple[str, ...]  # distributions whose versions go into the provenance
    compile_modes: tuple[str, ...]
    lrn_impls: tuple[str, ...]
    compile_help: str = ""  # one phrase per mode, for --help
    lrn_impl_help: str = ""
    # exact tunings a user may switch on (--tune FW=NAME): name -> what it does; recorded in the key
    tunings: Mapping[str, str] = field(default_factory=dict)
    gemm_priority: int = 100  # lowest first: which framework measures a run's fallback GEMM reference
    # LRN parameters the framework's GPU kernel cannot run (empty list: fine), refused before any run
    gpu_lrn_problems: Callable[[spec.LrnParams], list[str]] = _no_limits
    env: Mapping[str, str] = field(default_factory=dict)  # set in every worker before any import
    env_defaults: Mapping[str, str] = field(default_factory=dict)  # likewise, unless the user set them
    cpu_env: Mapping[str, str] = field(default_factory=dict)  # and in CPU-only workers
    threads_env: Callable[[int], dict[str, str]] | None = None  # and with --threads N
    env_flags: tuple[str, ...] = ()  # environment variables recorded in the provenance when set
    tf32_env: tuple[str, ...] = ()  # variables that turn TF32 on behind the framework's settings: refused when strict

    def __post_init__(self) -> None:
        module, sep, cls = self.adapter.partition(":")
        if not (self.name and module and sep and cls and self.requires and self.compile_modes and self.lrn_impls):
            raise ValueError(f"incomplete registration for framework {self.name!r}: {self}")

    def missing_modules(self) -> list[str]:
        return [mod for mod in self.requires if importlib.util.find_spec(mod) is None]

    def is_available(self) -> bool:
        return not self.missing_modules()

    def install_hint(self) -> str:
        return f"pip install 'bench[{self.extra}]'"

    def load_adapter(self) -> Any:
        """The adapter class this registration names (imports the framework); checked by
        :func:`bench.core.contract.adapter_class`."""
        module, _, cls = self.adapter.partition(":")
        return getattr(importlib.import_module(module), cls)

    def worker_env(self, threads: int | None, device: str) -> dict[str, str]:
        """Environment variables a worker sets for this framework before importing anything."""
        out = {k: v for k, v in self.env_defaults.items() if k not in os.environ}
        out.update(self.env)
        if device == "cpu":
            out.update(self.cpu_env)
        if threads and self.threads_env is not None:
            out.update(self.threads_env(threads))
        return out
