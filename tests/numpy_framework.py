"""A fourth, test-only framework: NumPy, built on the float64 reference, with float32 at its edges.

It exists to prove that adding a framework needs no change under ``bench/``: this module and its
:data:`REGISTRATION` are all there is, registered with
``BENCH_EXTRA_FRAMEWORKS=tests.numpy_framework:REGISTRATION`` (workers inherit it). It honours
the whole contract, dropout and LRN parameters included, and is slow (im2col convolutions).

``BENCH_TEST_BLOCK_FORWARD=FOLDER`` makes a forward step write ``FOLDER/blocked`` and then wait for
good: a worker that is certainly still running, for the tests that interrupt a run (a state to wait
for instead of a run that might finish first).

``BENCH_TEST_PLANT_LRN=1`` offers a second LRN implementation, ``drops-sum``: LRN without the neighbours'
sum of squares (x * bias^-beta), a model that is not equivalent to the reference, for the tests of the
in-run equivalence check (:mod:`bench.worker.equivalence_check`). Unset, nothing changes.
"""

from __future__ import annotations

import dataclasses
import os
import threading
from pathlib import Path
from typing import Any

import numpy as np

from bench.core.contract import DeviceInfo, FrameworkAdapter, Gemm, Isolated, LrnLayer, check_batch
from bench.core.registration import Registration
from bench.model import reference, spec

BLOCK_FORWARD = "BENCH_TEST_BLOCK_FORWARD"
PLANT_LRN = "BENCH_TEST_PLANT_LRN"
PLANTED_LRN = "drops-sum"


def _lrn_computed(impl: str, params: spec.LrnParams) -> spec.LrnParams:
    """The LRN an implementation computes: the configured one, or without the neighbours' sum (planted)."""
    return dataclasses.replace(params, alpha=0.0) if impl == PLANTED_LRN else params


