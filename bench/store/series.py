"""What ``bench check`` compares, read from disk: bench run folders (``results.jsonl``, including the
two halves of a ``bench ab`` job) or pytest-benchmark JSON saves, as :class:`bench.analysis.gate.Series` plus
the provenance each side was measured with.

Each worker process is one unit (``round``); a pytest-benchmark file is one process (the plugin times
in one process), so several saved runs per side give the two-level interval. pytest-benchmark saves
need ``--benchmark-save-data`` for their raw times; without it each file still gives its median.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.analysis.gate import Series
from bench.analysis.summary import NS_PER_MS, by_stamp, group
from bench.core import fingerprint, records, storage
from bench.core.errors import UsageError
from bench.core.records import JobKey
from bench.store.history_store import machine_id

# Provenance fields compared between the sides (flattened env.json / pytest-benchmark machine_info);
# the git commit is expected to differ and is shown apart.
ENV_FIELDS = ("hostname", "platform", "python", "cpu_model", "cpu_affinity", "gpus", "packages", "flags", "data")


Span = tuple[dt.datetime, dt.datetime]  # first and last measurement of a side (UTC)


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
    measured: Span | None = None  # first and last measurement (UTC), when recorded


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
            ("precision", k.precision), ("tuning", k.tuning), ("model", k.model))


def label(k: JobKey) -> str:
    threads = f" {k.threads} threads" if k.threads else ""
    precision = " default precision" if k.precision != "strict" else ""
    tuned = f" +{k.tuning}" if k.tuning else ""
    model = f"{k.model} " if k.model != "mnist" else ""
    return (f"{model}{k.framework} {k.mode} batch {k.batch_size} LRN {'on' if k.lrn else 'off'} ({k.compile}){threads}"
            f"{precision}{tuned}")


def _run_env(run_dir: Path) -> dict[str, Any]:
    path = run_dir / storage.ENV
    return storage.read_json(path) if path.exists() else {}


def utc_time(text: Any) -> dt.datetime | None:
    """A record's UTC time (bench's ``...Z``, or pytest-benchmark's ``datetime``, naive UTC); None if absent."""
    try:
        when = dt.datetime.fromisoformat(str(text).replace("Z", "+00:00"))
    except ValueError:
        return None
    return when if when.tzinfo else when.replace(tzinfo=dt.timezone.utc)


def _span(times: Sequence[dt.datetime | None]) -> Span | None:
    known = [t for t in times if t is not None]
    return (min(known), max(known)) if known else None


def from_run(run_dir: Path) -> tuple[list[Series], dict[str, Any], str | None, Span | None]:
    """The series of a run folder, its provenance, commit, and first and last measurement times."""
    env = _run_env(run_dir)
    cpu = env.get("cpu_model") or "unknown CPU"
    out = []
    times: list[dt.datetime | None] = []
    for key, ms in group(records.measurements(storage.read_records(run_dir))).items():
        ok = sorted((m for m in ms if m.ok), key=lambda m: m.round)
        if not ok:
            continue
        parts = by_stamp(ok)
        if len(parts) > 1:
            raise UsageError(f"{run_dir}: {label(key)}: its processes were measured with different versions or code "
                             f"({fingerprint.difference(parts[0][0], parts[1][0])}); bench check pools only rows "
                             "that agree: check them as separate runs")
        times += [utc_time(m.utc) for m in ok]
        steps = [m.extra.get("lockstep") for m in ok]
        paired = all(isinstance(s, dict) for s in steps)
        groups = {(f"{s['session']}:{s['slot']}" if paired and isinstance(s, dict) else f"{run_dir}#{m.round}"):
                  [t / NS_PER_MS for t in m.samples_ns] for m, s in zip(ok, steps, strict=True)}
        out.append(Series(_key(key), groups, key.gpu or cpu, paired, str(run_dir), label(key),
                          fingerprint.Stamp.of(ok[0]).text()))
    provenance = _flatten({f: env[f] for f in ENV_FIELDS if f in env})
    commit = (env.get("git") or {}).get("commit")
    return out, provenance, commit, _span(times)


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
                if prev.stamp != s.stamp:
                    raise UsageError(f"{s.label}: one side mixes versions or code ({prev.stamp or 'unknown'} in "
                                     f"{prev.source}, {s.stamp or 'unknown'} in {s.source}); pool only runs of the "
                                     "same code on one side")
                pooled[s.key] = Series(s.key, {**prev.groups, **s.groups}, s.device, prev.paired and s.paired,
                                       f"{prev.source}, {s.source}", s.name, s.stamp)
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
    spans: list[Span] = []
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
            if data is None:
                series, prov, commit, span = from_run(item)
            else:
                series, prov, commit = from_pytest_benchmark(item, data)
                span = _span([utc_time(data.get("datetime"))])
            spans += [span] if span else []
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
    measured = (min(a for a, _ in spans), max(b for _, b in spans)) if spans else None
    return GateSide(series, provenance, list(dict.fromkeys(commits)), kinds.pop(), list(paths), measured)


def _duration(seconds: float) -> str:
    minutes = round(seconds / 60)
    if minutes < 1:
        return f"{seconds:.0f} s"
    days, rest = divmod(minutes, 24 * 60)
    hours, mins = divmod(rest, 60)
    return " ".join(f"{v}{u}" for v, u in ((days, "d"), (hours, "h"), (mins, "min")) if v) or "0min"


def apart(base: GateSide, cand: GateSide) -> str:
    """"" when the sides were measured together: lockstep pairs (``bench ab``), or stored runs whose
    measuring times overlap (interleaved). Otherwise the caveat, naming how far apart they were: a
    change of machine state between the two cannot be told from a change of code."""
    if all(s.paired for s in (*base.series, *cand.series)):
        return ""
    if base.measured is None or cand.measured is None:
        return ("the sides were not measured together (no measuring time recorded on "
                f"{'the baseline' if base.measured is None else 'the candidate'}): a change of machine state "
                "between them cannot be told from a change of code")
    (b0, b1), (c0, c1) = base.measured, cand.measured
    gap = max((c0 - b1).total_seconds(), (b0 - c1).total_seconds())
    if gap <= 0:  # overlapping (interleaved); times have one-second resolution
        return ""
    fmt = "%Y-%m-%d %H:%M UTC"
    return (f"the sides were not measured together but {_duration(gap)} apart (baseline {b0.strftime(fmt)} to "
            f"{b1.strftime(fmt)}, candidate {c0.strftime(fmt)} to {c1.strftime(fmt)}): a change of machine state "
            "between them cannot be told from a change of code; bench ab measures both in lockstep")


def measured_with(side: GateSide, what: str) -> str:
    """"baseline measured with: ..." naming the versions and code fingerprints the side's rows share."""
    stamps = list(dict.fromkeys(s.stamp for s in side.series if s.stamp))
    return f"{what} measured with: {' | '.join(stamps)}" if stamps else ""


def machine(side: GateSide, s: Series, name: str | None = None) -> str:
    """The id of the machine ``s`` was measured on (host, or ``name``, and CPU or GPU model): how the
    history store files it and how exported names tell machines apart."""
    host = name or str(side.provenance.get("hostname") or side.provenance.get("bench.host") or "unknown-host")
    return machine_id(host, s.device)
