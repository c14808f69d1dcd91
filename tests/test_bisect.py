"""``bench bisect`` and the profile diff: the decisions on synthetic pairs (same / different / not yet, the
search order, skipped commits, the confirmation), the diff on synthetic profile records, and one planted
history of 10 commits on the test-only NumPy framework, end to end (a culprit named, a commit that does
not import skipped and named, a bisection stopped after two probes and resumed, the diff naming the
layer), plus the one-line refusals of bad input."""

from __future__ import annotations

import json
import math
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from bench.analysis import bisection, gate, profile_diff
from bench.analysis.bisection import CONFIRM, DIFFERENT, SAME, SEARCH, SKIPPED, Done

ROOT = Path(__file__).resolve().parent.parent
GIT_ID = {"GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@t", "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@t"}


# --- the decisions, on synthetic pairs -------------------------------------------------------------
def _rows(ratio: float, noise: float, pairs: int, settings: gate.Settings, seed: int = 0) -> list[gate.GateRow]:
    """Gate rows of one lockstep config: ``pairs`` pairs of 5 steps, the candidate ``ratio`` times the base,
    each pair's log ratio off by a normal draw of sd ``noise``."""
    rng = np.random.default_rng(seed)
    base, cand = {}, {}
    for i in range(pairs):
        steps = 10 * np.exp(rng.normal(0, 0.001, 5))
        base[f"s:{i}"] = list(steps)
        cand[f"s:{i}"] = list(steps * ratio * math.exp(rng.normal(0, noise)))
    key = (("framework", "numpy"),)
    return gate.check([gate.Series(key, base, "cpu", True)], [gate.Series(key, cand, "cpu", True)], settings).rows


def test_a_probe_says_same_different_or_not_yet() -> None:
    s = gate.Settings()
    assert bisection.outcome(_rows(1.30, 0.01, 4, s)) == DIFFERENT
    assert bisection.outcome(_rows(1.00, 0.01, 4, s)) == SAME
    assert bisection.outcome(_rows(0.80, 0.01, 4, s)) == SAME  # faster is not a regression
    undecided = _rows(1.06, 0.08, 3, s)
    assert bisection.outcome(undecided) == bisection.NOT_YET
    # the budget spent: the point estimate against the middle of the undecided band (1 + (3% + 10%) / 2)
    assert bisection.forced(undecided, s) == (DIFFERENT if undecided[0].ratio > 1.065 else SAME)


def test_pairs_double_within_the_budget_and_alpha_is_shared_over_the_looks() -> None:
    assert [bisection.next_batch(d, 4, 16) for d in (0, 4, 8, 16)] == [4, 4, 8, 0]
    assert bisection.next_batch(8, 4, 10) == 2  # never beyond the budget
    assert bisection.looks(4, 16) == 3 and bisection.looks(4, 4) == 1
    assert bisection.probe_settings(gate.Settings(alpha=0.06), 4, 16).alpha == pytest.approx(0.02)


def _bisect(n: int, culprit: int, skipped: frozenset[int] = frozenset(),
            confirm: str = DIFFERENT) -> tuple[bisection.Step, list[Done]]:
    """Run the search against an oracle: commits from ``culprit`` on are slower, ``skipped`` do not run."""
    history: list[Done] = []
    while (step := bisection.next_step(n, history)).action == bisection.PROBE:
        assert step.index is not None and step.base < step.index
        if step.kind == CONFIRM:
            outcome = confirm
        elif step.index in skipped:
            outcome = SKIPPED
        else:  # against the nearest known-good, which is before the culprit
            assert step.base < culprit
            outcome = DIFFERENT if step.index >= culprit else SAME
        history.append(Done(step.index, step.base, step.kind, outcome))
        assert len(history) < 2 * n + 4
    return step, history


@pytest.mark.parametrize("n", [1, 2, 3, 8, 11, 16])
def test_the_search_finds_every_culprit_in_log_probes(n: int) -> None:
    for culprit in range(n):
        step, history = _bisect(n, culprit)
        assert (step.action, step.index, step.suspects) == (bisection.FOUND, culprit, ())
        assert history[0] == Done(n - 1, bisection.GOOD_INDEX, SEARCH, DIFFERENT)  # BAD against GOOD first
        assert history[-1].kind == CONFIRM and history[-1].index == culprit and history[-1].base == culprit - 1
        assert len(history) <= math.ceil(math.log2(n)) + 2


