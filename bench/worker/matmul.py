"""The GEMM reference for 'percent of peak': a float32 n x n x n matmul in one framework, best of a
few. The framework supplies the matmul (``Adapter.gemm``) at the run's precision (strict: no TF32 in
any framework; default: each framework's own), so '% of peak' means the same in every framework of a
run; the timing is here, the same for every framework. The ``gemm`` task runs it alone; the timing
tasks run it right after their timed steps."""

from __future__ import annotations

import time
from typing import Any

from bench.core import contract

GEMM_N = {"cpu": 2048, "gpu": 8192}
GEMM_REPEATS = 5


def gemm_seconds(framework: str, device: str, n: int, repeats: int, precision: str = "strict") -> list[float]:
    """Wall time of ``repeats`` matmuls, each synchronised (after one untimed warm-up)."""
    gemm = contract.adapter_class(framework).gemm(device, n, precision)
    gemm.run()
    gemm.sync()
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        gemm.run()
        gemm.sync()
        times.append(time.perf_counter() - t0)
    return times


def reference(framework: str, device: str, n: int | None = None, repeats: int = GEMM_REPEATS,
              precision: str = "strict") -> dict[str, Any]:
    """The reference as a ``gemm`` record's fields (``n`` None: the device's default size)."""
    n = int(n or GEMM_N[device])
    times = gemm_seconds(framework, device, n, repeats, precision)
    what = "float32" if precision == "strict" else "float32 inputs, the framework's default precision (TF32 allowed)"
    return {"kind": "gemm", "device": device, "framework": framework, "n": n, "seconds": times,
            "precision": precision, "flops_per_s": 2 * n**3 / min(times),
            "source": f"{framework} {what} {n}x{n} matmul, best of {len(times)}"}


def in_worker(framework: str, device: str, precision: str = "strict") -> dict[str, Any]:
    """The GEMM reference measured in a timing worker right after its timed steps (and after its memory
    figures are read: the GEMM's own buffers must not count): a shared machine's speed drifts over a
    sweep, so a peak taken minutes earlier can make '% of peak' exceed 100."""
    gemm = reference(framework, device, precision=precision)
    return {"gemm_flops_per_s": gemm["flops_per_s"], "gemm_source": gemm["source"]}
