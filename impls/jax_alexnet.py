"""JAX adapter: pure functions over a flat dict of canonical-layout arrays, ``jax.jit`` with the
parameters and optimiser state donated, optax Adam (eps on the corrected sqrt(v), as torch).

JAX has no LRN op. Three exact formulations of the channel-window sum are offered:
``reduce_window`` (default), ``matmul`` (a banded 0/1 matrix) and ``conv`` (a 1-D convolution
of ones over the channel axis).
"""

from __future__ import annotations

import functools
import gzip
import json
import re
import shutil
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import optax
from jax import lax

from bench.core.contract import DeviceInfo, FrameworkAdapter, Gemm, Isolated, LrnLayer, Profile, check_batch, tally
from bench.model import spec

# Every conv and matmul of the model asks for full float32 (no TF32/bf16 passes on GPU) itself, so
# importing this module changes nothing for other JAX code in the process (no global config).
HIGHEST = lax.Precision.HIGHEST


def _window_sum(sq: jax.Array, impl: str, r: int, precision: Any = HIGHEST) -> jax.Array:
    if impl == "reduce_window":
        return lax.reduce_window(sq, 0.0, lax.add, (1, 1, 1, 2 * r + 1), (1, 1, 1, 1), ((0, 0), (0, 0), (0, 0), (r, r)))
    c = sq.shape[-1]
    if impl == "matmul":
        idx = np.arange(c)
        band = jnp.asarray((np.abs(idx[:, None] - idx[None, :]) <= r).astype(np.float32))
        return jnp.matmul(sq, band, precision=precision)
    if impl == "conv":
        flat = sq.reshape(-1, c, 1)
        kernel = jnp.ones((2 * r + 1, 1, 1), sq.dtype)
        out = lax.conv_general_dilated(flat, kernel, (1,), ((r, r),), dimension_numbers=("NWC", "WIO", "NWC"),
                                       precision=precision)
        return out.reshape(sq.shape)
    raise ValueError(f"unknown JAX LRN implementation {impl!r}")


def lrn(x: jax.Array, impl: str = "reduce_window", p: spec.LrnParams = spec.DEFAULT_LRN,
        precision: Any = HIGHEST) -> jax.Array:
    d = p.bias + p.alpha * _window_sum(x * x, impl, p.depth_radius, precision)
    return x * lax.pow(d, jnp.asarray(-p.beta, x.dtype))


ScopeFn = Callable[[dict[str, jax.Array], jax.Array, Any], jax.Array]


def _windows(x: jax.Array) -> jax.Array:
    """[N, H, W, C] -> [N, H/2, W/2, C, 4]: each 2x2 window's values in row-major order (-inf padding at
    the bottom/right for an odd size, as SAME pooling has)."""
    n, h, w, c = x.shape
    x = jnp.pad(x, ((0, 0), (0, h % 2), (0, w % 2), (0, 0)), constant_values=-jnp.inf)
    ho, wo = x.shape[1] // 2, x.shape[2] // 2
    return x.reshape(n, ho, 2, wo, 2, c).transpose(0, 1, 3, 5, 2, 4).reshape(n, ho, wo, c, 4)


@jax.custom_vjp
def reshape_pool(x: jax.Array) -> jax.Array:
    """2x2/2 SAME max-pooling as a reshape and a max. Its gradient goes to the first maximum of each
    window, as lax.reduce_window's (select-and-scatter) and the reference's do: MNIST's flat strokes tie
    within a window, and splitting the gradient among ties would change conv1's after an LRN layer."""
    return _windows(x).max(axis=-1)


def _pool_fwd(x: jax.Array) -> tuple[jax.Array, tuple[jax.Array, tuple[int, ...]]]:
    win = _windows(x)
    return win.max(axis=-1), (jnp.argmax(win, axis=-1), x.shape)


def _pool_bwd(res: tuple[jax.Array, tuple[int, ...]], g: jax.Array) -> tuple[jax.Array]:
    first, (n, h, w, c) = res
    grads = jax.nn.one_hot(first, 4, dtype=g.dtype) * g[..., None]  # [N, H/2, W/2, C, 4]
    ho, wo = grads.shape[1], grads.shape[2]
    full = grads.reshape(n, ho, wo, c, 2, 2).transpose(0, 1, 4, 2, 5, 3).reshape(n, 2 * ho, 2 * wo, c)
    return (full[:, :h, :w, :],)


