"""The run-level GEMM reference for 'percent of peak': one ``gemm`` worker before a run's timing jobs,
in the first available framework of the registry's GEMM order, its record appended to the run folder
(each timing worker also measures its own, :mod:`bench.worker.matmul`)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from bench.core import records, registry, storage
from bench.execution.runner import run_worker


def run_gemm(run_dir: Path, frameworks: Sequence[str], device: str, threads: int | None,
             timeout: float | None, precision: str = "strict") -> dict[str, Any] | None:
    """The reference record at the run's precision (None when none of ``frameworks`` is available)."""
    for fw in registry.gemm_order():
        if fw in frameworks and registry.is_available(fw):
            outcome = run_worker("gemm", {"framework": fw, "device": device, "precision": precision},
                                 threads=threads, device=device, timeout=timeout)
            rec = {**records.header("gemm"), "status": outcome.status, "error": outcome.error, "device": device,
                   **outcome.result}
            storage.append_record(run_dir, rec)
            return rec
    return None
