"""The models as values, below everything else in bench: the framework-free layer tables
(:mod:`bench.model.spec`) and the float64 NumPy reference computed from them
(:mod:`bench.model.reference`). Imports nothing of bench and no deep-learning framework, so the core,
the analysis and every adapter in ``impls/`` can derive what they need from one place.
"""
