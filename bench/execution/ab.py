"""``bench ab``, parent side: two revisions of this project measured in one job, finely interleaved.

Each side is a source tree (a revision exported from git with ``git archive``, or the working tree
itself) run by the same interpreter, so the frameworks are the same and only the project's code
differs. For every pair slot, one worker per side is alive at once and the two take turns, one
synchronised step at a time by default (A B B A ...; :mod:`bench.worker.tasks.lockstep`), the side that
starts alternating from slot to slot. A slow spell of a shared machine then lands on both sides of
a turn, and the gate's ratio is taken step by step within each pair (:mod:`bench.analysis.gate`), with the
pair as the unit of its interval.

Revisions are validated with git before anything runs; git is always called with an argument list,
never through a shell. With ``--budget MIN``, after the first ``--rounds`` pairs, more pairs only for the rows
the gate still calls inconclusive, within the budget (:func:`measure`: the same stop rule as ``bench compare``'s,
:func:`bench.analysis.lockstep_ratios.more_groups`, each row's target from :func:`bench.analysis.gate_extend.needs`).
"""

from __future__ import annotations

import io
import math
import subprocess
import tarfile
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.analysis import gate, gate_extend, lockstep_ratios
from bench.core import records, registry, storage
from bench.core.config import RunConfig
from bench.core.errors import UsageError
from bench.core.records import Measurement
from bench.execution.lockstep import Contender, run_group
from bench.execution.planning import Job, key_of
from bench.execution.runner import Source
from bench.store import series

WORKING_TREE = "working tree"
# What a revision needs for an A/B job, in each layout bench has had: the layered one (bench/worker/ a
# package, still run as ``python -m bench.worker``) and the flat one before it. Either will do.
LAYOUTS = (("bench/worker/__main__.py", "bench/worker/tasks/lockstep.py", "impls/frameworks.py"),
           ("bench/worker.py", "bench/tasks/lockstep.py", "impls/frameworks.py"))
REQUIRED_FILES = LAYOUTS[0]


def _missing(present: set[str]) -> list[str]:
    """The files of the current layout that are missing, or none when any known layout is complete."""
    if any(all(f in present for f in layout) for layout in LAYOUTS):
        return []
    return [f for f in REQUIRED_FILES if f not in present]


def git(repo: Path, *args: str, binary: bool = False) -> Any:
    """``git -C repo ARGS`` (no shell); a failure is a UsageError with git's own first line."""
    try:
        out = subprocess.run(["git", "-C", str(repo), *args], capture_output=True, check=True, timeout=120)
    except FileNotFoundError as exc:
        raise UsageError("bench ab needs git on PATH; none was found") from exc
    except subprocess.CalledProcessError as exc:
        msg = exc.stderr.decode(errors="replace").strip().splitlines()
        raise UsageError(f"git {' '.join(args[:2])}: {msg[0] if msg else f'exit {exc.returncode}'}") from exc
    return out.stdout if binary else out.stdout.decode().strip()


def repo_root(start: Path) -> Path:
    try:
        return Path(git(start, "rev-parse", "--show-toplevel"))
    except UsageError as exc:
        raise UsageError(f"bench ab needs a git checkout of bench; {start} is not in one ({exc})") from exc


def resolve(repo: Path, revision: str) -> str:
    """The full commit a revision names; one line naming it when git does not know it."""
    if not revision or revision.startswith("-"):
        raise UsageError(f"invalid revision {revision!r}; expected a commit, branch or tag (e.g. main, HEAD~1)")
    try:
        return str(git(repo, "rev-parse", "--verify", "--quiet", "--end-of-options", f"{revision}^{{commit}}"))
    except UsageError:
        raise UsageError(f"unknown revision {revision!r} in {repo}; expected a commit, branch or tag "
                         "(git rev-parse --verify found none)") from None


def dirty_files(repo: Path) -> list[str]:
    """Tracked files with uncommitted changes (``XY path`` entries of ``git status -z``)."""
    raw = git(repo, "status", "--porcelain=v1", "-z", "--untracked-files=no", binary=True).decode()
    return [entry[3:] for entry in raw.split("\0") if len(entry) > 3]


def missing_files(repo: Path, commit: str) -> list[str]:
    wanted = sorted({f for layout in LAYOUTS for f in layout})
    return _missing(set(str(git(repo, "ls-tree", "-r", "--name-only", commit, "--", *wanted)).splitlines()))


