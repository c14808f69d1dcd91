"""The core: what every layer above shares, importing nothing of bench above it.

The adapter contract (:mod:`contract`) and the framework registrations (:mod:`registration`,
:mod:`registry`), the validated configuration (:mod:`config`), the record schema (:mod:`records`) and
the run folder that holds records on disk (:mod:`storage`), errors, MNIST (:mod:`data`), the machine's
provenance and GPUs (:mod:`provenance`, :mod:`gpus`), and the parent-worker control channel
(:mod:`channel`). ``impls/`` may import from here and from nowhere else in bench.
"""
