"""Worker task ``crash``: built to fail or to report on its own process, for the isolation tests.

``how``: raise, oom (MemoryError), signal (SIGKILL itself), exit (non-zero exit, no result file),
hang (sleep; writes its pid to ``pidfile`` first), probe (what the worker process really has: its
environment, CPU affinity and which frameworks were imported before the task ran), sleep (probe after
``seconds``, with the wall-clock start and end, to see workers overlap). With ``meet`` (a folder) and
``count``, sleep first waits until ``count`` workers have arrived there: a state that proves they ran
at the same time, whatever the machine's speed.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path
from typing import Any

from bench.core import registry


def run(params: dict[str, Any], workdir: Path) -> dict[str, Any]:
    how = params.get("how", "raise")
    if params.get("pidfile"):
        Path(params["pidfile"]).write_text(str(os.getpid()))
    if how == "raise":
        raise RuntimeError("planted failure")
    if how == "oom":
        raise MemoryError("planted out of memory")
    if how == "signal":
        os.kill(os.getpid(), 9)
    if how == "exit":
        sys.stdout.flush()
        print("planted exit without a result", file=sys.stderr, flush=True)
        os._exit(3)
    if how == "hang":
        time.sleep(3600)
    started = time.time()
    if how == "sleep":
        if params.get("meet"):
            meet = Path(params["meet"])
            meet.mkdir(parents=True, exist_ok=True)
            (meet / str(os.getpid())).touch()
            while len(list(meet.iterdir())) < int(params["count"]):
                time.sleep(0.01)
        time.sleep(float(params.get("seconds", 1.0)))
    modules = sorted({m for reg in registry.registrations().values() for m in reg.requires})
    return {"how": how, "environ": dict(os.environ), "pid": os.getpid(), "ppid": os.getppid(),
            "affinity": sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None,
            "frameworks_imported": [m for m in modules if m in sys.modules], "started": started,
            "ended": time.time()}