def export(repo: Path, commit: str, dest: Path) -> Path:
    """The tree of ``commit`` written to ``dest`` (git archive, read with tarfile: no shell, no worktree
    metadata left in the repository)."""
    data = git(repo, "archive", "--format=tar", commit, binary=True)
    dest.mkdir(parents=True, exist_ok=True)
    with tarfile.open(fileobj=io.BytesIO(data)) as tar:
        try:
            tar.extractall(dest, filter="data")
        except TypeError:  # Python without extraction filters; git archive output holds no links outside
            tar.extractall(dest)  # noqa: S202
    return dest


@dataclass(frozen=True)
class Revision:
    """A side as validated: what the user named (or the working tree), the commit, and whether it is dirty."""

    revision: str
    commit: str
    dirty: bool = False

    def label(self) -> str:
        if self.revision == WORKING_TREE:
            return f"{WORKING_TREE} (HEAD {self.commit[:10]}{', with uncommitted changes' if self.dirty else ''})"
        return f"{self.revision} ({self.commit[:10]})" if self.revision != self.commit else self.commit[:10]


def validate(repo: Path, revision: str | None, allow_dirty: bool) -> Revision:
    """Check one side with git before anything runs; refuse, in one line, what cannot be measured."""
    if revision is None:
        dirty = dirty_files(repo)
        if dirty and not allow_dirty:
            shown = ", ".join(dirty[:3]) + (f" and {len(dirty) - 3} more" if len(dirty) > 3 else "")
            raise UsageError(f"the working tree has uncommitted changes ({shown}); commit them, name the "
                             "candidate revision, or pass --allow-dirty to measure them as they are")
        rev = Revision(WORKING_TREE, resolve(repo, "HEAD"), bool(dirty))
        missing = _missing({f for layout in LAYOUTS for f in layout if (repo / f).exists()})
    else:
        rev = Revision(revision, resolve(repo, revision))
        missing = missing_files(repo, rev.commit)
    if missing:
        raise UsageError(f"revision {rev.revision!r} ({rev.commit[:10]}) has no runnable bench for an A/B job: "
                         f"{', '.join(missing)} missing; choose a revision that has 'bench ab' (lockstep workers)")
    return rev


@dataclass(frozen=True)
class ABSide:
    """One side of the A/B job: its revision, the code its workers run, and its run folder. (What a side
    of ``bench check`` reads back is :class:`bench.store.series.GateSide`.)"""

    name: str  # "base" or "candidate"
    rev: Revision
    source: Source
    run_dir: Path

    @property
    def revision(self) -> str:
        return self.rev.revision

    @property
    def commit(self) -> str:
        return self.rev.commit


def materialize(name: str, rev: Revision, repo: Path, workspace: Path, run_dir: Path, python: str) -> ABSide:
    """Lay out a validated side's code: the working tree as it is, a revision exported from git."""
    root = repo if rev.revision == WORKING_TREE else export(repo, rev.commit, workspace / name)
    run_dir.mkdir(parents=True, exist_ok=True)
    return ABSide(name, rev, Source(root, python), run_dir)


# --- the lockstep pairs ------------------------------------------------------------------------------
def run_slot(config: RunConfig, sides: Sequence[ABSide], slot: int, session: str, chunk: int,
             timeout: float | None) -> list[Measurement]:
    """One pair slot: both sides alive, taking turns ``chunk`` synchronised steps at a time until each
    has ``config.steps`` (a lockstep group of two, :func:`bench.execution.lockstep.run_group`). The side
    that starts (and builds first) alternates with the slot. Both records are appended at once; when one
    side fails, the other is recorded as failed too (a pair is the unit)."""
    contenders = [Contender(s.name, (config,), s.source, s.run_dir, {"revision": s.revision, "commit": s.commit},
                            check=slot == 0)  # each side's config checked against the reference once, in slot 0
                  for s in sides]
    return run_group(contenders, slot, session, chunk, timeout)


def plan(configs: Sequence[RunConfig], pairs: int) -> list[tuple[RunConfig, int]]:
    """(config, slot) in the order they run: every slot visits every config once, so a config's pairs are
    spread over the whole job instead of measured back to back."""
    return [(cfg, slot) for slot in range(pairs) for cfg in configs]


