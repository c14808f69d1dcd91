"""The canonical AlexNet-for-MNIST spec ("TensorFlow实战" variant), free of any framework.

Every framework adapter and the NumPy reference are built from this table, so parameter and
FLOP counts are derived here rather than hard-coded anywhere else.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

import numpy as np

IMAGE_SHAPE = (28, 28, 1)  # NHWC without the batch axis
NUM_CLASSES = 10

# Optimiser and regularisation constants, identical in every framework (each adapter passes them explicitly).
ADAM_LR = 1e-3
ADAM_BETA1 = 0.9
ADAM_BETA2 = 0.999
ADAM_EPS = 1e-8  # Keras defaults to 1e-7: every adapter must pass this explicitly.
DROPOUT_RATE = 0.25  # the book's keep_prob 0.75

# LRN, TensorFlow semantics with the book's values:
#   y = x / (bias + alpha * sum_{c-r..c+r} x^2) ** beta, channels outside the range omitted.
LRN_DEPTH_RADIUS = 4
LRN_BIAS = 1.0
LRN_ALPHA = 0.001 / 9.0
LRN_BETA = 0.75
# torch.nn.LocalResponseNorm divides alpha by the window size: LrnParams.torch_size/torch_alpha map it.



@dataclass(frozen=True)
class LrnParams:
    """LRN in TensorFlow's convention; the defaults are the book's values."""

    depth_radius: int = LRN_DEPTH_RADIUS
    bias: float = LRN_BIAS
    alpha: float = LRN_ALPHA
    beta: float = LRN_BETA

    @property
    def torch_size(self) -> int:
        return 2 * self.depth_radius + 1

    @property
    def torch_alpha(self) -> float:
        """torch's LocalResponseNorm divides alpha by the window size."""
        return self.alpha * self.torch_size

    def problems(self) -> list[str]:
        """What makes these parameters invalid for every backend (empty when fine)."""
        out = []
        if isinstance(self.depth_radius, bool) or not isinstance(self.depth_radius, int) or self.depth_radius < 0:
            out.append(f"depth_radius must be an integer >= 0, got {self.depth_radius!r}")
        if not self.bias > 0:
            out.append(f"bias must be > 0 (it keeps the denominator positive), got {self.bias!r}")
        if not self.alpha >= 0:
            out.append(f"alpha must be >= 0, got {self.alpha!r}")
        if not self.beta >= 0:
            out.append(f"beta must be >= 0, got {self.beta!r}")
        return out

    def cudnn_problems(self) -> list[str]:
        """cuDNN's LRN limits, which TensorFlow's GPU kernel inherits (it is also float32 only)."""
        out = []
        if not 1 <= self.depth_radius <= 7:
            out.append(f"cuDNN LRN needs depth_radius 1 to 7 (window 3 to 15), got {self.depth_radius}")
        if self.beta < 0.01:
            out.append(f"cuDNN LRN needs beta >= 0.01, got {self.beta}")
        if self.bias < 1e-5:
            out.append(f"cuDNN LRN needs bias >= 1e-5, got {self.bias}")
        return out


DEFAULT_LRN = LrnParams()

InitScheme = Literal["he", "book"]
INIT_SCHEMES: tuple[str, ...] = ("he", "book")


@dataclass(frozen=True)
class Layer:
    """One row of the layer table. ``kind`` is conv, lrn, pool or dense."""

    name: str
    kind: str
    out_channels: int = 0  # conv filters or dense units
    kernel: int = 0
    relu: bool = False
    dropout: bool = False


LAYERS: tuple[Layer, ...] = (
    Layer("conv1", "conv", 64, 3, relu=True),
    Layer("lrn1", "lrn"),
    Layer("pool1", "pool", kernel=2),
    Layer("conv2", "conv", 128, 3, relu=True),
    Layer("lrn2", "lrn"),
    Layer("pool2", "pool", kernel=2),
    Layer("conv3", "conv", 256, 3, relu=True),
    Layer("conv4", "conv", 256, 3, relu=True),
    Layer("conv5", "conv", 128, 3, relu=True),
    Layer("pool3", "pool", kernel=2),
    Layer("fc1", "dense", 1024, relu=True, dropout=True),
    Layer("fc2", "dense", 1024, relu=True, dropout=True),
    Layer("fc3", "dense", NUM_CLASSES),
)

