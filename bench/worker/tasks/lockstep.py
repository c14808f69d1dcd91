"""Worker task ``lockstep``: one side of an A/B pair that the parent steers chunk by chunk.

Two workers (say, the base and the candidate revision of bench) are alive at once; the parent lets
them take turns, one synchronised step each by default (A B B A ...), so a stall of the shared
machine or a slow minute hits both sides of the pair, not one. The worker builds, compiles and warms up alone
(the parent starts the other only once this one says ``ready``), then runs the chunks it is told to,
then returns an ordinary measurement result. Only one side computes at any time: the other is
blocked on its channel.

Protocol (JSON lines, :mod:`bench.core.channel`): worker ``{"ready": true}``; parent ``{"steps": k}``,
worker ``{"done": n}`` (samples so far); parent ``{"stop": true}``, worker returns its result.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from bench.core import contract
from bench.core.channel import Channel
from bench.core.config import RunConfig
from bench.worker import memory, timing
from bench.worker.batches import host_batches
from impls import spec


def run(params: dict[str, Any], workdir: Path) -> dict[str, Any]:
    cfg = RunConfig.from_dict(params["config"])
    chan = Channel.from_fd(int(params["fd"]))
    adapter = contract.adapter_class(cfg.model.framework)(cfg.model)
    batches, source = host_batches(cfg)
    staged = [adapter.prepare(x, y) for x, y in batches]
    adapter.synchronize()
    adapter.reset_peak_memory()
    compile_ns = timing.measure(adapter, staged, cfg.mode, steps=1, warmup=cfg.warmup).compile_ns
    host = batches if cfg.include_transfer else None
    chan.send({"ready": True})
    samples: list[int] = []
    counters = timing.Counters()
    chunks = 0
    while not (msg := chan.recv()).get("stop"):
        samples += timing.timed_steps(adapter, staged, cfg.mode, int(msg["steps"]), host_batches=host,
                                      offset=len(samples), counters=counters)
        chunks += 1
        chan.send({"done": len(samples)})
    final_loss = adapter.loss_value(adapter.train_step(staged[0])) if cfg.mode == "train" else None
    if final_loss is not None and not np.isfinite(final_loss):
        raise FloatingPointError(f"training diverged: loss {final_loss}")
    return {
        "data_source": source,
        "compile_ns": compile_ns,
        "samples_ns": samples,
        **timing.counter_fields(counters),
        "flops_per_step": spec.flops_per_step(cfg.mode, cfg.batch_size),
        "final_loss": final_loss,
        "memory": memory.snapshot(adapter.memory()),
        "versions": adapter.versions(),
        "describe": adapter.describe(),
        "chunks": chunks,
    }