def new_session() -> str:
    return uuid.uuid4().hex[:12]


def pending(work: Sequence[tuple[RunConfig, int]], sides: Sequence[ABSide]) -> list[tuple[RunConfig, int]]:
    """The (config, slot) pairs not finished on both sides (``--resume``)."""
    finished = [records.done(records.measurements(storage.read_records(s.run_dir))) for s in sides]
    return [(cfg, slot) for cfg, slot in work
            if not all((Job(cfg, slot).key, slot) in done for done in finished)]


def execute(work: Sequence[tuple[RunConfig, int]], sides: Sequence[ABSide], session: str, chunk: int,
            timeout: float | None, progress: Callable[[str], None], after_each: Callable[[], None]) -> None:
    for i, (cfg, slot) in enumerate(work):
        fw = cfg.model.framework
        progress(f"[{i + 1}/{len(work)}] pair {slot + 1}: {fw} {cfg.mode} batch {cfg.batch_size}")
        if not registry.is_available(fw):
            for side in sides:
                rec = Job(cfg, slot).record("skipped", error=f"not installed: {registry.install_hint(fw)}")
                storage.append_record(side.run_dir, rec.to_dict())
        else:
            run_slot(cfg, sides, slot, session, chunk, timeout)
        after_each()


# --- the stop rule ------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Options:
    """How ``bench ab`` runs its pairs: ``budget`` minutes from the start for the stop rule (0: exactly
    ``rounds`` pairs per config), at most ``max_rounds`` pairs a config (None: 4 x ``rounds``)."""

    rounds: int
    chunk: int
    timeout: float | None
    budget: float
    max_rounds: int | None
    settings: gate.Settings


def _next_slot(sides: Sequence[ABSide], cfg: RunConfig) -> int:
    key = key_of(cfg)
    slots = [m.round for s in sides for m in records.measurements(storage.read_records(s.run_dir))
             if m.key.label() == key.label()]
    return max(slots) + 1 if slots else 0


def measure(work: Sequence[tuple[RunConfig, int]], configs: Sequence[RunConfig], sides: Sequence[ABSide],
            session: str, opts: Options, show: Callable[[str], None], after_each: Callable[[], None],
            say: Callable[[str], None], clock: Callable[[], float] = time.monotonic) -> None:
    """The planned pairs (each one's wall time is what the budget is spent at), then the stop rule."""
    started = clock()
    marks = [started]

    def timed() -> None:
        marks.append(clock())
        after_each()

    execute(work, sides, session, opts.chunk, opts.timeout, show, timed)
    cost: dict[str, float] = {}
    for (cfg, _), t0, t1 in zip(work, marks, marks[1:], strict=False):
        cost.setdefault(series.label(key_of(cfg)), t1 - t0)
    budget_s = 60 * opts.budget
    if budget_s <= 0:
        return
    by_label = {series.label(key_of(c)): c for c in configs}
    cap = int(opts.max_rounds or max(4 * opts.rounds, opts.rounds))
    while True:
        base, cand = (series.load([str(s.run_dir)], s.name) for s in sides)
        rows = gate.check(base.series, cand.series, opts.settings).rows
        need = {k: v for k, v in gate_extend.needs(rows, opts.settings).items() if k in by_label}
        if not need:
            return
        left = budget_s - (clock() - started)
        grant = lockstep_ratios.more_groups({k: w for k, (w, _) in need.items()}, {k: t for k, (_, t) in need.items()},
                                            {k: cost.get(k, math.inf) for k in need}, left, cap)
        if not grant:
            say(f"{len(need)} row(s) still inconclusive ({', '.join(need)}); the --budget or --max-rounds leaves "
                "no pair to add")
            return
        say(f"{len(need)} row(s) inconclusive: {sum(grant.values())} more pair(s) for {', '.join(grant)}, about "
            f"{sum(cost.get(k, 0.0) * n for k, n in grant.items()) / 60:.1f} min ({max(0.0, left) / 60:.1f} min of "
            "the budget left)")
        for label, n in grant.items():
            cfg = by_label[label]
            for _ in range(n):
                if budget_s - (clock() - started) < cost.get(label, 0.0):
                    say("the budget is spent: no more pairs")
                    return
                execute([(cfg, _next_slot(sides, cfg))], sides, session, opts.chunk, opts.timeout, show, after_each)
