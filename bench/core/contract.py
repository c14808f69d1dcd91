"""The contract every framework implements.

A framework is one module in ``impls/`` (its adapter class, importing the framework at module
level) plus one :class:`~bench.core.registration.Registration` line in ``impls/frameworks.py``
(plain data, importable without the framework). Everything ``bench`` knows about a framework comes
through these two: ``bench/`` never branches on a framework's name.

Host-side arguments and results are NumPy arrays in the canonical layout of :mod:`bench.model.spec`;
anything returned by :meth:`FrameworkAdapter.prepare` or :meth:`LrnLayer.put` is opaque device
data that only the same object understands.
"""

from __future__ import annotations

import abc
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from bench.core import registry
from bench.model import spec

if TYPE_CHECKING:
    from bench.core.config import ModelConfig


def check_batch(images: np.ndarray) -> np.ndarray:
    """Refuse an empty or mis-shaped batch before it reaches any kernel (LRN kernels included)."""
    arr = np.asarray(images)
    if arr.ndim != 4 or arr.shape[0] < 1:
        raise ValueError(f"a batch must be NHWC with at least one image; got shape {arr.shape}")
    return arr


class LrnLayer(abc.ABC):
    """The LRN op alone, for the layer micro-benchmark: NHWC NumPy in through :meth:`put`."""

    @abc.abstractmethod
    def put(self, array: np.ndarray) -> Any:
        """Copy an NHWC float32 array to the device, in the layout the op wants (not timed)."""

    @abc.abstractmethod
    def forward(self, x: Any) -> Any:
        """LRN of a staged array; may return before the device is done."""

    @abc.abstractmethod
    def forward_backward(self, x: Any, grad: Any) -> Any:
        """The input gradient of LRN for the cotangent ``grad``; may be asynchronous."""

    @abc.abstractmethod
    def sync(self) -> None:
        """Block until the device is idle."""

    @abc.abstractmethod
    def host(self, result: Any) -> np.ndarray:
        """A result back on the host as an NHWC NumPy array."""


class Gemm(abc.ABC):
    """One float32 n x n x n matmul on a device: the reference for 'percent of peak'."""

    @abc.abstractmethod
    def run(self) -> None:
        """Launch one matmul; may return before the device is done."""

    @abc.abstractmethod
    def sync(self) -> None:
        """Block until the last matmul has finished, without copying its result to the host."""


@dataclass(frozen=True)
class OpTime:
    """One op (or kernel) of a profiled step, attributed to a scope of :meth:`bench.model.spec.ModelSpec.scopes`."""

    name: str  # the op or kernel, as the framework's profiler names it
    scope: str | None  # the spec scope it ran for; None when nothing in the profile tells
    pass_: str  # forward, backward or update ("" when not known)
    total_ns: int  # summed over the profiled steps
    calls: int


def tally(events: Iterable[tuple[str, str | None, str, int]]) -> list[OpTime]:
    """One :class:`OpTime` per (op, scope, pass) from a profiler's events ``(op, scope, pass, ns)``: their
    times summed, their number the calls."""
    totals: dict[tuple[str, str | None, str], list[int]] = {}
    for name, scope, pass_, ns in events:
        entry = totals.setdefault((name, scope, pass_), [0, 0])
        entry[0] += ns
        entry[1] += 1
    return [OpTime(name, scope, pass_, ns, calls) for (name, scope, pass_), (ns, calls) in totals.items()]


@dataclass(frozen=True)
class Profile:
    """What a framework's own profiler saw over ``steps`` synchronised steps of the real model."""

    ops: list[OpTime]
    steps: int
    traces: list[str]  # files written into the trace folder (Perfetto / TensorBoard open them)
    clock: str  # what an op's time is: "host self time", "device kernel time", ...
    notes: str = ""


@dataclass(frozen=True)
class Isolated:
    """One scope of the model alone at its real shapes, inputs already on the device: ``forward``
    and ``forward_backward`` (None where a scope has no backward: the optimiser) may be asynchronous;
    ``sync`` waits for them."""

    forward: Callable[[], Any]
    forward_backward: Callable[[], Any] | None
    sync: Callable[[], None]


@dataclass(frozen=True)
class DeviceInfo:
    devices: list[str]
    build: str  # how the framework was built: "CPU build", "built with CUDA 12.4", "backend gpu"


class FrameworkAdapter(abc.ABC):
    """One small class per framework, the same methods in each; ``impls/`` holds one per framework."""

    name: str = ""
    can_reset_peak = False  # whether reset_peak_memory really starts a new peak window

    def __init__(self, config: ModelConfig) -> None:
        self.config = config
        self.spec: spec.ModelSpec = config.model_spec  # the layer table build() follows
        self.build()
        self.set_weights(self.spec.init_weights(config.seed, config.init))

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
        """Training-mode loss (dropout as configured) and canonical-layout gradients, updating nothing."""

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
        """The model's LRN op alone on an NHWC array (for parity checks)."""

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

    # --- profiling (optional: a framework without them is reported as not profiled) ------------
    def profile(self, batch: Any, mode: str, steps: int, trace_dir: Path) -> Profile:
        """``steps`` synchronised steps of ``mode`` under the framework's profiler, every op attributed
        to a scope (:meth:`bench.model.spec.ModelSpec.scopes`) and a pass; the framework's trace written into
        ``trace_dir``."""
        raise NotImplementedError(f"{self.name} has no profiler hook")

    def isolated(self, scope: spec.Scope, batch_size: int, mode: str) -> Isolated:
        """``scope`` alone, built from the same code as the model (same ops, same LRN variant), on
        random inputs of its real shape; ``mode`` train records what backward needs, forward does not."""
        raise NotImplementedError(f"{self.name} has no isolated-layer hook")

    def param_count(self) -> int:
        return sum(int(np.prod(w.shape)) for w in self.get_weights().values())

    # --- framework-level hooks (no model needed) ----------------------------------------------
    @classmethod
    @abc.abstractmethod
    def lrn_layer(cls, impl: str, params: spec.LrnParams, device: str, precision: str = "strict") -> LrnLayer:
        """The LRN op alone with implementation ``impl`` (one of the registration's lrn_impls), at
        ``precision`` exactly as the model of that precision runs it (strict: no TF32)."""

    @classmethod
    @abc.abstractmethod
    def gemm(cls, device: str, n: int, precision: str = "strict") -> Gemm:
        """A float32 n x n x n matmul on ``device``, the framework's fastest plain way, at ``precision``
        as the model of that precision runs its matmuls (strict: no TF32; default: the framework's own)."""

    @classmethod
    @abc.abstractmethod
    def devices(cls) -> DeviceInfo:
        """The devices this framework sees in this process, and how it was built."""


def adapter_class(name: str) -> type[FrameworkAdapter]:
    """The adapter class of framework ``name`` (imports the framework): a missing framework is one line
    naming its install command."""
    registry.require(name)
    reg = registry.get(name)
    loaded = reg.load_adapter()
    if not (isinstance(loaded, type) and issubclass(loaded, FrameworkAdapter)):
        raise TypeError(f"{reg.adapter} is not a FrameworkAdapter subclass")
    return loaded
