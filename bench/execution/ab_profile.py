"""Profiles of both sides of an A/B job (``bench ab --profile``, ``bench bisect``'s confirmation),
interleaved: round r profiles the base then the candidate, round r + 1 the candidate then the base, so
a slow spell of the machine lands on both sides of a round and the per-round ratio of a scope
(:mod:`bench.analysis.profile_diff`) cancels it. Each side's profile records go to its own folder
(``<job>/profile/<side>/results.jsonl``), one worker per side, config and round, written as each ends:
an interrupted job keeps the rounds it finished and ``--resume`` runs only the rest.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from bench.core import records, registry, storage
from bench.core.config import RunConfig
from bench.execution.ab import ABSide
from bench.execution.planning import key_of
from bench.execution.runner import Source, run_worker

PROFILE = "profile"


def profile_one(cfg: RunConfig, params: dict[str, Any], timeout: float | None, trace_dir: Path | None = None,
                source: Source | None = None) -> dict[str, Any]:
    """One ``profile`` worker on ``cfg`` (the code of ``source``, default this tree): its record, with
    the trace kept in ``trace_dir`` when one is given (else a scratch folder, removed)."""
    fw = cfg.model.framework
    head = {**records.header("profile"), "framework": fw, "config": cfg.to_dict()}
    if not registry.is_available(fw):
        return {**head, "status": "skipped", "error": f"not installed: {registry.install_hint(fw)}"}
    with tempfile.TemporaryDirectory(prefix="bench-trace-") as tmp:
        where = trace_dir or Path(tmp)
        out = run_worker("profile", {"config": cfg.to_dict(), "trace_dir": str(where.resolve()), **params},
                         threads=cfg.model.threads, device=cfg.model.device, timeout=timeout, source=source)
        if trace_dir is None:
            shutil.rmtree(where, ignore_errors=True)
    return {**head, **out.result, "status": out.status, "error": out.error, "wall_s": out.wall_s}


def folder(job_dir: Path, side: str) -> Path:
    return job_dir / PROFILE / side


def plan(configs: Sequence[RunConfig], sides: Sequence[ABSide], rounds: int) -> list[tuple[RunConfig, int, ABSide]]:
    """(config, round, side) in the order they run: rounds outermost, the side that goes first alternating."""
    return [(cfg, r, side) for r in range(rounds) for cfg in configs
            for side in (sides if r % 2 == 0 else list(reversed(sides)))]


def _done(path: Path) -> set[tuple[str, int]]:
    recs = storage.read_records(path) if (path / storage.RESULTS).exists() else []
    return {(str(key_of(RunConfig.from_dict(r["config"]))), int(r.get("round", 0))) for r in recs
            if r.get("kind") == "profile"}


def execute(configs: Sequence[RunConfig], sides: Sequence[ABSide], job_dir: Path, rounds: int, params: dict[str, Any],
            timeout: float | None, progress: Callable[[str], None], after_each: Callable[[], None]) -> None:
    """Run the profile rounds not yet on disk, one worker at a time; the steps and warmup of each config
    are the job's."""
    done = {s.name: _done(folder(job_dir, s.name)) for s in sides}
    work = [(c, r, s) for c, r, s in plan(configs, sides, rounds) if (str(key_of(c)), r) not in done[s.name]]
    for i, (cfg, r, side) in enumerate(work):
        progress(f"[{i + 1}/{len(work)}] profile round {r + 1}, {side.name}: {cfg.model.framework} {cfg.mode}")
        path = folder(job_dir, side.name)
        path.mkdir(parents=True, exist_ok=True)
        rec = profile_one(cfg, params, timeout, source=side.source)
        storage.append_record(path, {**rec, "round": r, "side": side.name, "commit": side.commit})
        after_each()


def load(job_dir: Path, side: str) -> list[dict[str, Any]]:
    path = folder(job_dir, side)
    return [r for r in storage.read_records(path) if r.get("kind") == "profile"] if path.exists() else []
