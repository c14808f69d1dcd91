"""Execution, the parent side: starting workers (:mod:`runner`), where their jobs run
(:mod:`executor`, :mod:`executors`, :mod:`ray_executor`), planning and resuming sweeps
(:mod:`sweep`), LRN pairs (:mod:`lrn_pairs`), verification (:mod:`verification`) and lockstep
revision pairs (:mod:`ab`), both sides' interleaved profiles (:mod:`ab_profile`) and the probes of a
bisection (:mod:`bisect`).

Writes each record to the run folder as its worker ends (the parent is the only writer); renders
nothing. May import worker-side constants, analysis and core; never output or the command line.
"""
