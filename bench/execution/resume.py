"""Resume: which planned jobs a run folder has not finished yet, so an interrupted or repeated run
measures only what is missing (``--resume``)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from bench.core import records, storage
from bench.core.records import JobKey
from bench.execution.planning import Job


def _anywhere(key: JobKey, config: dict[str, Any]) -> tuple[JobKey, Any]:
    """A job's identity on a cluster: its key on no machine in particular, and the GPU type it asked for."""
    return replace(key, host="", gpu=None), (config.get("extra") or {}).get("accelerator_type")


def pending(jobs: Sequence[Job], run_dir: Path, notify: Callable[[str], None] | None = None,
            remote: bool = False) -> list[Job]:
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
    if skipped and notify:
        notify(f"resume: {len(skipped)} of {len(jobs)} jobs already finished in {run_dir}, skipped: "
                 + "; ".join(j.label() for j in skipped))
    return todo
