"""Numerical equivalence of each adapter with the float64 NumPy reference.

The worker (with a framework loaded) calls :func:`collect`; the parent, with NumPy only, calls
:func:`reference_outputs` and :func:`compare`. Every metric is a *normalised* largest difference:
max |a - ref| / max |ref| over a tensor, so one tolerance fits tensors of any scale.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from bench.model import reference, spec
from bench.model.spec import ModelSpec

if TYPE_CHECKING:
    from bench.core.contract import FrameworkAdapter

# Tolerance tiers. Measured float32 errors against the float64 reference are ~1e-6 (CPU, batch
# 32); the LRN layers change logits by ~1e-3 and gradients by 2-9% (relative), so every tier
# below would FAIL if one framework ran with LRN and the reference without it.
LOGITS_RTOL = 2e-5  # float32 forward through 8 GEMM-like layers: ~1e-6 seen, 20x margin
LOSS_ATOL = 1e-5  # mean cross-entropy of ~2.3: float32 epsilon times a few reductions
GRAD_RTOL = 5e-5  # backward doubles the chain and sums over the batch: ~2e-6 seen
# Adam's first step is lr * g / (|g| + eps) ~ lr * sign(g): an element whose true gradient is below
# float32 noise may flip sign and move by 2 * lr, whatever the framework. So the update is compared,
# in units of lr, only where the reference gradient is at least ADAM_WELL_POSED of its tensor's
# largest; there the step is well-posed and any difference is the optimiser's own (an LRN
# mismatch flips signs there and scores ~2).
ADAM_WELL_POSED = 1e-3
ADAM_UPDATE_TOL = 1e-3
LRN_RTOL = 2e-6  # the LRN op alone: a handful of float32 ulps
# Training trajectories (dropout off, same batches) cannot stay at float32 rounding: early Adam
# steps are ~lr * sign(g), so rounding-level differences in tiny gradients grow ~2x per step.
# Measured on this CPU at batch 64: cross-framework loss differences 4e-6 at step 1, 1e-3 by step
# 8, up to 6% by step 14, and one framework against *itself* with the weights moved by one ulp shows the
# same growth (1e-4 at step 1, 5% by step 14). The envelope doubles from 1e-4 and caps at 15%.
TRAJECTORY_RTOL0 = 1e-4
# Peak memory of reference_outputs per image (float64 activations kept for the backward pass), measured
# with LRN on: 7.0 MiB at batch 32, 5.6 at 128, 5.3 at 256 (LRN off: 4.3 at 256).
REFERENCE_BYTES_PER_IMAGE = 6 * 2**20
TRAJECTORY_RTOL_CAP = 0.15


def _reference_elements(model: ModelSpec) -> int:
    """Per image: every activation plus every convolution's im2col patches (what the reference holds)."""
    acts = sum(math.prod(shape) for shape in model.shapes().activations.values())
    patches = sum(math.prod(model.shapes().activations[name][:2]) * math.prod(model.weight_shapes[f"{name}.w"][:3])
                  for name in model.conv_layers)
    return acts + patches


def reference_bytes(model: ModelSpec | str = spec.MNIST) -> tuple[int, int]:
    """(fixed, per image) bytes :func:`reference_outputs` needs: mnist's measured per-image peak
    (:data:`REFERENCE_BYTES_PER_IMAGE`) scaled by the activations and im2col patches another model holds
    per image, plus a fixed seven float64 copies of the weights (two casts, the gradients, Adam's new
    weights, m and v, one temporary) where the weights are large (imagenet: 62M parameters, 3.5 GB)."""
    m = spec.get_model(model)
    if m == spec.MNIST:
        return 0, REFERENCE_BYTES_PER_IMAGE
    per_image = REFERENCE_BYTES_PER_IMAGE * _reference_elements(m) // _reference_elements(spec.MNIST)
    return 7 * 8 * m.param_count(), per_image


@dataclass(frozen=True)
class Tolerances:
    logits: float
    loss: float
    grad: float
    adam_well_posed: float
    adam: float
    lrn: float


