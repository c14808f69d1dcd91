"""Which GPUs this machine has and which one this process uses, as NVML sees them; no framework.

The parent (the GPU pool, the provenance) and the workers (memory figures) share it; NVML is asked
by UUID whenever CUDA_VISIBLE_DEVICES names one, since NVML's indices need not be CUDA's.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

PCI_ORDER = "PCI_BUS_ID"  # CUDA's numbering made NVML's (CUDA's own default numbers fastest first)


def nvml() -> Any | None:
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


def one_gpu_env(env: Mapping[str, str], inventory: list[dict[str, Any]] | None = None) -> dict[str, str]:
    """What a GPU worker sets so that it sees exactly one GPU, named by UUID: the first GPU
    ``CUDA_VISIBLE_DEVICES`` in ``env`` names (a UUID kept; an index read as NVML's, in PCI bus order), or
    NVML's first when it names none; with ``CUDA_DEVICE_ORDER=PCI_BUS_ID`` so CUDA's numbering, should
    anything still use it, is NVML's. Then every framework opens that one GPU only, and NVML is asked about
    the same one by UUID. Without NVML the first named device (or 0) alone, in PCI order. A variable set
    to empty (no GPU visible) stays so: the job then fails with the framework's own "no GPU" error."""
    out = {"CUDA_DEVICE_ORDER": PCI_ORDER}
    given = env.get("CUDA_VISIBLE_DEVICES")
    first = (given or "").split(",")[0].strip()
    if given is not None and not first:
        return {**out, "CUDA_VISIBLE_DEVICES": ""}
    if first.startswith(("GPU-", "MIG-")):
        return {**out, "CUDA_VISIBLE_DEVICES": first}
    found = gpu_inventory() if inventory is None else inventory
    index = int(first) if first.isdigit() else 0
    by_index = {int(g["index"]): str(g["uuid"]) for g in found if g.get("uuid")}
    return {**out, "CUDA_VISIBLE_DEVICES": by_index.get(index, first or "0")}


def handle(nv: Any) -> Any:
    """NVML's handle of this process's GPU: by UUID when CUDA_VISIBLE_DEVICES gives one (NVML's indices
    need not be CUDA's), by index when it gives an index, else the first GPU."""
    visible = visible_gpu()
    if visible and visible.startswith(("GPU-", "MIG-")):
        return nv.nvmlDeviceGetHandleByUUID(visible)
    return nv.nvmlDeviceGetHandleByIndex(int(visible) if visible and visible.isdigit() else 0)


def gpu_inventory() -> list[dict[str, Any]]:
    """Every GPU NVML sees: name, memory, driver and CUDA driver version."""
    nv = nvml()
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
