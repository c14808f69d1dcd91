"""The GPU branches of each profiler's attribution, fed what each framework's profiler really emits on
a GPU (built from the frameworks' own classes where they have them), on a machine without one: every
kernel counted once, in its layer, and host-side events (launches, annotations, derived timelines)
never counted as device time. Also TensorFlow's synchronisation and setup without silent fallbacks."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from typing import Any

import pytest

from bench.core.contract import OpTime
from bench.model import spec
from tests.conftest import require_framework


def _per_scope(ops: list[OpTime]) -> dict[tuple[str | None, str], int]:
    out: dict[tuple[str | None, str], int] = {}
    for op in ops:
        out[(op.scope, op.pass_)] = out.get((op.scope, op.pass_), 0) + op.total_ns
    return out


# --- torch: kineto's FunctionEvents ---------------------------------------------------------------

def _kineto_step() -> Any:
    """One training step as torch's ``_parse_kineto_results`` turns kineto's events into FunctionEvents
    (torch/autograd/profiler.py): host ops (correlation ids, linked id 0), CUDA runtime calls and
    device events linked to their op, each device event appended to its op's ``kernels``, the GPU side
    of each record_function span a CUDA event with ``is_user_annotation``; then ``EventList._build_tree``
    (parents from time ranges, duplicate nested ops merged with their kernels lifted)."""
    from torch.autograd.profiler_util import EventList, FunctionEvent
    from torch.profiler import DeviceType

    ids = itertools.count(1)
    host: list[Any] = []
    device: list[Any] = []

    def op(name: str, start: float, end: float, seq: int = -1, thread: int = 1, annotation: bool = False) -> Any:
        e = FunctionEvent(id=next(ids), name=name, thread=thread, start_us=start, end_us=end, fwd_thread=thread,
                          use_device="cuda", sequence_nr=seq, is_user_annotation=annotation)
        host.append(e)
        return e

    def kernel(name: str, launcher: Any, start: float, dur: float, annotation: bool = False) -> None:
        if launcher is not None:  # the runtime call, a CPU event linked to the op
            begin = launcher.time_range.start
            runtime = FunctionEvent(id=next(ids), name="cudaLaunchKernel", thread=99, start_us=begin,
                                    end_us=begin + 0.5, use_device="cuda", linked_correlation_id=launcher.id)
            host.append(runtime)
        device.append(FunctionEvent(id=next(ids), name=name, thread=7, start_us=start, end_us=start + dur,
                                    use_device="cuda", device_type=DeviceType.CUDA, is_user_annotation=annotation,
                                    linked_correlation_id=launcher.id if launcher is not None else 0))

    conv1 = op("bench:conv1", 0, 100, annotation=True)
    kernel("bench:conv1", None, 10, 60, annotation=True)  # the span's GPU side
    op("aten::conv2d", 5, 50, seq=1)
    cudnn = op("aten::cudnn_convolution", 10, 45)
    kernel("sm90_xmma_fprop_implicit_gemm", cudnn, 12, 20)
    relu = op("aten::relu", 55, 90, seq=2)
    kernel("vectorized_elementwise_kernel<relu>", relu, 40, 5)
    op("bench:fc1", 100, 200, annotation=True)
    kernel("bench:fc1", None, 110, 80, annotation=True)
    addmm = op("aten::addmm", 110, 150, seq=3)
    kernel("sm90_xmma_gemm_f32f32", addmm, 115, 30)
    outer = op("aten::add_", 155, 190, seq=4)  # a duplicate nested op: torch merges it, kernels lifted
    inner = op("aten::add_", 160, 185)
    kernel("vectorized_elementwise_kernel<add>", inner, 150, 2)
    bwd = op("autograd::engine::evaluate_function: ConvolutionBackward0", 300, 400, seq=1, thread=2)
    grad = op("aten::convolution_backward", 310, 390, thread=2)
    kernel("sm90_xmma_wgrad_implicit_gemm", grad, 320, 40)
    op("bench:optimizer", 500, 600, annotation=True)
    adam = op("aten::_fused_adam_", 510, 590)
    kernel("multi_tensor_apply_kernel<FusedAdam>", adam, 515, 8)
    kernel("Memset (Device)", None, 620, 3)  # device time no profiled op launched
    for fe in host:  # torch: each frontend op gets its linked device events as kernels
        if fe.linked_correlation_id == 0:
            for d in device:
                if d.linked_correlation_id == fe.id:
                    fe.append_kernel(d.name, d.device_index, d.time_range.end - d.time_range.start)
            for runtime in host:
                if runtime.linked_correlation_id == fe.id:
                    runtime.thread = fe.thread
    events = EventList(host + device, use_device="cuda")
    events._build_tree()
    assert outer.kernels and inner not in events  # the merge happened
    assert bwd.cpu_children == [grad] and conv1.cpu_children
    return events


@pytest.mark.torch
def test_torch_cuda_profile_counts_each_kernel_once_in_its_layer() -> None:
    require_framework("torch")
    from torch.profiler import DeviceType

    from impls.torch_alexnet import NO_LAUNCHER, _attribute

    events = _kineto_step()
    ops = _attribute(events, cuda=True)
    got = _per_scope(ops)
    assert got == {("conv1", "forward"): 25_000, ("fc1", "forward"): 32_000, ("conv1", "backward"): 40_000,
                   ("optimizer", "update"): 8_000, (None, ""): 3_000}, got
    # the total is torch's own (its table sums the non-annotation device events), not twice it
    torch_total = sum(e.self_device_time_total for e in events
                      if e.device_type == DeviceType.CUDA and not e.is_user_annotation)
    assert sum(op.total_ns for op in ops) == round(torch_total * 1000) == 108_000
    names = {op.name for op in ops}
    assert not any(n.startswith("bench:") or n == "python and dispatch" for n in names), names
    assert NO_LAUNCHER in names and "sm90_xmma_wgrad_implicit_gemm" in names
    assert all(op.calls == 1 for op in ops if op.name != NO_LAUNCHER)


@pytest.mark.torch
def test_torch_cpu_profile_still_counts_host_self_time() -> None:
    """The CPU branch: self CPU time of every host op, a scope's own span as python and dispatch."""
    require_framework("torch")
    from torch.autograd.profiler_util import EventList, FunctionEvent

    from impls.torch_alexnet import _attribute

    scope = FunctionEvent(id=1, name="bench:conv1", thread=1, start_us=0, end_us=100)
    conv = FunctionEvent(id=2, name="aten::conv2d", thread=1, start_us=10, end_us=70, sequence_nr=5)
    events = EventList([scope, conv])
    events._build_tree()
    ops = {(op.name, op.scope, op.pass_): op.total_ns for op in _attribute(events, cuda=False)}
    assert ops == {("python and dispatch", "conv1", "forward"): 40_000, ("aten::conv2d", "conv1", "forward"): 60_000}


