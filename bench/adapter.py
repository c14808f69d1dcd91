"""The contract every framework adapter implements (one small class per framework).

Host-side arguments and results are NumPy arrays in the canonical layout of
:mod:`impls.spec`; anything returned by :meth:`prepare` is opaque device data that only the same
adapter understands.
"""

from __future__ import annotations

import abc
from typing import Any

import numpy as np

from bench.config import ModelConfig
from impls import spec


def check_batch(images: np.ndarray) -> np.ndarray:
    """Refuse an empty or mis-shaped batch before it reaches any kernel (LRN kernels included)."""
    arr = np.asarray(images)
    if arr.ndim != 4 or arr.shape[0] < 1:
        raise ValueError(f"a batch must be NHWC with at least one image; got shape {arr.shape}")
    return arr


class FrameworkAdapter(abc.ABC):
    name: str = ""
    can_reset_peak = False  # whether reset_peak_memory really starts a new peak window

    def __init__(self, config: ModelConfig) -> None:
        self.config = config
        self.build()
        self.set_weights(spec.init_weights(config.seed, config.init))

    @abc.abstractmethod
    def build(self) -> None:
        """Create the model and optimiser state on the configured device."""

    @abc.abstractmethod
    def set_weights(self, weights: dict[str, np.ndarray]) -> None:
        """Load canonical weights and reset the optimiser state."""

    @abc.abstractmethod
    def get_weights(self) -> dict[str, np.ndarray]:
        """Current weights in the canonical layout, as float32 NumPy arrays."""

    @abc.abstractmethod
    def logits(self, images: np.ndarray) -> np.ndarray:
        """Inference-mode logits (no dropout) for NHWC float32 images."""

    @abc.abstractmethod
    def loss_and_grads(self, images: np.ndarray, labels: np.ndarray) -> tuple[float, dict[str, np.ndarray]]:
        """Training-mode loss and canonical-layout gradients, without updating anything."""

    @abc.abstractmethod
    def prepare(self, images: np.ndarray, labels: np.ndarray) -> Any:
        """Put one batch on the device (not timed)."""

    @abc.abstractmethod
    def train_step(self, batch: Any) -> Any:
        """Forward, backward and Adam update; may return before the device is done."""

    @abc.abstractmethod
    def forward_step(self, batch: Any) -> Any:
        """Inference forward pass on a prepared batch; may be asynchronous."""

    @abc.abstractmethod
    def loss_value(self, result: Any) -> float:
        """The loss from a :meth:`train_step` result, as a host float (synchronises)."""

    @abc.abstractmethod
    def synchronize(self) -> None:
        """Block until all queued device work has finished."""

    @abc.abstractmethod
    def lrn(self, x: np.ndarray) -> np.ndarray:
        """The model's LRN op alone on an NHWC array (for parity and micro-benchmarks)."""

    def memory(self) -> dict[str, int | None]:
        """Framework allocator figures in bytes; None where the framework has none."""
        return {"alloc_peak_bytes": None, "alloc_reserved_bytes": None}

    def reset_peak_memory(self) -> None:  # noqa: B027 - optional hook, a no-op on CPU
        """Start a new peak-memory window where the framework allows it."""

    @abc.abstractmethod
    def versions(self) -> dict[str, str]:
        """Versions of the framework packages this adapter uses."""

    def describe(self) -> dict[str, str]:
        """Implementation facts recorded with results (compile mode, LRN op, device)."""
        return {"compile": str(self.config.compile), "lrn_impl": str(self.config.lrn_impl)}

    def param_count(self) -> int:
        return sum(int(np.prod(w.shape)) for w in self.get_weights().values())
