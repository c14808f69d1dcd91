"""Worker task ``lrn_pair``: one framework with LRN off and on, built side by side in one process
and timed in interleaved chunks (A B B A ...), so drift and background load hit both equally.
Returns one ordinary measurement record per variant.

Every option of the measurement protocol applies as in ``measure``: ``include_transfer`` puts each
step's host-to-device copy inside its timed region, ``block_steps`` adds a pipelined block per
variant (timed between two syncs, after the interleaved chunks), ``target_ci`` and ``max_steps``
drive the stop rule."""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from bench.analysis.stats import precise_enough
from bench.core import contract
from bench.core.config import RunConfig
from bench.worker import equivalence_check, matmul, memory, timing
from bench.worker.batches import host_batches

CHUNK = 5  # synchronised steps per variant per round
PAIR_PEAK_SCOPE = ("this variant's measured chunks (peak reset before each; the other variant's weights, "
                   "optimiser state and batches resident too, the same for both)")


def interleave(variants: Mapping[bool, Any], staged: Mapping[bool, Sequence[Any]], cfg: RunConfig,
               host: Sequence[tuple[Any, Any]] | None = None, chunk: int = CHUNK,
               clock: timing.Clock = time.perf_counter_ns, counters: Mapping[bool, timing.Counters] | None = None,
               ) -> tuple[dict[bool, list[int]], dict[bool, int | None], int]:
    """Chunks of ``chunk`` synchronised steps per variant, order alternating A B, B A, ... Stops once
    both variants have ``cfg.steps`` samples and both medians' CIs are within ``cfg.target_ci``, or at
    ``cfg.step_cap`` samples. Returns the samples, each variant's allocator peak, and the rounds."""
    samples: dict[bool, list[int]] = {lrn: [] for lrn in variants}
    # The caller's counters are filled in place (its records carry them); it may pass none.
    per_step = {lrn: timing.Counters() for lrn in variants} if counters is None else counters
    peaks: dict[bool, int | None] = {lrn: None for lrn in variants}
    keys = list(variants)
    r = 0
    while True:
        order = keys if r % 2 == 0 else keys[::-1]
        for lrn in order:
            adapter = variants[lrn]
            adapter.reset_peak_memory()
            samples[lrn] += timing.timed_steps(adapter, staged[lrn], cfg.mode, chunk, clock=clock, host_batches=host,
                                               offset=len(samples[lrn]), counters=per_step[lrn])
            # An allocator peak that cannot be reset (can_reset_peak False) would mix both models.
            peak = adapter.memory().get("alloc_peak_bytes") if adapter.can_reset_peak else None
            if peak is not None:
                peaks[lrn] = max(peaks[lrn] or 0, peak)
        r += 1
        n = min(len(s) for s in samples.values())
        if n >= cfg.step_cap:
            return samples, peaks, r
        if n >= cfg.steps and all(precise_enough(s, cfg.target_ci, "median") for s in samples.values()):
            return samples, peaks, r


def run(params: dict[str, Any], workdir: Path) -> dict[str, Any]:
    cfg = RunConfig.from_dict(params["config"])  # model.lrn is ignored: both variants are built
    cls = contract.adapter_class(cfg.model.framework)
    variants = {lrn: cls(dataclasses.replace(cfg.model, lrn=lrn)) for lrn in (False, True)}
    batches, source = host_batches(cfg)
    staged = {lrn: [a.prepare(x, y) for x, y in batches] for lrn, a in variants.items()}
    compile_ns = {lrn: timing.measure(a, staged[lrn], cfg.mode, steps=1, warmup=cfg.warmup).compile_ns
                  for lrn, a in variants.items()}
    counters = {lrn: timing.Counters() for lrn in variants}
    samples, peaks, rounds = interleave(variants, staged, cfg, batches if cfg.include_transfer else None,
                                        counters=counters)
    block = cfg.block_steps if cfg.block_steps else min(cfg.steps, 20)
    blocks = {lrn: timing.timed_block(a, staged[lrn], cfg.mode, block) for lrn, a in variants.items()}
    first = next(iter(variants.values()))
    first.synchronize()
    # Read before the GEMM reference allocates. The pool and NVML's figures are the process's, holding
    # both models; only the allocator peak, reset before each chunk, is one variant's.
    shared = memory.snapshot(first.memory(), first.can_reset_peak)
    ref = matmul.in_worker(cfg.model.framework, cfg.model.device, cfg.model.precision)
    # after everything timed and read (bench.worker.equivalence_check): each variant's own config
    equivalent = {lrn: equivalence_check.check(a, cfg.mode, cls) for lrn, a in variants.items()}
    out = []
    for lrn, adapter in variants.items():
        mem = dict(shared)
        mem["alloc_peak_bytes"] = peaks[lrn]
        mem["alloc_peak_scope"] = PAIR_PEAK_SCOPE if peaks[lrn] is not None else None
        mem["shared_with_other_variant"] = ["alloc_reserved_bytes", "nvml_process_bytes", "nvml_device_used_bytes"]
        out.append({**ref, "lrn": lrn, "data_source": source, "compile_ns": compile_ns[lrn],
                    "samples_ns": samples[lrn], **timing.counter_fields(counters[lrn]),
                    "block_mean_ns": blocks[lrn] / block,
                    "block_steps": block,
                    "target_ci": cfg.target_ci, "chunk": CHUNK, "rounds_interleaved": rounds,
                    "flops_per_step": cfg.model.model_spec.flops_per_step(cfg.mode, cfg.batch_size),
                    "memory": mem, "versions": adapter.versions(), "describe": adapter.describe(),
                    "equivalence": equivalent[lrn]})
    return {"variants": out}
