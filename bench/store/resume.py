"""Resume: which planned jobs a run folder has not finished yet, so an interrupted or repeated run
measures only what is missing (``--resume``), and only when what is stored was measured with the same
framework versions and measuring code (pooling checks what it pools)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any, Protocol, TypeVar

from bench.core import fingerprint, records, registry, storage
from bench.core.config import RunConfig
from bench.core.errors import UsageError
from bench.core.records import JobKey, Measurement


class Planned(Protocol):
    """What resume reads of a planned job (:class:`bench.execution.planning.Job`)."""

    @property
    def config(self) -> RunConfig: ...
    @property
    def round(self) -> int: ...
    @property
    def key(self) -> JobKey: ...
    def label(self) -> str: ...


Job = TypeVar("Job", bound=Planned)


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