class NumpyAlexNet(FrameworkAdapter):
    name = "numpy"

    def build(self) -> None:
        if self.config.device != "cpu":
            raise RuntimeError("the NumPy test framework runs on the CPU only")
        self.rng = np.random.default_rng(self.config.seed)
        self.lrn_params = _lrn_computed(str(self.config.lrn_impl), self.config.lrn_params)
        self.last: Any = None

    def _dropout(self, name: str, shape: tuple[int, ...]) -> np.ndarray:
        rate = self.config.dropout
        return (self.rng.random(shape) >= rate) / (1.0 - rate)

    def set_weights(self, weights: dict[str, np.ndarray]) -> None:
        spec.check_weights(weights)
        self.w = {n: np.array(weights[n], np.float32) for n in spec.WEIGHT_NAMES}
        self.m: dict[str, np.ndarray] | None = None
        self.v: dict[str, np.ndarray] | None = None
        self.t = 0

    def get_weights(self) -> dict[str, np.ndarray]:
        return {n: self.w[n].copy() for n in spec.WEIGHT_NAMES}

    def logits(self, images: np.ndarray) -> np.ndarray:
        out = reference.logits(self.w, check_batch(images), self.config.lrn, self.lrn_params)
        return np.asarray(out, np.float32)

    def loss_and_grads(self, images: np.ndarray, labels: np.ndarray) -> tuple[float, dict[str, np.ndarray]]:
        dropout = self._dropout if self.config.dropout > 0 else None
        loss, grads = reference.loss_and_grads(self.w, check_batch(images), labels, self.config.lrn,
                                               self.lrn_params, dropout)
        return float(np.float32(loss)), {n: np.asarray(g, np.float32) for n, g in grads.items()}

    def prepare(self, images: np.ndarray, labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return np.array(check_batch(images), np.float32), np.asarray(labels, np.int64)

    def train_step(self, batch: tuple[np.ndarray, np.ndarray]) -> float:
        loss, grads = self.loss_and_grads(*batch)
        self.t += 1
        new, self.m, self.v = reference.adam_step(self.w, grads, self.t, self.m, self.v)
        self.w = {n: np.asarray(w, np.float32) for n, w in new.items()}
        self.last = loss
        return loss

    def forward_step(self, batch: tuple[np.ndarray, np.ndarray]) -> np.ndarray:
        block = os.environ.get(BLOCK_FORWARD)
        if block:
            (Path(block) / "blocked").write_text(str(os.getpid()))
            threading.Event().wait()  # until the worker is killed
        self.last = self.logits(batch[0])
        return self.last

    def loss_value(self, result: Any) -> float:
        return float(result)

    def synchronize(self) -> None:
        """NumPy computes synchronously."""

    def lrn(self, x: np.ndarray) -> np.ndarray:
        return np.asarray(reference.lrn_forward(check_batch(x).astype(np.float64), self.lrn_params), np.float32)

    def versions(self) -> dict[str, str]:
        return {"numpy": np.__version__}

    def isolated(self, scope: spec.Scope, batch_size: int, mode: str) -> Isolated:
        """``scope`` alone through the reference's own functions (those a step runs), so a change inside
        one layer shows in that layer's row of ``bench profile`` and of a profile diff."""
        rng = np.random.default_rng(0)
        w = {n: np.asarray(v, np.float64) for n, v in self.w.items()}
        if scope.kind == "optimizer":
            grads = {n: rng.standard_normal(v.shape) for n, v in w.items()}
            return Isolated(lambda: reference.adam_step(w, grads, 1, None, None), None, lambda: None)
        x = rng.standard_normal((batch_size, *spec.scope_input_shape(scope)))
        forward, backward = _scope_calls(scope, x, w, self.lrn_params)
        g = np.ones_like(forward())
        return Isolated(forward, lambda: (forward(), backward(g)), lambda: None)

    @classmethod
    def lrn_layer(cls, impl: str, params: spec.LrnParams, device: str, precision: str = "strict") -> LrnLayer:
        return _NumpyLrn(_lrn_computed(impl, params))

    @classmethod
    def gemm(cls, device: str, n: int, precision: str = "strict") -> Gemm:
        return _NumpyGemm(n)

    @classmethod
    def devices(cls) -> DeviceInfo:
        return DeviceInfo(["cpu"], f"NumPy {np.__version__}")


def _scope_calls(scope: spec.Scope, x: np.ndarray, w: dict[str, np.ndarray],
                 lrn: spec.LrnParams) -> tuple[Any, Any]:
    """(forward(), backward(grad)) of one scope on input ``x``, as the reference computes them."""
    name = scope.layer
    if scope.kind == "conv":
        return (lambda: reference.conv_forward(x, w[f"{name}.w"], w[f"{name}.b"]),
                lambda g: reference.conv_backward(x, w[f"{name}.w"], g))
    if scope.kind == "dense":
        return lambda: x @ w[f"{name}.w"] + w[f"{name}.b"], lambda g: (x.T @ g, g @ w[f"{name}.w"].T)
    if scope.kind == "pool":
        arg = reference.pool_forward(x)[1]
        return lambda: reference.pool_forward(x)[0], lambda g: reference.pool_backward(x.shape, arg, g)
    if scope.kind == "lrn":
        return lambda: reference.lrn_forward(x, lrn), lambda g: reference.lrn_backward(x, g, lrn)
    if scope.kind == "flatten":
        return lambda: x.reshape(x.shape[0], -1), lambda g: g.reshape(x.shape)
    if scope.kind == "dropout":
        mask = (np.random.default_rng(1).random(x.shape) >= 0.25) / 0.75
        return lambda: x * mask, lambda g: g * mask
    labels = np.arange(x.shape[0]) % spec.NUM_CLASSES  # the loss: its gradient comes with its value
    return lambda: reference.softmax_xent(x, labels)[1], lambda g: reference.softmax_xent(x, labels)


class _NumpyLrn(LrnLayer):
    def __init__(self, params: spec.LrnParams) -> None:
        self.params = params

    def put(self, array: np.ndarray) -> np.ndarray:
        return np.asarray(array, np.float64)

    def forward(self, x: np.ndarray) -> np.ndarray:
        return reference.lrn_forward(x, self.params)

    def forward_backward(self, x: np.ndarray, grad: np.ndarray) -> np.ndarray:
        return reference.lrn_backward(x, grad, self.params)

    def sync(self) -> None:
        """Synchronous."""

    def host(self, result: np.ndarray) -> np.ndarray:
        return np.asarray(result, np.float32)


class _NumpyGemm(Gemm):
    def __init__(self, n: int) -> None:
        self.a = np.random.default_rng(0).standard_normal((n, n), np.float32)

    def run(self) -> None:
        np.matmul(self.a, self.a)

    def sync(self) -> None:
        """Synchronous."""


REGISTRATION = Registration(
    "numpy", "tests.numpy_framework:NumpyAlexNet", requires=("numpy",), extra="test", packages=("numpy",),
    compile_modes=("none",), lrn_impls=("reference",) + ((PLANTED_LRN,) if os.environ.get(PLANT_LRN) else ()),
    compile_help="none: NumPy runs eagerly",
    lrn_impl_help="the reference's banded matmul" + (f"; {PLANTED_LRN}: planted, not equivalent (tests)"
                                                     if os.environ.get(PLANT_LRN) else ""),
)
