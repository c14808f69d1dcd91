"""Provenance: what machine, software and settings produced a result. Imports no framework:
versions come from package metadata, GPUs from NVML."""

from __future__ import annotations

import datetime as dt
import importlib.metadata
import os
import platform
import subprocess
from pathlib import Path
from typing import Any

from bench import memory

SCHEMA_VERSION = 1
PACKAGES = ("torch", "tensorflow", "jax", "jaxlib", "optax", "numpy", "scipy", "bench")
FLAG_VARS = ("XLA_FLAGS", "TF_XLA_FLAGS", "TF_ENABLE_ONEDNN_OPTS", "OMP_NUM_THREADS", "MKL_NUM_THREADS",
             "OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE", "CUDA_VISIBLE_DEVICES", "XLA_PYTHON_CLIENT_PREALLOCATE",
             "TF_FORCE_GPU_ALLOW_GROWTH", "NVIDIA_TF32_OVERRIDE", "TORCH_ALLOW_TF32_CUBLAS_OVERRIDE")


def utc_now() -> str:
    return dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def package_versions() -> dict[str, str | None]:
    out: dict[str, str | None] = {}
    for name in PACKAGES:
        try:
            out[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            out[name] = None
    return out


def git_commit() -> dict[str, Any]:
    root = Path(__file__).resolve().parent.parent
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
        "gpus": memory.gpu_inventory(),
        "packages": package_versions(),
        "flags": {k: os.environ[k] for k in FLAG_VARS if k in os.environ},
    }


def has_gpu() -> bool:
    return bool(memory.gpu_inventory())


def devices_task(params: dict[str, Any], workdir: Path) -> dict[str, Any]:
    """Worker task: the devices one framework can see (imports that framework only)."""
    fw = params["framework"]
    if fw == "torch":
        import torch

        devs = ["cpu"] + [f"cuda:{i} {torch.cuda.get_device_name(i)}" for i in range(torch.cuda.device_count())]
        extra = f"built with CUDA {torch.version.cuda}" if torch.version.cuda else "CPU build"
    elif fw == "tensorflow":
        import tensorflow as tf

        devs = [d.name for d in tf.config.list_physical_devices()]
        info = tf.sysconfig.get_build_info()
        extra = f"built with CUDA {info['cuda_version']}" if info.get("cuda_version") else "CPU build"
    else:
        import jax

        devs = [str(d) for d in jax.devices()]
        extra = f"backend {jax.default_backend()}"
    return {"devices": devs, "extra": extra}
