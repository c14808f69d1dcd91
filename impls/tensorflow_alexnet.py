"""TensorFlow adapter written with ``tf.nn`` ops and ``tf.Variable`` (as the book does), no Keras.

Variables are kept in the canonical layout (HWIO, ``[in, out]``), which is TensorFlow's own. Adam
is written out so its eps sits where torch and optax put it (Keras adds it to the uncorrected
sqrt(v) and defaults to 1e-7). Dropout is stateless (seed, step) so it also compiles under XLA.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import tensorflow as tf

from bench.core.contract import DeviceInfo, FrameworkAdapter, Gemm, Isolated, LrnLayer, Profile, check_batch, tally
from impls import spec


class TensorFlowAlexNet(FrameworkAdapter):
    name = "tensorflow"
    can_reset_peak = True

    def build(self) -> None:
        cfg = self.config
        if cfg.threads:
            try:
                tf.config.threading.set_intra_op_parallelism_threads(cfg.threads)
            except RuntimeError:
                pass  # TF already initialised in this process; the worker sets it before that
        if cfg.device == "gpu":
            gpus = tf.config.list_physical_devices("GPU")
            if not gpus:
                raise RuntimeError("device gpu requested but TensorFlow sees no GPU")
            for gpu in gpus:
                try:
                    tf.config.experimental.set_memory_growth(gpu, True)
                except RuntimeError:
                    pass
            set_precision(cfg.precision)
            self.device = "/GPU:0"
        else:
            self.device = "/CPU:0"
        with tf.device(self.device):
            self.vars = {n: tf.Variable(tf.zeros(s), name=n) for n, s in spec.WEIGHT_SHAPES.items()}
            self.m = {n: tf.Variable(tf.zeros(s)) for n, s in spec.WEIGHT_SHAPES.items()}
            self.v = {n: tf.Variable(tf.zeros(s)) for n, s in spec.WEIGHT_SHAPES.items()}
            self.step = tf.Variable(0, dtype=tf.int64)
        self.var_list = [self.vars[n] for n in spec.WEIGHT_NAMES]
        mode = cfg.compile
        if mode == "eager":
            self._train_fn: Any = self._train
            self._forward_fn: Any = self._infer
        else:
            jit = mode == "xla"
            self._train_fn = tf.function(self._train, jit_compile=jit)
            self._forward_fn = tf.function(self._infer, jit_compile=jit)
        self._grads_fn = tf.function(self._loss_and_grads)
        xla_lrn = cfg.lrn_impl == "xla"
        self._lrn_layer: Any = tf.function(self._lrn_op, jit_compile=True) if xla_lrn else self._lrn_op
        self._lrn_fn = tf.function(self._lrn_op, jit_compile=xla_lrn)

    # --- model -------------------------------------------------------------------------------
    def _lrn_op(self, x: tf.Tensor) -> tf.Tensor:
        p = self.config.lrn_params
        return tf.nn.local_response_normalization(x, depth_radius=p.depth_radius, bias=p.bias, alpha=p.alpha,
                                                  beta=p.beta)

    def _scope_fn(self, scope: spec.Scope, training: bool) -> Any:
        """The computation of one scope: the model runs these in order, the isolated timing one alone."""
        v, name = self.vars, scope.layer
        if scope.kind == "conv":
            return lambda x: tf.nn.relu(tf.nn.conv2d(x, v[f"{name}.w"], 1, "SAME") + v[f"{name}.b"])
        if scope.kind == "lrn":
            return self._lrn_layer
        if scope.kind == "pool":
            return lambda x: tf.nn.max_pool2d(x, 2, 2, "SAME")
        if scope.kind == "flatten":
            return lambda x: tf.reshape(x, [-1, int(np.prod(x.shape[1:]))])  # NHWC flatten
        if scope.kind == "dense":
            relu = next(layer.relu for layer in spec.LAYERS if layer.name == name)
            return lambda x: (tf.nn.relu if relu else tf.identity)(tf.matmul(x, v[f"{name}.w"]) + v[f"{name}.b"])
        if scope.kind == "dropout":
            rate = self.config.dropout
            if not (training and rate > 0):
                return tf.identity
            index = [layer.name for layer in spec.layers(self.config.lrn)].index(name)  # the mask's seed

            def dropout(x: tf.Tensor) -> tf.Tensor:
                seed = tf.stack([tf.constant(self.config.seed * 1000 + index, tf.int64), self.step])
                return tf.nn.experimental.stateless_dropout(x, rate, seed=seed)
            return dropout
        raise ValueError(f"scope {scope.name!r} is not part of the forward pass")

    def _forward(self, x: tf.Tensor, training: bool) -> tf.Tensor:
        for scope in spec.scopes(self.config.lrn):
            if scope.kind not in ("loss", "optimizer"):
                with tf.name_scope(scope.name.replace(".", "_")):  # op names carry the scope (and its gradients')
                    x = self._scope_fn(scope, training)(x)
        return x

    def _loss(self, x: tf.Tensor, y: tf.Tensor, training: bool) -> tf.Tensor:
        logits = self._forward(x, training)
        with tf.name_scope("loss"):
            return tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(labels=y, logits=logits))

    def _loss_and_grads(self, x: tf.Tensor, y: tf.Tensor) -> tuple[tf.Tensor, list[tf.Tensor]]:
        with tf.GradientTape() as tape:
            loss = self._loss(x, y, True)
        return loss, tape.gradient(loss, self.var_list)

    def _train(self, x: tf.Tensor, y: tf.Tensor) -> tf.Tensor:
        loss, grads = self._loss_and_grads(x, y)
        with tf.name_scope("optimizer"):
            self._adam(grads)
        return loss

    def _adam(self, grads: list[tf.Tensor]) -> None:
        t = tf.cast(self.step.assign_add(1), tf.float32)
        c1 = 1.0 - tf.pow(spec.ADAM_BETA1, t)
        c2 = 1.0 - tf.pow(spec.ADAM_BETA2, t)
        for name, g in zip(spec.WEIGHT_NAMES, grads, strict=True):
            m = self.m[name].assign(spec.ADAM_BETA1 * self.m[name] + (1.0 - spec.ADAM_BETA1) * g)
            v = self.v[name].assign(spec.ADAM_BETA2 * self.v[name] + (1.0 - spec.ADAM_BETA2) * tf.square(g))
            self.vars[name].assign_sub(spec.ADAM_LR * (m / c1) / (tf.sqrt(v / c2) + spec.ADAM_EPS))

    def _infer(self, x: tf.Tensor) -> tf.Tensor:
        return self._forward(x, False)

    # --- contract ----------------------------------------------------------------------------
    def set_weights(self, weights: dict[str, np.ndarray]) -> None:
        spec.check_weights(weights)
        for name in spec.WEIGHT_NAMES:
            self.vars[name].assign(np.asarray(weights[name], np.float32))
            self.m[name].assign(tf.zeros_like(self.m[name]))
            self.v[name].assign(tf.zeros_like(self.v[name]))
        self.step.assign(0)

    def get_weights(self) -> dict[str, np.ndarray]:
        return {n: np.array(self.vars[n].numpy()) for n in spec.WEIGHT_NAMES}

    def _put(self, images: np.ndarray, labels: np.ndarray | None = None) -> tuple[tf.Tensor, tf.Tensor | None]:
        with tf.device(self.device):
            x = tf.identity(tf.constant(np.asarray(check_batch(images), np.float32)))
            y = None if labels is None else tf.identity(tf.constant(np.asarray(labels, np.int32)))
        return x, y

    def logits(self, images: np.ndarray) -> np.ndarray:
        x, _ = self._put(images)
        return np.asarray(self._forward_fn(x).numpy())

    def loss_and_grads(self, images: np.ndarray, labels: np.ndarray) -> tuple[float, dict[str, np.ndarray]]:
        x, y = self._put(images, labels)
        loss, grads = self._grads_fn(x, y)
        return float(loss.numpy()), {n: g.numpy() for n, g in zip(spec.WEIGHT_NAMES, grads, strict=True)}

    def prepare(self, images: np.ndarray, labels: np.ndarray) -> tuple[tf.Tensor, tf.Tensor | None]:
        return self._put(images, labels)

    def train_step(self, batch: tuple[tf.Tensor, tf.Tensor]) -> tf.Tensor:
        return self._train_fn(*batch)

    def forward_step(self, batch: tuple[tf.Tensor, tf.Tensor]) -> tf.Tensor:
        return self._forward_fn(batch[0])

    def loss_value(self, result: Any) -> float:
        return float(result.numpy())

    def synchronize(self) -> None:
        _sync_devices()

    def lrn(self, x: np.ndarray) -> np.ndarray:
        t, _ = self._put(x)
        return np.asarray(self._lrn_fn(t).numpy())

    def memory(self) -> dict[str, int | None]:
        if self.device != "/GPU:0":
            return super().memory()
        info = tf.config.experimental.get_memory_info("GPU:0")
        return {"alloc_peak_bytes": int(info["peak"]), "alloc_reserved_bytes": None}

    def reset_peak_memory(self) -> None:
        if self.device == "/GPU:0":
            tf.config.experimental.reset_memory_stats("GPU:0")

    def versions(self) -> dict[str, str]:
        out = {"tensorflow": tf.__version__}
        info = tf.sysconfig.get_build_info()
        for key in ("cuda_version", "cudnn_version"):
            if info.get(key):
                out[f"tensorflow.{key}"] = str(info[key])
        return out

    def describe(self) -> dict[str, str]:
        lrn = "tf.nn.local_response_normalization"
        if self.config.lrn_impl == "xla":
            lrn += " (jit_compile=True)"
        mode = {"function": "tf.function", "xla": "tf.function(jit_compile=True)", "eager": "eager"}
        tf32 = "TF32 on" if tf.config.experimental.tensor_float_32_execution_enabled() else "TF32 off"
        return {"compile": mode[str(self.config.compile)], "lrn_impl": lrn,
                "precision": tf32 if self.config.device == "gpu" else "float32 (CPU)"}

    # --- profiling ------------------------------------------------------------------------------
    def profile(self, batch: Any, mode: str, steps: int, trace_dir: Path) -> Profile:
        """The TensorFlow profiler over ``steps`` synchronised steps (its XPlane, which TensorBoard opens,
        plus a Chrome trace of it for Perfetto). Ops carry the name scope of their layer, and the
        tape puts a gradient op under ``gradient_tape/<the forward op's scope>``."""
        step = self.train_step if mode == "train" else self.forward_step
        logdir = trace_dir / "tensorflow_profile"
        tf.profiler.experimental.start(str(logdir))
        try:
            for _ in range(steps):
                step(batch)
                self.synchronize()
        finally:
            tf.profiler.experimental.stop()
        from tensorflow.tsl.profiler.protobuf import xplane_pb2

        space = xplane_pb2.XSpace()
        space.ParseFromString(next(logdir.rglob("*.xplane.pb")).read_bytes())
        scopes = {name.replace(".", "_"): name for name in spec.scope_names(self.config.lrn)}
        attributed: list[tuple[str, str | None, str, int]] = []
        chrome = []
        for plane in space.planes:
            names = {k: m.name for k, m in plane.event_metadata.items()}
            for line in plane.lines:
                for ev in line.events:
                    name = names.get(ev.metadata_id, "")
                    start_us = (line.timestamp_ns * 1000 + ev.offset_ps) / 1e6
                    chrome.append({"ph": "X", "name": name, "pid": plane.id, "tid": line.id, "ts": start_us,
                                   "dur": ev.duration_ps / 1e6})
                    op, sep, kind = name.rpartition(":")
                    if not sep or "::" in name or " " in name or not op:  # not "scope/op:OpType"
                        continue
                    attributed.append((kind, *_scope_of(op, scopes), ev.duration_ps // 1000))
        trace = trace_dir / "tensorflow_trace.json"
        trace.write_text(json.dumps({"traceEvents": chrome, "displayTimeUnit": "ms"}))
        traces = [str(p.relative_to(trace_dir)) for p in logdir.rglob("*") if p.is_file()] + [trace.name]
        return Profile(tally(attributed), steps, traces, "op time on the executor threads (host)")

    def isolated(self, scope: spec.Scope, batch_size: int, mode: str) -> Isolated:
        rng = np.random.default_rng(0)
        last: dict[str, Any] = {"t": None}
        if scope.kind == "optimizer":
            grads = [tf.fill(self.vars[n].shape, 1e-3) for n in spec.WEIGHT_NAMES]
            update = tf.function(self._adam)

            def step() -> Any:
                update(grads)
                return None
            return Isolated(step, None, _sync_devices)
        shape = spec.scope_input_shape(scope)
        training = mode == "train"
        host = rng.normal(0, 1, (batch_size, *shape))
        if scope.kind == "loss":
            with tf.device(self.device):
                y = tf.identity(tf.constant(rng.integers(0, spec.NUM_CLASSES, batch_size).astype(np.int32)))

            def fn(t: tf.Tensor) -> tf.Tensor:
                return tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(labels=y, logits=t))
        else:
            host = np.maximum(host, 0)  # post-ReLU-like activations
            fn = self._scope_fn(scope, training)
        with tf.device(self.device):
            x = tf.identity(tf.constant(host.astype(np.float32)))
        params = [self.vars[n] for n in spec.WEIGHT_NAMES if n.split(".")[0] == scope.layer]
        first = scope.layer == spec.PARAM_LAYERS[0]
        jit = self.config.compile == "xla"

        def fb(t: tf.Tensor) -> Any:
            with tf.GradientTape() as tape:
                tape.watch(t)
                out = fn(t)
            return tape.gradient(out, params if first else [t, *params])

        forward_fn = fn if self.config.compile == "eager" else tf.function(fn, jit_compile=jit)
        fb_fn = fb if self.config.compile == "eager" else tf.function(fb, jit_compile=jit)

        def forward() -> Any:
            with tf.device(self.device):
                last["t"] = forward_fn(x)
            return last["t"]

        def forward_backward() -> Any:
            with tf.device(self.device):
                last["t"] = fb_fn(x)
            return last["t"]

        return Isolated(forward, forward_backward if training else None, _sync_devices)

    @classmethod
    def lrn_layer(cls, impl: str, params: spec.LrnParams, device: str, precision: str = "strict") -> LrnLayer:
        set_precision(precision)
        return _TfLrn(impl, params, device)

    @classmethod
    def gemm(cls, device: str, n: int, precision: str = "strict") -> Gemm:
        set_precision(precision)
        return _TfGemm(device, n)

    @classmethod
    def devices(cls) -> DeviceInfo:
        info = tf.sysconfig.get_build_info()
        build = f"built with CUDA {info['cuda_version']}" if info.get("cuda_version") else "CPU build"
        return DeviceInfo([d.name for d in tf.config.list_physical_devices()], build)


def _scope_of(op: str, scopes: dict[str, str]) -> tuple[str | None, str]:
    """(scope, pass) from a TensorFlow op name: ``conv1/Relu``, ``gradient_tape/conv1/...``,
    ``optimizer/...``; the name scope may sit below the function's own prefix."""
    parts = op.split("/")
    scope = next((scopes[p] for p in parts if p in scopes), None)
    if scope is None:
        return None, ""
    if scope == "optimizer":
        return scope, "update"
    return scope, "backward" if "gradient_tape" in parts else "forward"


def _sync_devices(last: tf.Tensor | None = None) -> None:
    """Wait for every queued op. ``tf.test.experimental.sync_devices`` (TF >= 2.12) copies nothing;
    without it, one element of the last result is read (never the whole tensor)."""
    sync = getattr(getattr(tf.test, "experimental", None), "sync_devices", None)
    if sync is not None:
        sync()
    elif last is not None:
        tf.reshape(last, [-1])[0].numpy()


# TF32 as this TensorFlow ships (on), read before anything here changes it: what default restores.
SHIPPED_TF32 = bool(tf.config.experimental.tensor_float_32_execution_enabled())


def set_precision(precision: str) -> None:
    """TF32 off when strict, else as TensorFlow ships it; a process-wide switch read when kernels run, so
    the model, the GEMM reference and the LRN layer of one precision all run under the same one."""
    tf.config.experimental.enable_tensor_float_32_execution(SHIPPED_TF32 if precision == "default" else False)


def _device_name(device: str) -> str:
    return "/GPU:0" if device == "gpu" else "/CPU:0"


class _TfLrn(LrnLayer):
    """The LRN op alone in a tf.function (``op``) or compiled by XLA (``xla``)."""

    def __init__(self, impl: str, params: spec.LrnParams, device: str) -> None:
        self.name = _device_name(device)
        jit = impl == "xla"

        def op(x: tf.Tensor) -> tf.Tensor:
            return tf.nn.local_response_normalization(x, depth_radius=params.depth_radius, bias=params.bias,
                                                      alpha=params.alpha, beta=params.beta)

        def fb(x: tf.Tensor, g: tf.Tensor) -> tf.Tensor:
            with tf.GradientTape() as tape:
                tape.watch(x)
                y = op(x)
            return tape.gradient(y, x, output_gradients=g)

        self.fwd, self.fwd_bwd = tf.function(op, jit_compile=jit), tf.function(fb, jit_compile=jit)
        self.last: tf.Tensor | None = None

    def put(self, array: np.ndarray) -> tf.Tensor:
        with tf.device(self.name):
            return tf.identity(tf.constant(array))

    def forward(self, x: tf.Tensor) -> tf.Tensor:
        with tf.device(self.name):
            self.last = self.fwd(x)
        return self.last

    def forward_backward(self, x: tf.Tensor, grad: tf.Tensor) -> tf.Tensor:
        with tf.device(self.name):
            self.last = self.fwd_bwd(x, grad)
        return self.last

    def sync(self) -> None:
        _sync_devices(self.last)

    def host(self, result: tf.Tensor) -> np.ndarray:
        return np.asarray(result.numpy())


class _TfGemm(Gemm):
    def __init__(self, device: str, n: int) -> None:
        self.name = _device_name(device)
        with tf.device(self.name):
            self.a = tf.random.normal((n, n))
        self.fn = tf.function(lambda x: tf.matmul(x, x))
        self.last: tf.Tensor | None = None

    def run(self) -> None:
        with tf.device(self.name):
            self.last = self.fn(self.a)

    def sync(self) -> None:
        _sync_devices(self.last)
