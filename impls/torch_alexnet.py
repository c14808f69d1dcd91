"""PyTorch adapter: eager by default, optionally ``torch.compile``; NCHW inside, NHWC at the edges.

Parity traps handled here: ``MaxPool2d(..., ceil_mode=True)`` gives SAME's 4x4 after 7x7 (mnist); TensorFlow's
SAME at stride 4 pads 3 before and 4 after (imagenet's conv1), so uneven padding is an explicit ``F.pad``; the
activations are permuted back to NHWC before the flatten; kernels are OIHW and ``[out, in]``;
``LocalResponseNorm`` gets alpha * size; strict precision turns TF32 off so GPU matmuls and convs stay float32.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from torch.profiler import DeviceType

from bench.core.contract import (
    DeviceInfo,
    FrameworkAdapter,
    Gemm,
    Isolated,
    LrnLayer,
    OpTime,
    Profile,
    check_batch,
    tally,
)
from bench.model import spec


class _ChannelConvLrn(nn.Module):
    """LRN with its channel-window sum as one 1x1 convolution of the squares against a banded 0/1 kernel
    (a GEMM for oneDNN and cuDNN alike), instead of nn.LocalResponseNorm's pad + avg_pool3d composite.
    The same formula (TensorFlow's convention), exact up to float32 rounding."""

    def __init__(self, params: spec.LrnParams) -> None:
        super().__init__()
        self.p = params
        self._bands: dict[tuple[int, torch.device], torch.Tensor] = {}

    def _band(self, channels: int, device: torch.device) -> torch.Tensor:
        key = (channels, device)
        if key not in self._bands:
            idx = torch.arange(channels)
            band = ((idx[:, None] - idx[None, :]).abs() <= self.p.depth_radius).to(torch.float32)
            self._bands[key] = band.view(channels, channels, 1, 1).to(device)
        return self._bands[key]

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # NCHW
        window = F.conv2d(x * x, self._band(x.shape[1], x.device))
        return x * (self.p.bias + self.p.alpha * window).pow(-self.p.beta)


def lrn_module(impl: str, params: spec.LrnParams) -> Any:
    """The LRN op of each implementation variant (the model and the layer benchmark use the same)."""
    if impl == "conv1x1":
        return _ChannelConvLrn(params)
    module = nn.LocalResponseNorm(params.torch_size, params.torch_alpha, params.beta, params.bias)
    return torch.compile(module) if impl == "compiled" else module


LRN_DESCRIPTIONS = {"module": "nn.LocalResponseNorm (avg_pool3d composite)",
                    "compiled": "torch.compile(nn.LocalResponseNorm)",
                    "conv1x1": "channel sum as a 1x1 conv with a banded kernel"}


def _no_scope(name: str) -> contextlib.nullcontext[None]:
    return contextlib.nullcontext()


SCOPE_PREFIX = "bench:"  # record_function names of the profiled scopes


def _same_pad(pads: tuple[tuple[int, int], tuple[int, int]]) -> tuple[int, int, int, int] | None:
    """F.pad's (left, right, top, bottom) for padding the spec gives unevenly; None when nn's symmetric
    ``padding`` does it (TensorFlow's SAME at stride 4 on 224 pads 3 before and 4 after: torch cannot)."""
    (top, bottom), (left, right) = pads
    return None if (top, left) == (bottom, right) else (left, right, top, bottom)


def _pool(layer: spec.Layer, pads: tuple[tuple[int, int], tuple[int, int]]) -> Callable[[torch.Tensor], torch.Tensor]:
    """A max pool with TensorFlow's padding: VALID (or SAME that pads nothing) is a plain MaxPool2d; SAME
    padding only after is ``ceil_mode`` (7 -> 4 at 2x2/2); anything else pads -inf explicitly."""
    (top, bottom), (left, right) = pads
    if top == bottom == left == right == 0:
        return nn.MaxPool2d(layer.kernel, layer.stride)
    if top == left == 0 and layer.kernel == layer.stride:  # windows that tile: ceil_mode's output is SAME's
        return nn.MaxPool2d(layer.kernel, layer.stride, ceil_mode=True)
    pool = nn.MaxPool2d(layer.kernel, layer.stride)
    return lambda x: pool(F.pad(x, (left, right, top, bottom), value=float("-inf")))


class _Net(nn.Module):
    def __init__(self, lrn: bool, dropout: float, lrn_params: spec.LrnParams, lrn_impl: str,
                 model: spec.ModelSpec = spec.MNIST) -> None:
        super().__init__()
        self.spec = model
        shapes = model.weight_shapes
        self.pads: dict[str, tuple[int, int, int, int] | None] = {}  # conv -> F.pad before it (uneven SAME)
        for name in model.conv_layers:
            kh, _, cin, cout = shapes[f"{name}.w"]
            layer, pads = model.layer(name), model.padding_of(name)
            self.pads[name] = _same_pad(pads)
            even = pads[0][0] if self.pads[name] is None else 0
            setattr(self, name, nn.Conv2d(cin, cout, kh, stride=layer.stride, padding=even))
        for name in model.dense_layers:
            fin, fout = shapes[f"{name}.w"]
            setattr(self, name, nn.Linear(fin, fout))
        self.use_lrn = lrn
        p = lrn_params
        self.lrn_call: Any = lrn_module(lrn_impl, p)
        self.pools = {layer.name: _pool(layer, model.padding_of(layer.name)) for layer in model.table
                      if layer.kind == "pool"}
        self.dropout = dropout
        self.scope: Callable[[str], Any] = _no_scope  # record_function while profiled
        self.fns = {s.name: self.scope_fn(s) for s in model.scopes(lrn) if s.kind not in ("loss", "optimizer")}

    def scope_fn(self, scope: spec.Scope) -> Callable[[torch.Tensor], torch.Tensor]:
        """The computation of one scope: the model runs these in order, the isolated timing one alone."""
        if scope.kind == "conv":
            conv, pad = getattr(self, scope.layer), self.pads[scope.layer]
            if pad is not None:
                return lambda x: F.relu(conv(F.pad(x, pad)))
            return lambda x: F.relu(conv(x))
        if scope.kind == "lrn":
            return lambda x: self.lrn_call(x)
        if scope.kind == "pool":
            return self.pools[scope.layer]
        if scope.kind == "flatten":
            return lambda x: x.permute(0, 2, 3, 1).flatten(1)  # NHWC flatten order
        if scope.kind == "dense":
            dense = getattr(self, scope.layer)
            relu = self.spec.layer(scope.layer).relu
            return (lambda x: F.relu(dense(x))) if relu else dense
        if scope.kind == "dropout":
            return lambda x: F.dropout(x, self.dropout, self.training) if self.dropout > 0 else x
        raise ValueError(f"scope {scope.name!r} is not part of the forward pass")

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # x: NCHW
        for name, fn in self.fns.items():
            with self.scope(name):
                x = fn(x)
        return x


def _to_torch(name: str, w: np.ndarray) -> np.ndarray:
    if name.endswith(".w"):
        return w.transpose(3, 2, 0, 1) if w.ndim == 4 else w.T  # HWIO -> OIHW, [in,out] -> [out,in]
    return w


def _to_canonical(name: str, w: np.ndarray) -> np.ndarray:
    if name.endswith(".w"):
        return w.transpose(2, 3, 1, 0) if w.ndim == 4 else w.T
    return w


class TorchAlexNet(FrameworkAdapter):
    name = "torch"
    can_reset_peak = True

    def build(self) -> None:
        cfg = self.config
        if "retain_memory" in cfg.tuning:
            _retain_freed_memory()
        if cfg.threads:
            torch.set_num_threads(cfg.threads)
        if cfg.device == "gpu":
            if not torch.cuda.is_available():
                raise RuntimeError("device gpu requested but torch sees no CUDA device")
            self.device = torch.device("cuda")
            set_precision(cfg.precision)
            torch.backends.cudnn.benchmark = True  # autotune each conv shape on its first use, as torch's experts run
        else:
            self.device = torch.device("cpu")
        torch.manual_seed(cfg.seed)
        self.net = _Net(cfg.lrn, cfg.dropout, cfg.lrn_params, str(cfg.lrn_impl), self.spec).to(self.device)
        self.model: Any = torch.compile(self.net) if cfg.compile == "compile" else self.net
        self.params = dict(self.net.named_parameters())
        self.opt = self._new_optimizer()

    def _new_optimizer(self) -> torch.optim.Adam:
        # On a GPU the fused kernel (one launch for every tensor); verify checks its step like any other.
        fused = True if self.device.type == "cuda" else None
        return torch.optim.Adam(self.net.parameters(), lr=spec.ADAM_LR, betas=(spec.ADAM_BETA1, spec.ADAM_BETA2),
                                eps=spec.ADAM_EPS, fused=fused)

    def set_weights(self, weights: dict[str, np.ndarray]) -> None:
        self.spec.check_weights(weights)
        with torch.no_grad():
            for name in self.spec.weight_names:
                param = self.params[name.replace(".w", ".weight").replace(".b", ".bias")]
                src = np.ascontiguousarray(_to_torch(name, np.asarray(weights[name], np.float32)))
                param.copy_(torch.from_numpy(src))
        self.opt = self._new_optimizer()

    def get_weights(self) -> dict[str, np.ndarray]:
        out = {}
        for name in self.spec.weight_names:
            param = self.params[name.replace(".w", ".weight").replace(".b", ".bias")]
            # a copy: on CPU, .numpy() shares memory with the live parameter
            out[name] = np.array(_to_canonical(name, param.detach().cpu().numpy()), order="C")
        return out

    def _images(self, images: np.ndarray) -> torch.Tensor:
        x = torch.from_numpy(np.ascontiguousarray(np.asarray(check_batch(images), np.float32).transpose(0, 3, 1, 2)))
        return x.to(self.device)

    def logits(self, images: np.ndarray) -> np.ndarray:
        self.net.eval()
        with torch.no_grad():
            out = self.model(self._images(images))
        return out.cpu().numpy()

    def loss_and_grads(self, images: np.ndarray, labels: np.ndarray) -> tuple[float, dict[str, np.ndarray]]:
        self.net.train()
        self.net.zero_grad(set_to_none=True)
        x, y = self.prepare(images, labels)
        loss = F.cross_entropy(self.model(x), y)
        loss.backward()
        grads = {}
        for name in self.spec.weight_names:
            param = self.params[name.replace(".w", ".weight").replace(".b", ".bias")]
            assert param.grad is not None
            grads[name] = np.array(_to_canonical(name, param.grad.cpu().numpy()), order="C")
        self.net.zero_grad(set_to_none=True)
        return float(loss.item()), grads

    def prepare(self, images: np.ndarray, labels: np.ndarray) -> tuple[torch.Tensor, torch.Tensor]:
        y = torch.from_numpy(np.asarray(labels, np.int64)).to(self.device)
        return self._images(images), y

    def train_step(self, batch: tuple[torch.Tensor, torch.Tensor]) -> torch.Tensor:
        self.net.train()
        x, y = batch
        scope = self.net.scope
        with scope("optimizer"):
            self.opt.zero_grad(set_to_none=True)
        logits = self.model(x)
        with scope("loss"):
            loss = F.cross_entropy(logits, y)
        loss.backward()
        with scope("optimizer"):
            self.opt.step()
        return loss.detach()

    def forward_step(self, batch: tuple[torch.Tensor, torch.Tensor]) -> torch.Tensor:
        self.net.eval()
        with torch.inference_mode():
            return self.model(batch[0])

    def loss_value(self, result: Any) -> float:
        return float(result.item())

    def synchronize(self) -> None:
        _sync(self.device)

    def lrn(self, x: np.ndarray) -> np.ndarray:
        with torch.no_grad():
            out = self.net.lrn_call(self._images(x))
        return np.ascontiguousarray(out.cpu().numpy().transpose(0, 2, 3, 1))

    def memory(self) -> dict[str, int | None]:
        if self.device.type != "cuda":
            return super().memory()
        return {
            "alloc_peak_bytes": int(torch.cuda.max_memory_allocated()),  # since reset_peak_memory_stats
            "alloc_reserved_bytes": int(torch.cuda.memory_reserved()),  # the caching allocator's pool now
        }

    def reset_peak_memory(self) -> None:
        if self.device.type == "cuda":
            torch.cuda.reset_peak_memory_stats()

    def versions(self) -> dict[str, str]:
        out: dict[str, str] = {"torch": str(torch.__version__)}
        if torch.version.cuda:
            out["torch.cuda"] = str(torch.version.cuda)
            out["torch.cudnn"] = str(torch.backends.cudnn.version())
        return out

    def describe(self) -> dict[str, str]:
        lrn = LRN_DESCRIPTIONS[str(self.config.lrn_impl)]
        cuda = self.device.type == "cuda"
        return {"compile": str(self.config.compile), "lrn_impl": lrn, "threads": str(torch.get_num_threads()),
                "precision": tf32_settings() if cuda else "float32 (CPU)",
                "cudnn_benchmark": "on" if cuda else "n/a (CPU)",
                "adam": "fused" if cuda else "for-each-tensor (torch's CPU default)",
                "allocator": "glibc, freed memory retained (mallopt)" if "retain_memory" in self.config.tuning
                else "glibc defaults"}

    # --- profiling ------------------------------------------------------------------------------
    def profile(self, batch: Any, mode: str, steps: int, trace_dir: Path) -> Profile:
        """torch.profiler over ``steps`` synchronised steps; each scope runs under record_function, and a
        backward op is attributed to the scope whose forward op has its autograd sequence number."""
        from torch.profiler import ProfilerActivity, record_function
        from torch.profiler import profile as torch_profile

        cuda = self.device.type == "cuda"
        step = self.train_step if mode == "train" else self.forward_step
        self.net.scope = lambda name: record_function(SCOPE_PREFIX + name)
        try:
            activities = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if cuda else [])
            with torch_profile(activities=activities) as prof:
                for _ in range(steps):
                    step(batch)
                    self.synchronize()
        finally:
            self.net.scope = _no_scope
        trace = trace_dir / "torch_trace.json"
        prof.export_chrome_trace(str(trace))
        return Profile(_attribute(prof.events(), cuda), steps, [trace.name],
                       "device kernel time (CUDA)" if cuda else "host self time (CPU ops)")

    def isolated(self, scope: spec.Scope, batch_size: int, mode: str) -> Isolated:
        net, dev = self.net, self.device
        rng = np.random.default_rng(0)
        if scope.kind == "optimizer":
            for param in net.parameters():
                param.grad = torch.full_like(param, 1e-3)
            return Isolated(self.opt.step, None, self.synchronize)
        shape = self.spec.scope_input_shape(scope)
        if scope.kind == "loss":
            y = torch.from_numpy(rng.integers(0, self.spec.num_classes, batch_size)).to(dev)
            fn: Callable[[torch.Tensor], torch.Tensor] = lambda t: F.cross_entropy(t, y)  # noqa: E731
            host = rng.normal(0, 1, (batch_size, *shape))
        else:
            fn = net.fns[scope.name]
            host = np.maximum(rng.normal(0, 1, (batch_size, *shape)), 0)  # post-ReLU-like activations
            if host.ndim == 4:
                host = host.transpose(0, 3, 1, 2)  # NCHW
        x = torch.from_numpy(np.ascontiguousarray(host, np.float32)).to(dev)
        net.train(mode == "train")
        params = list(getattr(net, scope.layer).parameters()) if scope.kind in ("conv", "dense") else []
        wrt = ([] if scope.layer == self.spec.param_layers[0] else [x.requires_grad_(True)]) + params
        grad = torch.ones_like(fn(x.detach())) if scope.kind != "loss" else None

        def forward() -> Any:
            if mode == "train":
                return fn(x)  # records what backward needs, as in a training step
            with torch.inference_mode():
                return fn(x.detach())

        def forward_backward() -> Any:
            return torch.autograd.grad(fn(x), wrt, grad)

        return Isolated(forward, forward_backward if mode == "train" and wrt else None, self.synchronize)

    @classmethod
    def lrn_layer(cls, impl: str, params: spec.LrnParams, device: str, precision: str = "strict") -> LrnLayer:
        set_precision(precision)
        return _TorchLrn(impl, params, device)

    @classmethod
    def gemm(cls, device: str, n: int, precision: str = "strict") -> Gemm:
        set_precision(precision)
        return _TorchGemm(device, n)

    @classmethod
    def devices(cls) -> DeviceInfo:
        devs = ["cpu"] + [f"cuda:{i} {torch.cuda.get_device_name(i)}" for i in range(torch.cuda.device_count())]
        return DeviceInfo(devs, f"built with CUDA {torch.version.cuda}" if torch.version.cuda else "CPU build")


