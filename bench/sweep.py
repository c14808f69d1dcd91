"""A sweep: the planned (framework, config, round) jobs, run one worker each, with every record
appended to the run folder as soon as it exists. Used by ``bench run`` and ``bench compare``."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from bench import registry, results, storage
from bench.config import RunConfig
from bench.env import utc_now
from bench.runner import run_worker

Progress = Callable[[str], None]


@dataclass(frozen=True)
class Job:
    config: RunConfig
    round: int

    def key_fields(self) -> dict[str, Any]:
        m = self.config.model
        return {"framework": m.framework, "mode": self.config.mode, "batch_size": self.config.batch_size,
                "lrn": m.lrn, "compile": m.compile, "lrn_impl": m.lrn_impl, "device": m.device,
                "threads": m.threads}

    def label(self) -> str:
        k = self.key_fields()
        return (f"{k['framework']} {k['mode']} batch {k['batch_size']} LRN {'on' if k['lrn'] else 'off'} "
                f"round {self.round + 1}")


def plan(frameworks: Sequence[str], modes: Sequence[str], batch_sizes: Sequence[int], lrn_modes: Sequence[bool],
         base: RunConfig, rounds: int = 1, compile_modes: dict[str, str] | None = None,
         lrn_impls: dict[str, str] | None = None) -> list[Job]:
    """Jobs in interleaved order: every round visits every config once (A B A B, not A A B B)."""
    jobs = []
    for r in range(rounds):
        for batch in batch_sizes:
            for mode in modes:
                for lrn in lrn_modes:
                    for fw in frameworks:
                        # replace() keeps every other field of the base model (LRN parameters included);
                        # compile/lrn_impl None fall back to this framework's defaults
                        model = replace(base.model, framework=fw, lrn=lrn, compile=(compile_modes or {}).get(fw),
                                        lrn_impl=(lrn_impls or {}).get(fw))
                        jobs.append(Job(replace(base, model=model, mode=mode, batch_size=batch), r))
    return jobs


def record_for(job: Job, status: str, result: dict[str, Any] | None = None, error: str | None = None,
               wall_s: float | None = None) -> dict[str, Any]:
    rec: dict[str, Any] = {"schema_version": results.SCHEMA_VERSION, "kind": "measure", "utc": utc_now(),
                           **job.key_fields(), "round": job.round, "status": status, "error": error,
                           "steps": job.config.steps, "warmup": job.config.warmup,
                           "include_transfer": job.config.include_transfer, "config": job.config.to_dict(),
                           "wall_s": wall_s}
    if result:
        rec.update({k: v for k, v in result.items() if k not in ("status", "error", "traceback")})
    return rec


def done_keys(records: Sequence[dict[str, Any]]) -> set[tuple[Any, ...]]:
    return {results.job_key(r) + (r.get("round", 0),) for r in records
            if r.get("kind", "measure") == "measure" and r.get("status") == "ok"}


def run_gemm(run_dir: Path, frameworks: Sequence[str], device: str, threads: int | None,
             timeout: float | None) -> dict[str, Any] | None:
    """The GEMM reference for 'percent of peak', measured once per run on the same device."""
    for fw in ("torch", "jax", "tensorflow"):
        if fw in frameworks and registry.is_available(fw):
            outcome = run_worker("gemm", {"framework": fw, "device": device}, threads=threads, device=device,
                                 timeout=timeout)
            rec = {"schema_version": results.SCHEMA_VERSION, "kind": "gemm", "utc": utc_now(),
                   "status": outcome.status, "error": outcome.error, "device": device, **outcome.result}
            storage.append_record(run_dir, rec)
            return rec
    return None


def execute(jobs: Sequence[Job], run_dir: Path, timeout: float | None, progress: Progress | None = None,
            after_each: Callable[[], None] | None = None) -> list[dict[str, Any]]:
    """Run every job not already finished in ``run_dir`` (resume), appending each record at once."""
    finished = done_keys(storage.read_records(run_dir))
    out = []
    for i, job in enumerate(jobs):
        fields = job.key_fields()
        if tuple(fields.values()) + (job.round,) in finished:
            continue
        if progress:
            progress(f"[{i + 1}/{len(jobs)}] {job.label()}")
        fw = job.config.model.framework
        if not registry.is_available(fw):
            rec = record_for(job, "skipped", error=f"not installed: {registry.install_hint(fw)}")
        else:
            outcome = run_worker("measure", {"config": job.config.to_dict()}, threads=job.config.model.threads,
                                 device=job.config.model.device, timeout=timeout)
            rec = record_for(job, outcome.status, outcome.result, outcome.error, outcome.wall_s)
        storage.append_record(run_dir, rec)
        out.append(rec)
        if after_each:
            after_each()
    return out
