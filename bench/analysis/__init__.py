"""Analysis: pure functions of records. Statistics, intervals, summaries, comparisons, parity
statistics, the regression gate, change points, profile attribution and its diff between two revisions, the
decisions of a bisection, numerical equivalence.

Records (dicts or :mod:`bench.core.records` types) in, rows and verdicts out: no workers, no files,
no tables. May import :mod:`bench.core` only (import-linter checks it), so every figure bench prints
can be recomputed from the stored records with these functions alone.
"""