M_TRIM_THRESHOLD, M_MMAP_MAX = -1, -4  # glibc malloc.h


def _retain_freed_memory() -> None:
    """glibc malloc keeps what torch frees: no allocation is served by mmap (whose free unmaps it) and the
    heap is never trimmed, so a training step's activations reuse pages the last step touched instead of
    being faulted in from the OS again (on this CPU: ~20,000 page faults per step at batch 128 before)."""
    import ctypes

    try:
        libc = ctypes.CDLL("libc.so.6")
    except OSError as exc:
        raise RuntimeError(f"tuning retain_memory needs glibc (libc.so.6): {exc}") from exc
    if not (libc.mallopt(M_MMAP_MAX, 0) and libc.mallopt(M_TRIM_THRESHOLD, 2**31 - 1)):
        raise RuntimeError("tuning retain_memory: glibc refused mallopt(M_MMAP_MAX / M_TRIM_THRESHOLD)")


def _scope_of(event: Any) -> str | None:
    while event is not None:
        if event.name.startswith(SCOPE_PREFIX):
            return str(event.name[len(SCOPE_PREFIX):])
        event = event.cpu_parent
    return None


def _backward_node(event: Any) -> Any:
    while event is not None:
        if event.name.startswith("autograd::engine::evaluate_function: "):
            return event
        event = event.cpu_parent
    return None