reshape_pool.defvjp(_pool_fwd, _pool_bwd)


def scope_fn(scope: spec.Scope, *, lrn_impl: str, rate: float, lrn_params: spec.LrnParams = spec.DEFAULT_LRN,
             precision: Any = HIGHEST, tuning: tuple[str, ...] = (), model: spec.ModelSpec = spec.MNIST) -> ScopeFn:
    """The computation of one scope of ``model``, ``f(params, x, dropout_key)``: the model runs these in
    order, the isolated timing one alone. XLA's SAME/VALID padding is the spec's (TensorFlow's) convention."""
    name = scope.layer
    layer = model.layer(name) if name else None
    if scope.kind == "conv":
        assert layer is not None
        stride, padding = (layer.stride, layer.stride), layer.padding

        def conv(params: dict[str, jax.Array], x: jax.Array, key: Any) -> jax.Array:
            y = lax.conv_general_dilated(x, params[f"{name}.w"], stride, padding,
                                         dimension_numbers=("NHWC", "HWIO", "NHWC"), precision=precision)
            return jax.nn.relu(y + params[f"{name}.b"])
        return conv
    if scope.kind == "lrn":
        return lambda params, x, key: lrn(x, lrn_impl, lrn_params, precision)
    if scope.kind == "pool" and "reshape_pool" in tuning:
        assert layer is not None
        if (layer.kernel, layer.stride, layer.padding) != (2, 2, "SAME"):
            raise ValueError(f"tuning reshape_pool needs 2x2/2 SAME pools; model {model.name}'s {name} is "
                             f"{layer.kernel}x{layer.kernel}/{layer.stride} {layer.padding}")
        return lambda params, x, key: reshape_pool(x)
    if scope.kind == "pool":
        assert layer is not None
        window, strides = (1, layer.kernel, layer.kernel, 1), (1, layer.stride, layer.stride, 1)
        return lambda params, x, key: lax.reduce_window(x, -jnp.inf, lax.max, window, strides, layer.padding)
    if scope.kind == "flatten":
        return lambda params, x, key: x.reshape(x.shape[0], -1)  # NHWC flatten
    if scope.kind == "dense":
        relu = model.layer(name).relu

        def dense(params: dict[str, jax.Array], x: jax.Array, key: Any) -> jax.Array:
            y = jnp.matmul(x, params[f"{name}.w"], precision=precision) + params[f"{name}.b"]
            return jax.nn.relu(y) if relu else y
        return dense
    if scope.kind == "dropout":
        def dropout(params: dict[str, jax.Array], x: jax.Array, key: Any) -> jax.Array:
            if key is None or rate <= 0:
                return x
            keep = jax.random.bernoulli(key, 1.0 - rate, x.shape)
            return jnp.where(keep, x / (1.0 - rate), 0.0)
        return dropout
    raise ValueError(f"scope {scope.name!r} is not part of the forward pass")