# --- TensorFlow: the XSpace its profiler writes ---------------------------------------------------

def _xspace() -> Any:
    """A host plane ("/host:CPU", the executor threads' ``scope/op:Type`` events), the CUPTI launch
    plane, and a GPU device plane whose stream lines hold the kernels with a ``tf_op`` stat (a
    ``ref_value`` into the stat metadata, as xla/backends/profiler/gpu/cupti_collector.cc writes it; one
    as ``str_value``) beside a derived "Framework Ops" line that repeats them."""
    from tensorflow.tsl.profiler.protobuf import xplane_pb2

    space = xplane_pb2.XSpace()

    def plane(pid: int, name: str) -> Any:
        p = space.planes.add(id=pid, name=name)
        return p

    def meta(p: Any, table: str, name: str) -> int:
        entries = getattr(p, table)
        for k, m in entries.items():
            if m.name == name:
                return int(k)
        k = len(entries) + 1
        entries[k].id, entries[k].name = k, name
        return k

    def event(p: Any, line: Any, name: str, offset_us: int, dur_us: int, tf_op: str | None = None,
              inline: bool = False) -> None:
        ev = line.events.add(metadata_id=meta(p, "event_metadata", name), offset_ps=offset_us * 10**6,
                             duration_ps=dur_us * 10**6)
        if tf_op is not None:
            stat = ev.stats.add(metadata_id=meta(p, "stat_metadata", "tf_op"))
            if inline:
                stat.str_value = tf_op
            else:
                stat.ref_value = meta(p, "stat_metadata", tf_op)

    host = plane(1, "/host:CPU")
    thread = host.lines.add(id=11, name="tf_inter_op", timestamp_ns=1000)
    event(host, thread, "conv1/Conv2D:Conv2D", 0, 7)  # host: the op's launch on the executor thread
    event(host, thread, "optimizer/mul:Mul", 10, 2)
    cupti = plane(2, "/host:CUPTI")
    launches = cupti.lines.add(id=11, name="Host Threads/11", timestamp_ns=1000)
    event(cupti, launches, "cuLaunchKernel", 1, 1, tf_op="conv1/Conv2D:Conv2D")
    gpu = plane(3, "/device:GPU:0")
    stream = gpu.lines.add(id=7, name="Stream #7(Kernel,MemcpyH2D)", timestamp_ns=1000)
    event(gpu, stream, "sm90_xmma_fprop_implicit_gemm", 2, 20, tf_op="conv1/Conv2D:Conv2D")
    event(gpu, stream, "void tensorflow::functor::BiasNHWCKernel<float>", 22, 3, tf_op="conv1/BiasAdd:BiasAdd")
    event(gpu, stream, "sm90_xmma_wgrad_implicit_gemm", 30, 40,
          tf_op="gradient_tape/conv1/Conv2D/Conv2DBackpropFilter:Conv2DBackpropFilter")
    event(gpu, stream, "void Eigen::internal::EigenMetaKernel<mul>", 80, 4, tf_op="optimizer/mul:Mul", inline=True)
    event(gpu, stream, "MemcpyH2D", 90, 5)  # the input copy: no TF op open at launch
    derived = gpu.lines.add(id=10000, name="Framework Ops", timestamp_ns=1000)
    event(gpu, derived, "conv1/Conv2D:Conv2D", 2, 20)
    return space


