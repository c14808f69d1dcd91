"""Worker task ``profile``: where one framework spends a step, measured four ways in one process.

1. The whole step, synchronised, as ``bench run`` times it (the figure the layers must add up to).
2. The framework's own profiler over a few steps of the real model (:meth:`FrameworkAdapter.profile`):
   its ops attributed to the spec's scopes, its trace written into the run folder.
3. Every scope alone at its real shapes (:meth:`FrameworkAdapter.isolated`): forward and forward +
   backward, the scopes interleaved round by round so the machine's drift hits all of them.
4. The fixed cost of a step: the same step at batch 1, where almost nothing is arithmetic, so that
   t(batch) = fixed + batch x per-image splits the step into dispatch and work; and the host time
   until a step call returns against the time until the device is idle.

Everything is returned raw; the parent (:mod:`bench.analysis.attribution`) builds the tables.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench.core import contract
from bench.core.config import RunConfig
from bench.worker import matmul, timing
from bench.worker.batches import host_batches

TINY_BATCH = 1


def _ignore_index(call: Callable[[], Any]) -> Callable[[int], Any]:
    return lambda i: call()


def _isolated(adapter: Any, cfg: RunConfig, rounds: int, steps: int) -> list[dict[str, Any]]:
    cases = []
    for scope in cfg.model.model_spec.scopes(cfg.model.lrn):
        if cfg.mode == "forward" and scope.kind in ("loss", "optimizer"):
            continue
        iso = adapter.isolated(scope, cfg.batch_size, cfg.mode)
        calls = {"forward": iso.forward, "forward_backward": iso.forward_backward}
        for call in calls.values():
            if call is not None:  # trace / compile / first touch, outside any timed call
                call()
                call()
        iso.sync()
        cases.append({"scope": scope.name, "iso": iso, "calls": calls,
                      "samples": {k: [] for k, v in calls.items() if v is not None}})
    for r in range(rounds):  # interleaved: every scope once per round, the order rotated
        for case in cases[r % len(cases):] + cases[: r % len(cases)]:
            for direction, call in case["calls"].items():
                if call is not None:
                    case["samples"][direction] += timing.timed_region(_ignore_index(call), case["iso"].sync,
                                                                      steps, time.perf_counter_ns)
    return [{"scope": c["scope"], **{f"{k}_ns": v for k, v in c["samples"].items()}} for c in cases]


def run(params: dict[str, Any], workdir: Path) -> dict[str, Any]:
    cfg = RunConfig.from_dict(params["config"])
    trace_dir = Path(params["trace_dir"])
    trace_dir.mkdir(parents=True, exist_ok=True)
    adapter = contract.adapter_class(cfg.model.framework)(cfg.model)
    batches, source = host_batches(cfg)
    staged = [adapter.prepare(x, y) for x, y in batches]
    whole = timing.measure(adapter, staged, cfg.mode, cfg.steps, cfg.warmup)
    out: dict[str, Any] = {"data_source": source, "compile_ns": whole.compile_ns, "samples_ns": whole.samples_ns,
                           **timing.counter_fields(whole.counters), "versions": adapter.versions(),
                           "describe": adapter.describe(),
                           "flops_per_step": cfg.model.model_spec.flops_per_step(cfg.mode, cfg.batch_size)}
    try:
        prof = adapter.profile(staged[0], cfg.mode, int(params.get("profile_steps", 3)), trace_dir)
        out["profile"] = {"ops": [vars(op) for op in prof.ops], "steps": prof.steps, "traces": prof.traces,
                          "clock": prof.clock, "notes": prof.notes}
    except NotImplementedError as exc:
        out["profile"] = {"unsupported": str(exc)}
    try:
        out["isolated"] = _isolated(adapter, cfg, int(params.get("rounds", 3)), int(params.get("layer_steps", 3)))
    except NotImplementedError as exc:
        out["isolated"] = {"unsupported": str(exc)}
    x, y = batches[0]
    tiny = [adapter.prepare(x[:TINY_BATCH], y[:TINY_BATCH])]
    out["tiny_batch"] = TINY_BATCH
    out["tiny_samples_ns"] = timing.measure(adapter, tiny, cfg.mode, cfg.steps, cfg.warmup).samples_ns
    out["dispatch_ns"], out["dispatch_total_ns"] = timing.dispatch_split(adapter, staged, cfg.mode, cfg.steps)
    out.update(matmul.in_worker(cfg.model.framework, cfg.model.device, cfg.model.precision))
    return out
