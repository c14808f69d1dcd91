"""Framework adapters beyond the model: their GEMM reference, their process-wide side effects,
and every non-default compile mode checked against the float64 reference (``verify --compile``)."""

from __future__ import annotations

import subprocess
import sys
from typing import Any

import numpy as np
import pytest

from bench.core import contract, registry
from bench.execution import verification
from tests.conftest import framework_params, require_framework


class _Untouchable:
    """Stands in for a result tensor: waiting on it is fine, anything else (a host copy, a read, a
    slice) fails the test."""

    def block_until_ready(self) -> _Untouchable:
        return self

    def __getattr__(self, name: str) -> Any:
        raise AssertionError(f"the GEMM sync touched its result ({name})")

    def __getitem__(self, item: Any) -> Any:
        raise AssertionError("the GEMM sync indexed its result")


def _untouchable_arrays(gemm: contract.Gemm) -> list[str]:
    """Every array the GEMM holds (its operands, its last result where it keeps one) replaced by an
    :class:`_Untouchable`; their names."""
    held = [name for name, value in vars(gemm).items() if hasattr(value, "shape") and hasattr(value, "dtype")]
    for name in held:
        setattr(gemm, name, _Untouchable())
    return held


@pytest.mark.parametrize("fw", framework_params())
def test_gemm_sync_never_copies_the_result_to_the_host(fw: str) -> None:
    """A copy of the whole n x n result inside the timed loop would inflate 'percent of peak'. The same
    check for every framework: after a run, no array the GEMM holds may be read by its sync."""
    require_framework(fw)
    gemm = contract.adapter_class(fw).gemm("cpu", 64)
    gemm.run()
    gemm.sync()
    assert _untouchable_arrays(gemm), f"{fw}'s GEMM holds no array: the check would check nothing"
    gemm.sync()


@pytest.mark.torch
def test_torch_gemm_sync_on_cuda_waits_for_the_device_only(monkeypatch: pytest.MonkeyPatch) -> None:
    """The CUDA branch of torch's GEMM sync, its device and torch.cuda.synchronize faked: it waits for
    the device and reads none of the GEMM's tensors."""
    require_framework("torch")
    import torch

    waits: list[bool] = []
    monkeypatch.setattr(torch.cuda, "synchronize", lambda device=None: waits.append(True))
    gemm = contract.adapter_class("torch").gemm("cpu", 64)
    gemm.run()
    gemm.dev = torch.device("cuda")  # type: ignore[attr-defined]
    assert _untouchable_arrays(gemm) == ["a", "b"]
    gemm.sync()
    assert waits == [True]


@pytest.mark.jax
def test_importing_the_jax_adapter_changes_no_global_jax_setting() -> None:
    require_framework("jax")
    code = ("import jax; before = jax.config.jax_default_matmul_precision; import impls.jax_alexnet; "
            "print(before, jax.config.jax_default_matmul_precision)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["None", "None"]


NON_DEFAULT_MODES = [pytest.param(fw, mode, id=f"{fw}-{mode}", marks=[getattr(pytest.mark, fw)]
                                  + ([pytest.mark.slow] if fw == "torch" else []))
                     for fw, reg in registry.registrations().items() for mode in reg.compile_modes[1:]]


@pytest.mark.parametrize(("fw", "mode"), NON_DEFAULT_MODES)
def test_non_default_compile_modes_match_the_reference(fw: str, mode: str,
                                                      batch: tuple[np.ndarray, np.ndarray]) -> None:
    """What ``bench verify --compile FW=MODE`` runs, in its worker processes, LRN off and on."""
    require_framework(fw)
    images, labels = batch[0][:8], batch[1][:8]
    results = verification.run([fw], [False, True], images, labels, timeout=900, compile_modes={fw: mode})
    for r in results:
        assert r.status == "ok", r.error
        assert r.describe and r.describe["compile_mode"] == mode
        assert r.passed, [c for c in r.checks if not c.passed]
