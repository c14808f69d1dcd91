"""Worker task ``gemm``: the run-level GEMM reference for 'percent of peak' (:mod:`bench.worker.matmul`)
in a worker of its own."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from bench.worker import matmul


def run(params: dict[str, Any], workdir: Path) -> dict[str, Any]:
    return matmul.reference(params["framework"], params["device"], params.get("n"),
                            int(params.get("repeats", matmul.GEMM_REPEATS)), str(params.get("precision", "strict")))