CONV_LAYERS = tuple(layer.name for layer in LAYERS if layer.kind == "conv")
DENSE_LAYERS = tuple(layer.name for layer in LAYERS if layer.kind == "dense")
PARAM_LAYERS = CONV_LAYERS + DENSE_LAYERS


def layers(lrn: bool) -> tuple[Layer, ...]:
    """The layer sequence with or without the two LRN layers."""
    return tuple(layer for layer in LAYERS if lrn or layer.kind != "lrn")


def pooled(size: int, stride: int = 2) -> int:
    """Output size of a SAME-padded pool: ceil(size / stride) (7 -> 4, the torch trap)."""
    return math.ceil(size / stride)


@dataclass(frozen=True)
class Shapes:
    """Activation shape after every layer plus the weight shapes, derived from the table."""

    activations: dict[str, tuple[int, ...]]
    weights: dict[str, tuple[int, ...]]


def shapes() -> Shapes:
    h, w, c = IMAGE_SHAPE
    acts: dict[str, tuple[int, ...]] = {}
    weights: dict[str, tuple[int, ...]] = {}
    flat: int | None = None
    for layer in LAYERS:
        if layer.kind == "conv":
            weights[f"{layer.name}.w"] = (layer.kernel, layer.kernel, c, layer.out_channels)
            weights[f"{layer.name}.b"] = (layer.out_channels,)
            c = layer.out_channels
            acts[layer.name] = (h, w, c)
        elif layer.kind == "pool":
            h, w = pooled(h), pooled(w)
            acts[layer.name] = (h, w, c)
        elif layer.kind == "lrn":
            acts[layer.name] = (h, w, c)
        else:
            fan_in = flat if flat is not None else h * w * c
            weights[f"{layer.name}.w"] = (fan_in, layer.out_channels)
            weights[f"{layer.name}.b"] = (layer.out_channels,)
            flat = layer.out_channels
            acts[layer.name] = (flat,)
    return Shapes(acts, weights)


WEIGHT_SHAPES: dict[str, tuple[int, ...]] = shapes().weights
WEIGHT_NAMES: tuple[str, ...] = tuple(WEIGHT_SHAPES)


def param_count() -> int:
    return sum(math.prod(s) for s in WEIGHT_SHAPES.values())


def forward_macs_per_image() -> dict[str, int]:
    """Multiply-adds of every conv and dense layer for one image (LRN and pools ignored)."""
    acts = shapes().activations
    macs: dict[str, int] = {}
    for layer in LAYERS:
        if layer.kind in ("conv", "dense"):
            out = acts[layer.name]
            kernel_macs = math.prod(WEIGHT_SHAPES[f"{layer.name}.w"])
            spatial = out[0] * out[1] if layer.kind == "conv" else 1
            macs[layer.name] = spatial * kernel_macs
    return macs


def forward_flops_per_image() -> int:
    """FLOPs (2 per multiply-add) of one forward pass of one image."""
    return 2 * sum(forward_macs_per_image().values())


def train_flops_per_image() -> int:
    """A training step costs about 3x the forward FLOPs (forward + two backward GEMMs)."""
    return 3 * forward_flops_per_image()


def flops_per_step(mode: str, batch_size: int) -> int:
    if mode == "train":
        return train_flops_per_image() * batch_size
    if mode == "forward":
        return forward_flops_per_image() * batch_size
    raise ValueError(f"mode must be 'train' or 'forward', got {mode!r}")


# --- profiling scopes ---------------------------------------------------------------------------
PASSES = ("forward", "backward", "update")


@dataclass(frozen=True)
class Scope:
    """A named part of a step that profiles attribute time to: each layer of the table (its ReLU
    included), and what the table leaves implicit: the flatten before fc1, each dropout, the loss, and
    the optimiser update. Every adapter names its ops with these (name scopes, record_function,
    jax.named_scope), so the three profiles line up row for row."""

    name: str
    kind: str  # conv, lrn, pool, flatten, dense, dropout, loss, optimizer
    layer: str = ""  # the LAYERS row it belongs to ("" for flatten, loss, optimizer)