def forward(params: dict[str, jax.Array], x: jax.Array, *, use_lrn: bool, lrn_impl: str, rate: float,
            key: jax.Array | None, lrn_params: spec.LrnParams = spec.DEFAULT_LRN,
            precision: Any = HIGHEST, tuning: tuple[str, ...] = (), model: spec.ModelSpec = spec.MNIST) -> jax.Array:
    for scope in model.scopes(use_lrn):
        if scope.kind in ("loss", "optimizer"):
            continue
        sub = None
        if scope.kind == "dropout" and key is not None and rate > 0:
            key, sub = jax.random.split(key)
        with jax.named_scope(scope.name):  # names the ops for the profiler; costs nothing at run time
            fn = scope_fn(scope, lrn_impl=lrn_impl, rate=rate, lrn_params=lrn_params, precision=precision,
                          tuning=tuning, model=model)
            x = fn(params, x, sub)
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
        # strict: every conv and matmul asks for full float32 itself; default: the backend's own choice
        self.precision = op_precision(cfg.precision)
        fwd = functools.partial(forward, use_lrn=cfg.lrn, lrn_impl=str(cfg.lrn_impl), rate=cfg.dropout,
                                lrn_params=cfg.lrn_params, precision=self.precision, tuning=cfg.tuning,
                                model=self.spec)

        def loss_fn(params: Any, x: jax.Array, y: jax.Array, key: jax.Array) -> jax.Array:
            logits = fwd(params, x, key=key)
            with jax.named_scope("loss"):
                return optax.softmax_cross_entropy_with_integer_labels(logits, y).mean()

        def train(params: Any, opt_state: Any, key: jax.Array, x: jax.Array, y: jax.Array) -> Any:
            key, sub = jax.random.split(key)
            loss, grads = jax.value_and_grad(loss_fn)(params, x, y, sub)
            with jax.named_scope("optimizer"):
                updates, opt_state = self.opt.update(grads, opt_state, params)
                return optax.apply_updates(params, updates), opt_state, key, loss

        def grads(params: Any, x: jax.Array, y: jax.Array, key: jax.Array) -> Any:
            return jax.value_and_grad(loss_fn)(params, x, y, key)

        self._train = jax.jit(train, donate_argnums=(0, 1, 2))
        self._grads = jax.jit(grads)
        self._infer = jax.jit(functools.partial(fwd, key=None))
        self._lrn = jax.jit(functools.partial(lrn, impl=str(cfg.lrn_impl), p=cfg.lrn_params, precision=self.precision))
        self.last: Any = None

    def set_weights(self, weights: dict[str, np.ndarray]) -> None:
        self.spec.check_weights(weights)
        self.params = {n: jax.device_put(np.asarray(weights[n], np.float32), self.device)
                       for n in self.spec.weight_names}
        self.opt_state = self.opt.init(self.params)
        self.key = jax.device_put(jax.random.PRNGKey(self.config.seed), self.device)

    def get_weights(self) -> dict[str, np.ndarray]:
        return {n: np.array(self.params[n]) for n in self.spec.weight_names}  # copies: buffers get donated

    def _put(self, a: np.ndarray, dtype: Any) -> jax.Array:
        return jax.device_put(np.asarray(a, dtype), self.device)

    def logits(self, images: np.ndarray) -> np.ndarray:
        return np.asarray(self._infer(self.params, self._put(check_batch(images), np.float32)))

    def loss_and_grads(self, images: np.ndarray, labels: np.ndarray) -> tuple[float, dict[str, np.ndarray]]:
        self.key, sub = jax.random.split(self.key)
        loss, grads = self._grads(self.params, self._put(check_batch(images), np.float32),
                                  self._put(labels, np.int32), sub)
        return float(loss), {n: np.array(grads[n]) for n in self.spec.weight_names}

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
        # peak_bytes_in_use cannot be reset (can_reset_peak is False): it covers the whole process. The
        # pool is the BFC allocator's (pool_bytes); bytes_reserved where a plugin reports only that.
        pool = stats.get("pool_bytes", stats.get("bytes_reserved"))
        return {"alloc_peak_bytes": int(stats.get("peak_bytes_in_use", 0)) or None,
                "alloc_reserved_bytes": int(pool) if pool is not None else None}

    def versions(self) -> dict[str, str]:
        import importlib.metadata

        return {"jax": jax.__version__, "jaxlib": importlib.metadata.version("jaxlib"), "optax": optax.__version__,
                "jax.backend": self.device.platform}

    def describe(self) -> dict[str, str]:
        lrn_desc = {"reduce_window": "lax.reduce_window channel sum", "matmul": "banded 0/1 matmul channel sum",
                    "conv": "1-D conv of ones over channels"}[str(self.config.lrn_impl)]
        return {"compile": "jax.jit (donated state)", "lrn_impl": lrn_desc,
                "precision": "HIGHEST on every conv and matmul" if self.precision else "backend default",
                "pool": "reshape + max" if "reshape_pool" in self.config.tuning else "lax.reduce_window"}

    # --- profiling ------------------------------------------------------------------------------
    def profile(self, batch: Any, mode: str, steps: int, trace_dir: Path) -> Profile:
        """jax.profiler over ``steps`` synchronised steps. Each thunk the trace shows is an instruction of
        the compiled step; its ``op_name`` metadata in the compiled HLO carries the named scope (and
        ``transpose(...)`` for the backward pass)."""
        if mode == "train":
            compiled = self._train.lower(self.params, self.opt_state, self.key, *batch).compile()
        else:
            compiled = self._infer.lower(self.params, batch[0]).compile()
        acts = self.spec.shapes().activations
        pool_scopes = [sc for sc in self.spec.scopes(self.config.lrn) if sc.kind == "pool"]
        op_names = _op_names(compiled.as_text() or "", {self.spec.scope_input_shape(sc): sc.name for sc in pool_scopes},
                             {acts[sc.name]: sc.name for sc in pool_scopes})
        step = self.train_step if mode == "train" else self.forward_step
        with tempfile.TemporaryDirectory(prefix="bench-jax-trace-") as tmp:
            with jax.profiler.trace(tmp, create_perfetto_trace=True):
                for _ in range(steps):
                    step(batch)
                    self.synchronize()
            perfetto = next(Path(tmp).rglob("perfetto_trace.json.gz"))
            events = json.loads(gzip.decompress(perfetto.read_bytes()))
            shutil.copytree(tmp, trace_dir / "jax_profile", dirs_exist_ok=True)  # TensorBoard/XProf: the xplane
        traces = [str(p.relative_to(trace_dir)) for p in (trace_dir / "jax_profile").rglob("*") if p.is_file()]
        scopes = self.spec.scope_names(self.config.lrn)
        platform = self.device.platform
        where: dict[str, tuple[str | None, str]] = {}  # HLO instruction -> (scope, pass)
        attributed = []
        for op, ns in _thunks(events, platform):
            if op not in where:
                where[op] = _scope_of(op_names.get(op, ""), scopes)
            attributed.append((op, *where[op], ns))
        clock = (f"thunk time on the {platform} backend (XLA)" if platform == "cpu" else
                 f"kernel time on the {platform} streams (XLA, device)")
        return Profile(tally(attributed), steps, traces, clock)

    def isolated(self, scope: spec.Scope, batch_size: int, mode: str) -> Isolated:
        cfg = self.config
        rng = np.random.default_rng(0)
        if scope.kind == "optimizer":
            grads = jax.tree_util.tree_map(lambda p: jnp.full_like(p, 1e-3), self.params)
            update = jax.jit(lambda g, s, p: optax.apply_updates(p, self.opt.update(g, s, p)[0]))
            state = {"last": None}

            def step() -> Any:
                state["last"] = update(grads, self.opt_state, self.params)
                return state["last"]
            return Isolated(step, None, lambda: jax.block_until_ready(state["last"]))
        shape = self.spec.scope_input_shape(scope)
        params = {k: v for k, v in self.params.items() if k.split(".")[0] == scope.layer}
        key = jax.device_put(jax.random.PRNGKey(0), self.device) if scope.kind == "dropout" else None
        if scope.kind == "loss":
            y = self._put(rng.integers(0, self.spec.num_classes, batch_size), np.int32)
            x = self._put(rng.normal(0, 1, (batch_size, *shape)), np.float32)

            def fn(p: Any, t: jax.Array) -> jax.Array:
                return optax.softmax_cross_entropy_with_integer_labels(t, y).mean()
        else:
            x = self._put(np.maximum(rng.normal(0, 1, (batch_size, *shape)), 0), np.float32)
            inner = scope_fn(scope, lrn_impl=str(cfg.lrn_impl), rate=cfg.dropout, lrn_params=cfg.lrn_params,
                             precision=self.precision, tuning=cfg.tuning, model=self.spec)

            def fn(p: Any, t: jax.Array) -> jax.Array:
                return inner(p, t, key if mode == "train" else None)
        first = scope.layer == self.spec.param_layers[0]
        fwd = jax.jit(fn)
        cot = jnp.ones_like(fwd(params, x))

        def vjp(p: Any, t: jax.Array) -> Any:
            _, pull = jax.vjp(fn, p, t)
            grads_p, grads_x = pull(cot)
            return grads_p if first else (grads_p, grads_x)  # the first layer needs no input gradient

        fb = jax.jit(vjp)
        state = {"last": None}

        def forward() -> Any:
            state["last"] = fwd(params, x)
            return state["last"]

        def forward_backward() -> Any:
            state["last"] = fb(params, x)
            return state["last"]

        return Isolated(forward, forward_backward if mode == "train" else None,
                        lambda: jax.block_until_ready(state["last"]))

    @classmethod
    def lrn_layer(cls, impl: str, params: spec.LrnParams, device: str, precision: str = "strict") -> LrnLayer:
        return _JaxLrn(impl, params, device, op_precision(precision))

    @classmethod
    def gemm(cls, device: str, n: int, precision: str = "strict") -> Gemm:
        return _JaxGemm(device, n, op_precision(precision))

    @classmethod
    def devices(cls) -> DeviceInfo:
        return DeviceInfo([str(d) for d in jax.devices()], f"backend {jax.default_backend()}")


