"""Execution, the parent side: starting workers (:mod:`runner`), where their jobs run
(:mod:`executor`, :mod:`executors`, :mod:`ray_executor`), planning a sweep's jobs (:mod:`planning`),
running the ones a run folder has not finished (:mod:`bench.store.resume`) with the stop rule's extra
rounds (:mod:`sweep`; the rule itself is :mod:`bench.analysis.stop_rule`), the run-level GEMM reference
(:mod:`gemm_reference`), LRN pairs (:mod:`lrn_pairs`), verification (:mod:`verification`), lockstep
workers taking turns (:mod:`lockstep`, :mod:`lockstep_compare`), revision pairs and their budgeted extra
pairs (:mod:`ab`), both sides' interleaved profiles (:mod:`ab_profile`) and the probes of a bisection
(:mod:`bisect`).

Writes each record to the run folder as its worker ends (the parent is the only writer); renders
nothing. May import the store, worker-side constants, analysis and core; never output or the command line.
"""
