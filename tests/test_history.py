"""``bench history``: change points on known series (a step is found at its commit, a flat noisy series
has none at about the nominal rate), and append/report through the CLI on stored run folders."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from bench.analysis import changepoints
from bench.cli import main
from bench.core import storage
from bench.core.records import JobKey, Measurement


def _series(rng: np.random.Generator, n: int, noise: float, steps: dict[int, float]) -> list[float]:
    level, out = 300.0, []
    for i in range(n):
        level *= steps.get(i, 1.0)
        out.append(level * float(np.exp(rng.normal(0, noise))))
    return out


def test_a_step_is_found_at_its_commit() -> None:
    rng = np.random.default_rng(0)
    values = _series(rng, 30, 0.02, {12: 1.15})
    (change,) = changepoints.change_points(values)
    assert change.index == 12 and change.ratio == pytest.approx(1.15, rel=0.03) and change.p_value < 0.01


def test_two_steps_up_and_back_are_both_found() -> None:
    rng = np.random.default_rng(1)
    values = _series(rng, 40, 0.02, {10: 1.2, 25: 1 / 1.2})
    assert [c.index for c in changepoints.change_points(values)] == [10, 25]


def test_one_odd_commit_and_drift_inside_the_floor_are_not_changes() -> None:
    rng = np.random.default_rng(2)
    values = _series(rng, 30, 0.01, {})
    values[15] *= 1.5  # an outlier, not a new level
    assert changepoints.change_points(values) == []
    slow_drift = [300 * (1 + 0.0005 * i) for i in range(30)]  # 1.5% over 30 commits: under the 3% floor
    assert changepoints.change_points(slow_drift) == []


def test_flat_noisy_series_rarely_show_a_change() -> None:
    rng = np.random.default_rng(3)
    found = sum(bool(changepoints.change_points(_series(rng, 25, 0.05, {}), noise_floor=0.0, permutations=199,
                                           seed=i)) for i in range(100))
    assert found <= 10  # alpha 5% per segment tested; binary segmentation tests a few segments at most


def _run(path: Path, commit: str, scale: float, rng: np.random.Generator) -> Path:
    path.mkdir(parents=True)
    storage.write_json(path / storage.ENV, {"cpu_model": "Test CPU", "hostname": "ci-1", "git": {"commit": commit}})
    for fw in ("torch", "jax"):
        key = JobKey(fw, "train", 128, False, "eager" if fw == "torch" else "jit", "x", "cpu", None, "ci-1", None)
        for r in range(3):
            samples = (300e6 * scale * (1 + rng.normal(0, 0.01, 20))).astype(int)
            storage.append_record(path, Measurement(key, r, "ok", samples_ns=tuple(samples.tolist())).to_dict())
    return path


def test_append_and_report_end_to_end(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rng = np.random.default_rng(4)
    store = tmp_path / "store"
    for i in range(12):
        run = _run(tmp_path / f"run{i}", f"c{i:02d}" + "a" * 37, 1.25 if i >= 6 else 1.0, rng)
        assert main(["history", "append", str(run), "--store", str(store)]) == 0
    assert "appended 2 benchmark(s) at c11aaaaaaa" in capsys.readouterr().out
    (machine_file,) = store.glob("*.jsonl")
    assert machine_file.name == "ci-1_Test-CPU.jsonl" and len(machine_file.read_text().splitlines()) == 24
    out = tmp_path / "report"
    gh = tmp_path / "gh.json"
    assert main(["history", "report", "--store", str(store), "--out", str(out), "--export", "github", str(gh)]) == 0
    text = capsys.readouterr().out
    assert "c06aaaaaaa: +25" in text  # the change is named by the commit that made it
    changes = (out / "changes.csv").read_text().splitlines()
    assert len(changes) == 3 and all(f"c06{'a' * 37},c05" in line for line in changes[1:])
    assert {p.name for p in out.glob("*.png")} == {"history-torch.png", "history-jax.png"}
    rows = (out / "history.csv").read_text().splitlines()
    assert len(rows) == 25 and sum("+25" in r for r in rows) == 2
    assert {e["name"] for e in json.loads(gh.read_text())} == {"torch train batch 128 LRN off (eager) [ci-1_Test-CPU]",
                                                                 "jax train batch 128 LRN off (jit) [ci-1_Test-CPU]"}


def test_bad_input(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["history", "report", "--store", str(tmp_path / "none")]) == 2
    assert "no history store" in capsys.readouterr().err
    run = _run(tmp_path / "run", "a" * 40, 1.0, np.random.default_rng(5))
    (run / storage.ENV).unlink()
    assert main(["history", "append", str(run), "--store", str(tmp_path / "s")]) == 2
    assert "no commit recorded" in capsys.readouterr().err
    assert main(["history", "append", str(run), "--store", str(tmp_path / "s"), "--commit", "b" * 40]) == 0


def test_history_names_where_the_measuring_code_changed(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    store = tmp_path / "store"
    rng = np.random.default_rng(6)
    for i, fp in enumerate(("aaaaaaaaaaaa", "aaaaaaaaaaaa", "bbbbbbbbbbbb")):
        run = tmp_path / f"run{i}"
        run.mkdir()
        storage.write_json(run / storage.ENV, {"cpu_model": "Test CPU", "hostname": "ci-1",
                                               "git": {"commit": f"c{i:02d}" + "a" * 37}})
        key = JobKey("torch", "train", 128, False, "eager", "x", "cpu", None, "ci-1", None)
        for r in range(2):
            samples = (300e6 * (1 + rng.normal(0, 0.01, 20))).astype(int)
            storage.append_record(run, Measurement(key, r, "ok", samples_ns=tuple(samples.tolist()),
                                                   versions={"torch": "2.13.0"}, fingerprint=fp).to_dict())
        assert main(["history", "append", str(run), "--store", str(store)]) == 0
    capsys.readouterr()
    out = tmp_path / "report"
    assert main(["history", "report", "--store", str(store), "--out", str(out)]) == 0
    text = " ".join(capsys.readouterr().out.split())
    assert ("torch train batch 128 LRN off (eager) [ci-1_Test-CPU]: measured with other versions or code from "
            "c02aaaaaaa: torch 2.13.0; code aaaaaaaaaaaa -> torch 2.13.0; code bbbbbbbbbbbb") in text
    assert "latest points measured with: torch 2.13.0; code bbbbbbbbbbbb" in text
    assert "code bbbbbbbbbbbb" in (out / "history.csv").read_text().splitlines()[-1]
