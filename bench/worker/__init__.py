"""The worker side: the process that runs one task in isolation (:mod:`process`, started as
``python -m bench.worker JOB.json RESULT.json``), the timing loops and per-step counters (:mod:`timing`),
the batches a timing task stages (:mod:`batches`), the GEMM reference for '% of peak' (:mod:`matmul`), the
memory figures (:mod:`memory`), and one module per task (:mod:`tasks`). A task imports no other task
(import-linter checks it): what two tasks share lives here, beside them.

The only place a framework is imported. May import :mod:`bench.analysis` and :mod:`bench.core`;
never the parent side (execution), output or the command line.
"""