_COMPUTATION = re.compile(r"^\s*(?:ENTRY\s+)?%?([\w.\-]+)\s.*\{\s*$")
_INSTRUCTION = re.compile(r"^\s*(ROOT\s+)?%?([\w.\-]+)\s*=\s*(.*?)\s([a-z][\w\-]*)\((.*)$")  # name = shape op(
_SHAPE = re.compile(r"\w+\[([\d,]*)\]")  # the first (of a tuple) array shape
_OP_NAME = re.compile(r'op_name="([^"]*)"')
_CALLS = re.compile(r"calls=%?([\w.\-]+)")
_WRAPPERS = re.compile(r"(transpose|jvp|vmap|pjit|jit|remat|checkpoint)\(|\)")
_WEIGHT = re.compile(r"params\[\\?'(\w+)\.[wb]\\?'\]")
_LAYOUT = ("copy", "transpose", "bitcast", "reshape")  # ops that only move a producer's data


def _op_names(hlo_text: str, pools_in: dict[tuple[int, ...], str],
              pools_out: dict[tuple[int, ...], str]) -> dict[str, str]:
    """HLO instruction name -> the JAX name stack it came from: its own ``op_name`` metadata, else that
    of the computation it calls (XLA's wrapped fusions carry none themselves); a layout copy takes its
    operand's. XLA:CPU rewrites max-pooling's gradient into index-tracking reduce-windows, iotas and
    scatters without any metadata: those are named by their shape (without the batch axis): a pool's
    output for its reduce-window, its input for the iotas that index it and the scatter of its
    gradient, as ``pool:<scope>:<pass>``."""
    instrs: dict[str, tuple[str | None, str | None, str, tuple[int, ...], list[str]]] = {}
    bodies: dict[str, list[tuple[bool, str | None]]] = {}
    computation = ""
    for line in hlo_text.splitlines():
        m = _INSTRUCTION.match(line)
        if m is None:
            c = _COMPUTATION.match(line)
            if c:
                computation = c.group(1)
            continue
        root, name, shape_text, opcode, rest = m.groups()
        dims = _SHAPE.search(shape_text)
        own, calls = _OP_NAME.search(rest), _CALLS.search(rest)
        operands = re.findall(r"%([\w.\-]+)", rest.split(")", 1)[0])
        shape = tuple(int(d) for d in dims.group(1).split(",") if d) if dims else ()
        instrs.setdefault(name, (own.group(1) if own else None, calls.group(1) if calls else None,
                                 name if opcode == "fusion" else opcode, shape, operands))
        bodies.setdefault(computation, []).append((bool(root), own.group(1) if own else None))

    def called(comp: str) -> str | None:
        body = bodies.get(comp, [])
        return next((n for is_root, n in body if is_root and n), None) or next((n for _, n in body if n), None)

    memo: dict[str, str | None] = {}

    def resolve(name: str, depth: int = 0) -> str | None:
        if name in memo or name not in instrs or depth > 20:
            return memo.get(name)
        op_name, calls, kind, shape, operands = instrs[name]
        found = op_name or (called(calls) if calls else None)
        if found is None and "reduce-window" in kind and shape[1:] in pools_out:
            found = f"pool:{pools_out[shape[1:]]}:forward"
        if found is None and ("iota" in kind or "scatter" in kind) and shape[1:] in pools_in:
            found = f"pool:{pools_in[shape[1:]]}:{'backward' if 'scatter' in kind else 'forward'}"
        if found is None and any(kind.startswith(k) or f"_{k}" in kind for k in _LAYOUT):
            found = next((r for o in operands if (r := resolve(o, depth + 1))), None)
        memo[name] = found
        return found

    return {name: found for name in instrs if (found := resolve(name))}


