"""Worker task ``measure``: build one adapter, stage batches on the device, run the timing
protocol, and return the raw samples with memory, versions and implementation facts."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import numpy as np

from bench.analysis.stats import precise_enough
from bench.core import contract
from bench.core.config import RunConfig
from bench.worker import equivalence_check, matmul, memory, timing
from bench.worker.batches import host_batches

EXTEND_CHUNK = 10


def extend_to_target(adapter: Any, staged: list[Any], cfg: RunConfig, samples: list[int],
                     clock: timing.Clock = time.perf_counter_ns, counters: timing.Counters | None = None) -> list[int]:
    """With ``target_ci``, add synchronised steps in chunks until the CI is tight or the cap is hit."""
    samples = list(samples)
    while (cfg.target_ci is not None and len(samples) < cfg.step_cap
           and not precise_enough(samples, cfg.target_ci, "median")):
        n = min(EXTEND_CHUNK, cfg.step_cap - len(samples))
        samples += timing.timed_steps(adapter, staged, cfg.mode, n, clock=clock, counters=counters)
    return samples


def run(params: dict[str, Any], workdir: Path) -> dict[str, Any]:
    cfg = RunConfig.from_dict(params["config"])
    adapter = contract.adapter_class(cfg.model.framework)(cfg.model)
    batches, source = host_batches(cfg)
    staged = [adapter.prepare(x, y) for x, y in batches]
    adapter.synchronize()
    block = cfg.block_steps if cfg.block_steps else min(cfg.steps, 20)
    t = timing.measure(adapter, staged, cfg.mode, cfg.steps, cfg.warmup, block_steps=block,
                       host_batches=batches if cfg.include_transfer else None, after_warmup=adapter.reset_peak_memory)
    samples = extend_to_target(adapter, staged, cfg, t.samples_ns, counters=t.counters)
    adapter.synchronize()
    # Memory now, before the loss read-back and the GEMM reference allocate anything of their own.
    mem = memory.snapshot(adapter.memory(), adapter.can_reset_peak)
    final_loss = adapter.loss_value(adapter.train_step(staged[0])) if cfg.mode == "train" else None
    if final_loss is not None and not np.isfinite(final_loss):
        raise FloatingPointError(f"training diverged: loss {final_loss} after {cfg.steps + cfg.warmup + 1} steps")
    gemm = matmul.in_worker(cfg.model.framework, cfg.model.device, cfg.model.precision)  # right after the steps
    # after everything timed and read: the check cannot change what was timed (bench.worker.equivalence_check)
    equivalent = equivalence_check.check(adapter, cfg.mode, contract.adapter_class(cfg.model.framework))
    return {**gemm,
        "data_source": source,
        "compile_ns": t.compile_ns,
        "samples_ns": samples,
        **timing.counter_fields(t.counters),
        "target_ci": cfg.target_ci,
        "block_mean_ns": t.block_mean_ns,
        "block_steps": t.block_steps,
        "flops_per_step": cfg.model.model_spec.flops_per_step(cfg.mode, cfg.batch_size),
        "final_loss": final_loss,
        "memory": mem,
        "versions": adapter.versions(),
        "describe": adapter.describe(),
        "equivalence": equivalent,
    }
