"""JAX adapter: pure functions over a flat dict of canonical-layout arrays, ``jax.jit`` with the
parameters and optimiser state donated, optax Adam (eps on the corrected sqrt(v), as torch).

JAX has no LRN op. Three exact formulations of the channel-window sum are offered:
``reduce_window`` (default), ``matmul`` (a banded 0/1 matrix) and ``conv`` (a 1-D convolution
of ones over the channel axis).
"""

from __future__ import annotations

import functools
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import optax
from jax import lax

from bench.adapter import DeviceInfo, FrameworkAdapter, Gemm, LrnLayer, check_batch
from impls import spec

# Every conv and matmul of the model asks for full float32 (no TF32/bf16 passes on GPU) itself, so
# importing this module changes nothing for other JAX code in the process (no global config).
HIGHEST = lax.Precision.HIGHEST


def _window_sum(sq: jax.Array, impl: str, r: int) -> jax.Array:
    if impl == "reduce_window":
        return lax.reduce_window(sq, 0.0, lax.add, (1, 1, 1, 2 * r + 1), (1, 1, 1, 1), ((0, 0), (0, 0), (0, 0), (r, r)))
    c = sq.shape[-1]
    if impl == "matmul":
        idx = np.arange(c)
        band = jnp.asarray((np.abs(idx[:, None] - idx[None, :]) <= r).astype(np.float32))
        return jnp.matmul(sq, band, precision=HIGHEST)
    if impl == "conv":
        flat = sq.reshape(-1, c, 1)
        kernel = jnp.ones((2 * r + 1, 1, 1), sq.dtype)
        out = lax.conv_general_dilated(flat, kernel, (1,), ((r, r),), dimension_numbers=("NWC", "WIO", "NWC"),
                                       precision=HIGHEST)
        return out.reshape(sq.shape)
    raise ValueError(f"unknown JAX LRN implementation {impl!r}")


def lrn(x: jax.Array, impl: str = "reduce_window", p: spec.LrnParams = spec.DEFAULT_LRN) -> jax.Array:
    d = p.bias + p.alpha * _window_sum(x * x, impl, p.depth_radius)
    return x * lax.pow(d, jnp.asarray(-p.beta, x.dtype))


def forward(params: dict[str, jax.Array], x: jax.Array, *, use_lrn: bool, lrn_impl: str, rate: float,
            key: jax.Array | None, lrn_params: spec.LrnParams = spec.DEFAULT_LRN) -> jax.Array:
    for layer in spec.layers(use_lrn):
        if layer.kind == "conv":
            y = lax.conv_general_dilated(x, params[f"{layer.name}.w"], (1, 1), "SAME",
                                         dimension_numbers=("NHWC", "HWIO", "NHWC"), precision=HIGHEST)
            x = jax.nn.relu(y + params[f"{layer.name}.b"])
        elif layer.kind == "lrn":
            x = lrn(x, lrn_impl, lrn_params)
        elif layer.kind == "pool":
            x = lax.reduce_window(x, -jnp.inf, lax.max, (1, 2, 2, 1), (1, 2, 2, 1), "SAME")
        else:
            if x.ndim == 4:
                x = x.reshape(x.shape[0], -1)  # NHWC flatten
            x = jnp.matmul(x, params[f"{layer.name}.w"], precision=HIGHEST) + params[f"{layer.name}.b"]
            if layer.relu:
                x = jax.nn.relu(x)
            if layer.dropout and key is not None and rate > 0:
                key, sub = jax.random.split(key)
                keep = jax.random.bernoulli(sub, 1.0 - rate, x.shape)
                x = jnp.where(keep, x / (1.0 - rate), 0.0)
    return x


