"""The parent side of worker isolation: one fresh subprocess per job, with a timeout.

Whatever happens to the child (exception, signal, hang), the parent gets an outcome with a
status and a one-line error, and the sweep goes on. Ctrl-C kills the child and propagates.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import bench

STATUSES = ("ok", "failed", "oom", "timeout", "skipped")


@dataclass
class Outcome:
    status: str
    result: dict[str, Any] = field(default_factory=dict)
    error: str | None = None
    wall_s: float = 0.0
    returncode: int | None = None


def _source_root() -> str:
    return str(Path(bench.__file__).resolve().parent.parent)


def _stderr_tail(path: Path, lines: int = 5) -> str:
    try:
        text = path.read_text(errors="replace").strip().splitlines()
    except OSError:
        return ""
    useful = [ln for ln in text if ln.strip() and not ln.startswith(("WARNING:", "I0000", "W0000"))]
    return " | ".join(useful[-lines:])[-600:]


def run_worker(task: str, params: dict[str, Any], *, threads: int | None = None, device: str = "cpu",
               timeout: float | None = None, workdir: Path | None = None) -> Outcome:
    """Run ``task`` in a fresh ``python -m bench.worker`` and return its outcome."""
    own_tmp = None
    if workdir is None:
        own_tmp = tempfile.TemporaryDirectory(prefix="bench-worker-")
        workdir = Path(own_tmp.name)
    try:
        job_path, result_path, err_path = workdir / "job.json", workdir / "result.json", workdir / "stderr.log"
        job_path.write_text(json.dumps({"task": task, "params": params, "threads": threads, "device": device}))
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [_source_root(), env.get("PYTHONPATH")]))
        env["BENCH_PARENT_PID"] = str(os.getpid())  # the worker dies with this process
        start = time.perf_counter()
        with open(err_path, "wb") as err:
            proc = subprocess.Popen(
                [sys.executable, "-m", "bench.worker", str(job_path), str(result_path)],
                stdout=err, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env, start_new_session=True,
            )
            try:
                rc = proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                _kill(proc)
                return Outcome("timeout", error=f"worker exceeded --timeout {timeout:g} s and was killed",
                               wall_s=time.perf_counter() - start)
            except BaseException:
                _kill(proc)
                raise
        wall = time.perf_counter() - start
        if result_path.exists():
            result = json.loads(result_path.read_text())
            status = result.pop("status", "ok")
            return Outcome(status, result, result.get("error"), wall, rc)
        if rc < 0:
            sig = signal.Signals(-rc).name
            if sig == "SIGKILL":
                return Outcome("oom", error="worker killed by SIGKILL (most often the kernel's out-of-memory killer)",
                               wall_s=wall, returncode=rc)
            return Outcome("failed", error=f"worker killed by {sig}", wall_s=wall, returncode=rc)
        tail = _stderr_tail(err_path)
        return Outcome("failed", error=f"worker exited with code {rc} and no result: {tail}",
                       wall_s=wall, returncode=rc)
    finally:
        if own_tmp is not None:
            own_tmp.cleanup()


def _kill(proc: subprocess.Popen[bytes]) -> None:
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
    proc.wait()
