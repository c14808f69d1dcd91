"""The GPU paths by each framework's documented semantics, on a CPU: only the device query (NVML,
the GPU inventory) is faked. Memory order and scope, NVML by UUID and by PID or device delta, one GPU per
worker, precision (strict refuses TF32 overrides, default is each framework's own and GPU-only, the
references run at the run's precision), verify's LRN check in the TF32 tier, and the registration
environment applied in-process."""

from __future__ import annotations

import importlib.util
import os
import warnings
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np
import pytest

from bench.analysis import equivalence
from bench.core import contract, gpus, registry
from bench.core.config import ModelConfig, RunConfig
from bench.core.errors import UsageError
from bench.execution import runner
from bench.execution.executors import gpu_slots
from bench.worker import matmul, memory, process
from bench.worker.tasks import gemm, measure

ROOT = Path(__file__).resolve().parent.parent
INVENTORY = [{"index": 0, "name": "NVIDIA H200", "uuid": "GPU-aaaa"},
             {"index": 1, "name": "NVIDIA H200", "uuid": "GPU-bbbb"}]


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    """Every variable a worker environment may set, removed now and restored after the test."""
    keys = {"CUDA_VISIBLE_DEVICES", "CUDA_DEVICE_ORDER", "OMP_NUM_THREADS", "MKL_NUM_THREADS",
            "TORCH_ALLOW_TF32_CUBLAS_OVERRIDE", "NVIDIA_TF32_OVERRIDE", process.CPU_SET_ENV}
    for reg in registry.registrations().values():
        keys |= set(reg.env) | set(reg.env_defaults) | set(reg.cpu_env)
    for key in keys:
        monkeypatch.delenv(key, raising=False)
    return monkeypatch


# --- defect 4 + build 2: memory over the measured steps, read before the GEMM reference ------------------

class _LoggingAdapter:
    can_reset_peak = True
    log: list[str] = []

    def __init__(self, config: Any) -> None:
        self.config = config

    def prepare(self, x: Any, y: Any) -> Any:
        return x

    def train_step(self, batch: Any) -> float:
        self.log.append("step")
        return 0.5

    forward_step = train_step

    def synchronize(self) -> None:
        """Synchronous."""

    def loss_value(self, result: Any) -> float:
        self.log.append("loss read-back")
        return float(result)

    def reset_peak_memory(self) -> None:
        self.log.append("reset")

    def memory(self) -> dict[str, int | None]:
        self.log.append("memory")
        return {"alloc_peak_bytes": 123, "alloc_reserved_bytes": 456}

    def versions(self) -> dict[str, str]:
        return {}

    def describe(self) -> dict[str, str]:
        return {}


def test_measure_reads_memory_after_the_measured_steps_and_before_the_gemm(monkeypatch: pytest.MonkeyPatch,
                                                                          tmp_path: Path) -> None:
    _LoggingAdapter.log = log = []
    monkeypatch.setattr(contract, "adapter_class", lambda name: _LoggingAdapter)
    monkeypatch.setattr(matmul, "in_worker", lambda *a: log.append("gemm") or {"gemm_flops_per_s": 1.0})
    # the in-run equivalence check comes last, after the GEMM reference (it builds and computes on its own)
    monkeypatch.setattr(measure.equivalence_check, "check", lambda *a: log.append("check") or {"passed": True})
    cfg = RunConfig(ModelConfig("torch"), steps=3, warmup=2, data="synthetic", batch_size=2)
    out = measure.run({"config": cfg.to_dict()}, tmp_path)
    assert log.index("memory") < log.index("loss read-back") < log.index("gemm") < log.index("check")
    assert log[:log.index("reset")].count("step") == 1 + 2  # first (compiling) step and the warm-up
    assert out["memory"]["alloc_peak_bytes"] == 123 and out["memory"]["alloc_reserved_bytes"] == 456
    assert out["memory"]["alloc_peak_scope"].startswith("measured steps")