@pytest.mark.tensorflow
def test_tensorflow_gpu_profile_takes_device_kernels_by_their_tf_op() -> None:
    require_framework("tensorflow")
    from impls.tensorflow_xplane import xspace_ops

    scopes = spec.scope_names(True)
    ops = xspace_ops(_xspace(), scopes, gpu=True)
    assert _per_scope([OpTime(n, s, p, ns, 1) for n, s, p, ns in ops]) == {
        ("conv1", "forward"): 23_000, ("conv1", "backward"): 40_000, ("optimizer", "update"): 4_000,
        (None, ""): 5_000}
    assert len(ops) == 5 and "cuLaunchKernel" not in {n for n, *_ in ops}  # no launch, no derived line


@pytest.mark.tensorflow
def test_tensorflow_cpu_profile_keeps_the_host_op_events() -> None:
    require_framework("tensorflow")
    from impls.tensorflow_xplane import xspace_ops

    ops = xspace_ops(_xspace(), spec.scope_names(True), gpu=False)
    assert ("Conv2D", "conv1", "forward", 7_000) in ops and ("Mul", "optimizer", "update", 2_000) in ops
    assert not any(n.startswith("sm90") for n, *_ in ops)


@pytest.fixture
def tf_adapter() -> Iterator[Any]:
    require_framework("tensorflow")
    from bench import get_adapter

    yield get_adapter("tensorflow")


