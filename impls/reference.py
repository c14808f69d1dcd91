"""A float64 NumPy forward and backward of the canonical network: the oracle for parity.

Written for clarity, not speed (im2col convolutions). Parity checks run with dropout off, because
no two frameworks draw the same dropout masks; ``dropout`` (a function giving each dropout layer's
scaled keep-mask) lets a model built on this reference train with it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from impls import spec

Array = np.ndarray
Dropout = Callable[[str, tuple[int, ...]], Array]  # (layer name, shape) -> keep-mask / (1 - rate)


def _pad_same(x: Array) -> Array:
    return np.pad(x, ((0, 0), (1, 1), (1, 1), (0, 0)))


def _im2col(x: Array) -> Array:
    """[N, H, W, C] -> [N, H, W, 3*3*C] patches of a 3x3 SAME convolution, HWI order."""
    n, h, w, c = x.shape
    xp = _pad_same(x)
    cols = [xp[:, i : i + h, j : j + w, :] for i in range(3) for j in range(3)]
    return np.concatenate(cols, axis=-1)


def conv_forward(x: Array, w: Array, b: Array) -> Array:
    k = w.reshape(-1, w.shape[-1])
    return _im2col(x) @ k + b


def conv_backward(x: Array, w: Array, g: Array) -> tuple[Array, Array, Array]:
    """Gradients of a 3x3 SAME conv w.r.t. input, kernel (HWIO) and bias."""
    n, h, wd, c = x.shape
    cols = _im2col(x)
    gk = cols.reshape(-1, cols.shape[-1]).T @ g.reshape(-1, g.shape[-1])
    gb = g.sum(axis=(0, 1, 2))
    gcols = g @ w.reshape(-1, w.shape[-1]).T  # [N, H, W, 9*C]
    gxp = np.zeros((n, h + 2, wd + 2, c))
    idx = 0
    for i in range(3):
        for j in range(3):
            gxp[:, i : i + h, j : j + wd, :] += gcols[..., idx * c : (idx + 1) * c]
            idx += 1
    return gxp[:, 1:-1, 1:-1, :], gk.reshape(w.shape), gb


def pool_forward(x: Array) -> tuple[Array, Array]:
    """2x2/2 SAME max pool (bottom/right -inf padding); returns output and argmax mask."""
    n, h, w, c = x.shape
    oh, ow = spec.pooled(h), spec.pooled(w)
    xp = np.full((n, oh * 2, ow * 2, c), -np.inf)
    xp[:, :h, :w, :] = x
    win = xp.reshape(n, oh, 2, ow, 2, c).transpose(0, 1, 3, 5, 2, 4).reshape(n, oh, ow, c, 4)
    arg = win.argmax(axis=-1)
    return win.max(axis=-1), arg


def pool_backward(x_shape: tuple[int, ...], arg: Array, g: Array) -> Array:
    n, h, w, c = x_shape
    oh, ow = g.shape[1], g.shape[2]
    win = np.zeros((n, oh, ow, c, 4))
    np.put_along_axis(win, arg[..., None], g[..., None], axis=-1)
    gp = win.reshape(n, oh, ow, c, 2, 2).transpose(0, 1, 4, 2, 5, 3).reshape(n, oh * 2, ow * 2, c)
    return gp[:, :h, :w, :]


def _band(c: int, r: int) -> Array:
    idx = np.arange(c)
    return (np.abs(idx[:, None] - idx[None, :]) <= r).astype(np.float64)


def lrn_forward(x: Array, p: spec.LrnParams = spec.DEFAULT_LRN) -> Array:
    """TensorFlow-semantics LRN over the last axis, via a banded matrix of ones."""
    d = p.bias + p.alpha * (x * x) @ _band(x.shape[-1], p.depth_radius)
    return x * d**-p.beta


def lrn_backward(x: Array, g: Array, p: spec.LrnParams = spec.DEFAULT_LRN) -> Array:
    band = _band(x.shape[-1], p.depth_radius)
    d = p.bias + p.alpha * (x * x) @ band
    # y_c = x_c d_c^-b ; dy_c/dx_j = [c==j] d_c^-b - 2 a b x_c x_j d_c^(-b-1) [|c-j|<=r]
    t = g * x * d ** (-p.beta - 1.0)
    return g * d**-p.beta - 2.0 * p.alpha * p.beta * x * (t @ band)


def softmax_xent(logits: Array, labels: Array) -> tuple[float, Array]:
    """Mean softmax cross-entropy and its gradient w.r.t. the logits."""
    z = logits - logits.max(axis=1, keepdims=True)
    logp = z - np.log(np.exp(z).sum(axis=1, keepdims=True))
    n = logits.shape[0]
    loss = -logp[np.arange(n), labels].mean()
    grad = np.exp(logp)
    grad[np.arange(n), labels] -= 1.0
    return float(loss), grad / n


@dataclass
class Tape:
    """Intermediate values of a forward pass, kept for the backward pass."""

    inputs: dict[str, Array] = field(default_factory=dict)
    pre_relu: dict[str, Array] = field(default_factory=dict)
    pool_arg: dict[str, Array] = field(default_factory=dict)
    masks: dict[str, Array] = field(default_factory=dict)


def forward(weights: dict[str, Array], images: Array, lrn: bool, tape: Tape | None = None,
            lrn_params: spec.LrnParams = spec.DEFAULT_LRN, dropout: Dropout | None = None) -> Array:
    x = np.asarray(images, dtype=np.float64)
    w = {k: np.asarray(v, dtype=np.float64) for k, v in weights.items()}
    for layer in spec.layers(lrn):
        if tape is not None:
            tape.inputs[layer.name] = x
        if layer.kind == "conv":
            x = conv_forward(x, w[f"{layer.name}.w"], w[f"{layer.name}.b"])
        elif layer.kind == "dense":
            if x.ndim == 4:
                x = x.reshape(x.shape[0], -1)  # NHWC flatten: (h*W + w)*C + c
                if tape is not None:
                    tape.inputs[layer.name] = x
            x = x @ w[f"{layer.name}.w"] + w[f"{layer.name}.b"]
        elif layer.kind == "pool":
            x, arg = pool_forward(x)
            if tape is not None:
                tape.pool_arg[layer.name] = arg
        else:
            x = lrn_forward(x, lrn_params)
        if layer.relu:
            if tape is not None:
                tape.pre_relu[layer.name] = x
            x = np.maximum(x, 0.0)
        if layer.dropout and dropout is not None:
            mask = dropout(layer.name, x.shape)
            x = x * mask
            if tape is not None:
                tape.masks[layer.name] = mask
    return x


def logits(weights: dict[str, Array], images: Array, lrn: bool,
           lrn_params: spec.LrnParams = spec.DEFAULT_LRN) -> Array:
    return forward(weights, images, lrn, lrn_params=lrn_params)


def loss_and_grads(
    weights: dict[str, Array], images: Array, labels: Array, lrn: bool,
    lrn_params: spec.LrnParams = spec.DEFAULT_LRN, dropout: Dropout | None = None,
) -> tuple[float, dict[str, Array]]:
    tape = Tape()
    out = forward(weights, images, lrn, tape, lrn_params, dropout)
    loss, g = softmax_xent(out, np.asarray(labels))
    w = {k: np.asarray(v, dtype=np.float64) for k, v in weights.items()}
    grads: dict[str, Array] = {}
    for layer in reversed(spec.layers(lrn)):
        x = tape.inputs[layer.name]
        if layer.name in tape.masks:
            g = g * tape.masks[layer.name]
        if layer.relu:
            g = g * (tape.pre_relu[layer.name] > 0)
        if layer.kind == "dense":
            grads[f"{layer.name}.w"] = x.T @ g
            grads[f"{layer.name}.b"] = g.sum(axis=0)
            g = g @ w[f"{layer.name}.w"].T
            if layer.name == "fc1":
                g = g.reshape((x.shape[0],) + spec.shapes().activations["pool3"])
        elif layer.kind == "conv":
            g, grads[f"{layer.name}.w"], grads[f"{layer.name}.b"] = conv_backward(
                x, w[f"{layer.name}.w"], g
            )
        elif layer.kind == "pool":
            g = pool_backward(x.shape, tape.pool_arg[layer.name], g)
        else:
            g = lrn_backward(x, g, lrn_params)
    return loss, {name: grads[name] for name in spec.WEIGHT_NAMES}


def adam_step(
    weights: dict[str, Array],
    grads: dict[str, Array],
    step: int = 1,
    m: dict[str, Array] | None = None,
    v: dict[str, Array] | None = None,
) -> tuple[dict[str, Array], dict[str, Array], dict[str, Array]]:
    """One Adam update (eps added to the bias-corrected sqrt(v), as torch and optax do)."""
    new_w, new_m, new_v = {}, {}, {}
    for name, w in weights.items():
        g = grads[name]
        mm = spec.ADAM_BETA1 * (m[name] if m else 0.0) + (1 - spec.ADAM_BETA1) * g
        vv = spec.ADAM_BETA2 * (v[name] if v else 0.0) + (1 - spec.ADAM_BETA2) * g * g
        m_hat = mm / (1 - spec.ADAM_BETA1**step)
        v_hat = vv / (1 - spec.ADAM_BETA2**step)
        new_w[name] = np.asarray(w, np.float64) - spec.ADAM_LR * m_hat / (np.sqrt(v_hat) + spec.ADAM_EPS)
        new_m[name], new_v[name] = mm, vv
    return new_w, new_m, new_v
