"""``bench bisect``, parent side: the first-parent commits between GOOD and BAD, and the probes the
search asks for (:mod:`bench.analysis.bisection` decides; this module measures).

A probe is a ``bench ab`` job in miniature: both commits exported with ``git archive``, their workers in
lockstep pairs (:func:`bench.execution.ab.run_slot`), the gate's statistic on the pairs. Each probe has
its own folder under the run folder (``NN-kind-COMMIT/``, with ``base/`` and ``candidate/`` run folders
inside), and ``bisect.json`` is rewritten atomically after every probe, so Ctrl-C keeps every finished
probe, and a probe cut short keeps its finished pairs for ``--resume``.

A commit that cannot run (its export fails, it has no lockstep worker, or its workers fail in every
pair of the first batch while the base's do not) is skipped and named; the search goes around it.
"""

from __future__ import annotations

import subprocess
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from bench.analysis import bisection, gate
from bench.core import records, storage
from bench.core.config import RunConfig
from bench.core.errors import BenchError, UsageError
from bench.execution import ab, ab_profile
from bench.execution.runner import Source
from bench.store import series

STATE = "bisect.json"
OTHER_SIDE = ("the other side of the pair failed", "not started: the other side failed first")


@dataclass(frozen=True)
class Commit:
    hash: str
    subject: str


def _is_ancestor(repo: Path, a: str, b: str) -> bool:
    return subprocess.run(["git", "-C", str(repo), "merge-base", "--is-ancestor", a, b], capture_output=True,
                          timeout=120).returncode == 0


def commits_between(repo: Path, good: str, bad: str) -> tuple[Commit, Commit, list[Commit]]:
    """(GOOD, BAD, the first-parent commits after GOOD up to BAD, oldest first); one line for each kind of
    bad input: an unknown revision, the same commit twice, the wrong order, GOOD off BAD's history."""
    g, b = ab.resolve(repo, good), ab.resolve(repo, bad)
    if g == b:
        raise UsageError(f"GOOD {good} and BAD {bad} are the same commit ({g[:10]}); give a good commit and a "
                         "later bad one")
    if not _is_ancestor(repo, g, b):
        if _is_ancestor(repo, b, g):
            raise UsageError(f"GOOD and BAD are in the wrong order: BAD {bad} ({b[:10]}) is an ancestor of GOOD "
                             f"{good} ({g[:10]}); swap them (bench bisect GOOD BAD, GOOD the older)")
        raise UsageError(f"GOOD {good} ({g[:10]}) is not an ancestor of BAD {bad} ({b[:10]}); bench bisect "
                         "searches the history between them, so GOOD must be on BAD's history")
    lines = str(ab.git(repo, "log", "--first-parent", "--reverse", "--format=%H %s", f"{g}..{b}")).splitlines()
    between = [Commit(*(line.split(" ", 1) + [""])[:2]) for line in lines]
    parent = str(ab.git(repo, "rev-parse", f"{between[0].hash}^1")) if between else ""
    if parent != g:
        raise UsageError(f"GOOD {good} ({g[:10]}) is not on BAD's first-parent line (it came in through a merge); "
                         f"give the merge's parent on that line instead")
    subject = str(ab.git(repo, "log", "-1", "--format=%s", g))
    return Commit(g, subject), between[-1], between


@dataclass
class Options:
    """How each probe measures (fixed for a bisection: stored in its state, reused by ``--resume``)."""

    first_pairs: int
    budget: int
    chunk: int
    timeout: float | None
    alpha: float
    noise_floor: float
    detect: float
    profile_rounds: int = 0
    profile_params: dict[str, Any] = field(default_factory=dict)

    @property
    def settings(self) -> gate.Settings:
        return bisection.probe_settings(gate.Settings(self.alpha, self.noise_floor, self.detect), self.first_pairs,
                                        self.budget)


@dataclass
class State:
    """bisect.json: what is being searched, how, and every finished probe."""

    repo: str
    good: dict[str, str]
    bad: dict[str, str]
    commits: list[dict[str, str]]
    configs: list[dict[str, Any]]
    options: dict[str, Any]
    environment: dict[str, Any] = field(default_factory=dict)  # device, data, interpreter: shared by the probes
    probes: list[dict[str, Any]] = field(default_factory=list)
    seconds: float = 0.0  # measuring, over every session of this bisection
    result: dict[str, Any] | None = None

    def history(self) -> list[bisection.Done]:
        return [bisection.Done(p["index"], p["base"], p["kind"], p["outcome"]) for p in self.probes]

    def commit(self, index: int) -> dict[str, str]:
        return self.good if index == bisection.GOOD_INDEX else self.commits[index]

    def save(self, run_dir: Path) -> None:
        storage.write_json(run_dir / STATE, asdict(self))

    @classmethod
    def load(cls, run_dir: Path) -> State:
        return cls(**storage.read_json(run_dir / STATE))


class Stopped(BenchError):
    """``--max-probes`` reached before an answer: the state is saved for ``--resume``."""

    exit_code = 3


