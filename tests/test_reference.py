"""The float64 reference is the oracle, so it is checked against finite differences itself."""

from __future__ import annotations

import numpy as np
import pytest

from bench.model import reference as ref
from bench.model import spec

FD_RTOL = 1e-5  # central differences with h=1e-6 in float64: truncation error ~h^2, rounding ~1e-10/h


@pytest.mark.parametrize("lrn", [False, True], ids=["lrn-off", "lrn-on"])
def test_gradients_match_finite_differences(lrn: bool) -> None:
    rng = np.random.default_rng(0)
    w = {k: v.astype(np.float64) for k, v in spec.init_weights(1).items()}
    w = {k: (v + rng.normal(0, 0.01, v.shape) if k.endswith(".b") else v) for k, v in w.items()}
    x = rng.random((3, 28, 28, 1))
    y = rng.integers(0, 10, 3)
    _, grads = ref.loss_and_grads(w, x, y, lrn)
    h = 1e-6
    for name in spec.WEIGHT_NAMES:
        flat = np.argsort(-np.abs(grads[name]).ravel())[:2]  # largest entries: well above noise
        for i in flat:
            idx = np.unravel_index(i, w[name].shape)
            wp, wm = dict(w), dict(w)
            wp[name], wm[name] = w[name].copy(), w[name].copy()
            wp[name][idx] += h
            wm[name][idx] -= h
            lp, _ = ref.softmax_xent(ref.logits(wp, x, lrn), y)
            lm, _ = ref.softmax_xent(ref.logits(wm, x, lrn), y)
            np.testing.assert_allclose(grads[name][idx], (lp - lm) / (2 * h), rtol=FD_RTOL, atol=1e-9, err_msg=name)


def test_lrn_backward_matches_finite_differences() -> None:
    rng = np.random.default_rng(2)
    x = rng.normal(0, 5, (2, 3, 3, 16))
    g = rng.normal(0, 1, x.shape)
    analytic = ref.lrn_backward(x, g)
    h = 1e-6
    numeric = np.zeros_like(x)
    for idx in np.ndindex(x.shape):
        xp, xm = x.copy(), x.copy()
        xp[idx] += h
        xm[idx] -= h
        numeric[idx] = ((ref.lrn_forward(xp) - ref.lrn_forward(xm)) * g).sum() / (2 * h)
    np.testing.assert_allclose(analytic, numeric, rtol=1e-6, atol=1e-9)


def test_lrn_forward_by_definition() -> None:
    x = np.arange(1.0, 13.0).reshape(1, 1, 1, 12)
    out = ref.lrn_forward(x)
    c = 0  # channels outside the range are omitted: window of channel 0 is 0..4
    expected = x[0, 0, 0, c] / (1.0 + spec.LRN_ALPHA * (x[0, 0, 0, 0:5] ** 2).sum()) ** 0.75
    assert out[0, 0, 0, c] == pytest.approx(expected, rel=1e-15)


def test_same_pool_pads_bottom_right() -> None:
    x = -np.arange(49.0).reshape(1, 7, 7, 1)  # decreasing: the max is the top-left of each window
    out, _ = ref.pool_forward(x)
    assert out.shape == (1, 4, 4, 1)
    assert out[0, 3, 3, 0] == -48.0  # the last window holds only the corner pixel


def test_adam_first_step_is_lr_times_sign() -> None:
    w = {"a": np.zeros(3)}
    g = {"a": np.array([0.5, -2.0, 1e-3])}
    new, _, _ = ref.adam_step(w, g)
    np.testing.assert_allclose(new["a"], -spec.ADAM_LR * np.sign(g["a"]), rtol=1e-4)
