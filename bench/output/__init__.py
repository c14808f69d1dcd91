"""Output: what a person or another program reads. Rich tables, one module per kind of result
(:mod:`tables`), plots (:mod:`plots`), the per-run report files (:mod:`report`, :mod:`gate_report`,
:mod:`bisect_report`), the one-file HTML report (:mod:`html`, :mod:`html_pages`, :mod:`html_figures`,
:mod:`html_history`), one colour per framework (:mod:`palette`) and exports for dashboards (:mod:`export`).

Reads records and analysis rows; starts no worker. May import everything below it, never the
command line.
"""
