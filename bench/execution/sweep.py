"""A sweep, parent side: the planned (config, round) jobs, run one worker each, with every record
appended to the run folder as soon as it exists. Used by ``bench run`` and ``bench compare``."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from bench.core import fingerprint, provenance, records, registry, storage
from bench.core.config import RunConfig
from bench.core.errors import UsageError
from bench.core.records import JobKey, Measurement
from bench.execution.executor import Executor, Task
from bench.execution.executors import PoolExecutor
from bench.execution.runner import run_worker

Progress = Callable[[str], None]


def key_of(config: RunConfig) -> JobKey:
    """The key a job will be stored under, with this machine's identity (workers record their own)."""
    m = config.model
    ident = provenance.identity(m.device)
    return JobKey(framework=m.framework, mode=config.mode, batch_size=config.batch_size, lrn=m.lrn,
                  compile=str(m.compile), lrn_impl=str(m.lrn_impl), device=m.device, threads=m.threads,
                  host=str(ident["host"]), gpu=ident["gpu"], precision=m.precision, tuning="+".join(m.tuning))


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


def _anywhere(key: JobKey, config: dict[str, Any]) -> tuple[JobKey, Any]:
    """A job's identity on a cluster: its key on no machine in particular, and the GPU type it asked for."""
    return replace(key, host="", gpu=None), (config.get("extra") or {}).get("accelerator_type")


def pending(jobs: Sequence[Job], run_dir: Path, notify: Progress | None = None, remote: bool = False) -> list[Job]:
    """The jobs ``run_dir`` has not finished; tells ``notify`` which finished ones a resume skips. With
    ``remote`` (an executor that places jobs on other machines) a job counts as done on any machine."""
    ms = records.measurements(storage.read_records(run_dir))
    finished: set[Any] = records.done(ms)
    if remote:
        finished = {(_anywhere(m.key, m.config), m.round) for m in ms if m.status == "ok"}

    def is_done(j: Job) -> bool:
        return ((_anywhere(j.key, j.config.to_dict()) if remote else j.key), j.round) in finished

    todo = [j for j in jobs if not is_done(j)]
    skipped = [j for j in jobs if is_done(j)]
    refuse_mixed_code(ms, {j.key.framework for j in jobs}, run_dir)
    if skipped and notify:
        notify(f"resume: {len(skipped)} of {len(jobs)} jobs already finished in {run_dir}, skipped: "
                 + "; ".join(j.label() for j in skipped))
    return todo


def check_resumable(run_dir: Path, frameworks: Sequence[str]) -> None:
    """Refuse (one line) before anything runs when ``run_dir``'s finished records of ``frameworks`` were
    measured with other framework versions or other code than this checkout's (see :func:`refuse_mixed_code`)."""
    refuse_mixed_code(records.measurements(storage.read_records(run_dir)), set(frameworks), run_dir)


def refuse_mixed_code(ms: Sequence[Measurement], frameworks: set[str], run_dir: Path) -> None:
    """Resuming pools the new rounds with the stored ones, so the stored ones must have been measured
    with the framework versions installed now and the same measuring code (:mod:`bench.core.fingerprint`);
    otherwise one line naming the difference, checked once per distinct stamp of the stored records.
    Records from before fingerprints have only their versions checked (the summary keeps them apart)."""
    seen: set[tuple[str, fingerprint.Stamp]] = set()
    for m in ms:
        stamp = (m.key.framework, fingerprint.Stamp.of(m))
        if m.status != "ok" or m.key.framework not in frameworks or stamp in seen:
            continue
        seen.add(stamp)
        diff = fingerprint.resume_difference(m, registry.get(m.key.framework).packages)
        if diff:
            raise UsageError(f"cannot resume {run_dir}: {m.key.framework}: {diff} since the first record "
                             f"({m.utc}); start a new run folder or pass --resume only with the same code")


