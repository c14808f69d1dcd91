"""The models as values: framework-free layer tables ("TensorFlow实战" AlexNet), free of any framework.

A :class:`ModelSpec` is a layer table (kernels, strides, SAME/VALID padding, LRN placement), an input
shape and a class count. Every framework adapter, the float64 NumPy reference, the parameter and FLOP
counts and the profile scopes are derived from it, so nothing about a model's shape is hard-coded
anywhere else. :data:`MODELS` holds the two tables: ``mnist`` (the default, 28x28x1, 10 classes) and
``imagenet`` (the book's one-tower table, 224x224x3, 1000 classes).

The module-level names (:data:`LAYERS`, :data:`WEIGHT_SHAPES`, :func:`scopes` ...) are the default
model's (``mnist``); code that serves any model takes a :class:`ModelSpec` and calls its methods.

This package is the lowest layer of bench: it imports nothing of bench and no framework.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cached_property
from typing import Literal

import numpy as np

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
# An LRN module that divides alpha by the window size gets LrnParams.torch_size/torch_alpha (impls/ uses them).



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
        """alpha times the window size, for an LRN module that divides alpha by it."""
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


Padding = Literal["SAME", "VALID"]
PADDINGS: tuple[str, ...] = ("SAME", "VALID")
KINDS: tuple[str, ...] = ("conv", "lrn", "pool", "dense")


class UnknownModel(ValueError):
    """A model name that is not in :data:`MODELS` (bench's configuration turns it into a usage error)."""


@dataclass(frozen=True)
class Layer:
    """One row of the layer table. ``kind`` is conv, lrn, pool or dense; convs and pools have a square
    ``kernel``, a ``stride`` and TensorFlow's ``padding`` (SAME: output ceil(in / stride), the padding
    split with the smaller half before; VALID: no padding, output floor((in - kernel) / stride) + 1)."""

    name: str
    kind: str
    out_channels: int = 0  # conv filters or dense units
    kernel: int = 0
    relu: bool = False
    dropout: bool = False
    stride: int = 1
    padding: str = "SAME"


def window_output(size: int, kernel: int, stride: int, padding: str) -> int:
    """Output length of a conv or pool window along one axis, in TensorFlow's convention."""
    if padding == "SAME":
        return math.ceil(size / stride)
    if padding == "VALID":
        return (size - kernel) // stride + 1
    raise ValueError(f"padding must be one of {', '.join(PADDINGS)}; got {padding!r}")


def window_padding(size: int, kernel: int, stride: int, padding: str) -> tuple[int, int]:
    """(before, after) padding along one axis, in TensorFlow's convention: SAME pads
    max((out - 1) * stride + kernel - size, 0) in all, the smaller half before (224 with an 11-wide
    kernel at stride 4: out 56, 7 in all, 3 before and 4 after); VALID pads nothing."""
    if padding == "VALID":
        return (0, 0)
    out = window_output(size, kernel, stride, padding)
    total = max((out - 1) * stride + kernel - size, 0)
    return (total // 2, total - total // 2)


def pooled(size: int, stride: int = 2) -> int:
    """Output size of a SAME-padded pool: ceil(size / stride) (7 -> 4: a floor-mode pool would give 3)."""
    return math.ceil(size / stride)


@dataclass(frozen=True)
class Shapes:
    """Activation shape after every layer plus the weight shapes, derived from the table."""

    activations: dict[str, tuple[int, ...]]
    weights: dict[str, tuple[int, ...]]


PASSES = ("forward", "backward", "update")


@dataclass(frozen=True)
class Scope:
    """A named part of a step that profiles attribute time to: each layer of the table (its ReLU
    included), and what the table leaves implicit: the flatten before fc1, each dropout, the loss, and
    the optimiser update. Every adapter names its ops with these (its framework's name scopes), so the
    profiles line up row for row."""

    name: str
    kind: str  # conv, lrn, pool, flatten, dense, dropout, loss, optimizer
    layer: str = ""  # the LAYERS row it belongs to ("" for flatten, loss, optimizer)


@dataclass(frozen=True)
class ModelSpec:
    """One model as a value: its layer table, NHWC input shape (no batch axis) and class count.

    ``data`` names the dataset the harness can read for it (``mnist``), or is None where there is none
    here: such a model runs on synthetic data of its input shape only (timing, verify, profile), and
    parity/accuracy are refused. Everything else is derived by the methods below.
    """

    name: str
    input_shape: tuple[int, int, int]
    num_classes: int
    table: tuple[Layer, ...]
    data: str | None
    description: str = ""

    def __post_init__(self) -> None:
        for layer in self.table:
            if layer.kind not in KINDS:
                raise ValueError(f"{self.name}: layer {layer.name!r} has kind {layer.kind!r}; allowed: {KINDS}")
            if layer.kind in ("conv", "pool") and (layer.kernel < 1 or layer.stride < 1
                                                   or layer.padding not in PADDINGS):
                raise ValueError(f"{self.name}: layer {layer.name!r} needs kernel >= 1, stride >= 1 and "
                                 f"padding in {PADDINGS}; got {layer}")
        dense = [layer for layer in self.table if layer.kind == "dense"]
        if not dense or dense[-1].out_channels != self.num_classes:
            raise ValueError(f"{self.name}: the last dense layer must have {self.num_classes} units (the classes)")

    # --- the table ---------------------------------------------------------------------------
    def layers(self, lrn: bool) -> tuple[Layer, ...]:
        """The layer sequence with or without the LRN layers."""
        return tuple(layer for layer in self.table if lrn or layer.kind != "lrn")

    def layer(self, name: str) -> Layer:
        for layer in self.table:
            if layer.name == name:
                return layer
        raise KeyError(f"model {self.name!r} has no layer {name!r}")

    @cached_property
    def conv_layers(self) -> tuple[str, ...]:
        return tuple(layer.name for layer in self.table if layer.kind == "conv")

    @cached_property
    def dense_layers(self) -> tuple[str, ...]:
        return tuple(layer.name for layer in self.table if layer.kind == "dense")

    @cached_property
    def param_layers(self) -> tuple[str, ...]:
        return self.conv_layers + self.dense_layers

    @cached_property
    def _shapes(self) -> tuple[Shapes, dict[str, tuple[int, ...]]]:
        h, w, c = self.input_shape
        acts: dict[str, tuple[int, ...]] = {}
        inputs: dict[str, tuple[int, ...]] = {}
        weights: dict[str, tuple[int, ...]] = {}
        flat: int | None = None
        for layer in self.table:
            inputs[layer.name] = (h, w, c) if flat is None else (flat,)
            if layer.kind == "conv":
                weights[f"{layer.name}.w"] = (layer.kernel, layer.kernel, c, layer.out_channels)
                weights[f"{layer.name}.b"] = (layer.out_channels,)
                h, w = (window_output(n, layer.kernel, layer.stride, layer.padding) for n in (h, w))
                c = layer.out_channels
                acts[layer.name] = (h, w, c)
            elif layer.kind == "pool":
                h, w = (window_output(n, layer.kernel, layer.stride, layer.padding) for n in (h, w))
                acts[layer.name] = (h, w, c)
            elif layer.kind == "lrn":
                acts[layer.name] = (h, w, c)
            else:
                fan_in = flat if flat is not None else h * w * c
                inputs[layer.name] = (fan_in,)
                weights[f"{layer.name}.w"] = (fan_in, layer.out_channels)
                weights[f"{layer.name}.b"] = (layer.out_channels,)
                flat = layer.out_channels
                acts[layer.name] = (flat,)
        return Shapes(acts, weights), inputs

    def shapes(self) -> Shapes:
        """Activation shape after every layer (no batch axis) and every weight's shape."""
        return self._shapes[0]

    def input_of(self, name: str) -> tuple[int, ...]:
        """The activation shape entering layer ``name`` (a dense layer sees the flattened input)."""
        return self._shapes[1][name]

    def padding_of(self, name: str) -> tuple[tuple[int, int], tuple[int, int]]:
        """((top, bottom), (left, right)) padding of conv or pool ``name`` at its real input size."""
        layer = self.layer(name)
        if layer.kind not in ("conv", "pool"):
            raise ValueError(f"layer {name!r} is a {layer.kind}, which has no window padding")
        h, w, _ = self.input_of(name)
        return (window_padding(h, layer.kernel, layer.stride, layer.padding),
                window_padding(w, layer.kernel, layer.stride, layer.padding))

    @property
    def flatten_shape(self) -> tuple[int, ...]:
        """The NHWC activation the flatten before the first dense layer reads."""
        first = self.dense_layers[0]
        names = [layer.name for layer in self.table]
        return self.shapes().activations[names[names.index(first) - 1]]

    @cached_property
    def weight_shapes(self) -> dict[str, tuple[int, ...]]:
        return self.shapes().weights

    @cached_property
    def weight_names(self) -> tuple[str, ...]:
        return tuple(self.weight_shapes)

    # --- counts ------------------------------------------------------------------------------
    def param_count(self) -> int:
        return sum(math.prod(s) for s in self.weight_shapes.values())

    def forward_macs_per_image(self) -> dict[str, int]:
        """Multiply-adds of every conv and dense layer for one image (LRN and pools ignored)."""
        acts = self.shapes().activations
        macs: dict[str, int] = {}
        for layer in self.table:
            if layer.kind in ("conv", "dense"):
                out = acts[layer.name]
                kernel_macs = math.prod(self.weight_shapes[f"{layer.name}.w"])
                spatial = out[0] * out[1] if layer.kind == "conv" else 1
                macs[layer.name] = spatial * kernel_macs
        return macs

    def forward_flops_per_image(self) -> int:
        """FLOPs (2 per multiply-add) of one forward pass of one image."""
        return 2 * sum(self.forward_macs_per_image().values())

    def backward_flops_per_image(self) -> dict[str, int]:
        """Backward FLOPs of every conv and dense layer for one image: twice its forward (the input
        gradient and the weight gradient, each one GEMM of the forward's size), except the first layer,
        whose input (the images) needs no gradient: once its forward."""
        first = self.param_layers[0]
        return {name: (1 if name == first else 2) * 2 * macs for name, macs in self.forward_macs_per_image().items()}

    def train_flops_per_image(self) -> int:
        """The one FLOP convention (issue #30), shared by % of peak and the profile's scopes: a training
        step is the forward F plus every layer's backward (:meth:`backward_flops_per_image`), i.e.
        3F less the first layer's forward (its input gradient is never computed). Elementwise work (ReLU,
        LRN, pools, dropout, loss, Adam) is not counted: it is not what a GEMM peak measures."""
        return self.forward_flops_per_image() + sum(self.backward_flops_per_image().values())

    def flops_per_step(self, mode: str, batch_size: int) -> int:
        if mode == "train":
            return self.train_flops_per_image() * batch_size
        if mode == "forward":
            return self.forward_flops_per_image() * batch_size
        raise ValueError(f"mode must be 'train' or 'forward', got {mode!r}")

    # --- profiling scopes --------------------------------------------------------------------
    def scopes(self, lrn: bool) -> tuple[Scope, ...]:
        out: list[Scope] = []
        for layer in self.layers(lrn):
            if layer.kind == "dense" and layer.name == self.dense_layers[0]:
                out.append(Scope("flatten", "flatten"))
            out.append(Scope(layer.name, layer.kind, layer.name))
            if layer.dropout:
                out.append(Scope(f"{layer.name}.dropout", "dropout", layer.name))
        return (*out, Scope("loss", "loss"), Scope("optimizer", "optimizer"))

    def scope_names(self, lrn: bool = True) -> tuple[str, ...]:
        return tuple(s.name for s in self.scopes(lrn))

    def scope_input_shape(self, scope: Scope) -> tuple[int, ...]:
        """The activation shape (without the batch axis) that enters ``scope``."""
        if scope.kind == "flatten":
            return self.flatten_shape
        if scope.kind == "loss":
            return (self.num_classes,)
        if scope.kind == "dropout":
            return self.shapes().activations[scope.layer]
        if scope.layer:
            return self.input_of(scope.layer)
        raise ValueError(f"scope {scope.name!r} has no input activation")

    def scope_flops(self, scope: Scope, batch: int, pass_: str) -> int | None:
        """FLOPs of a conv or dense scope in ``pass_`` (forward, or backward as
        :meth:`backward_flops_per_image` counts it); None for the others (elementwise work, not what a
        GEMM peak measures) and for the update. Summed over the scopes and both passes this is
        :meth:`flops_per_step` of a training step: the same convention."""
        if scope.kind not in ("conv", "dense") or pass_ == "update":
            return None
        if pass_ == "forward":
            return 2 * self.forward_macs_per_image()[scope.layer] * batch
        return self.backward_flops_per_image()[scope.layer] * batch

    # --- weights -----------------------------------------------------------------------------
    def init_weights(self, seed: int = 0, scheme: str = "he") -> dict[str, np.ndarray]:
        """Canonical float32 weights (HWIO kernels, ``[in, out]`` dense), generated once in NumPy and
        loaded into every framework.

        ``he``: truncated normal with std sqrt(2 / fan_in), zero biases. ``book``: truncated normal std
        0.1 for convs and the first dense layer, normal std 0.1 for the others, zero biases, as in the book.
        """
        if scheme not in INIT_SCHEMES:
            raise ValueError(f"init scheme must be one of {', '.join(INIT_SCHEMES)}; got {scheme!r}")
        rng = np.random.default_rng(seed)
        weights: dict[str, np.ndarray] = {}
        for name, shape in self.weight_shapes.items():
            layer = name.split(".")[0]
            if name.endswith(".b"):
                arr = np.zeros(shape)
            elif scheme == "he":
                fan_in = math.prod(shape[:-1])
                arr = _truncated_normal(rng, shape, math.sqrt(2.0 / fan_in))
            elif layer in self.conv_layers or layer == self.dense_layers[0]:
                arr = _truncated_normal(rng, shape, 0.1)
            else:
                arr = rng.standard_normal(shape) * 0.1
            weights[name] = arr.astype(np.float32)
        return weights

    def check_weights(self, weights: dict[str, np.ndarray]) -> None:
        """Raise ValueError naming the first missing, extra or mis-shaped tensor."""
        missing = [n for n in self.weight_names if n not in weights]
        extra = [n for n in weights if n not in self.weight_shapes]
        if missing or extra:
            raise ValueError(f"weights for model {self.name}: missing {missing}, unexpected {extra}; "
                             f"expected {list(self.weight_names)}")
        for name, shape in self.weight_shapes.items():
            got = tuple(np.shape(weights[name]))
            if got != shape:
                raise ValueError(f"weights[{name!r}] has shape {got}; the canonical layout of {self.name} is {shape}")


def _truncated_normal(rng: np.random.Generator, shape: tuple[int, ...], std: float) -> np.ndarray:
    """Normal(0, std) resampled beyond two standard deviations (TF's truncated_normal)."""
    out = rng.standard_normal(shape)
    bad = np.abs(out) > 2.0
    while bad.any():
        out[bad] = rng.standard_normal(int(bad.sum()))
        bad = np.abs(out) > 2.0
    return out * std


MNIST = ModelSpec(
    name="mnist",
    input_shape=(28, 28, 1),
    num_classes=10,
    table=(
        Layer("conv1", "conv", 64, 3, relu=True),
        Layer("lrn1", "lrn"),
        Layer("pool1", "pool", kernel=2, stride=2),  # SAME: 28 -> 14
        Layer("conv2", "conv", 128, 3, relu=True),
        Layer("lrn2", "lrn"),
        Layer("pool2", "pool", kernel=2, stride=2),  # 14 -> 7
        Layer("conv3", "conv", 256, 3, relu=True),
        Layer("conv4", "conv", 256, 3, relu=True),
        Layer("conv5", "conv", 128, 3, relu=True),
        Layer("pool3", "pool", kernel=2, stride=2),  # SAME: 7 -> 4 (ceil; one row and column of padding)
        Layer("fc1", "dense", 1024, relu=True, dropout=True),
        Layer("fc2", "dense", 1024, relu=True, dropout=True),
        Layer("fc3", "dense", 10),
    ),
    data="mnist",
    description="AlexNet for MNIST (28x28x1, 10 classes), 3x3 convs, 2x2/2 SAME pools",
)

IMAGENET = ModelSpec(
    name="imagenet",
    input_shape=(224, 224, 3),
    num_classes=1000,
    table=(
        Layer("conv1", "conv", 96, 11, relu=True, stride=4),  # SAME at stride 4: 224 -> 56, pads 3 before, 4 after
        Layer("lrn1", "lrn"),
        Layer("pool1", "pool", kernel=3, stride=2, padding="VALID"),  # 56 -> 27
        Layer("conv2", "conv", 256, 5, relu=True),
        Layer("lrn2", "lrn"),
        Layer("pool2", "pool", kernel=3, stride=2, padding="VALID"),  # 27 -> 13
        Layer("conv3", "conv", 384, 3, relu=True),
        Layer("conv4", "conv", 384, 3, relu=True),
        Layer("conv5", "conv", 256, 3, relu=True),
        Layer("pool3", "pool", kernel=3, stride=2, padding="VALID"),  # 13 -> 6
        Layer("fc1", "dense", 4096, relu=True, dropout=True),  # 6 * 6 * 256 = 9216 in
        Layer("fc2", "dense", 4096, relu=True, dropout=True),
        Layer("fc3", "dense", 1000),
    ),
    data=None,  # there is no ImageNet here: synthetic 224x224x3 batches only
    description="AlexNet, the book's one-tower ImageNet table (224x224x3, 1000 classes)",
)

MODELS: dict[str, ModelSpec] = {m.name: m for m in (MNIST, IMAGENET)}
DEFAULT_MODEL = MNIST.name


def get_model(name: str | ModelSpec) -> ModelSpec:
    """The spec of model ``name`` (a spec passes through); an unknown name is one line naming the choices."""
    if isinstance(name, ModelSpec):
        return name
    if name not in MODELS:
        raise UnknownModel(f"unknown model {name!r}; choices: {', '.join(MODELS)}")
    return MODELS[name]


# --- the default model's names (mnist), for code that serves only it ----------------------------
IMAGE_SHAPE = MNIST.input_shape  # NHWC without the batch axis
NUM_CLASSES = MNIST.num_classes
LAYERS: tuple[Layer, ...] = MNIST.table
CONV_LAYERS = MNIST.conv_layers
DENSE_LAYERS = MNIST.dense_layers
PARAM_LAYERS = MNIST.param_layers
WEIGHT_SHAPES: dict[str, tuple[int, ...]] = MNIST.weight_shapes
WEIGHT_NAMES: tuple[str, ...] = MNIST.weight_names


def layers(lrn: bool) -> tuple[Layer, ...]:
    return MNIST.layers(lrn)


def shapes() -> Shapes:
    return MNIST.shapes()


def param_count() -> int:
    return MNIST.param_count()


def forward_macs_per_image() -> dict[str, int]:
    return MNIST.forward_macs_per_image()


def forward_flops_per_image() -> int:
    return MNIST.forward_flops_per_image()


def train_flops_per_image() -> int:
    return MNIST.train_flops_per_image()


def flops_per_step(mode: str, batch_size: int) -> int:
    return MNIST.flops_per_step(mode, batch_size)


def scopes(lrn: bool) -> tuple[Scope, ...]:
    return MNIST.scopes(lrn)


def scope_names(lrn: bool = True) -> tuple[str, ...]:
    return MNIST.scope_names(lrn)


def scope_input_shape(scope: Scope) -> tuple[int, ...]:
    return MNIST.scope_input_shape(scope)


def scope_flops(scope: Scope, batch: int, pass_: str) -> int | None:
    return MNIST.scope_flops(scope, batch, pass_)


def init_weights(seed: int = 0, scheme: str = "he") -> dict[str, np.ndarray]:
    return MNIST.init_weights(seed, scheme)


def check_weights(weights: dict[str, np.ndarray]) -> None:
    MNIST.check_weights(weights)