def test_the_search_goes_around_skipped_commits_and_names_them() -> None:
    # index 4 is the first middle of 10 commits: skipped, its neighbour 5 is probed instead
    step, history = _bisect(10, 7, frozenset({4}))
    assert [(d.index, d.outcome) for d in history[:3]] == [(9, DIFFERENT), (4, SKIPPED), (5, SAME)]
    assert (step.action, step.index, step.suspects) == (bisection.FOUND, 7, ())
    # the culprit's parent does not run: the boundary is the next runnable commit, the skipped one a suspect
    step, history = _bisect(10, 6, frozenset({6}))
    assert (step.action, step.index, step.suspects) == (bisection.FOUND, 7, (6,))
    assert history[-1].base == 5  # confirmed against the nearest runnable ancestor


def test_no_regression_an_unconfirmed_boundary_and_a_bad_that_does_not_run() -> None:
    assert bisection.next_step(5, [Done(4, -1, SEARCH, SAME)]).action == bisection.NO_REGRESSION
    assert bisection.next_step(5, [Done(4, -1, SEARCH, SKIPPED)]).action == bisection.BAD_DOES_NOT_RUN
    step, _ = _bisect(6, 3, confirm=SAME)
    assert (step.action, step.index) == (bisection.UNCONFIRMED, 3)


def test_a_probe_not_yet_decided_gets_more_pairs_before_the_search_moves(tmp_path: Path, numpy_framework: str,
                                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    """The engine's loop on synthetic pairs (no workers): pair log ratios alternating 0.3 and 0 leave the probe
    'not yet' after 4 and 8 pairs and a regression at 16; with a budget of 8 the probe is decided by its point
    estimate and marked forced."""
    from bench.core.config import ModelConfig, RunConfig
    from bench.execution import ab
    from bench.execution import bisect as engine_module
    from bench.execution.runner import Source
    from bench.store import series

    batches: list[int] = []
    monkeypatch.setattr(ab, "execute", lambda work, *rest: batches.append(len(work)))
    cfg = RunConfig(ModelConfig("numpy"), mode="forward", batch_size=2, steps=5, data="synthetic")
    opts = engine_module.Options(4, 16, 1, 60.0, 0.05, 0.03, 0.10)
    state = engine_module.State("repo", {}, {}, [], [cfg.to_dict()], vars(opts))
    key = (("framework", "numpy"),)

    def load(paths: list[str], what: str) -> series.GateSide:
        pairs = batches[-1]  # nothing is written here, so every planned slot is pending: the plan's size
        ratio = [math.exp(0.3 * (i % 2 == 0)) for i in range(pairs)]
        groups = {f"s:{i}": [10.0 * (ratio[i] if what == "candidate" else 1.0)] * 5 for i in range(pairs)}
        return series.GateSide([gate.Series(key, groups, "cpu", True)], {}, [], "bench", paths)

    monkeypatch.setattr(series, "load", load)
    engine = engine_module.Engine(Path("."), tmp_path, state, tmp_path, sys.executable, {}, print, lambda: None)
    sides = [ab.ABSide(n, ab.Revision("x", "0" * 40), Source(tmp_path, sys.executable), tmp_path / n)
             for n in ("base", "candidate")]
    out: dict[str, object] = {"reason": ""}
    assert engine._measure(sides, out) == DIFFERENT
    assert batches == [4, 8, 16] and out["pairs"] == 16  # the plan doubles; ab.pending leaves out pairs on disk
    assert [r["verdict"] for r in out["rows"]] == ["regression"] and not out.get("forced")  # type: ignore[index]
    assert math.exp(0.15) == pytest.approx(out["ratio"])
    opts.budget = 8  # the same pairs with a smaller budget: still "not yet" at 8, decided by the point estimate
    batches.clear()
    engine.state.options = vars(opts)
    out = {"reason": ""}
    assert engine._measure(sides, out) == DIFFERENT and batches == [4, 8] and out["pairs"] == 8
    assert out["forced"] and [r["verdict"] for r in out["rows"]] == ["inconclusive"]  # type: ignore[index]


# --- the profile diff, on synthetic records --------------------------------------------------------
def _profile_record(round_: int, conv3_ms: float, seed: int) -> dict[str, object]:
    rng = np.random.default_rng(seed)

    def ns(ms: float) -> list[int]:
        return [int(ms * 1e6 * math.exp(rng.normal(0, 0.02))) for _ in range(3)]

    return {"kind": "profile", "status": "ok", "framework": "numpy", "round": round_, "samples_ns": ns(50 + conv3_ms),
            "config": {"mode": "train", "batch_size": 2, "model": {"lrn": False, "device": "cpu"}},
            "isolated": [{"scope": "conv1", "forward_ns": ns(5), "forward_backward_ns": ns(12)},
                         {"scope": "conv3", "forward_ns": ns(conv3_ms), "forward_backward_ns": ns(conv3_ms + 8)}]}


def test_the_diff_ranks_the_slowed_layer_first_with_an_interval_over_rounds() -> None:
    base = [_profile_record(r, 8.0, r) for r in range(4)]
    cand = [_profile_record(r, 24.0, 10 + r) for r in range(4)]
    rows = profile_diff.diff(base, cand)
    top = rows[0]
    assert (top["scope"], top["pass"], top["source"], top["rounds"]) == ("conv3", "forward", "isolated", 4)
    assert top["added_ms"] == pytest.approx(16, rel=0.1) and top["ci_low"] < top["ratio"] < top["ci_high"]
    assert 2.7 < top["ci_low"] and top["ci_high"] < 3.3
    assert [r["added_ms"] for r in rows] == sorted((r["added_ms"] for r in rows), reverse=True)
    assert profile_diff.headline(rows).startswith("conv3 forward +16")  # type: ignore[union-attr]
    assert profile_diff.diff(base, []) == [] and profile_diff.headline([]) is None


# --- a planted history, end to end ----------------------------------------------------------------
BROKEN, SLOW, N = 4, 7, 10  # commit indices after GOOD: the first middle does not import; 7 is slower
PLANT = '''
_conv_forward = conv_forward


def conv_forward(x: Array, w: Array, b: Array, *rest: object) -> Array:
    """Planted by tests/test_bisect.py: conv3 (128 -> 256 channels) does its work 8 more times."""
    if w.shape[-2:] == (128, 256):
        for _ in range(8):
            _conv_forward(x, w, b, *rest)
    return _conv_forward(x, w, b, *rest)
'''


def _git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", "-C", str(repo), *args], capture_output=True, text=True, check=True, input="",
                          env={**os.environ, **GIT_ID}).stdout.strip()


