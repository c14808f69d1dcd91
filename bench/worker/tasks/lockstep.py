"""Worker task ``lockstep``: one side of an A/B pair that the parent steers chunk by chunk.

Two workers (say, the base and the candidate revision of bench) are alive at once; the parent lets
them take turns, one synchronised step each by default (A B B A ...), so a stall of the shared
machine or a slow minute hits both sides of the pair, not one. The worker builds, compiles and warms up alone
(the parent starts the other only once this one says ``ready``), then runs the chunks it is told to,
then returns an ordinary measurement result. Only one side computes at any time: the other is
blocked on its channel.

Protocol (JSON lines, :mod:`bench.core.channel`): worker ``{"ready": true}``; parent ``{"steps": k}``
(with several configs, ``{"steps": k, "variant": i}``), worker ``{"done": n}`` (that variant's samples
so far); parent ``{"stop": true}``, worker returns its result. The same worker serves ``bench ab``
(two revisions) and framework comparisons (one worker per framework, :mod:`bench.execution.lockstep`).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from bench.core import contract
from bench.core.channel import Channel
from bench.core.config import RunConfig
from bench.worker import equivalence_check, memory, timing
from bench.worker.batches import host_batches

# With several configs in one worker, each config's peak is its own chunks' (reset before each chunk).
SHARED_PEAK_SCOPE = ("this config's lockstep chunks (peak reset before each; the worker's other configs' models "
                     "stay resident)")


def _result(cfg: RunConfig, adapter: Any, staged: list[Any], source: str, compile_ns: int, samples: list[int],
            counters: timing.Counters, chunks: int, final: bool, peak: int | None = None,
            shared: bool = False) -> dict[str, Any]:
    adapter.synchronize()
    mem = memory.snapshot(adapter.memory(), adapter.can_reset_peak)  # before the loss read-back allocates
    if shared:  # the worker-wide figures stay; the allocator peak is this config's own
        mem["alloc_peak_bytes"] = peak
        mem["alloc_peak_scope"] = SHARED_PEAK_SCOPE if peak is not None else None
    final_loss = adapter.loss_value(adapter.train_step(staged[0])) if final and cfg.mode == "train" else None
    if final_loss is not None and not np.isfinite(final_loss):
        raise FloatingPointError(f"training diverged: loss {final_loss}")
    return {
        "data_source": source,
        "compile_ns": compile_ns,
        "samples_ns": samples,
        **timing.counter_fields(counters),
        "flops_per_step": cfg.model.model_spec.flops_per_step(cfg.mode, cfg.batch_size),
        "final_loss": final_loss,
        "memory": mem,
        "versions": adapter.versions(),
        "describe": adapter.describe(),
        "chunks": chunks,
    }


def run(params: dict[str, Any], workdir: Path) -> dict[str, Any]:
    """One config (``config``, as ``bench ab`` sends), or several (``configs``: variants of one framework
    and batch size, say LRN off and on, train and forward) held by this one worker. With several, each
    ``steps`` message names its ``variant`` and the result is ``{"variants": [...]}``, one per config."""
    many = "configs" in params
    cfgs = [RunConfig.from_dict(c) for c in (params["configs"] if many else [params["config"]])]
    chan = Channel.from_fd(int(params["fd"]))
    cls = contract.adapter_class(cfgs[0].model.framework)
    keys = [json.dumps(c.model.to_dict(), sort_keys=True, default=str) for c in cfgs]
    batches, source = host_batches(cfgs[0])
    adapters: dict[str, Any] = {}  # one model per distinct model config (LRN off, LRN on), shared by modes
    staged: dict[str, list[Any]] = {}
    for cfg, k in zip(cfgs, keys, strict=True):
        if k not in adapters:
            adapters[k] = cls(cfg.model)
            staged[k] = [adapters[k].prepare(x, y) for x, y in batches]
            adapters[k].synchronize()
    # the compile call, then ``warmup`` steps (as ``bench run`` warms up): measure's one timed step is
    # the last of them, its time not kept
    compile_ns = [timing.measure(adapters[k], staged[k], c.mode, steps=1, warmup=max(c.warmup - 1, 0)).compile_ns
                  for c, k in zip(cfgs, keys, strict=True)]
    for adapter in adapters.values():
        # after build and warm-up: the peak covers the lockstep chunks (of every config this model serves)
        adapter.reset_peak_memory()
    host = batches if cfgs[0].include_transfer else None
    chan.send({"ready": True})
    samples: list[list[int]] = [[] for _ in cfgs]
    counters = [timing.Counters() for _ in cfgs]
    chunks = [0] * len(cfgs)
    peaks: list[int | None] = [None] * len(cfgs)
    while not (msg := chan.recv()).get("stop"):
        v = int(msg.get("variant", 0))
        adapter = adapters[keys[v]]
        if many:
            adapter.reset_peak_memory()
        samples[v] += timing.timed_steps(adapter, staged[keys[v]], cfgs[v].mode, int(msg["steps"]),
                                         host_batches=host, offset=len(samples[v]), counters=counters[v])
        if many and adapter.can_reset_peak:  # a peak that cannot be reset would mix the configs
            adapter.synchronize()
            if (peak := adapter.memory().get("alloc_peak_bytes")) is not None:
                peaks[v] = max(peaks[v] or 0, int(peak))
        chunks[v] += 1
        chan.send({"done": len(samples[v])})
    out = [_result(c, adapters[k], staged[k], source, compile_ns[i], samples[i], counters[i], chunks[i],
                   final=True, peak=peaks[i], shared=many) for i, (c, k) in enumerate(zip(cfgs, keys, strict=True))]
    # after the last chunk and every read-out: nothing timed is changed (bench.worker.equivalence_check); one
    # check per model and mode (a train and a forward config of one model are checked each on its own terms)
    checked: dict[tuple[str, str], dict[str, Any]] = {}
    for c, k, result in zip(cfgs, keys, out, strict=True):
        if not params.get("check", True):  # this run checked these configs in an earlier group's workers
            break
        if (k, c.mode) not in checked:
            checked[(k, c.mode)] = equivalence_check.check(adapters[k], c.mode, cls)
        result["equivalence"] = checked[(k, c.mode)]
    return {"variants": out} if many else out[0]
