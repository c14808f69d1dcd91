"""The worker side of every task: each module's ``run(params, workdir) -> dict`` runs inside a fresh
``python -m bench.worker`` process (see :mod:`bench.worker.process`), the only place a framework is
imported. The parent sides live in :mod:`bench.execution` (sweep, lrn_pairs, verification, ab) and
the commands.
"""

from __future__ import annotations

# task name -> module under bench.worker.tasks
TASKS: dict[str, str] = {
    "measure": "measure",
    "lrn_pair": "pair",
    "lockstep": "lockstep",
    "profile": "profile",
    "lrn_layer": "lrn_layer",
    "parity": "parity",
    "verify": "verify",
    "calibrate": "calibrate",
    "gemm": "gemm",
    "devices": "devices",
    "crash": "crash",
}