def test_a_peak_that_cannot_be_reset_says_it_covers_the_whole_process() -> None:
    snap = memory.snapshot({"alloc_peak_bytes": 1, "alloc_reserved_bytes": None}, can_reset_peak=False)
    assert "cannot reset" in snap["alloc_peak_scope"]
    assert memory.snapshot(None)["alloc_peak_scope"] is None  # no allocator figure, no scope


# --- defect 7: NVML by UUID; by PID, or the device-used delta in a container -----------------------------

class _FakeNvml:
    def __init__(self, used: list[int], pids: list[int]) -> None:
        self.used, self.pids, self.asked = used, pids, []

    def nvmlDeviceGetHandleByUUID(self, uuid: str) -> str:  # noqa: N802 - NVML's names
        self.asked.append(uuid)
        return uuid

    def nvmlDeviceGetHandleByIndex(self, index: int) -> str:  # noqa: N802
        raise AssertionError("NVML must be asked by UUID")

    def nvmlDeviceGetMemoryInfo(self, handle: str) -> Any:  # noqa: N802
        return SimpleNamespace(used=self.used.pop(0), total=10_000)

    def nvmlDeviceGetComputeRunningProcesses(self, handle: str) -> list[Any]:  # noqa: N802
        return [SimpleNamespace(pid=p, usedGpuMemory=700) for p in self.pids]


def test_nvml_per_process_by_pid_else_the_device_delta_said_so(clean_env: pytest.MonkeyPatch) -> None:
    clean_env.setenv("CUDA_VISIBLE_DEVICES", "GPU-bbbb")
    nv = _FakeNvml(used=[1000, 5000], pids=[4242])  # a host PID: never this process's in a container
    clean_env.setattr(gpus, "nvml", lambda: nv)
    clean_env.setitem(memory._baseline, "nvml_device_used_bytes", None)
    assert memory.baseline() == 1000
    out = memory.nvml_memory()
    assert out["nvml_process_bytes"] == 4000 and out["nvml_process_source"] == memory.DELTA_SOURCE
    assert nv.asked == ["GPU-bbbb", "GPU-bbbb"]
    nv.used, nv.pids = [5000], [os.getpid()]
    out = memory.nvml_memory()
    assert out["nvml_process_bytes"] == 700 and out["nvml_process_source"] == memory.PID_SOURCE


# --- defect 7 + build 4: one GPU per job, always by UUID ------------------------------------------------

def test_a_gpu_worker_sees_one_gpu_by_uuid_without_gpus(clean_env: pytest.MonkeyPatch) -> None:
    env = runner.worker_environment("gpu", None, INVENTORY)
    assert env["CUDA_VISIBLE_DEVICES"] == "GPU-aaaa" and env["CUDA_DEVICE_ORDER"] == "PCI_BUS_ID"
    clean_env.setenv("CUDA_VISIBLE_DEVICES", "1,0")  # an index is NVML's (PCI order); only the first is kept
    assert runner.worker_environment("gpu", None, INVENTORY)["CUDA_VISIBLE_DEVICES"] == "GPU-bbbb"
    slot = gpu_slots("1", INVENTORY, cpus=[0, 1, 2])[0]
    env = runner.worker_environment("gpu", slot.env(), INVENTORY)
    assert env["CUDA_VISIBLE_DEVICES"] == "GPU-bbbb" and env["CUDA_DEVICE_ORDER"] == "PCI_BUS_ID"
    assert "CUDA_DEVICE_ORDER" not in runner.worker_environment("cpu", None, INVENTORY)


def test_prepare_process_pins_a_gpu_worker_to_one_uuid(clean_env: pytest.MonkeyPatch) -> None:
    clean_env.setattr(gpus, "gpu_inventory", lambda: INVENTORY)
    env = process.prepare_process(None, "gpu", pin=False)  # e.g. a Ray worker, started without the runner
    assert env["CUDA_VISIBLE_DEVICES"] == os.environ["CUDA_VISIBLE_DEVICES"] == "GPU-aaaa"
    assert os.environ["CUDA_DEVICE_ORDER"] == "PCI_BUS_ID"


# --- defect 6: strict refuses TF32 overrides; default is GPU-only and each framework's own ----------------

