"""What a sweep will run, planned before anything runs: one :class:`Job` per (config, round), in
interleaved order, each with the key its records are stored under and the worker task that measures it.
Running them is :mod:`bench.execution.sweep`; skipping the finished ones, :mod:`bench.store.resume`."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

from bench.core import provenance
from bench.core.config import RunConfig
from bench.core.records import JobKey, Measurement
from bench.execution.executor import Task


def key_of(config: RunConfig) -> JobKey:
    """The key a job will be stored under, with this machine's identity (workers record their own)."""
    m = config.model
    ident = provenance.identity(m.device)
    return JobKey(framework=m.framework, mode=config.mode, batch_size=config.batch_size, lrn=m.lrn,
                  compile=str(m.compile), lrn_impl=str(m.lrn_impl), device=m.device, threads=m.threads,
                  host=str(ident["host"]), gpu=ident["gpu"], precision=m.precision, tuning="+".join(m.tuning),
                  model=m.model)


@dataclass(frozen=True)
class Job:
    config: RunConfig
    round: int

    @property
    def key(self) -> JobKey:
        return key_of(self.config)

    def label(self) -> str:
        return f"{self.key.label()} round {self.round + 1}"

    def record(self, status: str, result: dict[str, Any] | None = None, error: str | None = None,
               wall_s: float | None = None, pair: bool = False) -> Measurement:
        c = self.config
        return Measurement.from_result(self.key, self.round, status, result, error, wall_s=wall_s, steps=c.steps,
                                       warmup=c.warmup, include_transfer=c.include_transfer, config=c.to_dict(),
                                       pair=pair)


def plan(frameworks: Sequence[str], modes: Sequence[str], batch_sizes: Sequence[int], lrn_modes: Sequence[bool],
         base: RunConfig, rounds: int = 1, compile_modes: dict[str, str] | None = None,
         lrn_impls: dict[str, str] | None = None, accelerator_types: Sequence[str] = (),
         tunings: dict[str, tuple[str, ...]] | None = None) -> list[Job]:
    """Jobs in interleaved order: every round visits every config once (A B A B, not A A B B). With
    ``accelerator_types`` (Ray), every config once per GPU type."""
    jobs = []
    bases = [replace(base, extra={**base.extra, "accelerator_type": t}) for t in accelerator_types] or [base]
    for r in range(rounds):
        for batch in batch_sizes:
            for mode in modes:
                for lrn in lrn_modes:
                    for fw in frameworks:
                        # replace() keeps every other field of the base model (LRN parameters included);
                        # compile/lrn_impl None fall back to this framework's defaults
                        model = replace(base.model, framework=fw, lrn=lrn, compile=(compile_modes or {}).get(fw),
                                        lrn_impl=(lrn_impls or {}).get(fw), tuning=(tunings or {}).get(fw, ()))
                        jobs += [Job(replace(b, model=model, mode=mode, batch_size=batch), r) for b in bases]
    return jobs


def task_of(job: Job, task: str = "measure") -> Task:
    """The worker task that runs ``job``, as an executor takes it."""
    c = job.config
    return Task(task, {"config": c.to_dict()}, c.model.threads, c.model.device, job.label(),
                c.extra.get("accelerator_type"))
