"""The run folder on disk. Every file is either appended one whole line at a time
(results.jsonl) or written to a temporary name and renamed into place, so an interrupted run
never leaves a half-written file and keeps every record finished before it."""

from __future__ import annotations

import csv
import io
import json
import os
import tempfile
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from bench.env import utc_now
from bench.errors import UsageError

RESULTS = "results.jsonl"
ENV = "env.json"
SUMMARY_CSV = "summary.csv"
SAMPLES_CSV = "samples.csv"
SAMPLE_COLUMNS = ("framework", "mode", "batch_size", "lrn", "compile", "lrn_impl", "device", "threads",
                  "data_source", "round", "step", "time_ns")


_UMASK = os.umask(0)
os.umask(_UMASK)


def atomic_write(path: Path, data: str | bytes) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        os.chmod(tmp, 0o666 & ~_UMASK)  # mkstemp makes 0600; results are meant to be shared
        with os.fdopen(fd, "wb") as fh:
            fh.write(data.encode() if isinstance(data, str) else data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def default_root() -> Path:
    return Path(os.environ.get("BENCH_REPORTS", "reports"))


def create_run_dir(out: str | os.PathLike[str] | None, prefix: str = "run", resume: bool = False) -> Path:
    """The folder for a new run (or ``out``), checked writable before any work starts. A folder that
    already holds results is only reused with ``resume``, so two runs never mix in one file."""
    if out is None:
        stamp = utc_now().replace(":", "").replace("-", "")
        path = default_root() / f"{stamp}-{prefix}"
        n = 1
        while path.exists():
            n += 1
            path = default_root() / f"{stamp}-{prefix}-{n}"
    else:
        path = Path(out)
        if (path / RESULTS).exists() and not resume:
            raise UsageError(f"{path} already holds results ({RESULTS}); continue it with --resume or choose "
                             "another --out")
    try:
        path.mkdir(parents=True, exist_ok=True)
        probe = path / ".write-test"
        probe.write_text("ok")
        probe.unlink()
    except OSError as exc:
        raise UsageError(f"cannot write the output folder {path}: {exc.strerror or exc}; "
                         "choose another with --out DIR") from exc
    return path


def append_record(run_dir: Path, record: dict[str, Any]) -> None:
    line = (json.dumps(record, default=str) + "\n").encode()
    fd = os.open(run_dir / RESULTS, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, line)  # one write of one whole line
        os.fsync(fd)
    finally:
        os.close(fd)


def read_records(run_dir: Path) -> list[dict[str, Any]]:
    path = run_dir / RESULTS
    if not path.exists():
        return []
    out = []
    for line in path.read_text().splitlines():
        try:
            out.append(json.loads(line))
        except json.JSONDecodeError:
            continue  # a line torn by a crash of the machine itself; every other line is whole
    return out


def write_json(path: Path, data: Any) -> None:
    atomic_write(path, json.dumps(data, indent=2, default=str) + "\n")


def read_json(path: Path) -> Any:
    return json.loads(path.read_text())


def to_csv(rows: Iterable[dict[str, Any]], columns: Sequence[str]) -> str:
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=list(columns), extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: ("" if row.get(k) is None else row.get(k)) for k in columns})
    return buf.getvalue()


def sample_rows(records: Iterable[dict[str, Any]]) -> Iterable[dict[str, Any]]:
    """Long format: one row per timed step."""
    for rec in records:
        for step, ns in enumerate(rec.get("samples_ns") or []):
            yield {**rec, "step": step, "time_ns": ns}


def update_latest(run_dir: Path) -> None:
    """``reports/latest`` -> this run (a relative symlink, replaced atomically); only for runs
    under the reports root, so ``--out /elsewhere`` never litters a ``latest`` beside it."""
    if run_dir.resolve().parent != default_root().resolve():
        return
    link = run_dir.parent / "latest"
    tmp = run_dir.parent / f".latest.{os.getpid()}"
    try:
        if tmp.is_symlink():
            tmp.unlink()
        os.symlink(run_dir.name, tmp)
        os.replace(tmp, link)
    except OSError:
        atomic_write(run_dir.parent / "LATEST", str(run_dir.resolve()) + "\n")


def resolve_existing(path: str | os.PathLike[str] | None) -> Path:
    """A stored run folder (default: reports/latest), or a usage error saying what was there."""
    run_dir = Path(path) if path else default_root() / "latest"
    if not (run_dir / RESULTS).exists():
        raise UsageError(f"no results in {run_dir} (expected {RESULTS}); pass a run folder written by "
                         "'bench run' or 'bench compare'")
    return run_dir.resolve()
