"""A float64 NumPy forward and backward of any :class:`~bench.model.spec.ModelSpec`: the oracle for
parity and verify (``model`` defaults to mnist).

Written for clarity, not speed (im2col convolutions). Parity checks run with dropout off, because
no two frameworks draw the same dropout masks; ``dropout`` (a function giving each dropout layer's
scaled keep-mask) lets a model built on this reference train with it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from bench.model import spec
from bench.model.spec import ModelSpec

Array = np.ndarray
Dropout = Callable[[str, tuple[int, ...]], Array]  # (layer name, shape) -> keep-mask / (1 - rate)


Pads = tuple[tuple[int, int], tuple[int, int]]  # ((top, bottom), (left, right))
SAME_3X3: Pads = ((1, 1), (1, 1))


def _im2col(x: Array, kernel: int = 3, stride: int = 1, pads: Pads = SAME_3X3) -> Array:
    """[N, H, W, C] -> [N, OH, OW, k*k*C] patches of a k x k convolution with ``stride`` and ``pads``,
    in HWI order (the order of an HWIO kernel reshaped to [k*k*C, O])."""
    (pt, pb), (pl, pr) = pads
    xp = np.pad(x, ((0, 0), (pt, pb), (pl, pr), (0, 0)))
    oh = (xp.shape[1] - kernel) // stride + 1
    ow = (xp.shape[2] - kernel) // stride + 1
    cols = [xp[:, i : i + (oh - 1) * stride + 1 : stride, j : j + (ow - 1) * stride + 1 : stride, :]
            for i in range(kernel) for j in range(kernel)]
    return np.concatenate(cols, axis=-1)


def conv_forward(x: Array, w: Array, b: Array, stride: int = 1, pads: Pads = SAME_3X3) -> Array:
    k = w.reshape(-1, w.shape[-1])
    return np.asarray(_im2col(x, w.shape[0], stride, pads) @ k + b)


def conv_backward(x: Array, w: Array, g: Array, stride: int = 1,
                  pads: Pads = SAME_3X3) -> tuple[Array, Array, Array]:
    """Gradients of a conv (HWIO kernel ``w``, ``stride``, ``pads``) w.r.t. input, kernel and bias."""
    n, h, wd, c = x.shape
    kernel = w.shape[0]
    (pt, pb), (pl, pr) = pads
    cols = _im2col(x, kernel, stride, pads)
    gk = cols.reshape(-1, cols.shape[-1]).T @ g.reshape(-1, g.shape[-1])
    gb = g.sum(axis=(0, 1, 2))
    gcols = g @ w.reshape(-1, w.shape[-1]).T  # [N, OH, OW, k*k*C]
    oh, ow = g.shape[1], g.shape[2]
    gxp = np.zeros((n, h + pt + pb, wd + pl + pr, c))
    idx = 0
    for i in range(kernel):
        for j in range(kernel):
            gxp[:, i : i + (oh - 1) * stride + 1 : stride, j : j + (ow - 1) * stride + 1 : stride, :] += (
                gcols[..., idx * c : (idx + 1) * c])
            idx += 1
    return gxp[:, pt : pt + h, pl : pl + wd, :], gk.reshape(w.shape), gb


def pool_forward(x: Array, kernel: int = 2, stride: int = 2, pads: Pads | None = None) -> tuple[Array, Array]:
    """k x k max pool with ``stride`` and ``pads`` (padding counts as -inf, as TensorFlow's SAME pooling
    ignores it); returns the output and each window's argmax (row-major in the window, first maximum).
    The default is the mnist pool: 2x2/2 SAME, its padding at the bottom/right only."""
    n, h, w, c = x.shape
    if pads is None:
        pads = ((0, spec.pooled(h) * 2 - h), (0, spec.pooled(w) * 2 - w))
    (pt, pb), (pl, pr) = pads
    xp = np.pad(x, ((0, 0), (pt, pb), (pl, pr), (0, 0)), constant_values=-np.inf)
    oh = (xp.shape[1] - kernel) // stride + 1
    ow = (xp.shape[2] - kernel) // stride + 1
    win = np.stack([xp[:, i : i + (oh - 1) * stride + 1 : stride, j : j + (ow - 1) * stride + 1 : stride, :]
                    for i in range(kernel) for j in range(kernel)], axis=-1)
    arg = win.argmax(axis=-1)
    return np.take_along_axis(win, arg[..., None], axis=-1)[..., 0], arg


def pool_backward(x_shape: tuple[int, ...], arg: Array, g: Array, kernel: int = 2, stride: int = 2,
                  pads: Pads | None = None) -> Array:
    """Each output's gradient to its window's argmax (overlapping windows add up)."""
    n, h, w, c = x_shape
    if pads is None:
        pads = ((0, spec.pooled(h) * 2 - h), (0, spec.pooled(w) * 2 - w))
    (pt, pb), (pl, pr) = pads
    oh, ow = g.shape[1], g.shape[2]
    gp = np.zeros((n, h + pt + pb, w + pl + pr, c))
    idx = 0
    for i in range(kernel):
        for j in range(kernel):
            gp[:, i : i + (oh - 1) * stride + 1 : stride, j : j + (ow - 1) * stride + 1 : stride, :] += g * (arg == idx)
            idx += 1
    return gp[:, pt : pt + h, pl : pl + w, :]


def _band(c: int, r: int) -> Array:
    idx = np.arange(c)
    return np.asarray(np.abs(idx[:, None] - idx[None, :]) <= r, dtype=np.float64)


def lrn_forward(x: Array, p: spec.LrnParams = spec.DEFAULT_LRN) -> Array:
    """TensorFlow-semantics LRN over the last axis, via a banded matrix of ones."""
    d = p.bias + p.alpha * (x * x) @ _band(x.shape[-1], p.depth_radius)
    return np.asarray(x * d**-p.beta)


def lrn_backward(x: Array, g: Array, p: spec.LrnParams = spec.DEFAULT_LRN) -> Array:
    band = _band(x.shape[-1], p.depth_radius)
    d = p.bias + p.alpha * (x * x) @ band
    # y_c = x_c d_c^-b ; dy_c/dx_j = [c==j] d_c^-b - 2 a b x_c x_j d_c^(-b-1) [|c-j|<=r]
    t = g * x * d ** (-p.beta - 1.0)
    return np.asarray(g * d**-p.beta - 2.0 * p.alpha * p.beta * x * (t @ band))


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
            lrn_params: spec.LrnParams = spec.DEFAULT_LRN, dropout: Dropout | None = None,
            model: ModelSpec | str = spec.MNIST) -> Array:
    m = spec.get_model(model)
    x = np.asarray(images, dtype=np.float64)
    w = {k: np.asarray(v, dtype=np.float64) for k, v in weights.items()}
    for layer in m.layers(lrn):
        if tape is not None:
            tape.inputs[layer.name] = x
        if layer.kind == "conv":
            x = conv_forward(x, w[f"{layer.name}.w"], w[f"{layer.name}.b"], layer.stride, m.padding_of(layer.name))
        elif layer.kind == "dense":
            if x.ndim == 4:
                x = x.reshape(x.shape[0], -1)  # NHWC flatten: (h*W + w)*C + c
                if tape is not None:
                    tape.inputs[layer.name] = x
            x = x @ w[f"{layer.name}.w"] + w[f"{layer.name}.b"]
        elif layer.kind == "pool":
            x, arg = pool_forward(x, layer.kernel, layer.stride, m.padding_of(layer.name))
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
           lrn_params: spec.LrnParams = spec.DEFAULT_LRN, model: ModelSpec | str = spec.MNIST) -> Array:
    return forward(weights, images, lrn, lrn_params=lrn_params, model=model)


def loss_and_grads(
    weights: dict[str, Array], images: Array, labels: Array, lrn: bool,
    lrn_params: spec.LrnParams = spec.DEFAULT_LRN, dropout: Dropout | None = None,
    model: ModelSpec | str = spec.MNIST,
) -> tuple[float, dict[str, Array]]:
    m = spec.get_model(model)
    tape = Tape()
    out = forward(weights, images, lrn, tape, lrn_params, dropout, m)
    loss, g = softmax_xent(out, np.asarray(labels))
    w = {k: np.asarray(v, dtype=np.float64) for k, v in weights.items()}
    grads: dict[str, Array] = {}
    for layer in reversed(m.layers(lrn)):
        x = tape.inputs[layer.name]
        if layer.name in tape.masks:
            g = g * tape.masks[layer.name]
        if layer.relu:
            g = g * (tape.pre_relu[layer.name] > 0)
        if layer.kind == "dense":
            grads[f"{layer.name}.w"] = x.T @ g
            grads[f"{layer.name}.b"] = g.sum(axis=0)
            g = g @ w[f"{layer.name}.w"].T
            if layer.name == m.dense_layers[0]:
                g = g.reshape((x.shape[0],) + m.flatten_shape)
        elif layer.kind == "conv":
            g, grads[f"{layer.name}.w"], grads[f"{layer.name}.b"] = conv_backward(
                x, w[f"{layer.name}.w"], g, layer.stride, m.padding_of(layer.name)
            )
        elif layer.kind == "pool":
            g = pool_backward(x.shape, tape.pool_arg[layer.name], g, layer.kernel, layer.stride,
                              m.padding_of(layer.name))
        else:
            g = lrn_backward(x, g, lrn_params)
    return loss, {name: grads[name] for name in m.weight_names}


def adam_step(
    weights: dict[str, Array],
    grads: dict[str, Array],
    step: int = 1,
    m: dict[str, Array] | None = None,
    v: dict[str, Array] | None = None,
) -> tuple[dict[str, Array], dict[str, Array], dict[str, Array]]:
    """One Adam update (eps added to the bias-corrected sqrt(v), where every adapter puts it)."""
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


def pool_margins(tape: Tape, model: ModelSpec | str = spec.MNIST) -> Array:
    """Per image, the smallest relative gap between the largest and second-largest value of any max-pool
    window whose maximum is positive (from a forward pass's tape). A gap below float32's resolution is a
    near-tie: a float32 framework may route that window's gradient to the other element, which is right
    in float32 and moves every gradient below it by percents (imagenet, LRN on, seed 0: a gap of 8e-8 in
    pool3), so equivalence checks use inputs without one."""
    m = spec.get_model(model)
    out: Array | None = None
    for layer in m.table:
        if layer.kind != "pool" or layer.name not in tape.pool_arg:
            continue
        (pt, pb), (pl, pr) = m.padding_of(layer.name)
        xp = np.pad(tape.inputs[layer.name], ((0, 0), (pt, pb), (pl, pr), (0, 0)), constant_values=-np.inf)
        k, st = layer.kernel, layer.stride
        oh, ow = (xp.shape[1] - k) // st + 1, (xp.shape[2] - k) // st + 1
        win = np.sort(np.stack([xp[:, i : i + (oh - 1) * st + 1 : st, j : j + (ow - 1) * st + 1 : st, :]
                                for i in range(k) for j in range(k)], axis=-1), axis=-1)
        top, second = win[..., -1], win[..., -2]
        with np.errstate(invalid="ignore", divide="ignore"):
            gap = np.where(top > 0, (top - second) / np.where(top > 0, top, 1.0), np.inf)
        per_image = gap.reshape(gap.shape[0], -1).min(axis=1)
        out = per_image if out is None else np.minimum(out, per_image)
    return out if out is not None else np.full(len(next(iter(tape.inputs.values()))), np.inf)


def relu_margins(tape: Tape) -> Array:
    """Per image, the smallest |pre-activation| of any ReLU relative to that layer's largest for the image: a
    value within float32's rounding of zero is a kink like a pool's near-tie (a float32 framework may let its
    gradient through where the reference blocks it: one position of a conv weight's sum over positions,
    ~1e-3 of the gradient at imagenet's 13x13)."""
    out: Array | None = None
    for pre in tape.pre_relu.values():
        flat = np.abs(pre.reshape(pre.shape[0], -1))
        scale = flat.max(axis=1)
        per_image = flat.min(axis=1) / np.where(scale > 0, scale, 1.0)
        out = per_image if out is None else np.minimum(out, per_image)
    return out if out is not None else np.full(len(next(iter(tape.inputs.values()))), np.inf)

