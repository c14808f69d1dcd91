"""Frozen, validated configuration for one model instance and one measured run.

Validation happens here, before any framework is imported or any worker started, so bad input
fails fast with one line that says what was received and what is allowed.
"""

from __future__ import annotations

import math
import os
from dataclasses import MISSING, Field, asdict, dataclass, field, fields
from typing import Any

from bench.core import registry
from bench.core.errors import UsageError
from bench.model import spec
from bench.model.spec import ModelSpec

DEVICES: tuple[str, ...] = ("cpu", "gpu")
MODES: tuple[str, ...] = ("train", "forward")
# strict: float32 everywhere (TF32 off, highest matmul precision), what parity and verify rest on;
# default: each framework's own GPU settings exactly as they ship (each adapter records which TF32 switches
# that leaves on, e.g. matmul off and convolutions on), the speed users get. A CPU has no
# TF32, so default is refused there: it would change nothing but the verify tolerances.
PRECISIONS: tuple[str, ...] = ("strict", "default")
# Read by NVIDIA's libraries themselves (cuBLAS, cuDNN), under every framework: anything but "0" (which
# only turns TF32 off) would put TF32 under a strict run. A framework's own such variables are in its
# registration (``tf32_env``).
NVIDIA_TF32_ENV = "NVIDIA_TF32_OVERRIDE"


def tf32_overrides(env_names: tuple[str, ...]) -> list[str]:
    """The TF32 override variables set in this environment to anything that can turn TF32 on."""
    return [f"{name}={os.environ[name]}" for name in (NVIDIA_TF32_ENV, *env_names)
            if os.environ.get(name, "0").strip() not in ("", "0")]


def _default(f: Field[Any]) -> Any:
    if f.default is not MISSING:
        return f.default
    return f.default_factory() if f.default_factory is not MISSING else MISSING


def _choice(what: str, value: object, allowed: tuple[str, ...]) -> None:
    if value not in allowed:
        raise UsageError(f"invalid {what} {value!r}; allowed: {', '.join(allowed)}")


def check_model(name: str) -> str:
    """A known model name (:data:`bench.model.spec.MODELS`); anything else is one line naming the choices."""
    try:
        spec.get_model(name)
    except spec.UnknownModel as exc:
        raise UsageError(str(exc)) from None
    return name


def positive_int(what: str, value: int, minimum: int = 1) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise UsageError(f"{what} must be an integer >= {minimum}; got {value!r}")
    return value


