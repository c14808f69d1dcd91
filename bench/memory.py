"""Memory figures in bytes, each in its own named field; ``None`` where a figure does not exist.

Host: the worker's peak resident set (getrusage) and current RSS. GPU: NVML's view of this process
and of the whole device (separate from each framework's allocator peak, which the adapter gives).
"""

from __future__ import annotations

import os
import resource
import sys
from typing import Any


def host_peak_rss_bytes() -> int:
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return int(peak if sys.platform == "darwin" else peak * 1024)  # Linux reports KiB


def host_rss_bytes() -> int | None:
    try:
        import psutil

        return int(psutil.Process().memory_info().rss)
    except Exception:  # noqa: BLE001 - psutil missing or unsupported platform
        return None


def _nvml() -> Any | None:
    try:
        import pynvml

        pynvml.nvmlInit()
        return pynvml
    except Exception:  # noqa: BLE001 - no driver, no GPU, or nvidia-ml-py missing
        return None


def visible_gpu() -> str | None:
    """The GPU this process uses, as CUDA_VISIBLE_DEVICES names it first (an index or a GPU-UUID)."""
    first = os.environ.get("CUDA_VISIBLE_DEVICES", "").split(",")[0].strip()
    return first or None


def _handle(nv: Any) -> Any:
    """NVML's handle of this process's GPU: by UUID when CUDA_VISIBLE_DEVICES gives one (NVML's indices
    need not be CUDA's), by index when it gives an index, else the first GPU."""
    visible = visible_gpu()
    if visible and visible.startswith(("GPU-", "MIG-")):
        return nv.nvmlDeviceGetHandleByUUID(visible)
    return nv.nvmlDeviceGetHandleByIndex(int(visible) if visible and visible.isdigit() else 0)


def nvml_memory(pid: int | None = None) -> dict[str, int | None]:
    """NVML per-process used memory (this pid) and device used/total of this process's GPU, or None
    without a GPU."""
    out: dict[str, int | None] = {"nvml_process_bytes": None, "nvml_device_used_bytes": None,
                                  "nvml_device_total_bytes": None}
    nv = _nvml()
    if nv is None:
        return out
    try:
        handle = _handle(nv)
        info = nv.nvmlDeviceGetMemoryInfo(handle)
        out["nvml_device_used_bytes"] = int(info.used)
        out["nvml_device_total_bytes"] = int(info.total)
        pid = os.getpid() if pid is None else pid
        for proc in nv.nvmlDeviceGetComputeRunningProcesses(handle):
            if proc.pid == pid and proc.usedGpuMemory is not None:
                out["nvml_process_bytes"] = int(proc.usedGpuMemory)
    except Exception:  # noqa: BLE001 - a partial answer is still useful
        pass
    return out


def gpu_inventory() -> list[dict[str, Any]]:
    """Every GPU NVML sees: name, memory, driver and CUDA driver version."""
    nv = _nvml()
    if nv is None:
        return []
    gpus = []
    try:
        driver = nv.nvmlSystemGetDriverVersion()
        cuda = nv.nvmlSystemGetCudaDriverVersion_v2()
        for i in range(nv.nvmlDeviceGetCount()):
            h = nv.nvmlDeviceGetHandleByIndex(i)
            mem = nv.nvmlDeviceGetMemoryInfo(h)
            gpus.append({"index": i, "name": str(nv.nvmlDeviceGetName(h)), "uuid": str(nv.nvmlDeviceGetUUID(h)),
                         "memory_total_bytes": int(mem.total),
                         "driver": str(driver), "cuda_driver": f"{cuda // 1000}.{(cuda % 1000) // 10}"})
    except Exception:  # noqa: BLE001
        pass
    return gpus


def gpu_model() -> str | None:
    """The model of the GPU this process uses: the first one CUDA_VISIBLE_DEVICES names (an index or
    a UUID), else NVML's first; None when NVML sees no GPU."""
    gpus = gpu_inventory()
    if not gpus:
        return None
    visible = visible_gpu()
    for g in gpus:
        if visible and visible in (str(g["index"]), g.get("uuid")):
            return str(g["name"])
    return str(gpus[0]["name"])


def snapshot(allocator: dict[str, int | None] | None = None) -> dict[str, int | None]:
    """All memory columns of one result row."""
    out: dict[str, int | None] = {"host_peak_rss_bytes": host_peak_rss_bytes(), "host_rss_bytes": host_rss_bytes()}
    out.update(allocator or {"alloc_peak_bytes": None, "alloc_reserved_bytes": None})
    out.update(nvml_memory())
    return out
