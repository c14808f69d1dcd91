"""TensorFlow adapter written with ``tf.nn`` ops and ``tf.Variable`` (as the book does), no Keras.

Variables are kept in the canonical layout (HWIO, ``[in, out]``), which is TensorFlow's own. Adam
is written out so its eps sits where torch and optax put it (Keras adds it to the uncorrected
sqrt(v) and defaults to 1e-7). Dropout is stateless (seed, step) so it also compiles under XLA.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import numpy as np
import tensorflow as tf

from bench.core.contract import DeviceInfo, FrameworkAdapter, Gemm, Isolated, LrnLayer, Profile, check_batch, tally
from bench.model import spec
from impls.tensorflow_xplane import chrome_events, xspace_ops


class TensorFlowAlexNet(FrameworkAdapter):
    name = "tensorflow"
    can_reset_peak = True

    def build(self) -> None:
        cfg = self.config
        self.setup: dict[str, str] = {}  # settings that took effect another way than asked (describe())
        if cfg.threads:
            _set_threads(cfg.threads, self.setup)
        if cfg.device == "gpu":
            gpus = tf.config.list_physical_devices("GPU")
            if not gpus:
                raise RuntimeError("device gpu requested but TensorFlow sees no GPU")
            for gpu in gpus:
                _set_memory_growth(gpu, self.setup)
            set_precision(cfg.precision)
            self.device = "/GPU:0"
        else:
            self.device = "/CPU:0"
        with tf.device(self.device):
            self.vars = {n: tf.Variable(tf.zeros(s), name=n) for n, s in self.spec.weight_shapes.items()}
            self.m = {n: tf.Variable(tf.zeros(s)) for n, s in self.spec.weight_shapes.items()}
            self.v = {n: tf.Variable(tf.zeros(s)) for n, s in self.spec.weight_shapes.items()}
            self.step = tf.Variable(0, dtype=tf.int64)
        self.var_list = [self.vars[n] for n in self.spec.weight_names]
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
        self.last: tf.Tensor | None = None  # the last step's result: what synchronize() reads without sync_devices

    # --- model -------------------------------------------------------------------------------
    def _lrn_op(self, x: tf.Tensor) -> tf.Tensor:
        p = self.config.lrn_params
        return tf.nn.local_response_normalization(x, depth_radius=p.depth_radius, bias=p.bias, alpha=p.alpha,
                                                  beta=p.beta)

    def _scope_fn(self, scope: spec.Scope, training: bool) -> Any:
        """The computation of one scope: the model runs these in order, the isolated timing one alone."""
        v, name = self.vars, scope.layer
        if scope.kind == "conv":  # TensorFlow's SAME/VALID is the spec's own convention (asymmetric SAME included)
            conv = self.spec.layer(name)
            return lambda x: tf.nn.relu(tf.nn.conv2d(x, v[f"{name}.w"], conv.stride, conv.padding) + v[f"{name}.b"])
        if scope.kind == "lrn":
            return self._lrn_layer
        if scope.kind == "pool":
            pool = self.spec.layer(name)
            return lambda x: tf.nn.max_pool2d(x, pool.kernel, pool.stride, pool.padding)
        if scope.kind == "flatten":
            return lambda x: tf.reshape(x, [-1, int(np.prod(x.shape[1:]))])  # NHWC flatten
        if scope.kind == "dense":
            relu = self.spec.layer(name).relu
            return lambda x: (tf.nn.relu if relu else tf.identity)(tf.matmul(x, v[f"{name}.w"]) + v[f"{name}.b"])
        if scope.kind == "dropout":
            rate = self.config.dropout
            if not (training and rate > 0):
                return tf.identity
            index = [layer.name for layer in self.spec.layers(self.config.lrn)].index(name)  # the mask's seed

            def dropout(x: tf.Tensor) -> tf.Tensor:
                seed = tf.stack([tf.constant(self.config.seed * 1000 + index, tf.int64), self.step])
                return tf.nn.experimental.stateless_dropout(x, rate, seed=seed)
            return dropout
        raise ValueError(f"scope {scope.name!r} is not part of the forward pass")

    def _forward(self, x: tf.Tensor, training: bool) -> tf.Tensor:
        for scope in self.spec.scopes(self.config.lrn):
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
        for name, g in zip(self.spec.weight_names, grads, strict=True):
            m = self.m[name].assign(spec.ADAM_BETA1 * self.m[name] + (1.0 - spec.ADAM_BETA1) * g)
            v = self.v[name].assign(spec.ADAM_BETA2 * self.v[name] + (1.0 - spec.ADAM_BETA2) * tf.square(g))
            self.vars[name].assign_sub(spec.ADAM_LR * (m / c1) / (tf.sqrt(v / c2) + spec.ADAM_EPS))

    def _infer(self, x: tf.Tensor) -> tf.Tensor:
        return self._forward(x, False)

    # --- contract ----------------------------------------------------------------------------
    def set_weights(self, weights: dict[str, np.ndarray]) -> None:
        self.spec.check_weights(weights)
        for name in self.spec.weight_names:
            self.vars[name].assign(np.asarray(weights[name], np.float32))
            self.m[name].assign(tf.zeros_like(self.m[name]))
            self.v[name].assign(tf.zeros_like(self.v[name]))
        self.step.assign(0)

    def get_weights(self) -> dict[str, np.ndarray]:
        return {n: np.array(self.vars[n].numpy()) for n in self.spec.weight_names}

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
        return float(loss.numpy()), {n: g.numpy() for n, g in zip(self.spec.weight_names, grads, strict=True)}

    def prepare(self, images: np.ndarray, labels: np.ndarray) -> tuple[tf.Tensor, tf.Tensor | None]:
        return self._put(images, labels)

    def train_step(self, batch: tuple[tf.Tensor, tf.Tensor]) -> tf.Tensor:
        self.last = self._train_fn(*batch)
        return self.last

    def forward_step(self, batch: tuple[tf.Tensor, tf.Tensor]) -> tf.Tensor:
        self.last = self._forward_fn(batch[0])
        return self.last

    def loss_value(self, result: Any) -> float:
        return float(result.numpy())

    def synchronize(self) -> None:
        # before any step: a variable, which set_weights and every update write last
        _sync_devices(self.last if self.last is not None else self.vars[self.spec.weight_names[-1]])

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
        return {**self._model_facts(), **self.setup}  # setup: a setting that took effect another way

    def _model_facts(self) -> dict[str, str]:
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
        tape puts a gradient op under ``gradient_tape/<the forward op's scope>``. On a GPU the time is
        the device's: its kernels, each under the TF op that launched it (see :mod:`impls.tensorflow_xplane`)."""
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
        gpu = self.device == "/GPU:0"
        ops = xspace_ops(space, self.spec.scope_names(self.config.lrn), gpu)
        trace = trace_dir / "tensorflow_trace.json"
        trace.write_text(json.dumps({"traceEvents": chrome_events(space), "displayTimeUnit": "ms"}))
        traces = [str(p.relative_to(trace_dir)) for p in logdir.rglob("*") if p.is_file()] + [trace.name]
        return Profile(tally(ops), steps, traces, "kernel time on the GPU streams (device)" if gpu
                       else "op time on the executor threads (host)")

    def isolated(self, scope: spec.Scope, batch_size: int, mode: str) -> Isolated:
        rng = np.random.default_rng(0)
        last: dict[str, Any] = {"t": None}
        if scope.kind == "optimizer":
            grads = [tf.fill(self.vars[n].shape, 1e-3) for n in self.spec.weight_names]
            update = tf.function(self._adam)

            def step() -> Any:
                update(grads)
                last["t"] = self.vars[self.spec.weight_names[-1]]  # written by the update
                return None
            return Isolated(step, None, lambda: _sync_devices(last["t"]))
        shape = self.spec.scope_input_shape(scope)
        training = mode == "train"
        host = rng.normal(0, 1, (batch_size, *shape))
        if scope.kind == "loss":
            with tf.device(self.device):
                y = tf.identity(tf.constant(rng.integers(0, self.spec.num_classes, batch_size).astype(np.int32)))

            def fn(t: tf.Tensor) -> tf.Tensor:
                return tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(labels=y, logits=t))
        else:
            host = np.maximum(host, 0)  # post-ReLU-like activations
            fn = self._scope_fn(scope, training)
        with tf.device(self.device):
            x = tf.identity(tf.constant(host.astype(np.float32)))
        params = [self.vars[n] for n in self.spec.weight_names if n.split(".")[0] == scope.layer]
        first = scope.layer == self.spec.param_layers[0]
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

        return Isolated(forward, forward_backward if training else None, lambda: _sync_devices(last["t"]))

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


