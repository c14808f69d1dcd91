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

from bench.core import gpus

STATUSES = ("ok", "failed", "oom", "timeout", "skipped", "lost")  # lost: a Ray node died under it, twice


@dataclass
class Outcome:
    status: str
    result: dict[str, Any] = field(default_factory=dict)
    error: str | None = None
    wall_s: float = 0.0
    returncode: int | None = None


def source_root() -> Path:
    """The folder holding this ``bench`` package (and ``impls``): what workers import by default."""
    return Path(__file__).resolve().parents[2]


def _stderr_tail(path: Path, lines: int = 5) -> str:
    try:
        text = path.read_text(errors="replace").strip().splitlines()
    except OSError:
        return ""
    useful = [ln for ln in text if ln.strip() and not ln.startswith(("WARNING:", "I0000", "W0000"))]
    return " | ".join(useful[-lines:])[-600:]


@dataclass(frozen=True)
class Source:
    """Which code a worker runs: a source tree (``bench/`` and ``impls/`` from it, imported first because
    the worker starts in it) and a Python interpreter (its installed frameworks). The default is this
    checkout and this interpreter; ``bench ab`` gives each side its own revision's tree."""

    root: Path = field(default_factory=source_root)
    python: str = sys.executable


class Running:
    """A started worker. :meth:`wait` turns whatever became of it into an :class:`Outcome`; the temporary
    folder it ran in is removed then (unless the caller gave one)."""

    def __init__(self, task: str, params: dict[str, Any], *, threads: int | None, device: str,
                 workdir: Path | None, source: Source, env: dict[str, str] | None, pass_fds: tuple[int, ...]) -> None:
        self._own_tmp: tempfile.TemporaryDirectory[str] | None = None
        if workdir is None:
            self._own_tmp = tempfile.TemporaryDirectory(prefix="bench-worker-")
            workdir = Path(self._own_tmp.name)
        self.workdir = workdir
        self.job_path, self.result_path = self.workdir / "job.json", self.workdir / "result.json"
        self.err_path = self.workdir / "stderr.log"
        self.job_path.write_text(json.dumps({"task": task, "params": params, "threads": threads, "device": device}))
        child_env = worker_environment(device, env)
        root = str(source.root)
        child_env["PYTHONPATH"] = os.pathsep.join(filter(None, [root, child_env.get("PYTHONPATH")]))
        child_env["BENCH_PARENT_PID"] = str(os.getpid())  # the worker dies with this process
        self.start = time.perf_counter()
        with open(self.err_path, "wb") as err:
            # cwd is the source tree: ``python -m`` puts it first on sys.path, so that tree's bench is the one run
            self.proc = subprocess.Popen(
                [source.python, "-m", "bench.worker", str(self.job_path), str(self.result_path)],
                stdout=err, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=child_env, cwd=root,
                start_new_session=True, pass_fds=pass_fds,
            )

    def alive(self) -> bool:
        return self.proc.poll() is None

    def kill(self) -> None:
        _kill(self.proc)

    def wait(self, timeout: float | None = None, from_now: bool = False) -> Outcome:
        """Block until the worker exits, at most ``timeout`` s from its start (or from now), then kill it."""
        elapsed = 0.0 if from_now else time.perf_counter() - self.start
        remaining = None if timeout is None else max(0.0, timeout - elapsed)
        try:
            return self._wait(remaining, timeout)
        finally:
            if self._own_tmp is not None:
                self._own_tmp.cleanup()

    def poll(self, timeout: float | None) -> Outcome | None:
        """The outcome once the worker has exited (or run past ``timeout`` s, then killed), else None."""
        if self.alive() and (timeout is None or time.perf_counter() - self.start < timeout):
            return None
        return self.wait(timeout)

    def _wait(self, remaining: float | None, timeout: float | None) -> Outcome:
        try:
            rc = self.proc.wait(timeout=remaining)
        except subprocess.TimeoutExpired:
            _kill(self.proc)
            return Outcome("timeout", error=f"worker exceeded --timeout {timeout:g} s and was killed",
                           wall_s=time.perf_counter() - self.start)
        except BaseException:
            _kill(self.proc)
            raise
        wall = time.perf_counter() - self.start
        if self.result_path.exists():
            result = json.loads(self.result_path.read_text())
            status = result.pop("status", "ok")
            return Outcome(status, result, result.get("error"), wall, rc)
        if rc < 0:
            sig = signal.Signals(-rc).name
            if sig == "SIGKILL":
                return Outcome("oom", error="worker killed by SIGKILL (most often the kernel's out-of-memory killer)",
                               wall_s=wall, returncode=rc)
            return Outcome("failed", error=f"worker killed by {sig}", wall_s=wall, returncode=rc)
        tail = _stderr_tail(self.err_path)
        return Outcome("failed", error=f"worker exited with code {rc} and no result: {tail}",
                       wall_s=wall, returncode=rc)


def worker_environment(device: str, extra: dict[str, str] | None = None,
                       inventory: list[dict[str, Any]] | None = None) -> dict[str, str]:
    """A worker's environment: this process's, plus ``extra``; a GPU worker sees exactly one GPU, by UUID
    (:func:`bench.core.gpus.one_gpu_env`), whether or not a pool chose it."""
    child_env = dict(os.environ)
    child_env.update(extra or {})
    if device == "gpu":
        child_env.update(gpus.one_gpu_env(child_env, inventory))
    return child_env


def start_worker(task: str, params: dict[str, Any], *, threads: int | None = None, device: str = "cpu",
                 workdir: Path | None = None, source: Source | None = None, env: dict[str, str] | None = None,
                 pass_fds: tuple[int, ...] = ()) -> Running:
    """Start ``task`` in a fresh ``python -m bench.worker`` and return at once; ``env`` is added to the
    worker's environment (before anything in it runs), ``pass_fds`` stay open in it."""
    return Running(task, params, threads=threads, device=device, workdir=workdir, source=source or Source(),
                   env=env, pass_fds=pass_fds)


def run_worker(task: str, params: dict[str, Any], *, threads: int | None = None, device: str = "cpu",
               timeout: float | None = None, workdir: Path | None = None, source: Source | None = None,
               env: dict[str, str] | None = None) -> Outcome:
    """Run ``task`` in a fresh ``python -m bench.worker`` and return its outcome."""
    return start_worker(task, params, threads=threads, device=device, workdir=workdir, source=source,
                        env=env).wait(timeout)


def _kill(proc: subprocess.Popen[bytes]) -> None:
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
    proc.wait()
