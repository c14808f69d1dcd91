"""Provenance: what machine, software and settings produced a result. Imports no framework:
versions come from package metadata, GPUs from NVML, framework specifics from the registry."""

from __future__ import annotations

import importlib.metadata
import json
import os
import platform
import subprocess
from pathlib import Path
from typing import Any

from bench.core import gpus, registry
from bench.core.records import SCHEMA_VERSION, utc_now

BASE_PACKAGES = ("numpy", "scipy", "pandas", "bench")
BASE_FLAGS = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE", "CUDA_VISIBLE_DEVICES")


def packages() -> tuple[str, ...]:
    regs = registry.registrations().values()
    return tuple(dict.fromkeys([p for reg in regs for p in reg.packages] + list(BASE_PACKAGES)))


def flag_vars() -> tuple[str, ...]:
    regs = registry.registrations().values()
    return tuple(dict.fromkeys(list(BASE_FLAGS) + [f for reg in regs for f in (*reg.env_flags, *reg.env,
                                                                                    *reg.env_defaults)]))


def package_versions(python: str | None = None) -> dict[str, str | None]:
    """Versions of the recorded packages in this interpreter, or in another one (``python``: asked in a
    subprocess, e.g. the venv one side of ``bench ab`` runs)."""
    if python is not None:
        code = ("import importlib.metadata as m, json, sys\n"
                "def v(n):\n    try:\n        return m.version(n)\n    except m.PackageNotFoundError:\n"
                "        return None\nprint(json.dumps({n: v(n) for n in sys.argv[1:]}))")
        try:
            text = subprocess.run([python, "-c", code, *packages()], capture_output=True, text=True, timeout=60,
                                  check=True).stdout
            return dict(json.loads(text))
        except (OSError, subprocess.SubprocessError, ValueError):
            return {name: None for name in packages()}
    out: dict[str, str | None] = {}
    for name in packages():
        try:
            out[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            out[name] = None
    return out


def git_commit() -> dict[str, Any]:
    root = Path(__file__).resolve().parents[2]
    try:
        commit = subprocess.run(["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True,
                                timeout=5, check=True).stdout.strip()
        dirty = bool(subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=root,
                                    capture_output=True, text=True, timeout=5).stdout.strip())
        return {"commit": commit, "dirty": dirty}
    except (OSError, subprocess.SubprocessError):
        return {"commit": None, "dirty": None}


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def collect() -> dict[str, Any]:
    try:
        affinity = len(os.sched_getaffinity(0))
    except AttributeError:
        affinity = os.cpu_count() or 0
    try:
        import psutil

        ram = int(psutil.virtual_memory().total)
    except Exception:  # noqa: BLE001
        ram = None
    return {
        "schema_version": SCHEMA_VERSION,
        "utc": utc_now(),
        "git": git_commit(),
        "hostname": platform.node(),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "cpu_model": cpu_model(),
        "cpu_count": os.cpu_count(),
        "cpu_affinity": affinity,
        "ram_bytes": ram,
        "gpus": gpus.gpu_inventory(),
        "packages": package_versions(),
        "flags": {k: os.environ[k] for k in flag_vars() if k in os.environ},
    }


def has_gpu() -> bool:
    return bool(gpus.gpu_inventory())


def identity(device: str) -> dict[str, str | None]:
    """The machine a measurement ran on, as it goes into the job key: host name and GPU model
    (None on CPU). Workers record their own; the parent uses it to match jobs for --resume."""
    return {"host": platform.node(), "gpu": gpus.gpu_model() if device == "gpu" else None}
