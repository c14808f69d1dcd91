"""The workers behind ``bench compare``: LRN off/on pairs (one worker measures both, interleaved) and
the LRN layer micro-benchmark; every record is appended as soon as its worker ends."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from bench.analysis.stop_rule import median_half_width
from bench.core import records, registry, storage
from bench.core.config import RunConfig
from bench.core.records import JobKey
from bench.execution.executor import Executor
from bench.execution.executors import PoolExecutor
from bench.execution.planning import Job, task_of
from bench.execution.runner import run_worker
from bench.execution.sweep import extra_rounds
from bench.store.resume import pending


def run_layer(run_dir: Path, frameworks: Sequence[str], device: str, batch: int, steps: int, threads: int | None,
              lrn_params: dict[str, Any], timeout: float | None, progress: Callable[[str], None],
              precision: str = "strict", model: str = "mnist") -> None:
    """The LRN layer micro-benchmark per framework, at the run's precision and ``model``'s LRN shapes:
    ``--lrn-impl fastest`` must choose among variants timed as the model of that precision will run them."""
    for fw in frameworks:
        reg = registry.get(fw)
        if not reg.is_available():
            continue
        progress(f"LRN layer micro-benchmark: {fw} ({', '.join(reg.lrn_impls)})")
        params = {"framework": fw, "device": device, "batch_size": batch, "steps": steps, "rounds": 4,
                  "lrn_params": lrn_params, "precision": precision, "model": model}
        out = run_worker("lrn_layer", params, threads=threads, device=device, timeout=timeout)
        storage.append_record(run_dir, {**out.result, **records.header("lrn_layer"), "framework": fw,
                                        "device": device, "status": out.status, "error": out.error,
                                        "wall_s": out.wall_s})


def run_pairs(run_dir: Path, configs: Sequence[RunConfig], rounds: int, timeout: float | None,
              progress: Callable[[str], None], after_each: Callable[[], None],
              notify: Callable[[str], None] | None = None, max_rounds: int = 0,
              executor: Executor | None = None) -> None:
    """LRN off/on pairs, one worker per (config, round), rounds interleaved across configs; both
    records appended as soon as a pair finishes. A pair whose two halves are finished is skipped
    (resume). Then, up to ``max_rounds`` processes, one more round for every config whose off or on
    interval is still wider than its ``target_ci``."""
    executor = executor or PoolExecutor()

    def jobs_of(cfg: RunConfig, r: int) -> dict[bool, Job]:
        return {lrn: Job(replace(cfg, model=replace(cfg.model, lrn=lrn)), r) for lrn in (False, True)}

    planned = [(cfg, jobs_of(cfg, r)) for r in range(rounds) for cfg in configs]
    todo = {id(j) for j in pending([j for _, js in planned for j in js.values()], run_dir, notify, executor.remote)}
    _run_pairs(run_dir, [(c, js) for c, js in planned if any(id(j) in todo for j in js.values())],
               timeout, progress, after_each, executor)

    def width(key: JobKey, recs: list[dict[str, Any]]) -> float | None:
        halves = [median_half_width(replace(key, lrn=lrn), recs) for lrn in (False, True)]
        return None if None in halves else max(h for h in halves if h is not None)

    by_key = {jobs_of(cfg, 0)[False].key: cfg for cfg in configs}
    while more := extra_rounds([jobs_of(cfg, 0)[False] for cfg in configs], run_dir, max_rounds, width):
        if notify:
            notify(f"interval wider than --target-ci: one more worker process for {len(more)} pair(s): "
                   + "; ".join(j.key.label().replace(" LRN off", "") for j in more))
        _run_pairs(run_dir, [(by_key[j.key], jobs_of(by_key[j.key], j.round)) for j in more], timeout, progress,
                   after_each, executor)


def _run_pairs(run_dir: Path, todo: Sequence[tuple[RunConfig, dict[bool, Any]]], timeout: float | None,
               progress: Callable[[str], None], after_each: Callable[[], None], executor: Executor) -> None:
    runnable = []
    for cfg, jobs in todo:
        fw = cfg.model.framework
        if registry.is_available(fw):
            runnable.append((cfg, jobs))
            continue
        for job in jobs.values():
            storage.append_record(run_dir, job.record("skipped", error=registry.install_hint(fw)).to_dict())

    def started(i: int) -> None:
        cfg, jobs = runnable[i]
        progress(f"[{i + 1}/{len(runnable)}] LRN off vs on: {cfg.model.framework} {cfg.mode} batch {cfg.batch_size} "
                 f"round {jobs[False].round + 1}")

    tasks = [task_of(replace(jobs[False], config=cfg), "lrn_pair") for cfg, jobs in runnable]
    with contextlib.closing(executor.map(tasks, timeout, started)) as finished:
        for i, out in finished:
            _record_pair(run_dir, runnable[i][1], out)
            after_each()


def _record_pair(run_dir: Path, jobs: dict[bool, Any], out: Any) -> None:
    """Both halves of an LRN off/on worker's outcome, as the two records they are."""
    for lrn, job in jobs.items():
        if out.status == "ok":
            variant = next(v for v in out.result["variants"] if v["lrn"] == lrn)
            variant = {**variant, **{k: out.result.get(k) for k in ("identity", "worker_env", "fingerprint", "code")}}
            rec = job.record("ok", variant, wall_s=out.wall_s, pair=True)
        else:
            rec = job.record(out.status, error=out.error, wall_s=out.wall_s, pair=True)
        storage.append_record(run_dir, rec.to_dict())