class JaxAlexNet(FrameworkAdapter):
    name = "jax"

    def build(self) -> None:
        cfg = self.config
        platform = "gpu" if cfg.device == "gpu" else "cpu"
        try:
            self.device = jax.devices(platform)[0]
        except RuntimeError as exc:
            raise RuntimeError(f"device {cfg.device} requested but JAX has no {platform} backend: {exc}") from exc
        self.opt = optax.adam(spec.ADAM_LR, b1=spec.ADAM_BETA1, b2=spec.ADAM_BETA2, eps=spec.ADAM_EPS)
        fwd = functools.partial(forward, use_lrn=cfg.lrn, lrn_impl=str(cfg.lrn_impl), rate=cfg.dropout,
                                lrn_params=cfg.lrn_params)

        def loss_fn(params: Any, x: jax.Array, y: jax.Array, key: jax.Array) -> jax.Array:
            logits = fwd(params, x, key=key)
            return optax.softmax_cross_entropy_with_integer_labels(logits, y).mean()

        def train(params: Any, opt_state: Any, key: jax.Array, x: jax.Array, y: jax.Array) -> Any:
            key, sub = jax.random.split(key)
            loss, grads = jax.value_and_grad(loss_fn)(params, x, y, sub)
            updates, opt_state = self.opt.update(grads, opt_state, params)
            return optax.apply_updates(params, updates), opt_state, key, loss

        def grads(params: Any, x: jax.Array, y: jax.Array, key: jax.Array) -> Any:
            return jax.value_and_grad(loss_fn)(params, x, y, key)

        self._train = jax.jit(train, donate_argnums=(0, 1, 2))
        self._grads = jax.jit(grads)
        self._infer = jax.jit(functools.partial(fwd, key=None))
        self._lrn = jax.jit(functools.partial(lrn, impl=str(cfg.lrn_impl), p=cfg.lrn_params))
        self.last: Any = None

    def set_weights(self, weights: dict[str, np.ndarray]) -> None:
        spec.check_weights(weights)
        self.params = {n: jax.device_put(np.asarray(weights[n], np.float32), self.device) for n in spec.WEIGHT_NAMES}
        self.opt_state = self.opt.init(self.params)
        self.key = jax.device_put(jax.random.PRNGKey(self.config.seed), self.device)

    def get_weights(self) -> dict[str, np.ndarray]:
        return {n: np.array(self.params[n]) for n in spec.WEIGHT_NAMES}  # copies: buffers get donated

    def _put(self, a: np.ndarray, dtype: Any) -> jax.Array:
        return jax.device_put(np.asarray(a, dtype), self.device)

    def logits(self, images: np.ndarray) -> np.ndarray:
        return np.asarray(self._infer(self.params, self._put(check_batch(images), np.float32)))

    def loss_and_grads(self, images: np.ndarray, labels: np.ndarray) -> tuple[float, dict[str, np.ndarray]]:
        self.key, sub = jax.random.split(self.key)
        loss, grads = self._grads(self.params, self._put(check_batch(images), np.float32),
                                  self._put(labels, np.int32), sub)
        return float(loss), {n: np.array(grads[n]) for n in spec.WEIGHT_NAMES}

    def prepare(self, images: np.ndarray, labels: np.ndarray) -> tuple[jax.Array, jax.Array]:
        return self._put(check_batch(images), np.float32), self._put(labels, np.int32)

    def train_step(self, batch: tuple[jax.Array, jax.Array]) -> jax.Array:
        self.params, self.opt_state, self.key, loss = self._train(self.params, self.opt_state, self.key, *batch)
        self.last = loss
        return loss

    def forward_step(self, batch: tuple[jax.Array, jax.Array]) -> jax.Array:
        self.last = self._infer(self.params, batch[0])
        return self.last

    def loss_value(self, result: Any) -> float:
        return float(result)

    def synchronize(self) -> None:
        jax.block_until_ready((self.params, self.opt_state, self.last))

    def lrn(self, x: np.ndarray) -> np.ndarray:
        return np.asarray(self._lrn(self._put(check_batch(x), np.float32)))

    def memory(self) -> dict[str, int | None]:
        stats = self.device.memory_stats() if self.device.platform != "cpu" else None
        if not stats:
            return super().memory()
        return {"alloc_peak_bytes": int(stats.get("peak_bytes_in_use", 0)) or None,
                "alloc_reserved_bytes": int(stats["bytes_reserved"]) if "bytes_reserved" in stats else None}

    def versions(self) -> dict[str, str]:
        import importlib.metadata

        return {"jax": jax.__version__, "jaxlib": importlib.metadata.version("jaxlib"), "optax": optax.__version__,
                "jax.backend": self.device.platform}

    def describe(self) -> dict[str, str]:
        lrn_desc = {"reduce_window": "lax.reduce_window channel sum", "matmul": "banded 0/1 matmul channel sum",
                    "conv": "1-D conv of ones over channels"}[str(self.config.lrn_impl)]
        return {"compile": "jax.jit (donated state)", "lrn_impl": lrn_desc}

    @classmethod
    def lrn_layer(cls, impl: str, params: spec.LrnParams, device: str) -> LrnLayer:
        return _JaxLrn(impl, params, device)

    @classmethod
    def gemm(cls, device: str, n: int) -> Gemm:
        return _JaxGemm(device, n)

    @classmethod
    def devices(cls) -> DeviceInfo:
        return DeviceInfo([str(d) for d in jax.devices()], f"backend {jax.default_backend()}")


def _device(device: str) -> Any:
    return jax.devices("gpu" if device == "gpu" else "cpu")[0]


class _JaxLrn(LrnLayer):
    """The LRN layer alone, jitted, with one of the three window-sum formulations."""

    def __init__(self, impl: str, params: spec.LrnParams, device: str) -> None:
        self.dev = _device(device)
        f = functools.partial(lrn, impl=impl, p=params)
        self.fwd = jax.jit(f)
        self.fwd_bwd = jax.jit(lambda x, g: jax.vjp(f, x)[1](g)[0])
        self.last: Any = None

    def put(self, array: np.ndarray) -> jax.Array:
        return jax.device_put(array, self.dev)

    def forward(self, x: jax.Array) -> jax.Array:
        self.last = self.fwd(x)
        return self.last

    def forward_backward(self, x: jax.Array, grad: jax.Array) -> jax.Array:
        self.last = self.fwd_bwd(x, grad)
        return self.last

    def sync(self) -> None:
        if self.last is not None:
            self.last.block_until_ready()

    def host(self, result: jax.Array) -> np.ndarray:
        return np.asarray(result)


class _JaxGemm(Gemm):
    def __init__(self, device: str, n: int) -> None:
        self.a = jax.device_put(np.random.default_rng(0).standard_normal((n, n), np.float32), _device(device))
        self.fn = jax.jit(lambda x, y: jnp.matmul(x, y, precision=HIGHEST))
        self.last: Any = None

    def run(self) -> None:
        self.last = self.fn(self.a, self.a)

    def sync(self) -> None:
        if self.last is not None:
            self.last.block_until_ready()
