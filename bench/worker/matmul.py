"""The GEMM reference for 'percent of peak': a float32 n x n x n matmul in one framework, best of a
few. The framework supplies the matmul (``Adapter.gemm``); the timing is here, the same for every
framework. The ``gemm`` task runs it alone; the timing tasks run it right after their timed steps."""

from __future__ import annotations

import time
from typing import Any

from bench.core import contract

GEMM_N = {"cpu": 2048, "gpu": 8192}
GEMM_REPEATS = 5


def gemm_seconds(framework: str, device: str, n: int, repeats: int) -> list[float]:
    """Wall time of ``repeats`` matmuls, each synchronised (after one untimed warm-up)."""
    gemm = contract.adapter_class(framework).gemm(device, n)
    gemm.run()
    gemm.sync()
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        gemm.run()
        gemm.sync()
        times.append(time.perf_counter() - t0)
    return times


def reference(framework: str, device: str, n: int | None = None, repeats: int = GEMM_REPEATS) -> dict[str, Any]:
    """The reference as a ``gemm`` record's fields (``n`` None: the device's default size)."""
    n = int(n or GEMM_N[device])
    times = gemm_seconds(framework, device, n, repeats)
    return {"kind": "gemm", "device": device, "framework": framework, "n": n, "seconds": times,
            "flops_per_s": 2 * n**3 / min(times), "source": f"{framework} float32 {n}x{n} matmul, best of {len(times)}"}


def in_worker(framework: str, device: str) -> dict[str, Any]:
    """The GEMM reference measured in a timing worker right after its timed steps: a shared machine's
    speed drifts over a sweep, so a peak taken minutes earlier can make '% of peak' exceed 100."""
    gemm = reference(framework, device)
    return {"gemm_flops_per_s": gemm["flops_per_s"], "gemm_source": gemm["source"]}
