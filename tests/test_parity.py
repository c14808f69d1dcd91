"""The three adapters against the float64 reference and against each other (in-process)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from bench import data, verify
from bench.registry import get_adapter
from impls import reference as ref
from impls import spec
from tests.conftest import framework_params, require_framework

LRN = [pytest.param(False, id="lrn-off"), pytest.param(True, id="lrn-on")]
_CACHE: dict[Any, Any] = {}


def _adapter(fw: str, lrn: bool) -> Any:
    require_framework(fw)
    key = (fw, lrn)
    if key not in _CACHE:  # building (and compiling) once per framework keeps the suite fast
        _CACHE[key] = get_adapter(fw, lrn=lrn, dropout=0.0)
    return _CACHE[key]


def _reference(batch: tuple[np.ndarray, np.ndarray], lrn: bool) -> dict[str, np.ndarray]:
    if ("ref", lrn) not in _CACHE:
        _CACHE[("ref", lrn)] = verify.reference_outputs(*batch, spec.init_weights(0), lrn)
    return _CACHE[("ref", lrn)]  # type: ignore[no-any-return]


@pytest.mark.parametrize("fw", framework_params())
def test_param_count_and_exact_round_trip(fw: str) -> None:
    adapter = _adapter(fw, False)
    assert adapter.param_count() == spec.param_count() == 4_412_810
    w = spec.init_weights(7, "book")
    adapter.set_weights(w)
    got = adapter.get_weights()
    for name in spec.WEIGHT_NAMES:
        assert got[name].shape == spec.WEIGHT_SHAPES[name]
        np.testing.assert_array_equal(got[name], w[name], err_msg=name)
    adapter.set_weights(spec.init_weights(0))
    np.testing.assert_array_equal(got["conv1.w"], w["conv1.w"])  # returned arrays are copies


@pytest.mark.parametrize("lrn", LRN)
@pytest.mark.parametrize("fw", framework_params())
def test_matches_reference(fw: str, lrn: bool, batch: tuple[np.ndarray, np.ndarray]) -> None:
    weights = spec.init_weights(0)
    got = verify.collect(_adapter(fw, lrn), *batch, weights)
    checks = verify.compare(got, _reference(batch, lrn), weights)
    failed = [c for c in checks if not c.passed]
    assert not failed, failed
    assert {c.quantity for c in checks} >= {"logits", "loss", "grad conv1", "grad fc3", "adam step", "lrn op"}


def test_tolerances_would_catch_an_lrn_mismatch(batch: tuple[np.ndarray, np.ndarray]) -> None:
    """A framework that silently dropped LRN must FAIL every model-level check."""
    weights = spec.init_weights(0)
    checks = verify.compare(_reference(batch, False), _reference(batch, True), weights)
    by_name = {c.quantity: c for c in checks}
    for quantity in ["logits", "loss", "adam step"] + [f"grad {layer}" for layer in spec.PARAM_LAYERS]:
        assert not by_name[quantity].passed, by_name[quantity]
    assert by_name["logits"].difference > 20 * verify.LOGITS_RTOL


def test_lrn_tolerance_would_catch_the_torch_alpha_trap() -> None:
    x = verify.lrn_input().astype(np.float64)
    wrong = ref.lrn_forward(x, spec.LrnParams(alpha=spec.LRN_ALPHA / 9))  # torch's convention taken literally
    assert verify.normalised_max(wrong, ref.lrn_forward(x)) > 100 * verify.LRN_RTOL


@pytest.mark.parametrize("fw", framework_params())
def test_lrn_op_alone_to_float32_rounding(fw: str) -> None:
    x = verify.lrn_input(seed=5)
    out = _adapter(fw, True).lrn(x)
    np.testing.assert_allclose(out, ref.lrn_forward(x.astype(np.float64)), rtol=verify.LRN_RTOL, atol=1e-6)


def _loss_curve(fw: str, mnist: data.Dataset, steps: int, batch_size: int) -> np.ndarray:
    adapter = _adapter(fw, False)
    adapter.set_weights(spec.init_weights(0))
    curve = []
    for i in range(steps):
        sl = slice(i * batch_size, (i + 1) * batch_size)
        prepared = adapter.prepare(mnist.train_images[sl], mnist.train_labels[sl])
        curve.append(adapter.loss_value(adapter.train_step(prepared)))
    adapter.set_weights(spec.init_weights(0))
    return np.array(curve)


@pytest.mark.slow
def test_twenty_steps_loss_curves_agree(mnist: data.Dataset) -> None:
    """Dropout off, same real batches, same init: the curves stay inside the float32-chaos envelope."""
    curves = {}
    for fw in ("torch", "tensorflow", "jax"):
        try:
            require_framework(fw)
        except pytest.skip.Exception:
            continue
        curves[fw] = _loss_curve(fw, mnist, steps=20, batch_size=64)
    if len(curves) < 2:
        pytest.skip("needs two installed frameworks")
    names = list(curves)
    tol = np.array([verify.trajectory_tolerance(i) for i in range(20)])
    for fw in names:
        assert curves[fw][-1] < 0.8 * curves[fw][0], f"{fw} did not train: {curves[fw]}"
        for other in names:
            rel = np.abs(curves[fw] - curves[other]) / np.abs(curves[other])
            assert (rel <= tol).all(), f"{fw} vs {other}: {rel} > {tol}"
    first = [c[0] for c in curves.values()]
    assert max(first) - min(first) < verify.LOSS_ATOL  # before any update: float32 rounding only


@pytest.mark.parametrize("fw", framework_params())
def test_empty_batch_is_refused_before_any_kernel(fw: str) -> None:
    adapter = _adapter(fw, True)
    empty = np.zeros((0, 28, 28, 1), np.float32)
    for call in (lambda: adapter.logits(empty), lambda: adapter.lrn(np.zeros((0, 14, 14, 128), np.float32)),
                 lambda: adapter.prepare(empty, np.zeros(0, np.int32))):
        with pytest.raises(ValueError, match="at least one image"):
            call()