def _attribute(events: Any, cuda: bool) -> list[OpTime]:
    """Time per (op, scope, pass). Forward: the enclosing record_function scope. Backward: the
    autograd node's sequence number, which its forward op carries too."""
    forward_seq: dict[int, str] = {}
    for e in events:
        scope = _scope_of(e) if e.device_type == DeviceType.CPU else None
        if scope is not None and e.sequence_nr >= 0:
            forward_seq.setdefault(e.sequence_nr, scope)
    return tally(_kernels(events, forward_seq) if cuda else _attributed(events, forward_seq))


def _where(e: Any, forward_seq: dict[int, str]) -> tuple[str | None, str]:
    """(scope, pass) of a host event: its record_function ancestors, or for a backward op the scope of
    the forward op with its autograd node's sequence number."""
    node = _backward_node(e)
    if node is not None:
        return forward_seq.get(node.sequence_nr), "backward"
    scope = _scope_of(e)
    if scope == "optimizer":
        return scope, "update"
    return scope, "forward" if scope is not None else ""


def _attributed(events: Any, forward_seq: dict[int, str]) -> Iterator[tuple[str, str | None, str, int]]:
    """CPU: each host op's self time (a scope's own record_function time is python and dispatch)."""
    for e in events:
        own = e.self_cpu_time_total  # microseconds
        if own <= 0:
            continue
        name = "python and dispatch" if e.name.startswith(SCOPE_PREFIX) else e.name
        yield (name, *_where(e, forward_seq), int(own * 1000))


