"""The subprocess side: ``python -m bench.worker JOB.json RESULT.json``.

Ties its life to the parent's (a worker left running after ``bench`` is killed would disturb the
next measurement), sets the process environment (threads, CPU affinity, each framework's settings
from its registration) *before* any framework is imported, runs one task from :mod:`bench.worker.tasks`,
and writes its JSON result atomically. Exceptions become a result with status ``failed`` or
``oom``; a hard crash leaves no result file, which the parent turns into a row of its own.
"""

from __future__ import annotations

import importlib
import json
import os
import signal
import sys
import threading
import time
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

OOM_MARKERS = ("out of memory", "resource_exhausted", "outofmemoryerror", "oom when allocating")


PARENT_ENV = "BENCH_PARENT_PID"
CPU_SET_ENV = "BENCH_CPU_SET"  # set by bench.execution.executors for a pooled worker: the cores it may use
PR_SET_PDEATHSIG = 1  # linux/prctl.h


def tie_to_parent() -> str:
    """Die with the parent: the kernel sends SIGKILL when it exits (Linux), else a watchdog thread
    polls for it. A parent already gone before this ran means exit now. Returns the mechanism."""
    expected = int(os.environ.get(PARENT_ENV, "0") or 0)
    how = "watchdog"
    if sys.platform.startswith("linux"):
        try:
            import ctypes

            libc = ctypes.CDLL(None, use_errno=True)
            if libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0) == 0:
                how = "prctl(PR_SET_PDEATHSIG)"
        except (OSError, AttributeError):
            pass
    if expected and os.getppid() != expected:
        os._exit(1)
    if how == "watchdog" and expected:
        def watch() -> None:
            while os.getppid() == expected:
                time.sleep(1.0)
            os._exit(1)

        threading.Thread(target=watch, daemon=True, name="bench-parent-watchdog").start()
    return how


def pin_cores(threads: int) -> list[int]:
    """The last ``threads`` usable cores: CPU 0 takes most interrupts, so it is left to the system."""
    cpus = sorted(os.sched_getaffinity(0))[-threads:]
    os.sched_setaffinity(0, cpus)
    return cpus


def prepare_process(threads: int | None, device: str, pin: bool = True,
                    loaded: tuple[str, ...] = ()) -> dict[str, str]:
    """Environment every framework reads at import; returns what was set, for provenance. A worker of a
    GPU pool is given its own cores (``BENCH_CPU_SET``); its frameworks then use that many threads. A GPU
    worker sees exactly one GPU, by UUID. ``pin`` False leaves the CPU affinity alone (in-process use).
    The registration variables of ``loaded`` frameworks (already imported) are left as they are: set now
    they could not reach the framework, and an adapter that trusts them (TensorFlow reads
    TF_NUM_INTRAOP_THREADS only when it starts) would record a setting that is not in force."""
    from bench.core import gpus

    env: dict[str, str] = {}
    if device == "cpu":
        env["CUDA_VISIBLE_DEVICES"] = ""  # a CPU row must not touch (or allocate on) a GPU
    else:
        env.update(gpus.one_gpu_env(os.environ))  # already so when the parent started it; Ray's workers too
    cpu_set = [int(c) for c in os.environ.get(CPU_SET_ENV, "").split(",") if c.strip()]
    threads = threads or (len(cpu_set) if cpu_set else None)
    if threads:
        env.update({"OMP_NUM_THREADS": str(threads), "MKL_NUM_THREADS": str(threads)})
    os.environ.update(env)  # before the registry below imports NumPy, whose BLAS reads them at load
    from bench.core import registry

    for name, reg in registry.registrations().items():
        if name not in loaded:
            env.update(reg.worker_env(threads, device))
    os.environ.update(env)
    # The one control that binds every framework the same way: the cores the process may use.
    if not pin:
        return env
    if cpu_set and hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, cpu_set)
        env["cpu_affinity"] = ",".join(map(str, cpu_set))
    elif threads and hasattr(os, "sched_setaffinity"):
        env["cpu_affinity"] = ",".join(map(str, pin_cores(threads)))
    return env


def imported_frameworks() -> list[str]:
    """The registered frameworks this process has already imported."""
    from bench.core import registry

    return sorted(name for name, reg in registry.registrations().items()
                  if any(mod in sys.modules for mod in reg.requires))


def apply_in_process(threads: int | None, device: str) -> tuple[dict[str, str], list[str]]:
    """What :func:`prepare_process` sets in a worker, set in this process for in-process use
    (``bench.get_adapter``, the pytest-benchmark suite), CPU affinity left alone. It only takes effect for a
    framework not yet imported (the variables of one already imported are left alone): returns what was
    set and the frameworks already imported, which the caller must say."""
    already = imported_frameworks()
    return prepare_process(threads, device, pin=False, loaded=tuple(already)), already


def classify(exc: BaseException) -> str:
    text = f"{type(exc).__name__} {exc}".lower()
    if isinstance(exc, MemoryError) or any(m in text for m in OOM_MARKERS):
        return "oom"
    return "failed"


def one_line(exc: BaseException) -> str:
    msg = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {msg[0] if msg else ''}"[:500]


def write_json(path: Path, data: dict[str, Any]) -> None:
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(json.dumps(data, default=str))
    os.replace(tmp, path)


def code_fields(job: dict[str, Any], task_module: str) -> dict[str, Any]:
    """The fingerprint of the code that ran this job (:mod:`bench.core.fingerprint`): its framework's
    adapter module, the spec, the timing loop and the task module. Empty for a task with no framework."""
    from bench.core import fingerprint, registry

    params = job.get("params") or {}
    config = params.get("config") or (params.get("configs") or [{}])[0]  # a lockstep worker may hold several
    framework = ((config or {}).get("model") or {}).get("framework") or params.get("framework")
    if not framework:
        return {}
    adapter_module = registry.get(str(framework)).adapter.partition(":")[0]
    return fingerprint.of(adapter_module, task_module)


def main(argv: list[str]) -> int:
    job_path, result_path = Path(argv[0]), Path(argv[1])
    job = json.loads(job_path.read_text())
    tied = tie_to_parent()
    device = job.get("device", "cpu")
    env = prepare_process(job.get("threads"), device)
    env["parent_tie"] = tied
    if device == "gpu":
        from bench.worker import memory

        memory.baseline()  # the device's used memory before any framework touches it
    try:
        from bench.core.provenance import identity
        from bench.worker.tasks import TASKS

        module = importlib.import_module(f"bench.worker.tasks.{TASKS[job['task']]}")
        task: Callable[[dict[str, Any], Path], dict[str, Any]] = module.run
        result = task(job.get("params", {}), job_path.parent)
        result.setdefault("status", "ok")
        result["worker_env"] = env
        result["identity"] = identity(device)
        for name, value in code_fields(job, TASKS[job["task"]]).items():
            result.setdefault(name, value)
        result["source_root"] = str(Path(__file__).resolve().parents[2])  # which checkout's code ran
        write_json(result_path, result)
        return 0
    except BaseException as exc:  # noqa: BLE001 - every failure must become a result row
        if os.environ.get("BENCH_DEBUG") == "1":
            traceback.print_exc()
        write_json(result_path, {"status": classify(exc), "error": one_line(exc), "worker_env": env,
                                 "traceback": traceback.format_exc()[-4000:]})
        return 1