@dataclass(frozen=True)
class ModelConfig:
    """Everything that changes what one adapter builds; recorded with every result."""

    framework: str
    lrn: bool = False
    dropout: float = spec.DROPOUT_RATE
    device: str = "cpu"
    compile: str | None = None  # None: the framework's default mode
    lrn_impl: str | None = None  # None: the framework's default implementation
    threads: int | None = None  # intra-op threads; None leaves the framework default
    init: str = "he"
    seed: int = 0
    lrn_radius: int = spec.LRN_DEPTH_RADIUS
    lrn_bias: float = spec.LRN_BIAS
    lrn_alpha: float = spec.LRN_ALPHA
    lrn_beta: float = spec.LRN_BETA
    precision: str = "strict"
    tuning: tuple[str, ...] = ()  # exact tunings of the registration's (sorted)
    model: str = spec.DEFAULT_MODEL  # which table of bench.model.spec.MODELS the adapter builds

    @property
    def lrn_params(self) -> spec.LrnParams:
        return spec.LrnParams(self.lrn_radius, self.lrn_bias, self.lrn_alpha, self.lrn_beta)

    @property
    def model_spec(self) -> ModelSpec:
        """The model's layer table, input shape and classes (:class:`bench.model.spec.ModelSpec`)."""
        return spec.get_model(self.model)

    def __post_init__(self) -> None:
        check_model(self.model)
        reg = registry.get(self.framework)
        _choice("device", self.device, DEVICES)
        _choice("init scheme", self.init, spec.INIT_SCHEMES)
        _choice("precision", self.precision, PRECISIONS)
        if self.precision == "default" and self.device == "cpu":
            raise UsageError("--precision default is for GPUs (TF32 is a GPU format; on a CPU it would change "
                             "nothing but the verify tolerances); received it with device cpu")
        overrides = tf32_overrides(reg.tf32_env) if self.precision == "strict" and self.device == "gpu" else []
        if overrides:
            raise UsageError(f"--precision strict means no TF32, but {', '.join(overrides)} turns it on behind "
                             f"{self.framework}'s own settings; unset it (or set it to 0), or use --precision default")
        if self.compile is None:
            object.__setattr__(self, "compile", reg.compile_modes[0])
        _choice(f"compile mode for {self.framework}", self.compile, reg.compile_modes)
        if self.lrn_impl is None:
            object.__setattr__(self, "lrn_impl", reg.lrn_impls[0])
        _choice(f"LRN implementation for {self.framework}", self.lrn_impl, reg.lrn_impls)
        tuning = tuple(sorted(set(self.tuning)))
        for name in tuning:
            _choice(f"tuning for {self.framework}", name, tuple(reg.tunings) or ("none offered",))
        object.__setattr__(self, "tuning", tuning)
        if not isinstance(self.dropout, (int, float)) or not 0.0 <= self.dropout < 1.0:
            raise UsageError(f"dropout must be a rate in [0, 1); got {self.dropout!r}")
        if self.threads is not None:
            positive_int("threads", self.threads)
        problems = [f"{name} must be a finite number, got {value!r}" for name, value in
                    (("lrn_bias", self.lrn_bias), ("lrn_alpha", self.lrn_alpha), ("lrn_beta", self.lrn_beta))
                    if not (isinstance(value, (int, float)) and math.isfinite(value))]
        problems = problems or self.lrn_params.problems()
        if self.lrn and self.device == "gpu":
            problems += reg.gpu_lrn_problems(self.lrn_params)
        if problems:
            raise UsageError(f"invalid LRN parameters for {self.framework} on {self.device}: " + "; ".join(problems))

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class RunConfig:
    """One measured (framework, config) job: the model plus the measurement protocol."""

    model: ModelConfig
    mode: str = "train"
    batch_size: int = 128
    steps: int = 100
    warmup: int = 10
    block_steps: int = 0  # steps timed as one pipelined block between two syncs; 0 = steps
    data: str = "auto"
    data_dir: str | None = None
    include_transfer: bool = False  # host-to-device copy inside the timed region
    target_ci: float | None = None  # keep sampling until the mean's 95% CI half-width (%) is below this
    max_steps: int = 0  # cap for target_ci; 0 = 4 x steps
    extra: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        _choice("mode", self.mode, MODES)
        positive_int("batch size", self.batch_size)
        positive_int("steps", self.steps)
        positive_int("warmup", self.warmup, minimum=0)
        positive_int("block steps", self.block_steps, minimum=0)
        _choice("data", self.data, ("auto", "mnist", "synthetic"))
        if self.data == "mnist" and self.model.model_spec.data != "mnist":
            raise UsageError(f"--data mnist: model {self.model.model} has no MNIST here "
                             f"({self.model.model_spec.description}); it runs on synthetic data of its input shape "
                             "only (--data synthetic or auto)")
        positive_int("max steps", self.max_steps, minimum=0)
        if self.target_ci is not None and not (isinstance(self.target_ci, (int, float)) and self.target_ci > 0):
            raise UsageError(f"target CI must be a positive percentage; got {self.target_ci!r}")

    @property
    def step_cap(self) -> int:
        return self.max_steps or 4 * self.steps

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def to_minimal_dict(self) -> dict[str, Any]:
        """Only what differs from the defaults: what a worker of another revision is sent (``bench ab``),
        so a revision that predates an option still runs any job that leaves it at its default."""
        out = {f.name: getattr(self, f.name) for f in fields(self)
               if f.name != "model" and getattr(self, f.name) != _default(f)}
        model = self.model
        out["model"] = {f.name: getattr(model, f.name) for f in fields(model)
                        if f.name == "framework" or getattr(model, f.name) != _default(f)}
        return out

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> RunConfig:
        d = dict(d)
        model = dict(d["model"])
        if "tuning" in model:
            model["tuning"] = tuple(model["tuning"])
        d["model"] = ModelConfig(**model)
        return cls(**d)
