"""A second test-only framework, the NumPy one under another name: two contenders for the lockstep
tests without a real framework's start-up cost (``BENCH_EXTRA_FRAMEWORKS``, see tests/numpy_framework.py)."""

from __future__ import annotations

import dataclasses

from tests.numpy_framework import REGISTRATION

TWIN = dataclasses.replace(REGISTRATION, name="numpytwin")
