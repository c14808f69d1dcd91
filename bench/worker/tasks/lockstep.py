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
from bench.worker import memory, timing
from bench.worker.batches import host_batches
from impls import spec


def _result(cfg: RunConfig, adapter: Any, staged: list[Any], source: str, compile_ns: int, samples: list[int],
            counters: timing.Counters, chunks: int, final: bool) -> dict[str, Any]:
    adapter.synchronize()
    mem = memory.snapshot(adapter.memory(), adapter.can_reset_peak)  # before the loss read-back allocates
    final_loss = adapter.loss_value(adapter.train_step(staged[0])) if final and cfg.mode == "train" else None
    if final_loss is not None and not np.isfinite(final_loss):
        raise FloatingPointError(f"training diverged: loss {final_loss}")
    return {
        "data_source": source,
        "compile_ns": compile_ns,
        "samples_ns": samples,
        **timing.counter_fields(counters),
        "flops_per_step": spec.flops_per_step(cfg.mode, cfg.batch_size),
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
    compile_ns = [timing.measure(adapters[k], staged[k], c.mode, steps=1, warmup=c.warmup).compile_ns
                  for c, k in zip(cfgs, keys, strict=True)]
    for adapter in adapters.values():
        # after build and warm-up: the peak covers the lockstep chunks (of every config this model serves)
        adapter.reset_peak_memory()
    host = batches if cfgs[0].include_transfer else None
    chan.send({"ready": True})
    samples: list[list[int]] = [[] for _ in cfgs]
    counters = [timing.Counters() for _ in cfgs]
    chunks = [0] * len(cfgs)
    while not (msg := chan.recv()).get("stop"):
        v = int(msg.get("variant", 0))
        samples[v] += timing.timed_steps(adapters[keys[v]], staged[keys[v]], cfgs[v].mode, int(msg["steps"]),
                                         host_batches=host, offset=len(samples[v]), counters=counters[v])
        chunks[v] += 1
        chan.send({"done": len(samples[v])})
    out = [_result(c, adapters[k], staged[k], source, compile_ns[i], samples[i], counters[i], chunks[i],
                   final=True) for i, (c, k) in enumerate(zip(cfgs, keys, strict=True))]
    return {"variants": out} if many else out[0]