NO_LAUNCHER = "(device time of no profiled op)"


def _kernels(events: Any, forward_seq: dict[int, str]) -> Iterator[tuple[str, str | None, str, int]]:
    """CUDA: every device event once, in the scope of the host op that launched it.

    Kineto gives each kernel (memcpy, memset) twice: as its own event (``device_type`` CUDA) and in the
    ``kernels`` of the host op whose correlation id it carries, whose ``self_device_time_total`` is their
    sum; the GPU side of each record_function span is a device event too (``is_user_annotation``).
    torch's own table sums only the device events that are not annotations; here each is taken from
    its launching op's ``kernels`` (the link torch keeps when it merges duplicate nested ops), and
    what no host op claims is one unattributed remainder, so the total is torch's."""
    device_us = sum(e.time_range.elapsed_us() for e in events
                    if e.device_type != DeviceType.CPU and not e.is_user_annotation)
    claimed_us = 0.0
    for e in events:
        if e.device_type != DeviceType.CPU or not e.kernels:
            continue
        where = _where(e, forward_seq)
        for kernel in e.kernels:
            if not e.is_legacy:
                claimed_us += kernel.duration
            yield (kernel.name, *where, round(kernel.duration * 1000))
    if device_us - claimed_us >= 1e-3:
        yield NO_LAUNCHER, None, "", round((device_us - claimed_us) * 1000)


