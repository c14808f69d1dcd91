"""Memory figures in bytes, each in its own named field; ``None`` where a figure does not exist.

Host: the worker's peak resident set (getrusage) and current RSS. GPU: NVML's view of this process
and of the whole device (separate from each framework's allocator peak, which the adapter gives).
"""

from __future__ import annotations

import os
import resource
import sys

from bench.core import gpus


def host_peak_rss_bytes() -> int:
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return int(peak if sys.platform == "darwin" else peak * 1024)  # Linux reports KiB


def host_rss_bytes() -> int | None:
    try:
        import psutil

        return int(psutil.Process().memory_info().rss)
    except Exception:  # noqa: BLE001 - psutil missing or unsupported platform
        return None


def nvml_memory(pid: int | None = None) -> dict[str, int | None]:
    """NVML per-process used memory (this pid) and device used/total of this process's GPU, or None
    without a GPU."""
    out: dict[str, int | None] = {"nvml_process_bytes": None, "nvml_device_used_bytes": None,
                                  "nvml_device_total_bytes": None}
    nv = gpus.nvml()
    if nv is None:
        return out
    try:
        handle = gpus.handle(nv)
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


def snapshot(allocator: dict[str, int | None] | None = None) -> dict[str, int | None]:
    """All memory columns of one result row."""
    out: dict[str, int | None] = {"host_peak_rss_bytes": host_peak_rss_bytes(), "host_rss_bytes": host_rss_bytes()}
    out.update(allocator or {"alloc_peak_bytes": None, "alloc_reserved_bytes": None})
    out.update(nvml_memory())
    return out
