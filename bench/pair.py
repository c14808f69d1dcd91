"""Worker task ``lrn_pair``: one framework with LRN off and on, built side by side in one process
and timed in interleaved chunks (A B B A ...), so drift and background load hit both equally.
Returns one ordinary measurement record per variant."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

from bench import memory, registry, timing
from bench.config import RunConfig
from bench.measure import host_batches, worker_gemm
from bench.stats import precise_enough
from impls import spec

CHUNK = 5  # synchronised steps per variant per round


def worker_task(params: dict[str, Any], workdir: Path) -> dict[str, Any]:
    cfg = RunConfig.from_dict(params["config"])  # model.lrn is ignored: both variants are built
    cls = registry.adapter_class(cfg.model.framework)
    variants = {lrn: cls(dataclasses.replace(cfg.model, lrn=lrn)) for lrn in (False, True)}
    batches, source = host_batches(cfg)
    staged = {lrn: [a.prepare(x, y) for x, y in batches] for lrn, a in variants.items()}
    compile_ns: dict[bool, int] = {}
    samples: dict[bool, list[int]] = {False: [], True: []}
    peaks: dict[bool, int | None] = {False: None, True: None}
    for lrn, adapter in variants.items():
        t = timing.measure(adapter, staged[lrn], cfg.mode, steps=1, warmup=cfg.warmup)
        compile_ns[lrn] = t.compile_ns
    r = 0
    while True:
        order = (False, True) if r % 2 == 0 else (True, False)
        for lrn in order:
            adapter = variants[lrn]
            adapter.reset_peak_memory()
            samples[lrn] += timing.timed_steps(adapter, staged[lrn], cfg.mode, CHUNK)
            # JAX's peak_bytes_in_use cannot be reset: its per-variant peak would mix both models.
            peak = adapter.memory().get("alloc_peak_bytes") if adapter.can_reset_peak else None
            if peak is not None:
                peaks[lrn] = max(peaks[lrn] or 0, peak)
        r += 1
        n = len(samples[False])
        if n >= cfg.step_cap:
            break
        if n >= cfg.steps and all(precise_enough(s, cfg.target_ci) for s in samples.values()):
            break
    host = memory.snapshot()
    gemm = worker_gemm(cfg.model.framework, cfg.model.device, workdir)
    out = []
    for lrn, adapter in variants.items():
        mem = dict(host)
        mem["alloc_peak_bytes"] = peaks[lrn]
        out.append({**gemm, "lrn": lrn, "data_source": source, "compile_ns": compile_ns[lrn],
                    "samples_ns": samples[lrn],
                    "block_mean_ns": None, "block_steps": 0, "target_ci": cfg.target_ci, "chunk": CHUNK,
                    "rounds_interleaved": r, "flops_per_step": spec.flops_per_step(cfg.mode, cfg.batch_size),
                    "memory": mem, "versions": adapter.versions(), "describe": adapter.describe(),
                    "lrn_impl": adapter.config.lrn_impl})
    return {"variants": out}
