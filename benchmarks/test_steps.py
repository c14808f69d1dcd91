"""One benchmark per framework x mode: a training step (forward, backward, Adam) and an inference
forward pass at batch 128, the device synchronised inside the timed call, the batches staged on the
device and the model compiled and warmed up before timing. ``extra_info`` carries what identifies the
row (versions, compile mode, LRN implementation, device, data) so saves from different setups never
look alike.

    nox -s perf -- --benchmark-autosave --benchmark-save-data
    python -m bench check --baseline .benchmarks/torch/*/0001_*.json --candidate .benchmarks/torch/*/0002_*.json

``BENCH_PERF_ROUNDS`` (30) timed rounds, ``BENCH_PERF_BATCH`` (128) and ``BENCH_PERF_DEVICE`` (auto: the
GPU when NVML sees one).
"""

from __future__ import annotations

import itertools
import os
from typing import Any

import pytest

from bench.core import contract, provenance, registry
from bench.core.config import ModelConfig, RunConfig
from bench.model import spec
from bench.worker import process, timing
from bench.worker.batches import host_batches

BATCH = int(os.environ.get("BENCH_PERF_BATCH", "128"))
ROUNDS = int(os.environ.get("BENCH_PERF_ROUNDS", "30"))
WARMUP = 5


def _device() -> str:
    choice = os.environ.get("BENCH_PERF_DEVICE", "auto")
    return ("gpu" if provenance.has_gpu() else "cpu") if choice == "auto" else choice


# What a worker sets before any framework loads (JAX would otherwise preallocate 75% of the GPU, and a GPU
# job would see every GPU), set at collection, before the framework fixture imports one.
ENV, ALREADY_IMPORTED = process.apply_in_process(None, _device())


@pytest.fixture(scope="module", params=[pytest.param(fw, id=fw, marks=getattr(pytest.mark, fw))
                                        for fw in registry.names()])
def framework(request: pytest.FixtureRequest) -> str:
    name = str(request.param)
    reg = registry.get(name)
    if name in ALREADY_IMPORTED and (reg.env or reg.env_defaults or reg.cpu_env):  # its variables came too late
        pytest.fail(f"{name} was imported before the benchmark environment was set ({ENV}); run one framework "
                    "per pytest process (nox -s perf)")
    for module in reg.requires:  # a broken install fails instead of skipping
        pytest.importorskip(module, exc_type=ModuleNotFoundError)
    return name


@pytest.mark.parametrize("mode", ["train", "forward"])
def test_step(benchmark: Any, framework: str, mode: str) -> None:
    cfg = RunConfig(ModelConfig(framework, device=_device()), mode=mode, batch_size=BATCH, data="auto")
    adapter = contract.adapter_class(framework)(cfg.model)
    batches, source = host_batches(cfg)
    staged = [adapter.prepare(x, y) for x, y in batches]
    compile_ns = timing.measure(adapter, staged, mode, steps=1, warmup=WARMUP).compile_ns  # compile + warm up
    step = timing.step_fn(adapter, mode)
    cycle = itertools.cycle(staged)

    def next_batch() -> tuple[tuple[Any], dict[str, Any]]:  # untimed: pytest-benchmark's setup
        return (next(cycle),), {}

    def synchronised_step(batch: Any) -> None:
        step(batch)
        adapter.synchronize()

    benchmark.extra_info.update({
        "framework": framework, "mode": mode, "batch_size": BATCH, "lrn": cfg.model.lrn,
        "compile": cfg.model.compile, "lrn_impl": cfg.model.lrn_impl, "device": cfg.model.device,
        "data_source": source, "compile_s": compile_ns / 1e9, "flops_per_step": spec.flops_per_step(mode, BATCH),
        "versions": adapter.versions(), "describe": adapter.describe(), "worker_env": ENV,
    })
    benchmark.pedantic(synchronised_step, setup=next_batch, rounds=ROUNDS, warmup_rounds=WARMUP, iterations=1)
