"""Worker task ``calibrate``: how good is the instrument? Timer resolution, the cost of one device
synchronisation, the GEMM reference for 'percent of peak', and the harness's own overhead against
a bare loop, for one framework per process like every measurement."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import numpy as np

from bench.analysis.stats import Ratio, Stats
from bench.core import contract
from bench.core.config import ModelConfig, RunConfig
from bench.worker import matmul, timing
from bench.worker.batches import host_batches


def timer_resolution_ns(samples: int = 10000) -> dict[str, float]:
    """Declared resolution and the smallest non-zero step seen between consecutive readings."""
    info = time.get_clock_info("perf_counter")
    deltas = []
    for _ in range(samples):
        a = time.perf_counter_ns()
        b = time.perf_counter_ns()
        while b == a:
            b = time.perf_counter_ns()
        deltas.append(b - a)
    return {"declared_ns": info.resolution * 1e9, "observed_min_ns": float(min(deltas)),
            "observed_median_ns": float(np.median(deltas))}


def run(params: dict[str, Any], workdir: Path) -> dict[str, Any]:
    """Sync cost, GEMM peak and harness overhead for one framework, interleaved in one process."""
    fw, device = params["framework"], params["device"]
    cfg = RunConfig(ModelConfig(fw, device=device, threads=params.get("threads")),
                    batch_size=int(params["batch_size"]), data=params.get("data", "synthetic"),
                    data_dir=params.get("data_dir"))
    adapter = contract.adapter_class(fw)(cfg.model)
    batches, _ = host_batches(cfg)
    staged = [adapter.prepare(x, y) for x, y in batches]
    timing.measure(adapter, staged, "train", steps=1, warmup=int(params.get("warmup", 3)))
    sync_ns = []
    for _ in range(200):
        t0 = time.perf_counter_ns()
        adapter.synchronize()
        sync_ns.append(time.perf_counter_ns() - t0)
    steps, rounds = int(params.get("steps", 3)), int(params.get("rounds", 8))
    bare, harness = [], []
    for _ in range(rounds):  # interleaved: bare, harness, bare, harness ...
        bare.append(timing.bare_loop(adapter, staged, "train", steps))
        harness.append(float(np.mean(timing.timed_steps(adapter, staged, "train", steps))))
    overhead = Ratio.of(bare, harness)
    # What the harness adds to every step, measured directly: the timed region around a no-op step
    # (two syncs on an idle device, two clock reads, the call and the store).
    noop = timing.timed_region(lambda i: None, adapter.synchronize, 2000, time.perf_counter_ns)
    harness_cost_ns = float(np.mean(noop))
    ref = matmul.reference(fw, device)
    return {
        "framework": fw, "device": device, "batch_size": cfg.batch_size,
        "timer": timer_resolution_ns(),
        "sync_idle_ns": Stats.from_samples(sync_ns).median,
        "bare_mean_ms": float(np.mean(bare)) / 1e6,
        "harness_mean_ms": float(np.mean(harness)) / 1e6,
        "overhead_ratio": overhead.ratio, "overhead_ci": [overhead.ci_low, overhead.ci_high],
        "overhead_verdict": overhead.verdict, "rounds": rounds, "steps_per_round": steps,
        "harness_cost_us": harness_cost_ns / 1e3,
        "harness_cost_pct": 100 * harness_cost_ns / (float(np.mean(bare)) or 1.0),
        "gemm_gflops": ref["flops_per_s"] / 1e9, "gemm_source": ref["source"],
        "versions": adapter.versions(),
    }
