"""The run folder on disk. Every file is either appended one whole line at a time
(results.jsonl) or written to a temporary name and renamed into place, so an interrupted run
never leaves a half-written file and keeps every record finished before it."""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bench.core.errors import UsageError
from bench.core.records import utc_now

if TYPE_CHECKING:
    import pandas as pd

RESULTS = "results.jsonl"
ENV = "env.json"
SUMMARY_CSV = "summary.csv"
SAMPLES_CSV = "samples.csv"
LATEST = "latest"  # reports/latest: a symlink to the newest run, or a text file naming it where links fail


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


def write_frame(path: Path, frame: pd.DataFrame) -> None:
    """A CSV through pandas (empty cell for a missing figure), written atomically."""
    atomic_write(path, frame.to_csv(index=False, na_rep="", lineterminator="\n"))


def write_rows(path: Path, rows: Sequence[dict[str, Any]], columns: Sequence[str] | None = None) -> None:
    """Rows of dicts as a CSV with ``columns`` (default: every key, first-seen order), header first even
    with no rows. Refused (ValueError naming the file): neither rows nor columns (a file with no header,
    which pandas cannot read), no columns at all, or a row key that ``columns`` leaves out (a figure
    dropped without a word)."""
    import pandas as pd

    if columns is None and not rows:
        raise ValueError(f"{path.name}: no rows and no columns; the writer must pass its column list so the "
                         "file keeps its header when nothing was measured")
    cols = list(columns) if columns is not None else list(dict.fromkeys(k for row in rows for k in row))
    if not cols:
        raise ValueError(f"{path.name}: no columns to write")
    known = set(cols)
    extra = list(dict.fromkeys(k for row in rows for k in row if k not in known))
    if extra:
        raise ValueError(f"{path.name}: row keys {', '.join(map(repr, extra))} are not among its columns "
                         f"({', '.join(cols)})")
    write_frame(path, pd.DataFrame(list(rows), columns=cols))


def update_latest(run_dir: Path) -> None:
    """``reports/latest`` -> this run (a relative symlink, replaced atomically); where symlinks are not
    allowed, a ``latest`` text file naming the folder. Only for runs under the reports root, so
    ``--out /elsewhere`` never litters a ``latest`` beside it."""
    if run_dir.resolve().parent != default_root().resolve():
        return
    link = run_dir.parent / LATEST
    tmp = run_dir.parent / f".latest.{os.getpid()}"
    try:
        if tmp.is_symlink():
            tmp.unlink()
        os.symlink(run_dir.name, tmp)
        os.replace(tmp, link)
    except OSError:
        if link.is_symlink():
            link.unlink()
        atomic_write(link, run_dir.name + "\n")


def latest() -> Path:
    """The folder ``reports/latest`` points at (symlink or text file); may not exist."""
    link = default_root() / LATEST
    if link.is_file() and not link.is_symlink():
        return default_root() / link.read_text().strip()
    return link


def resolve_existing(path: str | os.PathLike[str] | None) -> Path:
    """A stored run folder (default: reports/latest), or a usage error saying what was there."""
    run_dir = Path(path) if path else latest()
    if not (run_dir / RESULTS).exists():
        raise UsageError(f"no results in {run_dir} (expected {RESULTS}); pass a run folder written by "
                         "'bench run', 'bench compare' or 'bench parity'")
    return run_dir.resolve()
