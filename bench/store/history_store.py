"""The performance-history store: a folder of JSON lines, one file per machine (``<machine>.jsonl``),
one line per (commit, benchmark): the two-level estimate with its interval and the per-process
estimates behind it. CI appends to it on the main branch (``bench history append``); ``bench history
report`` reads it and hands the entries to :mod:`bench.analysis.changepoints`.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path

from bench.analysis.changepoints import Entry
from bench.core.errors import UsageError

STORE = "perf-history"  # the default store folder


def machine_id(host: str, device: str) -> str:
    """A file-name-safe id of the machine: host name and what measured (CPU or GPU model)."""
    return re.sub(r"[^A-Za-z0-9._-]+", "-", f"{host}_{device}").strip("-")[:120]


def append(store: Path, entries: Sequence[Entry]) -> Path:
    try:
        store.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UsageError(f"cannot write the history store {store}: {exc.strerror or exc}") from exc
    for e in entries:
        path = store / f"{e.machine}.jsonl"
        line = (json.dumps(asdict(e)) + "\n").encode()
        with open(path, "ab") as fh:
            fh.write(line)
    return store


def read(store: Path) -> list[Entry]:
    if not store.is_dir():
        raise UsageError(f"no history store at {store}; create one with 'bench history append RUN_DIR --store "
                         f"{store}'")
    out = []
    for path in sorted(store.glob("*.jsonl")):
        for line in path.read_text().splitlines():
            try:
                d = json.loads(line)
            except json.JSONDecodeError:
                continue  # a torn last line
            if d.get("kind") == "history":
                out.append(Entry.from_dict(d))
    return out
