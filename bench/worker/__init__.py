"""The worker side: the process that runs one task in isolation (:mod:`process`, started as
``python -m bench.worker JOB.json RESULT.json``), the timing loops (:mod:`timing`), the memory figures
(:mod:`memory`), and one module per task (:mod:`tasks`).

The only place a framework is imported. May import :mod:`bench.analysis` and :mod:`bench.core`;
never the parent side (execution), output or the command line.
"""
