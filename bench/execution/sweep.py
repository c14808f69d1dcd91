"""A sweep, parent side: run the planned jobs (:mod:`bench.execution.planning`) that the run folder has not
finished (:mod:`bench.store.resume`), one worker each, every record appended to the run folder as
soon as it exists; then the stop rule's extra rounds (:mod:`bench.analysis.stop_rule` decides which).
Used by ``bench run`` and ``bench compare``."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Sequence
from pathlib import Path

from bench.analysis import stop_rule
from bench.core import registry, storage
from bench.core.records import JobKey, Measurement
from bench.execution.executor import Executor
from bench.execution.executors import PoolExecutor
from bench.execution.planning import Job, task_of
from bench.store.resume import pending

Progress = Callable[[str], None]


def extra_rounds(jobs: Sequence[Job], run_dir: Path, max_rounds: int, width: stop_rule.HalfWidthOf) -> list[Job]:
    """The stop rule across processes on the run folder: one more round (worker process) for every config
    whose interval is still wider than its ``target_ci`` (``width`` gives the half-width in %, None when
    unknown), until it has ``max_rounds`` tried processes."""
    firsts: dict[JobKey, Job] = {}
    for job in jobs:
        if job.config.target_ci is not None:
            firsts.setdefault(job.key, job)
    more = stop_rule.next_rounds([(j.key, j.config.target_ci) for j in jobs], storage.read_records(run_dir),
                                 max_rounds, width)
    return [Job(firsts[key].config, r) for key, r in more.items()]


def execute(jobs: Sequence[Job], run_dir: Path, timeout: float | None, progress: Progress | None = None,
            after_each: Callable[[], None] | None = None, notify: Progress | None = None,
            max_rounds: int = 0, executor: Executor | None = None) -> list[Measurement]:
    """Run every job not already finished in ``run_dir`` (resume), appending each record at once;
    then, up to ``max_rounds`` processes per config, more rounds where the interval is too wide.
    ``executor`` (:mod:`bench.execution.executors`; default local, serial) decides where the workers run; the
    records are written here, by this process only."""
    executor = executor or PoolExecutor()
    out = _run(pending(jobs, run_dir, notify, executor.remote), run_dir, timeout, progress, after_each, executor)
    while more := extra_rounds(jobs, run_dir, max_rounds, stop_rule.median_half_width):
        if notify:
            notify(f"interval wider than --target-ci: one more worker process for {len(more)} config(s): "
                   + "; ".join(j.key.label() for j in more))
        out += _run(more, run_dir, timeout, progress, after_each, executor)
    return out


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