@pytest.mark.parametrize("var", ["NVIDIA_TF32_OVERRIDE", "TORCH_ALLOW_TF32_CUBLAS_OVERRIDE"])
def test_strict_refuses_a_tf32_override(clean_env: pytest.MonkeyPatch, var: str) -> None:
    clean_env.setenv(var, "1")
    with pytest.raises(UsageError, match=f"--precision strict means no TF32, but {var}=1") as err:
        ModelConfig("torch", device="gpu")
    assert len(str(err.value).splitlines()) == 1
    clean_env.setenv(var, "0")  # only ever turns TF32 off
    ModelConfig("torch", device="gpu")
    ModelConfig("torch", device="gpu", precision="default")  # recorded there, not refused


def test_default_precision_is_refused_on_a_cpu() -> None:
    with pytest.raises(UsageError, match="--precision default is for GPUs"):
        ModelConfig("jax", device="cpu", precision="default")


@pytest.mark.torch
def test_torch_default_is_torchs_own_matmul_off_cudnn_on() -> None:
    torch = pytest.importorskip("torch", exc_type=ModuleNotFoundError)
    from impls import torch_alexnet

    assert torch_alexnet.SHIPPED_TF32 == (False, True)  # torch's documented defaults
    torch_alexnet.set_precision("default")
    assert (torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32) == (False, True)
    assert torch_alexnet.tf32_settings() == "matmul TF32 off, cuDNN TF32 on"
    torch_alexnet.set_precision("strict")
    assert (torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32) == (False, False)


# --- defect 5: the GEMM reference and the LRN layer run at the run's precision ---------------------------