@pytest.fixture(scope="module")
def history(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[str]]:
    """A repository of this tree's code (GOOD) and 10 commits after it: index 4 cannot import the NumPy
    framework (5 repairs it), index 7 slows conv3; the rest change a notes file. Returns (repo, [GOOD, 0..9])."""
    repo = tmp_path_factory.mktemp("history") / "bench"
    for part in ("bench", "impls"):
        shutil.copytree(ROOT / part, repo / part, ignore=shutil.ignore_patterns("__pycache__"))
    (repo / "tests").mkdir()
    shutil.copy(ROOT / "tests" / "numpy_framework.py", repo / "tests")
    shutil.copy(ROOT / "pyproject.toml", repo)
    _git(repo, "init", "-q", "-b", "main")
    _git(repo, "add", "-A")
    _git(repo, "commit", "-q", "-m", "good")
    hashes = [_git(repo, "rev-parse", "HEAD")]
    framework = repo / "tests" / "numpy_framework.py"
    original = framework.read_text()
    for i in range(N):
        (repo / "notes.txt").write_text(f"note {i}\n")
        if i == BROKEN:
            future = "from __future__ import annotations\n"
            framework.write_text(original.replace(future, future + 'raise ImportError("planted: this commit does not '
                                                  'import")\n'))
        if i == BROKEN + 1:
            framework.write_text(original)
        if i == SLOW:  # the float64 reference the NumPy framework runs (impls/ before bench/model/ held it)
            path = next(p for p in (repo / "bench" / "model" / "reference.py", repo / "impls" / "reference.py")
                        if p.exists())
            text = path.read_text()
            assert "\n\ndef conv_backward" in text
            path.write_text(text.replace("\n\ndef conv_backward", PLANT + "\n\ndef conv_backward"))
        _git(repo, "add", "-A")
        _git(repo, "commit", "-q", "-m", {BROKEN: "break the import", SLOW: "slow conv3"}.get(i, f"note {i}"))
        hashes.append(_git(repo, "rev-parse", "HEAD"))
    return repo, hashes


