"""``bench ab``: revisions validated with git before anything runs (one line for each kind of bad input),
lockstep pairs that keep both records whatever one side does, and the whole job end to end on the
test-only NumPy framework."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from bench.core import records, storage
from bench.core.channel import Channel
from bench.core.config import ModelConfig, RunConfig
from bench.execution import ab, lockstep, runner
from tests.conftest import require_framework

ROOT = Path(__file__).resolve().parent.parent
GIT_ID = {"GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@t", "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@t"}


def _git(repo: Path, *args: str, **env: str) -> str:
    return subprocess.run(["git", "-C", str(repo), *args], capture_output=True, text=True, check=True, input="",
                          env={**os.environ, **GIT_ID, **env}).stdout.strip()


@pytest.fixture(scope="module")
def clone(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A clone of this repository with its working tree: ``bench ab`` run from it sees its git only."""
    path = tmp_path_factory.mktemp("repo") / "bench"
    subprocess.run(["git", "clone", "--quiet", "--no-hardlinks", str(ROOT), str(path)], check=True)
    return path


def _ab(cwd: Path, *argv: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    return subprocess.run([sys.executable, "-m", "bench", "ab", *argv], cwd=cwd, capture_output=True, text=True,
                          timeout=900, env={**env, "COLUMNS": "200"})


def test_a_bad_revision_is_one_line(clone: Path) -> None:
    out = _ab(clone, "no-such-branch", "--data", "synthetic")
    assert out.returncode == 2 and len(out.stderr.strip().splitlines()) == 1
    assert "unknown revision 'no-such-branch'" in out.stderr and "commit, branch or tag" in out.stderr
    out = _ab(clone, "--frameworks", "torch", "--", "-x")
    assert out.returncode == 2 and "invalid revision '-x'" in out.stderr


def test_a_dirty_tree_is_one_line(clone: Path) -> None:
    readme = clone / "README.md"
    original = readme.read_text()
    readme.write_text(original + "\nlocal edit\n")
    try:
        out = _ab(clone, "HEAD", "--data", "synthetic")
    finally:
        readme.write_text(original)
    assert out.returncode == 2 and len(out.stderr.strip().splitlines()) == 1
    assert "uncommitted changes (README.md)" in out.stderr and "--allow-dirty" in out.stderr
    assert not list((clone / "reports").glob("*-ab")), "a refused job must leave no folder behind"


def test_a_revision_without_the_package_is_one_line(clone: Path, tmp_path: Path) -> None:
    empty = _git(clone, "commit-tree", _git(clone, "mktree"), "-m", "no bench here")
    index = {"GIT_INDEX_FILE": str(tmp_path / "index")}  # a scratch index: the clone's own stays as it is
    _git(clone, "read-tree", "HEAD", **index)
    _git(clone, "rm", "-q", "--cached", "bench/worker/tasks/lockstep.py", **index)
    old = _git(clone, "commit-tree", _git(clone, "write-tree", **index), "-p", "HEAD", "-m", "before bench ab")
    for rev, missing in ((empty, "bench/worker/__main__.py, bench/worker/tasks/lockstep.py, impls/frameworks.py"),
                         (old, "bench/worker/tasks/lockstep.py")):
        out = _ab(clone, rev, "--data", "synthetic")
        assert out.returncode == 2 and len(out.stderr.strip().splitlines()) == 1
        assert f"has no runnable bench for an A/B job: {missing} missing" in out.stderr


def _side(name: str, root: Path, run_dir: Path) -> ab.ABSide:
    run_dir.mkdir(parents=True)
    return ab.ABSide(name, ab.Revision(ab.WORKING_TREE, "0" * 40), runner.Source(root, sys.executable), run_dir)


def _broken_tree(tmp_path: Path, replace: str) -> Path:
    """A copy of this tree whose lockstep worker misbehaves after saying ready."""
    root = tmp_path / "broken"
    for part in ("bench", "impls", "tests"):
        shutil.copytree(ROOT / part, root / part, ignore=shutil.ignore_patterns("__pycache__"))
    path = root / "bench" / "worker" / "tasks" / "lockstep.py"
    path.write_text(path.read_text().replace('    chan.send({"ready": True})\n',
                                             f'    chan.send({{"ready": True}})\n{replace}\n'))
    return root


def _patience(monkeypatch: pytest.MonkeyPatch, *limits: float | None) -> None:
    """The n-th channel ``ab.run_slot`` opens (in :mod:`bench.execution.lockstep`) waits for its worker's
    first answer (ready) as long as it takes, then at most ``limits[n]`` s per answer (None: as long as it
    takes), whatever timeout run_slot was given. So a hung worker is given up on, and a healthy one never,
    however slow the machine."""
    left = list(limits)

    class Patient(Channel):
        def __init__(self, sock: Any) -> None:
            super().__init__(sock)
            self.limit, self.answers = left.pop(0), 0

        def recv(self, timeout: float | None = None) -> dict[str, Any]:
            self.answers += 1
            return super().recv(None if self.answers == 1 else self.limit)

    monkeypatch.setattr(lockstep, "Channel", Patient)


@pytest.mark.parametrize(("how", "status", "text"), [
    ("    raise RuntimeError('planted mid-pair failure')", "failed", "planted mid-pair failure"),
    ("    import time; time.sleep(600)", "timeout", "stopped answering"),
], ids=["crash", "hang"])
def test_one_side_failing_records_both_and_loses_nothing(tmp_path: Path, numpy_framework: str, how: str,
                                                         status: str, text: str,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    cfg = RunConfig(ModelConfig(numpy_framework), mode="forward", batch_size=2, steps=4, warmup=0, data="synthetic")
    sides = [_side("base", ROOT, tmp_path / "base"), _side("candidate", _broken_tree(tmp_path, how),
                                                           tmp_path / "cand")]
    _patience(monkeypatch, None, 3.0)  # slot 0: base first; only the candidate, which sleeps 600 s, can time out
    recs = ab.run_slot(cfg, sides, 0, "s", chunk=2, timeout=None)
    base, cand = recs
    assert cand.status == status and text in (cand.error or "")
    assert base.status == "failed" and "the other side of the pair failed" in (base.error or "")
    for side in sides:  # both records are on disk, with their pair
        (rec,) = storage.read_records(side.run_dir)
        assert rec["lockstep"]["session"] == "s" and rec["lockstep"]["slot"] == 0


def test_lockstep_pairs_take_turns(tmp_path: Path, numpy_framework: str) -> None:
    cfg = RunConfig(ModelConfig(numpy_framework), mode="forward", batch_size=2, steps=5, warmup=0, data="synthetic")
    sides = [_side("base", ROOT, tmp_path / "base"), _side("candidate", ROOT, tmp_path / "cand")]
    for slot in (0, 1):
        ab.run_slot(cfg, sides, slot, "s", chunk=2, timeout=None)  # healthy: no limit their speed could reach
    for side in sides:
        ms = records.measurements(storage.read_records(side.run_dir))
        assert [m.status for m in ms] == ["ok", "ok"] and all(len(m.samples_ns) == 5 for m in ms)
        assert [m.extra["chunks"] for m in ms] == [3, 3]  # 2 + 2 + 1 steps, in turns
        assert [m.extra["lockstep"]["order"][0] for m in ms] == ["base", "candidate"]  # who starts alternates
        assert ms[0].extra["source_root"] == str(ROOT)


def test_the_stored_real_gates_say_no_change_for_aa_and_regression_for_the_plant() -> None:
    """The gate's verdicts on real measurements, fixed on disk: every A/A gate (``bench ab HEAD``, the project
    against itself, torch, 8 lockstep pairs) and every planted-slowdown gate stored by benchmarks/gate_experiment.py
    (benchmarks/results/gate-*: 20 A/A, 25 planted), judged with today's gate and its default settings."""
    from bench.analysis import gate
    from bench.store import series

    found: dict[str, list[str]] = {"aa": [], "ab": []}
    for folder in sorted((ROOT / "benchmarks" / "results").glob("gate-*/[ab][ab]-*")):
        base, cand = (series.load([str(folder / side)], side) for side in ("base", "candidate"))
        (row,) = gate.check(base.series, cand.series).rows
        found[folder.name[:2]].append(row.verdict)
    assert found["aa"] == ["no change"] * 20, found["aa"]
    assert found["ab"] == ["regression"] * 25, found["ab"]


def test_ab_end_to_end_and_resume(tmp_path: Path, numpy_framework: str) -> None:
    """An A/A job (HEAD against the working tree, the same code), run here as the pipeline's check: it must not
    find a difference (exit 0, neither "regression" nor "improvement"). Whether its 4 pairs also rule out 10%
    ("no change") depends on how busy this shared machine is (16 pairs under a load of 9 on 2 cores gave
    [0.763, 1.243]), so that verdict is pinned on the stored real A/A gates above. How often it may still say
    "regression": at most the gate's one-sided alpha, 2.5%, less with the 3% floor; 0 of 20 stored real A/A
    gates and 0 of 1000 simulated from their pairs (benchmarks/results/gate-analysis-pooled.json) did."""
    out = tmp_path / "job"
    argv = ["HEAD", "--allow-dirty", "--frameworks", "numpy", "--mode", "forward", "--batch-size", "2", "--steps",
            "3", "--rounds", "4", "--budget", "0", "--warmup", "0", "--data", "synthetic", "--out", str(out)]
    outputs = ["--markdown", str(tmp_path / "summary.md"), "--export", "bencher", str(tmp_path / "bmf.json")]
    run = subprocess.run([sys.executable, "-m", "bench", "ab", *argv, *outputs], cwd=ROOT, capture_output=True,
                         text=True, timeout=900, env={**os.environ, "COLUMNS": "200"})
    gate = json.loads((out / "gate.json").read_text())
    (row,) = gate["rows"]
    assert run.returncode == 0 and row["verdict"] in ("no change", "inconclusive"), run.stdout[-3000:] + run.stderr
    pairs = row["units"]
    assert row["method"] == "t over lockstep pairs" and pairs == 4
    assert "numpy forward batch 2 LRN off (none)" in run.stdout and "4 pairs" in run.stdout
    assert (out / "gate.md").read_text() == (tmp_path / "summary.md").read_text()
    assert "numpy forward batch 2 LRN off (none)" in json.loads((tmp_path / "bmf.json").read_text())
    for side in ("base", "candidate"):
        assert (out / side / "summary.csv").exists() and (out / side / storage.ENV).exists()
    env = storage.read_json(out / "base" / storage.ENV)
    assert env["git"]["revision"] == "HEAD" and env["source_root"] != str(ROOT)  # the base ran its own export
    again = subprocess.run([sys.executable, "-m", "bench", "ab", *argv, "--resume"], cwd=ROOT, capture_output=True,
                           text=True, timeout=900, env={**os.environ, "COLUMNS": "200"})
    assert again.returncode == 0 and "0 lockstep pairs" in again.stdout, again.stdout[-3000:] + again.stderr
    assert len(storage.read_records(out / "base")) == pairs  # nothing measured twice
    (out / "gate.json").unlink()
    rerendered = subprocess.run([sys.executable, "-m", "bench", "report", str(out)], cwd=ROOT, capture_output=True,
                                text=True, timeout=300, env={**os.environ, "COLUMNS": "200"})
    assert rerendered.returncode == 0 and (out / "gate.json").exists(), rerendered.stderr
    (again_row,) = json.loads((out / "gate.json").read_text())["rows"]
    assert (again_row["units"], again_row["verdict"]) == (pairs, row["verdict"])  # re-judged the same


def test_a_job_leaves_out_what_is_at_its_default() -> None:
    """Workers of an older revision run any job that leaves newer options at their defaults."""
    cfg = RunConfig(ModelConfig("torch"), mode="forward", batch_size=2, data="synthetic")
    minimal = cfg.to_minimal_dict()
    assert minimal == {"mode": "forward", "batch_size": 2, "data": "synthetic",
                       "model": {"framework": "torch", "compile": "eager", "lrn_impl": "module"}}
    assert RunConfig.from_dict(minimal) == cfg


@pytest.mark.torch
def test_a_revision_whose_workers_all_fail_is_one_line(clone: Path, tmp_path: Path) -> None:
    require_framework("torch")  # its workers are torch's: nox -s jax / -s tensorflow skip it
    index = {"GIT_INDEX_FILE": str(tmp_path / "index")}
    _git(clone, "read-tree", "HEAD", **index)
    path = tmp_path / "lockstep.py"
    path.write_text((clone / "bench/worker/tasks/lockstep.py").read_text().replace(
        "    many = \"configs\" in params\n",
        "    raise TypeError(\"this revision cannot read the job\")\n"))
    blob = _git(clone, "hash-object", "-w", str(path))
    _git(clone, "update-index", "--cacheinfo", f"100644,{blob},bench/worker/tasks/lockstep.py", **index)
    broken = _git(clone, "commit-tree", _git(clone, "write-tree", **index), "-p", "HEAD", "-m", "broken worker")
    out = _ab(clone, broken, "--frameworks", "torch", "--mode", "forward", "--batch-size", "2", "--steps", "2",
              "--rounds", "2", "--budget", "0", "--warmup", "0", "--data", "synthetic", "--out", str(tmp_path / "job"))
    assert out.returncode == 2 and len(out.stderr.strip().splitlines()) == 1, out.stderr
    assert "every pair failed on the base side" in out.stderr and "this revision cannot read the job" in out.stderr


def test_revisions_of_either_layout_are_runnable() -> None:
    """A revision from before the layered layout (bench/worker.py, bench/tasks/) still runs as a side."""
    from bench.execution import ab

    flat, layered = set(ab.LAYOUTS[1]), set(ab.LAYOUTS[0])
    assert ab._missing(flat) == [] and ab._missing(layered) == []
    assert ab._missing(flat - {"bench/tasks/lockstep.py"}) == ["bench/worker/__main__.py",
                                                               "bench/worker/tasks/lockstep.py"]
