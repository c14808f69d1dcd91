"""Memory figures in bytes, each in its own named field; ``None`` where a figure does not exist.

Host: the worker's peak resident set (getrusage) and current RSS. GPU, side by side: the framework's
allocator peak over the measured steps (``alloc_peak_bytes``, its scope in ``alloc_peak_scope``) and its
reserved pool (``alloc_reserved_bytes``), both from the adapter; and NVML's view, which also counts the
CUDA context and every library's workspace: this process's figure (``nvml_process_bytes``, how it was
found in ``nvml_process_source``) and the whole device's used and total.

NVML lists a GPU's processes by PID; inside a container those are the host's PIDs, never
``os.getpid()``. Then the per-process figure is the growth of the device's used memory since this
worker started (:func:`baseline`, before any framework touched the GPU), which with one job per GPU is
this process's, and the row says so.
"""

from __future__ import annotations

import os
import resource
import sys
from typing import Any

from bench.core import gpus

PID_SOURCE = "NVML process entry (this PID)"
DELTA_SOURCE = ("device used minus at worker start: NVML lists no process with this PID (a container's "
                "PID namespace); counts anything else that started on this GPU meanwhile")
_baseline: dict[str, int | None] = {"nvml_device_used_bytes": None}


def host_peak_rss_bytes() -> int:
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return int(peak if sys.platform == "darwin" else peak * 1024)  # Linux reports KiB


def host_rss_bytes() -> int | None:
    try:
        import psutil

        return int(psutil.Process().memory_info().rss)
    except Exception:  # noqa: BLE001 - psutil missing or unsupported platform
        return None


def baseline() -> int | None:
    """Remember the device's used memory now, before any framework is imported (the worker calls this
    first), for the per-process figure NVML cannot give by PID. Returns it (None without a GPU)."""
    _baseline["nvml_device_used_bytes"] = nvml_memory(with_delta=False)["nvml_device_used_bytes"]
    return _baseline["nvml_device_used_bytes"]


def _per_process(nv: Any, handle: Any, pid: int) -> int | None:
    for proc in nv.nvmlDeviceGetComputeRunningProcesses(handle):
        if proc.pid == pid and proc.usedGpuMemory is not None:
            return int(proc.usedGpuMemory)
    return None


def nvml_memory(pid: int | None = None, with_delta: bool = True) -> dict[str, Any]:
    """NVML's per-process used memory of this process's GPU (by PID, else the device-used delta since
    :func:`baseline`) and the device's used and total; None without a GPU."""
    out: dict[str, Any] = {"nvml_process_bytes": None, "nvml_process_source": None, "nvml_device_used_bytes": None,
                           "nvml_device_total_bytes": None}
    nv = gpus.nvml()
    if nv is None:
        return out
    try:
        handle = gpus.handle(nv)
        info = nv.nvmlDeviceGetMemoryInfo(handle)
        out["nvml_device_used_bytes"] = int(info.used)
        out["nvml_device_total_bytes"] = int(info.total)
        found = _per_process(nv, handle, os.getpid() if pid is None else pid)
        if found is not None:
            out["nvml_process_bytes"], out["nvml_process_source"] = found, PID_SOURCE
        elif with_delta and _baseline["nvml_device_used_bytes"] is not None:
            out["nvml_process_bytes"] = int(info.used) - int(_baseline["nvml_device_used_bytes"])
            out["nvml_process_source"] = DELTA_SOURCE
    except Exception:  # noqa: BLE001 - a partial answer is still useful
        pass
    return out


def peak_scope(can_reset: bool) -> str:
    """What an allocator peak covers: the measured steps when the framework can reset its peak after
    build and warm-up, else the whole process (build, compilation and warm-up included)."""
    return ("measured steps (peak reset after build and warm-up)" if can_reset else
            "whole process: this framework cannot reset its allocator peak (build, compile and warm-up included)")


def snapshot(allocator: dict[str, int | None] | None = None, can_reset_peak: bool = False) -> dict[str, Any]:
    """All memory columns of one result row; ``allocator`` from the adapter's ``memory()``, read right after
    the measured steps, before anything else allocates."""
    out: dict[str, Any] = {"host_peak_rss_bytes": host_peak_rss_bytes(), "host_rss_bytes": host_rss_bytes()}
    out.update(allocator or {"alloc_peak_bytes": None, "alloc_reserved_bytes": None})
    out["alloc_peak_scope"] = peak_scope(can_reset_peak) if out.get("alloc_peak_bytes") is not None else None
    out.update(nvml_memory())
    return out