# torch's TF32 switches as this torch ships them (matmul off, cuDNN on, unless the user's environment
# says otherwise), read at import before anything here changes them: what precision default restores.
SHIPPED_TF32 = (bool(torch.backends.cuda.matmul.allow_tf32), bool(torch.backends.cudnn.allow_tf32))


def set_precision(precision: str) -> None:
    """Both TF32 switches off when strict, else as torch ships them. They are process-wide and read when a
    kernel launches, so the model, the GEMM reference and the LRN layer of one precision share them."""
    matmul, cudnn = SHIPPED_TF32 if precision == "default" else (False, False)
    torch.backends.cuda.matmul.allow_tf32 = matmul
    torch.backends.cudnn.allow_tf32 = cudnn


def tf32_settings() -> str:
    """The TF32 switches in force, as recorded with every GPU result."""
    on = {"matmul": torch.backends.cuda.matmul.allow_tf32, "cuDNN": torch.backends.cudnn.allow_tf32}
    return ", ".join(f"{what} TF32 {'on' if flag else 'off'}" for what, flag in on.items())


def _torch_device(device: str) -> torch.device:
    return torch.device("cuda" if device == "gpu" else "cpu")


def _sync(dev: torch.device) -> None:
    if dev.type == "cuda":
        torch.cuda.synchronize()