STREAM_TRACK_PREFIX = "Stream #"  # XLA's CUPTI collector: one line per stream (derived lines: "XLA Ops", ...)


def _thunks(trace: Any, platform: str) -> Iterator[tuple[str, int]]:
    """(HLO instruction, ns) of each complete event of a jax.profiler trace carrying ``args.hlo_op``.

    On CPU the thunks run on host threads: every such event. On an accelerator the host's kernel launch
    events carry the launching thunk's ``hlo_op`` too, and the device plane's derived lines repeat the
    kernels as XLA ops; only the events on the device's stream tracks count there: in the trace, a
    process named ``/device:GPU:<n>`` (``process_name`` metadata) and a thread named ``Stream #...``."""
    events = trace.get("traceEvents", []) if isinstance(trace, dict) else trace
    device, streams = f"/device:{platform.upper()}:", set()
    if platform != "cpu":
        pids = {e.get("pid") for e in events if e.get("ph") == "M" and e.get("name") == "process_name"
                and str((e.get("args") or {}).get("name", "")).startswith(device)}
        streams = {(e.get("pid"), e.get("tid")) for e in events if e.get("ph") == "M"
                   and e.get("name") == "thread_name" and e.get("pid") in pids
                   and str((e.get("args") or {}).get("name", "")).startswith(STREAM_TRACK_PREFIX)}
    for e in events:
        op = (e.get("args") or {}).get("hlo_op")
        if e.get("ph") == "X" and op and (platform == "cpu" or (e.get("pid"), e.get("tid")) in streams):
            yield op, int(float(e.get("dur", 0)) * 1000)


