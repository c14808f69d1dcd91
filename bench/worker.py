"""The subprocess side: ``python -m bench.worker JOB.json RESULT.json``.

Sets the process environment (threads, GPU preallocation off, CPU-only when asked) *before*
any framework is imported, runs one task, and writes its JSON result atomically. Exceptions
become a result with status ``failed`` or ``oom``; a hard crash leaves no result file, which the
parent turns into a row of its own.
"""

from __future__ import annotations

import importlib
import json
import os
import sys
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

# task name -> "module:function"; each function takes (params, workdir) and returns a JSON dict.
TASKS: dict[str, str] = {
    "verify": "bench.verify:worker_task",
    "measure": "bench.measure:worker_task",
    "calibrate": "bench.calibrate:worker_task",
    "lrn_layer": "bench.lrn_layer:worker_task",
    "lrn_pair": "bench.pair:worker_task",
    "parity": "bench.parity:worker_task",
    "gemm": "bench.calibrate:gemm_task",
    "devices": "bench.env:devices_task",
    "crash": "bench.worker:_crash_task",
}
OOM_MARKERS = ("out of memory", "resource_exhausted", "outofmemoryerror", "oom when allocating")


def prepare_process(threads: int | None, device: str) -> dict[str, str]:
    """Environment every framework reads at import; returns what was set, for provenance."""
    env = {
        "XLA_PYTHON_CLIENT_PREALLOCATE": "false",
        "TF_FORCE_GPU_ALLOW_GROWTH": "true",
        "TF_CPP_MIN_LOG_LEVEL": os.environ.get("TF_CPP_MIN_LOG_LEVEL", "2"),
    }
    if device == "cpu":
        env["CUDA_VISIBLE_DEVICES"] = ""  # a CPU row must not touch (or allocate on) a GPU
        env["JAX_PLATFORMS"] = "cpu"
    if threads:
        n = str(threads)
        env.update({"OMP_NUM_THREADS": n, "MKL_NUM_THREADS": n, "TF_NUM_INTRAOP_THREADS": n,
                    "TF_NUM_INTEROP_THREADS": "1"})
        if threads == 1:
            env["XLA_FLAGS"] = (os.environ.get("XLA_FLAGS", "") + " --xla_cpu_multi_thread_eigen=false "
                                "intra_op_parallelism_threads=1").strip()
        # The one control that binds every framework the same way: the cores the process may use.
        if hasattr(os, "sched_setaffinity"):
            cpus = sorted(os.sched_getaffinity(0))[:threads]
            os.sched_setaffinity(0, cpus)
            env["cpu_affinity"] = ",".join(map(str, cpus))
    for key, value in env.items():
        if key != "cpu_affinity":
            os.environ[key] = value
    return env


def classify(exc: BaseException) -> str:
    text = f"{type(exc).__name__} {exc}".lower()
    if isinstance(exc, MemoryError) or any(m in text for m in OOM_MARKERS):
        return "oom"
    return "failed"


def one_line(exc: BaseException) -> str:
    msg = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {msg[0] if msg else ''}"[:500]


def _crash_task(params: dict[str, Any], workdir: Path) -> dict[str, Any]:
    """A task built to fail, for the isolation tests: raise, die by signal, or hang."""
    how = params.get("how", "raise")
    if how == "raise":
        raise RuntimeError("planted failure")
    if how == "oom":
        raise MemoryError("planted out of memory")
    if how == "signal":
        os.kill(os.getpid(), 9)
    if how == "hang":
        import time

        time.sleep(3600)
    return {"status": "ok", "how": how}


def write_json(path: Path, data: dict[str, Any]) -> None:
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(json.dumps(data, default=str))
    os.replace(tmp, path)


def main(argv: list[str]) -> int:
    job_path, result_path = Path(argv[0]), Path(argv[1])
    job = json.loads(job_path.read_text())
    env = prepare_process(job.get("threads"), job.get("device", "cpu"))
    try:
        module, _, func = TASKS[job["task"]].partition(":")
        task: Callable[[dict[str, Any], Path], dict[str, Any]] = getattr(importlib.import_module(module), func)
        result = task(job.get("params", {}), job_path.parent)
        result.setdefault("status", "ok")
        result["worker_env"] = env
        write_json(result_path, result)
        return 0
    except BaseException as exc:  # noqa: BLE001 - every failure must become a result row
        if os.environ.get("BENCH_DEBUG") == "1":
            traceback.print_exc()
        write_json(result_path, {"status": classify(exc), "error": one_line(exc), "worker_env": env,
                                 "traceback": traceback.format_exc()[-4000:]})
        return 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
