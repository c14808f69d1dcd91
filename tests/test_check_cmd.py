"""``bench check`` through the CLI on stored results: bench run folders and pytest-benchmark saves,
exit codes, the Markdown summary, dashboard exports, and one line for each kind of bad input."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from bench.cli import main
from bench.core import storage
from bench.core.records import JobKey, Measurement

KEY = JobKey("torch", "train", 128, False, "eager", "module", "cpu", None, "hostA", None)


def _run_folder(path: Path, rng: np.random.Generator, scale: float = 1.0, processes: int = 4,
                packages: dict[str, str] | None = None, cpu: str = "Test CPU", key: JobKey = KEY) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    storage.write_json(path / storage.ENV, {"cpu_model": cpu, "hostname": "hostA", "git": {"commit": "a" * 40},
                                            "packages": packages or {"torch": "2.13.0"}})
    for r in range(processes):
        center = 300e6 * scale * np.exp(rng.normal(0, 0.01))
        samples = (center * (1 + rng.normal(0, 0.01, 30))).astype(int).tolist()
        storage.append_record(path, Measurement(key, r, "ok", samples_ns=tuple(samples)).to_dict())
    return path


def _check(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(["check", *argv])
    out, err = capsys.readouterr()
    return code, out, err


def test_run_folders_unchanged_then_slower(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rng = np.random.default_rng(0)
    base = _run_folder(tmp_path / "base", rng)
    same = _run_folder(tmp_path / "same", rng)
    slow = _run_folder(tmp_path / "slow", rng, scale=1.15)
    code, out, _ = _check(capsys, "--baseline", str(base), "--candidate", str(same))
    assert code == 0 and "no change" in out and "torch train batch 128 LRN off (eager)" in out
    md, gh, bmf = tmp_path / "gate.md", tmp_path / "gh.json", tmp_path / "bmf.json"
    code, out, _ = _check(capsys, "--baseline", str(base), "--candidate", str(slow), "--markdown", str(md),
                          "--export", "github", str(gh), "--export", "bencher", str(bmf), "--out", str(tmp_path / "g"))
    assert code == 1 and "regression" in out and "REGRESSION in 1 of 1 rows" in out
    assert "## Performance gate: REGRESSION" in md.read_text() and "**regression**" in md.read_text()
    entry = json.loads(gh.read_text())[0]
    assert entry["unit"] == "ms" and entry["range"].startswith("± ") and "regression" in entry["extra"]
    assert 330 < entry["value"] < 360
    latency = json.loads(bmf.read_text())["torch train batch 128 LRN off (eager)"]["latency"]
    assert latency["lower_value"] < latency["value"] < latency["upper_value"] and latency["value"] > 3e8
    gate_json = json.loads((tmp_path / "g" / "gate.json").read_text())
    assert gate_json["exit_code"] == 1 and gate_json["rows"][0]["verdict"] == "regression"
    assert (tmp_path / "g" / "gate.csv").exists() and (tmp_path / "g" / "gate.md").exists()


def test_provenance_differences_are_listed_and_strict_refuses(tmp_path: Path,
                                                               capsys: pytest.CaptureFixture[str]) -> None:
    rng = np.random.default_rng(1)
    base = _run_folder(tmp_path / "base", rng)
    new = _run_folder(tmp_path / "new", rng, packages={"torch": "2.14.1"})
    code, out, _ = _check(capsys, "--baseline", str(base), "--candidate", str(new))
    assert code == 0 and "provenance differs: packages.torch: baseline '2.13.0', candidate '2.14.1'" in out
    code, _, err = _check(capsys, "--baseline", str(base), "--candidate", str(new), "--strict")
    assert code == 2 and "--strict" in err and "packages.torch" in err and len(err.strip().splitlines()) == 1


@pytest.mark.parametrize(("case", "message"), [
    ("missing", "no such file or folder"),
    ("nothing_common", "no benchmark in common"),
    ("devices", "different devices"),
    ("not_json", "not a pytest-benchmark JSON save"),
])
def test_bad_input_is_one_line_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str], case: str,
                                      message: str) -> None:
    rng = np.random.default_rng(2)
    base = _run_folder(tmp_path / "base", rng)
    other = {
        "missing": lambda: tmp_path / "nope",
        "nothing_common": lambda: _run_folder(tmp_path / "o", rng, key=JobKey(
            "jax", "train", 128, False, "jit", "reduce_window", "cpu", None, "hostA", None)),
        "devices": lambda: _run_folder(tmp_path / "o", rng, cpu="Another CPU"),
        "not_json": lambda: tmp_path / "x.txt",
    }[case]()
    if case == "not_json":
        other.write_text("hello")
    code, _, err = _check(capsys, "--baseline", str(base), "--candidate", str(other))
    assert code == 2 and message in err and len(err.strip().splitlines()) == 1


def _pytest_benchmark_file(path: Path, rng: np.random.Generator, scale: float, save_data: bool = True) -> Path:
    data = (0.3 * scale * np.exp(rng.normal(0, 0.01)) * (1 + rng.normal(0, 0.01, 25))).tolist()
    stats = {"median": float(np.median(data)), "mean": float(np.mean(data)), "rounds": len(data)}
    if save_data:
        stats["data"] = data
    path.write_text(json.dumps({
        "machine_info": {"node": "hostA", "cpu": {"brand_raw": "Test CPU"}, "python_version": "3.11.7",
                         "bench": {"torch": "2.13.0", "gpu": None}},
        "commit_info": {"id": "c" * 40},
        "benchmarks": [{"name": "test_step[torch-train]", "stats": stats,
                        "fullname": "benchmarks/test_steps.py::test_step[torch-train]"}]}))
    return path


@pytest.mark.parametrize("save_data", [True, False], ids=["with-data", "medians-only"])
def test_pytest_benchmark_saves_gate_with_the_same_statistics(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                              save_data: bool) -> None:
    rng = np.random.default_rng(3)
    base = [str(_pytest_benchmark_file(tmp_path / f"000{i}_base.json", rng, 1.0, save_data)) for i in range(4)]
    slow = [str(_pytest_benchmark_file(tmp_path / f"001{i}_slow.json", rng, 1.12, save_data)) for i in range(4)]
    code, out, _ = _check(capsys, "--baseline", *base, "--candidate", *slow)
    assert code == 1 and "regression" in out and "4 procs" in out
    code, out, _ = _check(capsys, "--baseline", base[0], "--candidate", slow[0])
    assert code == 0 and "inconclusive" in out  # one process (file) per side says nothing about the next run


def test_a_folder_of_pytest_benchmark_saves(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rng = np.random.default_rng(4)
    for side, scale in (("a", 1.0), ("b", 1.0)):
        (tmp_path / side).mkdir()
        for i in range(3):
            _pytest_benchmark_file(tmp_path / side / f"000{i}_x.json", rng, scale)
    code, out, _ = _check(capsys, "--baseline", str(tmp_path / "a"), "--candidate", str(tmp_path / "b"))
    assert code == 0 and "3 procs" in out
    code, _, err = _check(capsys, "--baseline", str(tmp_path / "a"), "--candidate",
                          str(_run_folder(tmp_path / "run", rng)))
    assert code == 2 and "no benchmark in common" in err