STRICT = Tolerances(LOGITS_RTOL, LOSS_ATOL, GRAD_RTOL, ADAM_WELL_POSED, ADAM_UPDATE_TOL, LRN_RTOL)
# --precision default on a GPU: TF32 rounds every matmul and conv input to 10 mantissa bits (unit
# roundoff 2^-11 ~ 4.9e-4), about 500x float32's. Expected normalised errors through the network are
# ~1e-3 (logits) to ~1e-2 (gradients, which sum over the batch); each tier below is ~10x that. Adam is
# compared only where the gradient is at least 10% of its tensor's largest, where TF32 noise cannot flip
# its sign. Derived from TF32's format, not yet measured on a GPU (no GPU run is recorded in the repo).
# LRN moves the logits by only ~1e-3, well inside the logits tier, so a model that silently dropped LRN
# would pass it: in this tier the LRN op alone is computed at strict precision (the model's LRN variant,
# TF32 off) and held to the strict tolerance, which proves the op is there and exact.
TF32 = Tolerances(logits=3e-2, loss=1e-2, grad=5e-2, adam_well_posed=0.1, adam=1e-2, lrn=LRN_RTOL)


def tolerances(precision: str) -> Tolerances:
    return STRICT if precision == "strict" else TF32


def trajectory_tolerance(step: int) -> float:
    """Allowed relative loss difference between two frameworks after ``step`` updates."""
    return float(min(TRAJECTORY_RTOL_CAP, TRAJECTORY_RTOL0 * 2.0**step))



@dataclass(frozen=True)
class Check:
    quantity: str
    difference: float
    tolerance: float

    @property
    def passed(self) -> bool:
        return bool(np.isfinite(self.difference) and self.difference <= self.tolerance)


def lrn_input(seed: int = 0, batch: int = 4, model: ModelSpec | str = spec.MNIST) -> np.ndarray:
    """Activations at the model's last LRN shape (mnist: lrn2's 14x14x128) with a spread (std 5) that makes
    the normaliser bite."""
    m = spec.get_model(model)
    shape = [m.shapes().activations[layer.name] for layer in m.table if layer.kind == "lrn"][-1]
    rng = np.random.default_rng(seed)
    return np.maximum(rng.normal(0.0, 5.0, (batch, *shape)), 0.0).astype(np.float32)


