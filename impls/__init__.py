"""Framework implementations of the AlexNet-MNIST model and the framework-free spec.

Only :mod:`impls.spec` and :mod:`impls.reference` may be imported without a framework installed;
each ``*_alexnet`` module imports its framework at module level and is loaded lazily by
:mod:`bench.core.registry`.
"""