@dataclass
class Engine:
    repo: Path
    run_dir: Path
    state: State
    workspace: Path
    python: str
    environment: dict[str, Any]
    progress: Callable[[str], None]
    after_each: Callable[[], None]
    trees: dict[str, Path] = field(default_factory=dict)

    @property
    def options(self) -> Options:
        return Options(**self.state.options)

    def run(self, max_probes: int | None = None) -> bisection.Step:
        """Probe until the search has its answer (or ``max_probes`` were run in this session)."""
        ran = 0
        while True:
            step = bisection.next_step(len(self.state.commits), self.state.history())
            if step.action != bisection.PROBE:
                return step
            if max_probes is not None and ran >= max_probes:
                raise Stopped(f"stopped after {ran} probe(s) (--max-probes); continue with bench bisect --resume "
                              f"{self.run_dir}")
            self.state.probes.append(self.probe(step))
            self.state.save(self.run_dir)
            ran += 1

    def _tree(self, commit: str) -> Path:
        """The commit's code, exported once per session (UsageError from git when it cannot be)."""
        if commit not in self.trees:
            missing = ab.missing_files(self.repo, commit)
            if missing:
                raise UsageError(f"no runnable bench ({', '.join(missing)} missing)")
            self.trees[commit] = ab.export(self.repo, commit, self.workspace / commit[:12])
        return self.trees[commit]

    def _side(self, name: str, commit: dict[str, str], path: Path) -> ab.ABSide:
        rev = ab.Revision(commit["hash"], commit["hash"])
        side = ab.ABSide(name, rev, Source(self._tree(commit["hash"]), self.python), path / name)
        side.run_dir.mkdir(parents=True, exist_ok=True)
        env = side.run_dir / storage.ENV
        if not env.exists():
            storage.write_json(env, {**self.environment, "git": {"commit": rev.commit, "dirty": False,
                                                                 "revision": commit["subject"]},
                                     "source_root": str(side.source.root), "python_executable": self.python})
        return side

    def probe(self, step: bisection.Step) -> dict[str, Any]:
        assert step.index is not None
        started = time.monotonic()
        cand, base = self.state.commit(step.index), self.state.commit(step.base)
        path = self.run_dir / f"{len(self.state.probes) + 1:02d}-{step.kind}-{cand['hash'][:10]}"
        out: dict[str, Any] = {"index": step.index, "base": step.base, "kind": step.kind, "commit": cand["hash"],
                               "subject": cand["subject"], "base_commit": base["hash"], "folder": path.name,
                               "forced": False, "pairs": 0, "ratio": None, "ci_low": None, "ci_high": None,
                               "reason": "", "rows": []}
        try:
            sides = [self._side("base", base, path), self._side("candidate", cand, path)]
        except UsageError as exc:
            return self._finish(out, bisection.SKIPPED, started, reason=f"does not export: {exc}")
        measured = self._measure(sides, out)
        if measured == bisection.DIFFERENT and step.kind == bisection.CONFIRM and self.options.profile_rounds:
            self.progress(f"profiling {cand['hash'][:10]} against {base['hash'][:10]}")
            configs = [RunConfig.from_dict(c) for c in self.state.configs]
            ab_profile.execute(configs, sides, path, self.options.profile_rounds, self.options.profile_params,
                               self.options.timeout, self.progress, self.after_each)
        return self._finish(out, measured, started)

    def _finish(self, out: dict[str, Any], outcome: str, started: float, reason: str = "") -> dict[str, Any]:
        seconds = time.monotonic() - started
        self.state.seconds += seconds
        return {**out, "outcome": outcome, "seconds": seconds, "reason": reason or out["reason"]}

    def _measure(self, sides: Sequence[ab.ABSide], out: dict[str, Any]) -> str:
        """Pairs in batches until the probe is decided; updates ``out`` (pairs, ratio, rows, reason)."""
        opts = self.options
        configs = [RunConfig.from_dict(c) for c in self.state.configs]
        session = ab.new_session()
        done = 0
        while (add := bisection.next_batch(done, opts.first_pairs, opts.budget)) > 0:
            done += add
            work = ab.pending(ab.plan(configs, done), sides)
            ab.execute(work, sides, session, opts.chunk, opts.timeout, self.progress, self.after_each)
            failure = _failure(sides)
            if failure is not None:
                out["reason"] = failure
                return bisection.SKIPPED
            base, cand = (series.load([str(s.run_dir)], s.name).series for s in sides)
            rows = gate.check(base, cand, opts.settings).rows
            _note(out, rows, done)
            decided = bisection.outcome(rows)
            if decided != bisection.NOT_YET:
                return decided
        out["forced"] = True
        return bisection.forced(rows, opts.settings)


def _note(out: dict[str, Any], rows: Sequence[gate.GateRow], pairs: int) -> None:
    """The probe's figures: the row that slowed most (its ratio and interval), every row's verdict."""
    worst = max(rows, key=lambda r: r.ratio)
    out.update(pairs=pairs, ratio=worst.ratio, ci_low=worst.ci_low, ci_high=worst.ci_high,
               rows=[{"label": r.label, "ratio": r.ratio, "ci_low": r.ci_low, "ci_high": r.ci_high,
                      "verdict": r.verdict, "reason": r.reason} for r in rows])


def _tail(error: str, chars: int = 300) -> str:
    """The end of a worker's error on one line: a traceback's last lines say what went wrong."""
    text = " ".join(error.split())
    return text if len(text) <= chars else "..." + text[-chars:]


def _own_errors(side: ab.ABSide) -> list[str]:
    ms = records.measurements(storage.read_records(side.run_dir))
    return [m.error or m.status for m in ms if not m.ok and not (m.error or "").startswith(OTHER_SIDE)]


def _failure(sides: Sequence[ab.ABSide]) -> str | None:
    """Why the candidate cannot be measured, when no pair finished and it is the side that failed; a base
    that fails on its own is an error (it is a commit the search already measured)."""
    base, cand = sides
    if any(m.ok for m in records.measurements(storage.read_records(cand.run_dir))):
        return None
    base_errors, cand_errors = _own_errors(base), _own_errors(cand)
    if cand_errors:
        return f"its workers fail: {_tail(cand_errors[-1])}"
    if base_errors:
        raise UsageError(f"the base side {base.commit[:10]} failed in every pair: {_tail(base_errors[-1])} "
                         f"(results in {base.run_dir})")
    return None