def _bench(repo: Path, *argv: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    return subprocess.run([sys.executable, "-m", "bench", *argv], cwd=repo, capture_output=True, text=True,
                          timeout=1800, env={**env, "COLUMNS": "200"})


TINY = ("--frameworks", "numpy", "--mode", "forward", "--batch-size", "2", "--steps", "5", "--warmup", "1",
        "--threads", "1", "--data", "synthetic", "--noise-floor", "10", "--detect", "50")


def test_bad_input_is_one_line_each(history: tuple[Path, list[str]], numpy_framework: str) -> None:
    repo, hashes = history
    side = _git(repo, "commit-tree", _git(repo, "rev-parse", f"{hashes[3]}^{{tree}}"), "-p", hashes[2], "-m", "side")
    cases = [((hashes[-1], hashes[0]), "GOOD and BAD are in the wrong order"),
             ((side, hashes[-1]), f"GOOD {side} ({side[:10]}) is not an ancestor of BAD"),
             ((hashes[2], hashes[2]), "are the same commit"),
             (("no-such", hashes[-1]), "unknown revision 'no-such'")]
    for (good, bad), text in cases:
        out = _bench(repo, "bisect", good, bad, *TINY)
        assert out.returncode == 2 and len(out.stderr.strip().splitlines()) == 1, out.stderr
        assert text in out.stderr
    # an option bisect does not take is not in its help, and giving it is refused in one line
    assert "--target-ci" not in _bench(repo, "bisect", "--help").stdout
    out = _bench(repo, "bisect", hashes[0], hashes[-1], *TINY, "--target-ci", "3")
    assert (out.returncode, out.stderr.strip()) == \
        (2, "bench: error: bench bisect: unrecognized arguments: --target-ci 3 (see bench bisect --help)")
    assert not (repo / "reports").exists(), "refused input must leave no run folder"


@pytest.mark.slow
def test_bisect_names_the_culprit_skips_the_broken_commit_and_resumes(history: tuple[Path, list[str]],
                                                                     numpy_framework: str, tmp_path: Path) -> None:
    repo, hashes = history
    out_dir = tmp_path / "bisect"
    argv = ("bisect", hashes[0], hashes[-1], *TINY, "--rounds", "3", "--probe-budget", "6", "--profile-rounds", "2",
            "--layer-steps", "2")
    first = _bench(repo, *argv, "--out", str(out_dir), "--max-probes", "2")
    assert first.returncode == 3, first.stdout + first.stderr
    saved = json.loads((out_dir / "bisect.json").read_text())
    assert [p["index"] for p in saved["probes"]] == [N - 1, BROKEN]  # BAD against GOOD, then the first middle
    assert saved["probes"][1]["outcome"] == SKIPPED and "planted: this commit does not import" in \
        saved["probes"][1]["reason"]
    kept = (out_dir / saved["probes"][0]["folder"] / "base" / "results.jsonl").read_text()

    again = _bench(repo, "bisect", "--resume", str(out_dir))
    assert again.returncode == 0, again.stdout + again.stderr
    state = json.loads((out_dir / "bisect.json").read_text())
    assert state["probes"][:2] == saved["probes"]  # the finished probes were kept, not measured again
    assert (out_dir / saved["probes"][0]["folder"] / "base" / "results.jsonl").read_text() == kept
    assert state["result"]["culprit"]["hash"] == hashes[SLOW + 1] and state["result"]["action"] == "found"
    confirm = state["probes"][-1]
    assert confirm["kind"] == CONFIRM and confirm["outcome"] == DIFFERENT and confirm["base_commit"] == hashes[SLOW]
    assert f"Culprit: {hashes[SLOW + 1]} slow conv3" in again.stdout
    assert f"Skipped {hashes[BROKEN + 1][:10]} break the import" in again.stdout
    report = (out_dir / "bisect.md").read_text()
    assert "Culprit:" in report and "break the import" in report
    diff = (out_dir / confirm["folder"] / "profile_diff.csv").read_text().splitlines()
    assert diff[1].split(",")[7:10] == ["isolated", "conv3", "forward"]  # the planted layer ranks first
    assert confirm["profile_headline"].startswith("conv3 forward +")


@pytest.mark.slow
def test_ab_profile_names_the_layer(history: tuple[Path, list[str]], numpy_framework: str, tmp_path: Path) -> None:
    repo, hashes = history
    # conv3 is 14.5 M of the 75.9 M multiply-adds of a forward pass (19%); doing it 9 times makes a step about
    # 1 + 8 x 0.19 = 2.5 times as long, far past the 10% floor TINY sets: a regression, exit 1. Pairs are added
    # while the row is undecided (at most 8; the 30 minutes are a cap only a stuck machine reaches)
    out = _bench(repo, "ab", hashes[SLOW], hashes[SLOW + 1], *TINY, "--rounds", "3", "--budget", "30", "--max-rounds",
                 "8", "--profile", "--profile-rounds", "2", "--layer-steps", "2", "--out", str(tmp_path / "ab"))
    (row,) = json.loads((tmp_path / "ab" / "gate.json").read_text())["rows"]
    assert (out.returncode, row["verdict"]) == (1, "regression"), out.stdout + out.stderr
    assert row["ratio"] > 1.5 and row["ci_low"] > 1.10, row
    assert "Top: conv3 forward +" in out.stdout
    rows = (tmp_path / "ab" / "profile_diff.csv").read_text().splitlines()
    assert rows[0].startswith(",".join(profile_diff.COLUMNS)) and rows[1].split(",")[8:10] == ["conv3", "forward"]
    assert _bench(repo, "ab", hashes[0], hashes[1], *TINY, "--profile-rounds", "3").stderr.strip() == \
        "bench: error: --profile-rounds has no effect without --profile"