@pytest.mark.tensorflow
def test_tensorflow_sync_without_sync_devices_reads_the_last_result(tf_adapter: Any,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    import numpy as np
    import tensorflow as tf

    import impls.tensorflow_alexnet as tfa

    read: list[Any] = []
    real = tfa._read_one
    monkeypatch.setattr(tfa, "_read_one", lambda t: (read.append(t), real(t)))
    monkeypatch.delattr(tf.test.experimental, "sync_devices")
    tf_adapter.synchronize()  # before any step: a model variable
    assert read[-1] is tf_adapter.vars[spec.WEIGHT_NAMES[-1]]
    rng = np.random.default_rng(0)
    batch = tf_adapter.prepare(rng.random((2, *spec.IMAGE_SHAPE), np.float32), np.array([1, 2]))
    loss = tf_adapter.train_step(batch)
    tf_adapter.synchronize()
    assert read[-1] is loss
    with pytest.raises(RuntimeError, match="sync_devices is missing"):
        tfa._sync_devices(None)  # a GEMM or LRN layer synchronised before it ran anything


@pytest.mark.tensorflow
def test_tensorflow_thread_setting_refused_is_an_error_or_recorded(tf_adapter: Any,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    """TensorFlow has started in this process (the fixture ran a model), so a new count is refused."""
    import tensorflow as tf

    from bench import get_adapter

    current = tf.config.threading.get_intra_op_parallelism_threads()
    other = current + 3
    monkeypatch.delenv("TF_NUM_INTRAOP_THREADS", raising=False)
    with pytest.raises(RuntimeError, match=f"cannot use {other} intra-op threads"):
        get_adapter("tensorflow", threads=other)
    if current == 0:  # unset: the worker's environment variable is what TF used
        monkeypatch.setenv("TF_NUM_INTRAOP_THREADS", str(other))
        assert "TF_NUM_INTRAOP_THREADS" in get_adapter("tensorflow", threads=other).describe()["threads"]


@pytest.mark.tensorflow
def test_tensorflow_gpu_memory_growth_refused_is_an_error_or_recorded(monkeypatch: pytest.MonkeyPatch) -> None:
    """The GPU branch of build, with TensorFlow's device query faked: set_memory_growth refused (the GPU
    already initialised) fails the build unless TF_FORCE_GPU_ALLOW_GROWTH turned growth on anyway."""
    require_framework("tensorflow")
    import tensorflow as tf

    from bench import get_adapter

    real = tf.config.list_physical_devices
    gpu = tf.config.PhysicalDevice(name="/physical_device:GPU:0", device_type="GPU")
    monkeypatch.setattr(tf.config, "list_physical_devices", lambda kind=None: [gpu] if kind == "GPU" else real(kind))

    def refuse(device: Any, enable: bool) -> None:
        raise RuntimeError("Physical devices cannot be modified after being initialized")

    monkeypatch.setattr(tf.config.experimental, "set_memory_growth", refuse)
    monkeypatch.delenv("TF_FORCE_GPU_ALLOW_GROWTH", raising=False)
    with pytest.raises(RuntimeError, match="cannot turn on memory growth for /physical_device:GPU:0"):
        get_adapter("tensorflow", device="gpu")
    monkeypatch.setenv("TF_FORCE_GPU_ALLOW_GROWTH", "true")
    facts = get_adapter("tensorflow", device="gpu").describe()  # soft placement runs it on the CPU
    assert facts["memory_growth"].startswith("on (from TF_FORCE_GPU_ALLOW_GROWTH")


# --- JAX: the trace jax.profiler writes ------------------------------------------------------------

def _jax_trace() -> dict[str, Any]:
    """perfetto_trace.json as tsl's trace_events_to_json writes it: process_name metadata per XPlane
    (pid 1 the host plane "/host:CPU", pid 1000 + id a "/device:GPU:<n>" plane), thread_name per line;
    the host's kernel launches carry the thunk's hlo_op as the kernels do; a derived "XLA Ops" line on
    the device repeats them."""
    def meta(kind: str, pid: int, name: str, tid: int | None = None) -> dict[str, Any]:
        return {"ph": "M", "pid": pid, "name": kind, "args": {"name": name}, **({"tid": tid} if tid else {})}

    def x(pid: int, tid: int, name: str, dur: float, hlo_op: str) -> dict[str, Any]:
        return {"ph": "X", "pid": pid, "tid": tid, "ts": 1.0, "dur": dur, "name": name,
                "args": {"hlo_op": hlo_op, "hlo_module": "jit_train"}}

    return {"displayTimeUnit": "ns", "traceEvents": [
        meta("process_name", 1, "/host:CPU"), meta("thread_name", 1, "python", 101),
        meta("thread_name", 1, "Host Threads/101", 102),
        meta("process_name", 1003, "/device:GPU:0"), meta("thread_name", 1003, "Stream #14(Kernel)", 14),
        meta("thread_name", 1003, "XLA Ops", 10002),
        x(1, 102, "cuLaunchKernel", 4.0, "fusion.24"), x(1, 102, "cuLaunchKernel", 3.0, "mul.7"),
        x(1003, 14, "fusion_24_kernel", 20.0, "fusion.24"), x(1003, 14, "gemm_kernel", 30.0, "mul.7"),
        x(1003, 14, "adam_kernel", 2.5, "adam.3"),
        x(1003, 10002, "fusion.24", 20.0, "fusion.24"), {}]}


@pytest.mark.jax
def test_jax_gpu_profile_counts_device_stream_events_only() -> None:
    require_framework("jax")
    from impls.jax_alexnet import _thunks

    assert sorted(_thunks(_jax_trace(), "gpu")) == [("adam.3", 2500), ("fusion.24", 20_000), ("mul.7", 30_000)]


@pytest.mark.jax
def test_jax_cpu_profile_counts_every_thunk_event() -> None:
    """XLA:CPU runs its thunks on host threads: there, every event with an hlo_op is one."""
    require_framework("jax")
    from impls.jax_alexnet import _thunks

    cpu = {"traceEvents": [e for e in _jax_trace()["traceEvents"] if e.get("pid") == 1]}
    assert sorted(_thunks(cpu, "cpu")) == [("fusion.24", 4000), ("mul.7", 3000)]