@pytest.mark.torch  # run_layer times only installed frameworks: the fake adapter stands in for torch's
def test_gemm_and_layer_tasks_pass_the_runs_precision(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    asked: list[str] = []

    class Fake:
        @classmethod
        def gemm(cls, device: str, n: int, precision: str = "strict") -> Any:
            asked.append(precision)
            return SimpleNamespace(run=lambda: None, sync=lambda: None)

    monkeypatch.setattr(contract, "adapter_class", lambda name: Fake)
    out = gemm.run({"framework": "torch", "device": "gpu", "n": 4, "repeats": 1, "precision": "default"}, tmp_path)
    assert asked == ["default"] and out["precision"] == "default" and "TF32 allowed" in out["source"]
    matmul.in_worker("torch", "gpu", "strict")
    assert asked[-1] == "strict"
    from bench.execution import lrn_pairs

    sent: list[dict[str, Any]] = []
    monkeypatch.setattr(lrn_pairs, "run_worker", lambda task, params, **kw: sent.append(params) or runner.Outcome(
        "failed", error="x"))
    monkeypatch.setattr(lrn_pairs.storage, "append_record", lambda *a: None)
    lrn_pairs.run_layer(tmp_path, ["torch"], "gpu", 8, 4, None, {}, None, lambda s: None, precision="default")
    assert sent and sent[0]["precision"] == "default"


@pytest.mark.jax
def test_jax_gemm_and_lrn_layer_follow_the_precision() -> None:
    jax = pytest.importorskip("jax", exc_type=ModuleNotFoundError)
    from impls.jax_alexnet import JaxAlexNet

    for precision, highest in (("strict", True), ("default", False)):
        g: Any = JaxAlexNet.gemm("cpu", 4, precision)
        text = str(jax.make_jaxpr(g.fn)(g.a, g.a))
        assert ("HIGHEST" in text) is highest, text
        layer: Any = JaxAlexNet.lrn_layer("matmul", ModelConfig("jax").lrn_params, "cpu", precision)
        text = str(jax.make_jaxpr(layer.fwd)(np.ones((1, 2, 2, 8), np.float32)))
        assert ("HIGHEST" in text) is highest, text


@pytest.mark.tensorflow
def test_tensorflow_gemm_follows_the_precision() -> None:
    tf = pytest.importorskip("tensorflow", exc_type=ModuleNotFoundError)
    from impls import tensorflow_alexnet as tfa

    assert tfa.SHIPPED_TF32 is True  # TensorFlow ships with TF32 on
    tfa.TensorFlowAlexNet.gemm("cpu", 4, "strict")
    assert not tf.config.experimental.tensor_float_32_execution_enabled()
    tfa.TensorFlowAlexNet.lrn_layer("op", ModelConfig("tensorflow").lrn_params, "cpu", "default")
    assert tf.config.experimental.tensor_float_32_execution_enabled()
    tfa.set_precision("strict")


# --- defect 6: verify in the TF32 tier still proves LRN is there ----------------------------------------

def test_tf32_tier_checks_the_lrn_op_alone_at_strict_precision_and_tolerance() -> None:
    assert equivalence.tolerances("default").lrn == equivalence.STRICT.lrn
    built: list[str] = []

    class Layer:
        def put(self, x: np.ndarray) -> np.ndarray:
            return x

        def forward(self, x: np.ndarray) -> np.ndarray:
            return x * 2

        def sync(self) -> None:
            """Synchronous."""

        def host(self, x: np.ndarray) -> np.ndarray:
            return x

    class Fake:
        config = SimpleNamespace(precision="default", lrn_impl="module", lrn_params=None, device="gpu")

        @classmethod
        def lrn_layer(cls, impl: str, params: Any, device: str, precision: str = "strict") -> Layer:
            built.append(precision)
            return Layer()

        def lrn(self, x: np.ndarray) -> np.ndarray:
            raise AssertionError("the model's own LRN runs at TF32 in this tier")

    out = equivalence.strict_lrn(Fake(), np.ones((1, 2, 2, 3), np.float32))  # type: ignore[arg-type]
    assert built[0] == "strict" and float(out.max()) == 2.0
    # an LRN op off by 1e-4 (what TF32 rounding alone could hide in the old 2e-3 tier) now fails
    check = equivalence.Check("lrn op", 1e-4, equivalence.tolerances("default").lrn)
    assert not check.passed


# --- defect 8: the registration environment in-process ---------------------------------------------------

def test_get_adapter_applies_the_worker_environment_in_process(clean_env: pytest.MonkeyPatch,
                                                               numpy_framework: str) -> None:
    import bench

    # which frameworks this test process imported depends on the tests before it: fix the answer
    clean_env.setattr(process, "imported_frameworks", lambda: [numpy_framework])
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        bench.get_adapter(numpy_framework, device="cpu")
    assert os.environ["CUDA_VISIBLE_DEVICES"] == ""  # a CPU adapter must not touch a GPU, as in a worker
    assert os.environ["XLA_PYTHON_CLIENT_PREALLOCATE"] == "false"  # JAX's registration env (not imported)
    # numpy was imported long before: said so, not silently ignored
    assert any("numpy was imported before bench.get_adapter" in str(w.message) for w in caught)


def test_an_imported_frameworks_variables_are_left_alone(clean_env: pytest.MonkeyPatch) -> None:
    """Set after the framework started, its variables could not reach it, and an adapter trusting them
    would record a setting that is not in force."""
    jax_env = set(registry.get("jax").env) | set(registry.get("jax").env_defaults)
    assert "XLA_PYTHON_CLIENT_PREALLOCATE" in jax_env
    clean_env.setattr(process, "imported_frameworks", lambda: ["jax"])
    env, already = process.apply_in_process(None, "cpu")
    assert already == ["jax"] and "XLA_PYTHON_CLIENT_PREALLOCATE" not in os.environ
    assert env["CUDA_VISIBLE_DEVICES"] == ""


def test_the_benchmark_suite_applies_the_worker_environment(clean_env: pytest.MonkeyPatch) -> None:
    clean_env.setenv("BENCH_PERF_DEVICE", "cpu")
    clean_env.setattr(process, "imported_frameworks", lambda: [])  # as in a fresh pytest process
    spec = importlib.util.spec_from_file_location("bench_perf_steps", ROOT / "benchmarks" / "test_steps.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert module.ENV["CUDA_VISIBLE_DEVICES"] == "" and os.environ["XLA_PYTHON_CLIENT_PREALLOCATE"] == "false"