class _TorchLrn(LrnLayer):
    """The model's LRN op alone, any variant of :func:`lrn_module`; NCHW inside."""

    def __init__(self, impl: str, params: spec.LrnParams, device: str) -> None:
        self.dev = _torch_device(device)
        self.fn: Any = lrn_module(impl, params)

    def put(self, array: np.ndarray) -> torch.Tensor:
        return torch.from_numpy(np.ascontiguousarray(array.transpose(0, 3, 1, 2))).to(self.dev)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        with torch.no_grad():
            return self.fn(x)

    def forward_backward(self, x: torch.Tensor, grad: torch.Tensor) -> torch.Tensor:
        x = x.detach().requires_grad_(True)
        (dx,) = torch.autograd.grad(self.fn(x), x, grad)
        return dx

    def sync(self) -> None:
        _sync(self.dev)

    def host(self, result: torch.Tensor) -> np.ndarray:
        return np.asarray(result.detach().cpu().numpy().transpose(0, 2, 3, 1))


class _TorchGemm(Gemm):
    def __init__(self, device: str, n: int) -> None:
        self.dev = _torch_device(device)
        self.a, self.b = torch.randn(n, n, device=self.dev), torch.randn(n, n, device=self.dev)

    def run(self) -> None:
        torch.mm(self.a, self.b)

    def sync(self) -> None:
        _sync(self.dev)