def _scope_of(op_name: str, scopes: tuple[str, ...]) -> tuple[str | None, str]:
    """(scope, pass) from a name stack like ``jit(train)/transpose(jvp(conv1))/conv_general_dilated``."""
    if op_name.startswith("pool:"):
        _, pool, pass_ = op_name.split(":")
        return pool, pass_
    weight = _WEIGHT.search(op_name)
    if weight:  # a layout copy of a weight: its layer, the pass not known
        return (weight.group(1), "") if weight.group(1) in scopes else (None, "")
    parts = [_WRAPPERS.sub("", part) for part in op_name.split("/")]
    scope = next((part for part in reversed(parts) if part in scopes), None)
    if scope is None:
        return None, ""
    if scope == "optimizer":
        return scope, "update"
    return scope, "backward" if "transpose(" in op_name else "forward"


def op_precision(precision: str) -> Any:
    """What every conv and matmul asks for: HIGHEST (full float32) when strict, else None, the backend's
    default as JAX ships it (TF32 passes on a recent NVIDIA GPU)."""
    return HIGHEST if precision == "strict" else None


def _device(device: str) -> Any:
    return jax.devices("gpu" if device == "gpu" else "cpu")[0]


class _JaxLrn(LrnLayer):
    """The LRN layer alone, jitted, with one of the three window-sum formulations."""

    def __init__(self, impl: str, params: spec.LrnParams, device: str, precision: Any = HIGHEST) -> None:
        self.dev = _device(device)
        f = functools.partial(lrn, impl=impl, p=params, precision=precision)
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
    def __init__(self, device: str, n: int, precision: Any = HIGHEST) -> None:
        self.a = jax.device_put(np.random.default_rng(0).standard_normal((n, n), np.float32), _device(device))
        self.fn = jax.jit(lambda x, y: jnp.matmul(x, y, precision=precision))
        self.last: Any = None

    def run(self) -> None:
        self.last = self.fn(self.a, self.a)

    def sync(self) -> None:
        if self.last is not None:
            self.last.block_until_ready()
