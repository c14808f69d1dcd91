"""Framework implementations of the AlexNet models, one adapter module per framework.

Each ``*_alexnet`` module imports its framework at module level and is loaded lazily by
:mod:`bench.core.registry`; :mod:`impls.frameworks` (the registrations) imports none. The models
themselves (the framework-free layer tables and the float64 reference) live in :mod:`bench.model`.
"""
