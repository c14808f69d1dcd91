"""A fourth, test-only framework: NumPy, built on the float64 reference, with float32 at its edges.

It exists to prove that adding a framework needs no change under ``bench/``: this module and its
:data:`REGISTRATION` are all there is, registered with
``BENCH_EXTRA_FRAMEWORKS=tests.numpy_framework:REGISTRATION`` (workers inherit it). It honours
the whole contract, dropout and LRN parameters included, and is slow (im2col convolutions).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from bench.core.contract import DeviceInfo, FrameworkAdapter, Gemm, LrnLayer, check_batch
from bench.core.registration import Registration
from impls import reference, spec


class NumpyAlexNet(FrameworkAdapter):
    name = "numpy"

    def build(self) -> None:
        if self.config.device != "cpu":
            raise RuntimeError("the NumPy test framework runs on the CPU only")
        self.rng = np.random.default_rng(self.config.seed)
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
        out = reference.logits(self.w, check_batch(images), self.config.lrn, self.config.lrn_params)
        return np.asarray(out, np.float32)

    def loss_and_grads(self, images: np.ndarray, labels: np.ndarray) -> tuple[float, dict[str, np.ndarray]]:
        dropout = self._dropout if self.config.dropout > 0 else None
        loss, grads = reference.loss_and_grads(self.w, check_batch(images), labels, self.config.lrn,
                                               self.config.lrn_params, dropout)
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
        self.last = self.logits(batch[0])
        return self.last

    def loss_value(self, result: Any) -> float:
        return float(result)

    def synchronize(self) -> None:
        """NumPy computes synchronously."""

    def lrn(self, x: np.ndarray) -> np.ndarray:
        return np.asarray(reference.lrn_forward(check_batch(x).astype(np.float64), self.config.lrn_params), np.float32)

    def versions(self) -> dict[str, str]:
        return {"numpy": np.__version__}

    @classmethod
    def lrn_layer(cls, impl: str, params: spec.LrnParams, device: str, precision: str = "strict") -> LrnLayer:
        return _NumpyLrn(params)

    @classmethod
    def gemm(cls, device: str, n: int, precision: str = "strict") -> Gemm:
        return _NumpyGemm(n)

    @classmethod
    def devices(cls) -> DeviceInfo:
        return DeviceInfo(["cpu"], f"NumPy {np.__version__}")


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
    compile_modes=("none",), lrn_impls=("reference",), compile_help="none: NumPy runs eagerly",
    lrn_impl_help="the reference's banded matmul",
)