def scopes(lrn: bool) -> tuple[Scope, ...]:
    out: list[Scope] = []
    for layer in layers(lrn):
        if layer.kind == "dense" and layer.name == DENSE_LAYERS[0]:
            out.append(Scope("flatten", "flatten"))
        out.append(Scope(layer.name, layer.kind, layer.name))
        if layer.dropout:
            out.append(Scope(f"{layer.name}.dropout", "dropout", layer.name))
    return (*out, Scope("loss", "loss"), Scope("optimizer", "optimizer"))


def scope_names(lrn: bool = True) -> tuple[str, ...]:
    return tuple(s.name for s in scopes(lrn))


def scope_input_shape(scope: Scope) -> tuple[int, ...]:
    """The activation shape (without the batch axis) that enters ``scope``."""
    acts = shapes().activations
    prev: tuple[int, ...] = IMAGE_SHAPE
    for layer in LAYERS:
        if scope.layer == layer.name or (scope.kind == "flatten" and layer.kind == "dense"):
            if scope.kind == "dropout":
                return acts[layer.name]
            return (math.prod(prev),) if scope.kind == "dense" else prev  # dense layers see the flattened input
        prev = acts[layer.name]
    if scope.kind == "loss":
        return (NUM_CLASSES,)
    raise ValueError(f"scope {scope.name!r} has no input activation")


def scope_flops(scope: Scope, batch: int, pass_: str) -> int | None:
    """FLOPs of a conv or dense scope (2 per multiply-add); None for the others (elementwise work,
    not what a GEMM peak measures). Backward is twice forward (input and weight gradients), except
    for the first layer, whose input needs no gradient."""
    if scope.kind not in ("conv", "dense") or pass_ == "update":
        return None
    forward = 2 * forward_macs_per_image()[scope.layer] * batch
    if pass_ == "forward":
        return forward
    return forward if scope.layer == PARAM_LAYERS[0] else 2 * forward


def _truncated_normal(rng: np.random.Generator, shape: tuple[int, ...], std: float) -> np.ndarray:
    """Normal(0, std) resampled beyond two standard deviations (TF's truncated_normal)."""
    out = rng.standard_normal(shape)
    bad = np.abs(out) > 2.0
    while bad.any():
        out[bad] = rng.standard_normal(int(bad.sum()))
        bad = np.abs(out) > 2.0
    return out * std


def init_weights(seed: int = 0, scheme: str = "he") -> dict[str, np.ndarray]:
    """Canonical float32 weights, generated once in NumPy and loaded into every framework.

    ``he``: truncated normal with std sqrt(2 / fan_in), zero biases. ``book``: truncated normal std
    0.1 for convs and fc1, normal std 0.1 for fc2/fc3, zero biases, as in the book.
    """
    if scheme not in INIT_SCHEMES:
        raise ValueError(f"init scheme must be one of {', '.join(INIT_SCHEMES)}; got {scheme!r}")
    rng = np.random.default_rng(seed)
    weights: dict[str, np.ndarray] = {}
    for name, shape in WEIGHT_SHAPES.items():
        layer = name.split(".")[0]
        if name.endswith(".b"):
            arr = np.zeros(shape)
        elif scheme == "he":
            fan_in = math.prod(shape[:-1])
            arr = _truncated_normal(rng, shape, math.sqrt(2.0 / fan_in))
        elif layer in CONV_LAYERS or layer == "fc1":
            arr = _truncated_normal(rng, shape, 0.1)
        else:
            arr = rng.standard_normal(shape) * 0.1
        weights[name] = arr.astype(np.float32)
    return weights


def check_weights(weights: dict[str, np.ndarray]) -> None:
    """Raise ValueError naming the first missing, extra or mis-shaped tensor."""
    missing = [n for n in WEIGHT_NAMES if n not in weights]
    extra = [n for n in weights if n not in WEIGHT_SHAPES]
    if missing or extra:
        raise ValueError(f"weights: missing {missing}, unexpected {extra}; expected {list(WEIGHT_NAMES)}")
    for name, shape in WEIGHT_SHAPES.items():
        got = tuple(np.shape(weights[name]))
        if got != shape:
            raise ValueError(f"weights[{name!r}] has shape {got}; the canonical layout is {shape}")
