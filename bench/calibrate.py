"""How good is the instrument? Timer resolution, the cost of one device synchronisation, a GEMM
reference for 'percent of peak', and the harness's own overhead against a bare loop.

Worker tasks ``gemm`` and ``calibrate`` (one framework per process, like every measurement).
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import numpy as np

from bench import registry, timing
from bench.config import ModelConfig
from bench.stats import Ratio, Stats

GEMM_N = {"cpu": 2048, "gpu": 8192}
GEMM_REPEATS = 5


def _gemm_seconds(framework: str, device: str, n: int, repeats: int) -> list[float]:
    """Wall time of ``repeats`` float32 n x n x n matmuls in ``framework``, each synchronised."""
    times = []
    if framework == "torch":
        import torch

        torch.backends.cuda.matmul.allow_tf32 = False
        dev = torch.device("cuda" if device == "gpu" else "cpu")
        a, b = torch.randn(n, n, device=dev), torch.randn(n, n, device=dev)

        def sync() -> None:
            if dev.type == "cuda":
                torch.cuda.synchronize()

        run: Any = lambda: torch.mm(a, b)  # noqa: E731
    elif framework == "jax":
        import jax
        import jax.numpy as jnp

        d = jax.devices("gpu" if device == "gpu" else "cpu")[0]
        a = jax.device_put(np.random.default_rng(0).standard_normal((n, n), np.float32), d)
        f = jax.jit(lambda x, y: jnp.matmul(x, y, precision=jax.lax.Precision.HIGHEST))
        out: list[Any] = [None]

        def run() -> Any:
            out[0] = f(a, a)
            return out[0]

        def sync() -> None:
            if out[0] is not None:
                out[0].block_until_ready()
    else:
        import tensorflow as tf

        name = "/GPU:0" if device == "gpu" else "/CPU:0"
        with tf.device(name):
            a = tf.random.normal((n, n))
        f = tf.function(lambda x: tf.matmul(x, x))
        res: list[Any] = [None]

        def run() -> Any:
            with tf.device(name):
                res[0] = f(a)
            return res[0]

        def sync() -> None:
            if res[0] is not None:
                res[0].numpy()[0, 0]
    run()
    sync()
    for _ in range(repeats):
        t0 = time.perf_counter()
        run()
        sync()
        times.append(time.perf_counter() - t0)
    return times


def gemm_task(params: dict[str, Any], workdir: Path) -> dict[str, Any]:
    fw, device = params["framework"], params["device"]
    n = int(params.get("n") or GEMM_N[device])
    times = _gemm_seconds(fw, device, n, int(params.get("repeats", GEMM_REPEATS)))
    best = min(times)
    return {"kind": "gemm", "device": device, "framework": fw, "n": n, "seconds": times,
            "flops_per_s": 2 * n**3 / best,
            "source": f"{fw} float32 {n}x{n} matmul, best of {len(times)}"}


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


def worker_task(params: dict[str, Any], workdir: Path) -> dict[str, Any]:
    """Sync cost, GEMM peak and harness overhead for one framework, interleaved in one process."""
    from bench.config import RunConfig
    from bench.measure import host_batches

    fw, device = params["framework"], params["device"]
    cfg = RunConfig(ModelConfig(fw, device=device, threads=params.get("threads")),
                    batch_size=int(params["batch_size"]), data=params.get("data", "synthetic"),
                    data_dir=params.get("data_dir"))
    adapter = registry.adapter_class(fw)(cfg.model)
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
    gemm = gemm_task({"framework": fw, "device": device}, workdir)
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
        "gemm_gflops": gemm["flops_per_s"] / 1e9, "gemm_source": gemm["source"],
        "versions": adapter.versions(),
    }