def run_gemm(run_dir: Path, frameworks: Sequence[str], device: str, threads: int | None,
             timeout: float | None) -> dict[str, Any] | None:
    """The run-level GEMM reference for 'percent of peak' (each timing worker also measures its own)."""
    for fw in registry.gemm_order():
        if fw in frameworks and registry.is_available(fw):
            outcome = run_worker("gemm", {"framework": fw, "device": device}, threads=threads, device=device,
                                 timeout=timeout)
            rec = {**records.header("gemm"), "status": outcome.status, "error": outcome.error, "device": device,
                   **outcome.result}
            storage.append_record(run_dir, rec)
            return rec
    return None


def extra_rounds(jobs: Sequence[Job], run_dir: Path, max_rounds: int,
                 width: Callable[[JobKey, list[dict[str, Any]]], float | None]) -> list[Job]:
    """The stop rule across processes: one more round (worker process) for every config whose
    two-level interval is still wider than its ``target_ci`` (``width`` gives the half-width in %,
    None when unknown), until it has ``max_rounds`` finished processes. More steps per process cannot
    narrow the part of the interval that comes from processes differing; only more processes can."""
    recs = storage.read_records(run_dir)
    tried = {(m.key, m.round) for m in records.measurements(recs)}  # failed rounds count: no endless retries
    out: list[Job] = []
    seen: set[JobKey] = set()
    for job in jobs:
        target = job.config.target_ci
        if job.key in seen or target is None:
            continue
        seen.add(job.key)
        rounds = [r for k, r in tried if k == job.key]
        half = width(job.key, recs)
        if rounds and len(rounds) < max_rounds and half is not None and not half <= target:
            out.append(Job(job.config, max(rounds) + 1))
    return out


def median_half_width(key: JobKey, recs: list[dict[str, Any]]) -> float | None:
    """The half-width (% of the estimate) of the median's two-level interval for ``key``."""
    from bench.analysis.intervals import TwoLevel

    groups = [m.samples_ns for m in records.latest_per_round(records.measurements(recs)) if m.key == key and m.ok]
    return TwoLevel.of(groups, "median").half_width_pct if len(groups) > 1 else None


def execute(jobs: Sequence[Job], run_dir: Path, timeout: float | None, progress: Progress | None = None,
            after_each: Callable[[], None] | None = None, notify: Progress | None = None,
            max_rounds: int = 0, executor: Executor | None = None) -> list[Measurement]:
    """Run every job not already finished in ``run_dir`` (resume), appending each record at once;
    then, up to ``max_rounds`` processes per config, more rounds where the interval is too wide.
    ``executor`` (:mod:`bench.execution.executors`; default local, serial) decides where the workers run; the
    records are written here, by this process only."""
    executor = executor or PoolExecutor()
    out = _run(pending(jobs, run_dir, notify, executor.remote), run_dir, timeout, progress, after_each, executor)
    while more := extra_rounds(jobs, run_dir, max_rounds, median_half_width):
        if notify:
            notify(f"interval wider than --target-ci: one more worker process for {len(more)} config(s): "
                   + "; ".join(j.key.label() for j in more))
        out += _run(more, run_dir, timeout, progress, after_each, executor)
    return out


def task_of(job: Job, task: str = "measure") -> Task:
    c = job.config
    return Task(task, {"config": c.to_dict()}, c.model.threads, c.model.device, job.label(),
                c.extra.get("accelerator_type"))


def _run(todo: Sequence[Job], run_dir: Path, timeout: float | None, progress: Progress | None,
         after_each: Callable[[], None] | None, executor: Executor) -> list[Measurement]:
    out = []

    def write(rec: Measurement) -> None:
        storage.append_record(run_dir, rec.to_dict())
        out.append(rec)
        if after_each:
            after_each()

    runnable = []
    for job in todo:
        fw = job.config.model.framework
        if registry.is_available(fw):
            runnable.append(job)
        else:
            write(job.record("skipped", error=f"not installed: {registry.install_hint(fw)}"))

    def started(i: int) -> None:
        if progress:
            progress(f"[{i + 1}/{len(runnable)}] {runnable[i].label()}")

    with contextlib.closing(executor.map([task_of(j) for j in runnable], timeout, started)) as finished:
        for i, outcome in finished:  # closed on Ctrl-C too: the executor stops what is still running
            write(runnable[i].record(outcome.status, outcome.result, outcome.error, outcome.wall_s))
    return out