def _sync_devices(last: Any) -> None:
    """Wait for every queued op. ``tf.test.experimental.sync_devices`` (TF >= 2.12) copies nothing;
    without it, one element of ``last`` (the newest result, a tensor or variable) is read to the host,
    which waits for everything queued before it on the device's stream (never the whole tensor). With
    neither, there is nothing to wait on that the caller could name: an error, never a silent no-op."""
    sync = getattr(getattr(tf.test, "experimental", None), "sync_devices", None)
    if sync is not None:
        sync()
    elif last is not None:
        _read_one(last)
    else:
        raise RuntimeError("tensorflow: cannot synchronise: tf.test.experimental.sync_devices is missing "
                           f"(TensorFlow {tf.__version__}) and nothing has run yet whose result could be read")


def _read_one(t: Any) -> None:
    """One element of ``t`` copied to the host (blocks until ``t`` is computed)."""
    tf.reshape(t, [-1])[0].numpy()


def _set_threads(threads: int, setup: dict[str, str]) -> None:
    """TensorFlow's intra-op pool at ``threads``. Its setter refuses only a different count once TF has
    started; then the run is not what was asked unless the worker's TF_NUM_INTRAOP_THREADS already gave
    that count (TF reads it when the setting is unset): recorded then, refused otherwise."""
    try:
        tf.config.threading.set_intra_op_parallelism_threads(threads)
    except RuntimeError as exc:
        configured = tf.config.threading.get_intra_op_parallelism_threads()
        if configured == 0 and os.environ.get("TF_NUM_INTRAOP_THREADS") == str(threads):
            setup["threads"] = f"{threads} (from TF_NUM_INTRAOP_THREADS; the setter refused: {exc})"
            return
        raise RuntimeError(f"tensorflow: cannot use {threads} intra-op threads: {exc} (TensorFlow already "
                           f"started with {configured or 'its default'})") from exc


def _set_memory_growth(gpu: Any, setup: dict[str, str]) -> None:
    """Memory growth on, so the allocator takes what the model needs, not the whole GPU (which would make
    every device memory figure the GPU's size). TF refuses a change once the GPU is initialised; then
    growth is on only if the worker's TF_FORCE_GPU_ALLOW_GROWTH says so: recorded then, refused otherwise."""
    try:
        tf.config.experimental.set_memory_growth(gpu, True)
    except RuntimeError as exc:
        if os.environ.get("TF_FORCE_GPU_ALLOW_GROWTH", "").lower() == "true":
            setup["memory_growth"] = f"on (from TF_FORCE_GPU_ALLOW_GROWTH; set_memory_growth refused: {exc})"
            return
        raise RuntimeError(f"tensorflow: cannot turn on memory growth for {gpu.name}: {exc}") from exc


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
