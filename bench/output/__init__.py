"""Output: what a person or another program reads. Loading stored runs for the gate
(:mod:`series`), the history store (:mod:`history_store`), rich tables, one module per kind of result
(:mod:`tables`), plots (:mod:`plots`), the per-run report files (:mod:`report`, :mod:`gate_report`) and
exports for dashboards (:mod:`export`).

Reads records and analysis rows; starts no worker. May import everything below it, never the
command line.
"""
