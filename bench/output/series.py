"""What ``bench check`` compares, read from disk: bench run folders (``results.jsonl``, including the
two halves of a ``bench ab`` job) or pytest-benchmark JSON saves, as :class:`bench.analysis.gate.Series` plus
the provenance each side was measured with.

Each worker process is one unit (``round``); a pytest-benchmark file is one process (the plugin times
in one process), so several saved runs per side give the two-level interval. pytest-benchmark saves
need ``--benchmark-save-data`` for their raw times; without it each file still gives its median.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.analysis.gate import Series
from bench.analysis.summary import NS_PER_MS, group
from bench.core import records, storage
from bench.core.errors import UsageError
from bench.core.records import JobKey

# Provenance fields compared between the sides (flattened env.json / pytest-benchmark machine_info);
# the git commit is expected to differ and is shown apart.
ENV_FIELDS = ("hostname", "platform", "python", "cpu_model", "cpu_affinity", "gpus", "packages", "flags", "data")


@dataclass(frozen=True)
class GateSide:
    """What one side of the gate (``--baseline`` or ``--candidate``) names, read from disk: its benchmarks,
    the provenance they were measured with, and the commits behind them. (A side of a ``bench ab`` job, the
    code a revision runs, is :class:`bench.execution.ab.ABSide`.)"""

    series: list[Series]
    provenance: dict[str, Any]  # flat
    commits: list[str]
    kind: str  # "bench" or "pytest-benchmark"
    paths: list[str]


def _flatten(d: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in d.items():
        name = f"{prefix}{k}"
        if isinstance(v, dict):
            out.update(_flatten(v, name + "."))
        else:
            out[name] = v
    return out


def _key(k: JobKey) -> tuple[tuple[str, str], ...]:
    """The fields that must agree for two rows to be the same benchmark (the machine is checked apart)."""
    return (("framework", k.framework), ("mode", k.mode), ("batch_size", str(k.batch_size)),
            ("lrn", "on" if k.lrn else "off"), ("compile", k.compile), ("lrn_impl", k.lrn_impl),
            ("device", k.device), ("threads", "default" if k.threads is None else str(k.threads)),
            ("precision", k.precision), ("tuning", k.tuning))


def label(k: JobKey) -> str:
    threads = f" {k.threads} threads" if k.threads else ""
    precision = " default precision" if k.precision != "strict" else ""
    tuned = f" +{k.tuning}" if k.tuning else ""
    return (f"{k.framework} {k.mode} batch {k.batch_size} LRN {'on' if k.lrn else 'off'} ({k.compile}){threads}"
            f"{precision}{tuned}")


def _run_env(run_dir: Path) -> dict[str, Any]:
    path = run_dir / storage.ENV
    return storage.read_json(path) if path.exists() else {}


def from_run(run_dir: Path) -> tuple[list[Series], dict[str, Any], str | None]:
    env = _run_env(run_dir)
    cpu = env.get("cpu_model") or "unknown CPU"
    out = []
    for key, ms in group(records.measurements(storage.read_records(run_dir))).items():
        ok = sorted((m for m in ms if m.ok), key=lambda m: m.round)
        if not ok:
            continue
        steps = [m.extra.get("lockstep") for m in ok]
        paired = all(isinstance(s, dict) for s in steps)
        groups = {(f"{s['session']}:{s['slot']}" if paired and isinstance(s, dict) else f"{run_dir}#{m.round}"):
                  [t / NS_PER_MS for t in m.samples_ns] for m, s in zip(ok, steps, strict=True)}
        out.append(Series(_key(key), groups, key.gpu or cpu, paired, str(run_dir), label(key)))
    provenance = _flatten({f: env[f] for f in ENV_FIELDS if f in env})
    commit = (env.get("git") or {}).get("commit")
    return out, provenance, commit


def _read_pytest_benchmark(path: Path) -> dict[str, Any] | None:
    try:
        data = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        return None
    return data if isinstance(data, dict) and isinstance(data.get("benchmarks"), list) else None


def from_pytest_benchmark(path: Path, data: dict[str, Any]) -> tuple[list[Series], dict[str, Any], str | None]:
    machine = data.get("machine_info") or {}
    cpu = (machine.get("cpu") or {}).get("brand_raw") or machine.get("processor") or "unknown CPU"
    bench_info = machine.get("bench") or {}
    device = bench_info.get("gpu") or cpu
    out = []
    for b in data["benchmarks"]:
        stats = b.get("stats") or {}
        raw = stats.get("data")
        samples = [float(x) * 1e3 for x in raw] if raw else [float(stats["median"]) * 1e3]
        full = str(b.get("fullname") or b.get("name"))
        out.append(Series((("benchmark", full),), {f"{path}": samples}, device, False, str(path),
                          str(b.get("name") or full)))
    provenance = _flatten(machine)
    commit = (data.get("commit_info") or {}).get("id")
    return out, provenance, commit


def _pool(parts: Sequence[list[Series]]) -> list[Series]:
    """Series of several sources on one side, pooled by key (their units together)."""
    pooled: dict[tuple[tuple[str, str], ...], Series] = {}
    for part in parts:
        for s in part:
            if s.key in pooled:
                prev = pooled[s.key]
                if prev.device != s.device:
                    raise UsageError(f"{s.label}: one side mixes devices ({prev.device} in {prev.source}, "
                                     f"{s.device} in {s.source})")
                pooled[s.key] = Series(s.key, {**prev.groups, **s.groups}, s.device, prev.paired and s.paired,
                                       f"{prev.source}, {s.source}", s.name)
            else:
                pooled[s.key] = s
    return list(pooled.values())


def load(paths: Sequence[str], what: str) -> GateSide:
    """Everything one side names: run folders, or pytest-benchmark JSON files (or folders of them)."""
    if not paths:
        raise UsageError(f"--{what}: give a run folder or pytest-benchmark JSON file")
    parts: list[list[Series]] = []
    provenance: dict[str, Any] = {}
    commits: list[str] = []
    kinds = set()
    for raw in paths:
        path = Path(raw)
        if not path.exists():
            raise UsageError(f"--{what} {raw}: no such file or folder; expected a run folder (with "
                             f"{storage.RESULTS}) or a pytest-benchmark JSON save")
        found: list[tuple[Path, dict[str, Any] | None]]
        if path.is_dir() and (path / storage.RESULTS).exists():
            found = [(path, None)]
        elif path.is_dir():
            found = [(f, d) for f in sorted(path.glob("*.json")) if (d := _read_pytest_benchmark(f)) is not None]
            if not found:
                raise UsageError(f"--{what} {raw}: the folder holds neither {storage.RESULTS} (a bench run) nor "
                                 "pytest-benchmark JSON saves")
        else:
            data = _read_pytest_benchmark(path)
            if data is None:
                raise UsageError(f"--{what} {raw}: not a pytest-benchmark JSON save (no 'benchmarks' list); "
                                 f"expected that or a run folder with {storage.RESULTS}")
            found = [(path, data)]
        for item, data in found:
            series, prov, commit = from_run(item) if data is None else from_pytest_benchmark(item, data)
            kinds.add("bench" if data is None else "pytest-benchmark")
            parts.append(series)
            for k, v in prov.items():
                provenance.setdefault(k, v)
            if commit:
                commits.append(commit)
    if len(kinds) > 1:
        raise UsageError(f"--{what} mixes bench run folders and pytest-benchmark files; their benchmarks are "
                         "different protocols and never match")
    series = _pool(parts)
    if not series:
        raise UsageError(f"--{what} {' '.join(paths)}: no finished measurement in it")
    return GateSide(series, provenance, list(dict.fromkeys(commits)), kinds.pop(), list(paths))
