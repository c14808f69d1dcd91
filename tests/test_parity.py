"""The three adapters against the float64 reference and against each other (in-process)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from bench import get_adapter
from bench.analysis import equivalence
from bench.core import data
from bench.model import reference as ref
from bench.model import spec
from tests.conftest import FRAMEWORKS, framework_params, require_framework

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
        _CACHE[("ref", lrn)] = equivalence.reference_outputs(*batch, spec.init_weights(0), lrn)
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
    got = equivalence.collect(_adapter(fw, lrn), *batch, weights)
    checks = equivalence.compare(got, _reference(batch, lrn), weights)
    failed = [c for c in checks if not c.passed]
    assert not failed, failed
    assert {c.quantity for c in checks} >= {"logits", "loss", "grad conv1", "grad fc3", "adam step", "lrn op"}


def test_tolerances_would_catch_an_lrn_mismatch(batch: tuple[np.ndarray, np.ndarray]) -> None:
    """A framework that silently dropped LRN must FAIL every model-level check."""
    weights = spec.init_weights(0)
    checks = equivalence.compare(_reference(batch, False), _reference(batch, True), weights)
    by_name = {c.quantity: c for c in checks}
    for quantity in ["logits", "loss", "adam step"] + [f"grad {layer}" for layer in spec.PARAM_LAYERS]:
        assert not by_name[quantity].passed, by_name[quantity]
    assert by_name["logits"].difference > 20 * equivalence.LOGITS_RTOL


@pytest.mark.torch
def test_lrn_tolerance_would_catch_the_torch_alpha_trap() -> None:
    """torch's LocalResponseNorm divides alpha by the window: given TensorFlow's alpha literally, it is
    a different op, and the LRN tier says so by far; with the mapping it matches."""
    require_framework("torch")
    import torch

    x = equivalence.lrn_input()
    want = ref.lrn_forward(x.astype(np.float64))
    p = spec.DEFAULT_LRN

    def torch_lrn(alpha: float) -> np.ndarray:
        module = torch.nn.LocalResponseNorm(p.torch_size, alpha, p.beta, p.bias)
        with torch.no_grad():
            y = module(torch.from_numpy(np.ascontiguousarray(x.transpose(0, 3, 1, 2))))
        return y.numpy().transpose(0, 2, 3, 1)

    assert equivalence.normalised_max(torch_lrn(p.alpha), want) > 100 * equivalence.LRN_RTOL  # the trap
    assert equivalence.normalised_max(torch_lrn(p.torch_alpha), want) <= equivalence.LRN_RTOL  # the mapping


@pytest.mark.parametrize("fw", framework_params())
def test_lrn_op_alone_to_float32_rounding(fw: str) -> None:
    x = equivalence.lrn_input(seed=5)
    out = _adapter(fw, True).lrn(x)
    np.testing.assert_allclose(out, ref.lrn_forward(x.astype(np.float64)), rtol=equivalence.LRN_RTOL, atol=1e-6)


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
    for fw in FRAMEWORKS:
        try:
            require_framework(fw)
        except pytest.skip.Exception:
            continue
        curves[fw] = _loss_curve(fw, mnist, steps=20, batch_size=64)
    if len(curves) < 2:
        pytest.skip("needs two installed frameworks")
    names = list(curves)
    tol = np.array([equivalence.trajectory_tolerance(i) for i in range(20)])
    for fw in names:
        assert curves[fw][-1] < 0.8 * curves[fw][0], f"{fw} did not train: {curves[fw]}"
        for other in names:
            rel = np.abs(curves[fw] - curves[other]) / np.abs(curves[other])
            assert (rel <= tol).all(), f"{fw} vs {other}: {rel} > {tol}"
    first = [c[0] for c in curves.values()]
    assert max(first) - min(first) < equivalence.LOSS_ATOL  # before any update: float32 rounding only


@pytest.mark.parametrize("fw", framework_params())
def test_empty_batch_is_refused_before_any_kernel(fw: str) -> None:
    adapter = _adapter(fw, True)
    empty = np.zeros((0, 28, 28, 1), np.float32)
    for call in (lambda: adapter.logits(empty), lambda: adapter.lrn(np.zeros((0, 14, 14, 128), np.float32)),
                 lambda: adapter.prepare(empty, np.zeros(0, np.int32))):
        with pytest.raises(ValueError, match="at least one image"):
            call()


@pytest.mark.parametrize("fw", framework_params())
def test_dropout_rate_applied_is_the_configured_one(fw: str) -> None:
    """Weights chosen so fc1 and fc2 output exactly 1 before dropout; with one image, a unit dropped by
    fc2's dropout zeroes its row of grad fc3.w, and a kept one scales it by 1 / (1 - rate). So the
    share of zero rows measures the rate, and the scale tells rate from keep-probability (a 0.25 rate
    read as keep_prob would drop 75% and scale by 4)."""
    require_framework(fw)
    rate = 0.25
    adapter = get_adapter(fw, dropout=rate)
    w = {name: np.zeros(shape, np.float32) for name, shape in spec.WEIGHT_SHAPES.items()}
    for layer in ("conv1", "conv2", "conv3", "conv4", "conv5", "fc1", "fc2"):
        w[f"{layer}.b"][:] = 1.0
    w["fc3.w"] = np.random.default_rng(0).normal(0, 0.01, w["fc3.w"].shape).astype(np.float32)  # soft logits
    image = np.zeros((1, 28, 28, 1), np.float32)
    zero_share, scales = [], []
    for seed in range(4):  # 4 x 1024 units: the share is known to about +-0.7 pp (1 sd)
        adapter.set_weights(w)
        _, grads = adapter.loss_and_grads(image, np.array([seed % 10]))
        g3w, g3b = grads["fc3.w"], grads["fc3.b"]
        kept = np.abs(g3w).sum(axis=1) > 0
        zero_share.append(1 - kept.mean())
        scales.append(float(np.median(g3w[kept] / g3b[None, :])))
    assert abs(np.mean(zero_share) - rate) < 0.035, zero_share
    np.testing.assert_allclose(scales, 1 / (1 - rate), rtol=1e-5)
    adapter.set_weights(spec.init_weights(0))
