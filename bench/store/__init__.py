"""The store: stored results read back for the layers above. The gate's series from run folders and
pytest-benchmark saves (:mod:`series`), the performance-history store (:mod:`history_store`), earlier
invocations beside a run folder (:mod:`drift`) and which planned jobs a run folder has finished
(:mod:`resume`). The files themselves are written through :mod:`bench.core.storage`.

Reads and writes files; starts no worker, renders nothing. May import :mod:`bench.analysis` and
:mod:`bench.core`; never the worker, execution, output or the command line.
"""
