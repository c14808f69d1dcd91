"""Comparisons with confidence intervals: LRN off vs on per framework, frameworks against the
fastest, and the LRN layer micro-benchmark. The ``*_rows`` functions are pure (records in, rows
out); ``run_*`` functions drive workers and append records."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bench import records, registry, storage
from bench.config import RunConfig
from bench.intervals import TwoLevel, independent_ratio, paired_ratio
from bench.records import JobKey, Measurement
from bench.runner import run_worker
from bench.stats import Ratio, Stats
from bench.summary import group

if TYPE_CHECKING:
    from bench.executors import Executor

BOOK_SLOWDOWN = 3.0  # "LRN makes the forward and backward pass ... down to about 1/3 of the speed"


@dataclass(frozen=True)
class Pooled:
    """The ok measurements of one key: step times (ms) per worker process (round), and one record."""

    rounds: dict[int, list[float]]
    first: Measurement

    @property
    def groups(self) -> list[list[float]]:
        return list(self.rounds.values())

    @property
    def samples(self) -> list[float]:
        return [s for g in self.rounds.values() for s in g]


def _pooled(recs: Sequence[dict[str, Any]]) -> dict[JobKey, Pooled]:
    out: dict[JobKey, Pooled] = {}
    for key, ms in group(records.measurements(list(recs))).items():
        ok = sorted((m for m in ms if m.ok), key=lambda m: m.round)
        if ok:
            out[key] = Pooled({m.round: [s / 1e6 for s in m.samples_ns] for m in ok}, ok[0])
    return out


def book_verdict(r: Ratio) -> str:
    text = r.describe()
    if r.verdict == "inconclusive":
        return f"{text}: inconclusive, no cost measurable at this noise"
    if r.verdict == "faster":
        return f"{text}: LRN-on measured faster (noise or a fused path), not 3x"
    if r.ci_high < BOOK_SLOWDOWN:
        return f"{text}: not 3x"
    if r.ci_low > BOOK_SLOWDOWN:
        return f"{text}: worse than the book's 3x"
    return f"{text}: consistent with the book's ~3x"


def lrn_rows(recs: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """LRN on / off per framework and config: one ratio of medians per worker process (both variants
    interleaved in it), the interval over processes (bench.intervals.paired_ratio)."""
    pooled = _pooled(recs)
    rows = []
    for key, on in pooled.items():
        off = pooled.get(replace(key, lrn=False))
        if not key.lrn or off is None:
            continue
        both = sorted(set(off.rounds) & set(on.rounds))  # processes that measured both variants
        if not both:
            continue
        r = paired_ratio([off.rounds[i] for i in both], [on.rounds[i] for i in both])
        off_ms = TwoLevel.of([off.rounds[i] for i in both]).estimate
        on_ms = TwoLevel.of([on.rounds[i] for i in both]).estimate
        mem_on, mem_off = on.first.memory.get("alloc_peak_bytes"), off.first.memory.get("alloc_peak_bytes")
        rows.append({
            "framework": key.framework, "mode": key.mode, "batch_size": key.batch_size, "device": key.device,
            "host": key.host, "gpu": key.gpu, "compile": key.compile,
            "lrn_impl": on.first.describe.get("lrn_impl", key.lrn_impl), "processes": len(both),
            "n_off": sum(len(off.rounds[i]) for i in both), "n_on": sum(len(on.rounds[i]) for i in both),
            "off_ms": off_ms, "on_ms": on_ms,
            "slowdown": r.ratio, "ci_low": r.ci_low, "ci_high": r.ci_high, "p_value": r.p_value,
            "verdict": r.verdict, "ci_method": r.method, "added_ms": on_ms - off_ms,
            "lrn_share_pct": 100 * (on_ms - off_ms) / on_ms,
            "memory_added_mib": (mem_on - mem_off) / 2**20 if mem_on is not None and mem_off is not None else None,
            "vs_book": book_verdict(r),
        })
    return rows


def framework_rows(recs: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """Each framework against the fastest (by median) on the same (mode, batch, LRN, device, machine):
    different processes on each side, so the ratio's interval is Welch's t over process estimates."""
    groups: dict[tuple[Any, ...], list[tuple[JobKey, Pooled]]] = {}
    for key, entry in _pooled(recs).items():
        groups.setdefault((key.mode, key.batch_size, key.lrn, key.device, key.host, key.gpu), []).append((key, entry))
    rows = []
    for (mode, batch, lrn, device, _, _), members in groups.items():
        est = {key: TwoLevel.of(entry.groups) for key, entry in members}
        fastest_key, fastest = min(members, key=lambda m: est[m[0]].estimate)
        for key, entry in members:
            tl = est[key]
            r = independent_ratio(fastest.groups, entry.groups)
            rows.append({"mode": mode, "batch_size": batch, "lrn": lrn, "device": device, "framework": key.framework,
                         "compile": key.compile, "processes": tl.processes, "n": tl.n, "median_ms": tl.estimate,
                         "ci_low_ms": tl.ci_low, "ci_high_ms": tl.ci_high, "fastest": fastest_key.framework,
                         "ratio": r.ratio, "ratio_ci_low": r.ci_low, "ratio_ci_high": r.ci_high,
                         "p_value": r.p_value, "ci_method": r.method,
                         "verdict": "fastest" if key == fastest_key else
                         ("slower" if r.verdict == "slower" else "not separable from the fastest")})
    return sorted(rows, key=lambda r: (r["mode"], r["batch_size"], r["lrn"], r["ratio"]))


def layer_rows(recs: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    out = []
    for rec in recs:
        if rec.get("kind") != "lrn_layer" or rec.get("status") != "ok":
            continue
        for row in rec["rows"]:
            st = Stats.from_samples([s / 1e6 for s in row["samples_ns"]])
            out.append({k: v for k, v in row.items() if k != "samples_ns"} | {
                "device": rec["device"], "shape": "x".join(map(str, row["shape"])), "n": st.n, "mean_ms": st.mean,
                "ci_low_ms": st.mean_ci_low, "ci_high_ms": st.mean_ci_high, "cv": st.cv})
    return out


def fastest_exact(layer: Sequence[dict[str, Any]]) -> dict[str, str]:
    """Per framework, the exact variant with the least forward+backward time over both LRN layers."""
    totals: dict[tuple[str, str], float] = {}
    for row in layer:
        if row["exact"] and row["direction"] == "forward_backward":
            key = (row["framework"], row["impl"])
            totals[key] = totals.get(key, 0.0) + row["mean_ms"]
    best: dict[str, str] = {}
    for fw, impl in sorted(totals, key=lambda key: totals[key]):
        best.setdefault(fw, impl)
    return best


def run_layer(run_dir: Path, frameworks: Sequence[str], device: str, batch: int, steps: int, threads: int | None,
              lrn_params: dict[str, Any], timeout: float | None, progress: Callable[[str], None]) -> None:
    for fw in frameworks:
        reg = registry.get(fw)
        if not reg.is_available():
            continue
        progress(f"LRN layer micro-benchmark: {fw} ({', '.join(reg.lrn_impls)})")
        params = {"framework": fw, "device": device, "batch_size": batch, "steps": steps, "rounds": 4,
                  "lrn_params": lrn_params}
        out = run_worker("lrn_layer", params, threads=threads, device=device, timeout=timeout)
        storage.append_record(run_dir, {**out.result, **records.header("lrn_layer"), "framework": fw,
                                        "device": device, "status": out.status, "error": out.error,
                                        "wall_s": out.wall_s})


def run_pairs(run_dir: Path, configs: Sequence[RunConfig], rounds: int, timeout: float | None,
              progress: Callable[[str], None], after_each: Callable[[], None],
              notify: Callable[[str], None] | None = None, max_rounds: int = 0,
              executor: Executor | None = None) -> None:
    """LRN off/on pairs, one worker per (config, round), rounds interleaved across configs; both
    records appended as soon as a pair finishes. A pair whose two halves are finished is skipped
    (resume). Then, up to ``max_rounds`` processes, one more round for every config whose off or on
    interval is still wider than its ``target_ci``."""
    from bench.executors import PoolExecutor
    from bench.sweep import Job, extra_rounds, median_half_width, pending

    executor = executor or PoolExecutor()

    def jobs_of(cfg: RunConfig, r: int) -> dict[bool, Job]:
        return {lrn: Job(replace(cfg, model=replace(cfg.model, lrn=lrn)), r) for lrn in (False, True)}

    planned = [(cfg, jobs_of(cfg, r)) for r in range(rounds) for cfg in configs]
    todo = {id(j) for j in pending([j for _, js in planned for j in js.values()], run_dir, notify, executor.remote)}
    _run_pairs(run_dir, [(c, js) for c, js in planned if any(id(j) in todo for j in js.values())],
               timeout, progress, after_each, executor)

    def width(key: JobKey, recs: list[dict[str, Any]]) -> float | None:
        halves = [median_half_width(replace(key, lrn=lrn), recs) for lrn in (False, True)]
        return None if None in halves else max(h for h in halves if h is not None)

    by_key = {jobs_of(cfg, 0)[False].key: cfg for cfg in configs}
    while more := extra_rounds([jobs_of(cfg, 0)[False] for cfg in configs], run_dir, max_rounds, width):
        if notify:
            notify(f"interval wider than --target-ci: one more worker process for {len(more)} pair(s): "
                   + "; ".join(j.key.label().replace(" LRN off", "") for j in more))
        _run_pairs(run_dir, [(by_key[j.key], jobs_of(by_key[j.key], j.round)) for j in more], timeout, progress,
                   after_each, executor)


def _run_pairs(run_dir: Path, todo: Sequence[tuple[RunConfig, dict[bool, Any]]], timeout: float | None,
               progress: Callable[[str], None], after_each: Callable[[], None], executor: Executor) -> None:
    from bench.sweep import task_of

    runnable = []
    for cfg, jobs in todo:
        fw = cfg.model.framework
        if registry.is_available(fw):
            runnable.append((cfg, jobs))
            continue
        for job in jobs.values():
            storage.append_record(run_dir, job.record("skipped", error=registry.install_hint(fw)).to_dict())

    def started(i: int) -> None:
        cfg, jobs = runnable[i]
        progress(f"[{i + 1}/{len(runnable)}] LRN off vs on: {cfg.model.framework} {cfg.mode} batch {cfg.batch_size} "
                 f"round {jobs[False].round + 1}")

    tasks = [task_of(replace(jobs[False], config=cfg), "lrn_pair") for cfg, jobs in runnable]
    with contextlib.closing(executor.map(tasks, timeout, started)) as finished:
        for i, out in finished:
            _record_pair(run_dir, runnable[i][1], out)
            after_each()


def _record_pair(run_dir: Path, jobs: dict[bool, Any], out: Any) -> None:
    """Both halves of an LRN off/on worker's outcome, as the two records they are."""
    for lrn, job in jobs.items():
        if out.status == "ok":
            variant = next(v for v in out.result["variants"] if v["lrn"] == lrn)
            variant = {**variant, "identity": out.result.get("identity"), "worker_env": out.result.get("worker_env")}
            rec = job.record("ok", variant, wall_s=out.wall_s, pair=True)
        else:
            rec = job.record(out.status, error=out.error, wall_s=out.wall_s, pair=True)
        storage.append_record(run_dir, rec.to_dict())