def collect(adapter: FrameworkAdapter, images: np.ndarray, labels: np.ndarray,
            weights: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Everything :func:`compare` checks, computed by one adapter (of any model: ``adapter.spec``) from
    canonical weights."""
    adapter.set_weights(weights)
    out: dict[str, np.ndarray] = {"logits": adapter.logits(images)}
    loss, grads = adapter.loss_and_grads(images, labels)
    out["loss"] = np.asarray(loss)
    out.update({f"grad/{k}": v for k, v in grads.items()})
    batch = adapter.prepare(images, labels)
    adapter.train_step(batch)
    adapter.synchronize()
    out.update({f"adam/{k}": v for k, v in adapter.get_weights().items()})
    out["lrn"] = strict_lrn(adapter, lrn_input(model=adapter.spec))
    adapter.set_weights(weights)
    return out


def strict_lrn(adapter: FrameworkAdapter, x: np.ndarray) -> np.ndarray:
    """The model's LRN op alone on ``x`` at strict precision: the adapter's own under strict, else its LRN
    variant built as the layer benchmark builds it with TF32 off (see :data:`TF32`)."""
    cfg = adapter.config
    if cfg.precision == "strict":
        return adapter.lrn(x)
    layer = type(adapter).lrn_layer(str(cfg.lrn_impl), cfg.lrn_params, cfg.device, "strict")
    out = layer.host(layer.forward(layer.put(x)))
    layer.sync()
    type(adapter).lrn_layer(str(cfg.lrn_impl), cfg.lrn_params, cfg.device, cfg.precision)  # switches back
    return out


# A max-pool window whose top two values are closer than this (relative) is a near-tie for float32 (its
# resolution is 6e-8, and rounding grows through the layers; seed 0 of imagenet, LRN off, passes with a 2e-6
# gap in pool2): synthetic verify inputs avoid them.
POOL_TIE_MARGIN = 1e-6
# A ReLU input this close to zero (relative to its layer's largest) may switch sides in float32. Measured on
# imagenet with 1e-6: 4 of 98 images passed; float32 pre-activations carry ~1e-7 of their layer's scale.
RELU_TIE_MARGIN = 1e-7


def tie_free_images(model: ModelSpec | str, n: int, weights: dict[str, np.ndarray], lrn_modes: list[bool],
                    seed: int = 0, margin: float = POOL_TIE_MARGIN,
                    max_draws: int | None = None) -> tuple[np.ndarray, np.ndarray, int]:
    """``n`` synthetic images of ``model``'s shape (uniform [0, 1), seeded) with labels, drawn one at a time
    and kept only where no max-pool window is a float32 near-tie (:func:`bench.model.reference.pool_margins`)
    and no ReLU input is that near zero (:func:`bench.model.reference.relu_margins`) in any of ``lrn_modes``;
    and how many were drawn. Used where there is no real dataset (imagenet)."""
    m = spec.get_model(model)
    rng = np.random.default_rng(seed)
    images: list[np.ndarray] = []
    labels: list[int] = []
    draws, cap = 0, max_draws if max_draws is not None else 20 * n
    while len(images) < n:
        if draws >= cap:
            raise ValueError(f"model {m.name}: {draws} synthetic images drawn, {len(images)} without a max-pool "
                             f"near-tie (relative gap < {margin:g}); {n} needed")
        x = rng.random((1, *m.input_shape), dtype=np.float32)
        y = int(rng.integers(0, m.num_classes))
        draws += 1
        ok = True
        for lrn in lrn_modes:
            tape = reference.Tape()
            reference.forward(weights, x, lrn, tape, model=m)
            ok = ok and bool(reference.pool_margins(tape, m)[0] >= margin) and bool(
                reference.relu_margins(tape)[0] >= RELU_TIE_MARGIN)
        if ok:
            images.append(x[0])
            labels.append(y)
    return np.stack(images), np.asarray(labels, np.int32), draws


def reference_outputs(images: np.ndarray, labels: np.ndarray, weights: dict[str, np.ndarray],
                      lrn: bool, model: ModelSpec | str = spec.MNIST,
                      lrn_params: spec.LrnParams = spec.DEFAULT_LRN) -> dict[str, np.ndarray]:
    """What :func:`collect` gives, from the float64 reference of ``model`` (LRN with ``lrn_params``)."""
    out: dict[str, np.ndarray] = {"logits": reference.logits(weights, images, lrn, lrn_params, model=model)}
    loss, grads = reference.loss_and_grads(weights, images, labels, lrn, lrn_params, model=model)
    out["loss"] = np.asarray(loss)
    out.update({f"grad/{k}": v for k, v in grads.items()})
    new, _, _ = reference.adam_step(weights, grads)
    out.update({f"adam/{k}": v for k, v in new.items()})
    out["lrn"] = reference.lrn_forward(lrn_input(model=model).astype(np.float64), lrn_params)
    return out


def normalised_max(a: np.ndarray, ref: np.ndarray) -> float:
    scale = float(np.abs(ref).max())
    diff = float(np.abs(np.asarray(a, np.float64) - ref).max())
    return diff / scale if scale > 0 else diff


def compare(got: dict[str, np.ndarray], ref: dict[str, np.ndarray], weights: dict[str, np.ndarray],
            tol: Tolerances = STRICT, model: ModelSpec | str = spec.MNIST) -> list[Check]:
    """Each quantity of ``got`` (an adapter's :func:`collect`) against ``ref`` (:func:`reference_outputs` of
    the same model): logits, loss, every layer's gradients, one Adam step and the LRN op alone. A ``got``
    without ``loss`` (a forward-only check) is judged on its logits, one without ``lrn`` without the LRN op."""
    m = spec.get_model(model)
    checks = [Check("logits", normalised_max(got["logits"], ref["logits"]), tol.logits)]
    if "loss" in got:
        checks.append(Check("loss", abs(float(got["loss"]) - float(ref["loss"])), tol.loss))
        for layer in m.param_layers:
            diff = max(normalised_max(got[f"grad/{layer}.{p}"], ref[f"grad/{layer}.{p}"]) for p in "wb")
            checks.append(Check(f"grad {layer}", diff, tol.grad))
        adam = 0.0
        for name in m.weight_names:
            g = np.abs(ref[f"grad/{name}"])
            posed = g >= tol.adam_well_posed * g.max()
            diff = np.abs(np.asarray(got[f"adam/{name}"], np.float64) - ref[f"adam/{name}"])[posed]
            adam = max(adam, float(diff.max(initial=0.0)) / spec.ADAM_LR)
        checks.append(Check("adam step", adam, tol.adam))
    if "lrn" in got:
        checks.append(Check("lrn op", normalised_max(got["lrn"], ref["lrn"]), tol.lrn))
    return checks
