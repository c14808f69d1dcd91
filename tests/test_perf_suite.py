"""The pytest-benchmark suite (benchmarks/) as ``nox -s perf`` runs it: one pytest process per framework,
saves that pytest-benchmark's own --benchmark-compare reads, and that ``bench check`` gates. Run here
on the test-only NumPy framework at a tiny batch, so it takes seconds."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import NUMPY_FRAMEWORK

ROOT = Path(__file__).resolve().parent.parent
pytest.importorskip("pytest_benchmark", exc_type=ModuleNotFoundError)


def _pytest(storage: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "BENCH_EXTRA_FRAMEWORKS": NUMPY_FRAMEWORK, "BENCH_PERF_BATCH": "2", "BENCH_PERF_ROUNDS": "4",
           "PYTHONPATH": str(ROOT)}
    return subprocess.run([sys.executable, "-m", "pytest", "benchmarks", "-p", "no:cacheprovider", "-q",
                           f"--benchmark-storage=file://{storage}", *args], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=600)


def _check(out: Path, baseline: list[Path], candidate: list[Path]) -> tuple[subprocess.CompletedProcess[str],
                                                                          dict[str, dict[str, Any]]]:
    """``bench check`` on pytest-benchmark saves, and each benchmark's row of its gate.json."""
    gate = subprocess.run([sys.executable, "-m", "bench", "check", "--baseline", *map(str, baseline), "--candidate",
                           *map(str, candidate), "--out", str(out)], cwd=ROOT, capture_output=True, text=True,
                          timeout=120, env={**os.environ, "COLUMNS": "200"})
    rows = json.loads((out / "gate.json").read_text())["rows"] if (out / "gate.json").exists() else []
    return gate, {r["benchmark"].split("::")[-1]: r for r in rows}


def test_saves_compare_and_gate(tmp_path: Path) -> None:
    storage = tmp_path / "store"
    for _ in range(4):
        run = _pytest(storage, "-m", "numpy", "--benchmark-autosave", "--benchmark-save-data")
        assert run.returncode == 0, run.stdout[-2000:] + run.stderr[-2000:]
    saves = sorted(storage.rglob("*.json"))
    assert len(saves) == 4
    data = json.loads(saves[0].read_text())
    names = sorted(b["name"] for b in data["benchmarks"])
    assert names == ["test_step[numpy-forward]", "test_step[numpy-train]"]
    bench_row = data["benchmarks"][0]
    assert len(bench_row["stats"]["data"]) == 4  # --benchmark-save-data: the raw rounds
    info = bench_row["extra_info"]
    assert info["framework"] == "numpy" and info["batch_size"] == 2 and info["device"] == "cpu"
    assert info["compile"] == "none" and info["lrn_impl"] == "reference" and info["versions"]["numpy"]
    machine = data["machine_info"]["bench"]
    assert machine["cpu_model"] and "gpu" in machine and machine["numpy"]
    compared = _pytest(storage, "-m", "numpy", "--benchmark-compare")  # pytest-benchmark's own comparison works
    assert compared.returncode == 0 and "Comparing against benchmarks from" in compared.stdout + compared.stderr
    # the gate on saves is Welch's t over processes (one save each), which the machine's state while each process
    # ran moves; these two gates are decided by the saves alone. The same four saves on both sides: a ratio of
    # exactly 1 with t = 0 (p = 1) is never a regression, exit 0; it is "no change" when the interval rules out a
    # 10% slowdown, else "inconclusive" (t(0.9875, 6) = 2.97: a log sd below log(1.1) / (2.97 x 0.71) = 0.045)
    gate, rows = _check(tmp_path / "aa", saves, saves)
    assert gate.returncode == 0 and set(rows) == {"test_step[numpy-forward]", "test_step[numpy-train]"}, gate.stdout
    for row in rows.values():
        assert row["ratio"] == pytest.approx(1.0, abs=1e-12) and row["p_adjusted"] == pytest.approx(1.0), row
        assert row["verdict"] == ("no change" if row["ci_high"] <= 1.10 else "inconclusive"), row
    assert "test_step[numpy-train]" in gate.stdout and "4 procs" in gate.stdout
    # the candidate: the same saves with every step 10 times as long. log 10 = 2.30 against a process spread s
    # (log sd): se = s x sqrt(2/4) = 0.71 s, df 6, t(0.9875, 6) = 2.97 for the 2 rows, so the lower end
    # 10 exp(-2.97 x 0.71 s) clears the 3% floor for s below (2.30 - 0.03) / 2.10 = 1.08, and p < 0.025 (Holm,
    # 2 rows) below 2.30 / 2.10 = 1.10: whatever the load, short of processes 3 times apart
    planted = []
    for save in saves:
        data = json.loads(save.read_text())
        for b in data["benchmarks"]:
            b["stats"]["data"] = [10 * x for x in b["stats"]["data"]]
        planted.append(tmp_path / f"planted-{save.name}")
        planted[-1].write_text(json.dumps(data))
    gate, rows = _check(tmp_path / "ab", saves, planted)
    assert gate.returncode == 1, gate.stdout[-3000:] + gate.stderr
    assert {r["verdict"] for r in rows.values()} == {"regression"} and len(rows) == 2, rows
    assert all(r["ratio"] == pytest.approx(10.0) for r in rows.values()), rows


def test_two_frameworks_in_one_process_are_refused(tmp_path: Path) -> None:
    run = _pytest(tmp_path, "-m", "numpy or torch")
    assert run.returncode != 0 and "one framework per pytest process" in run.stdout + run.stderr
    assert "got numpy, torch; select one with -m numpy" in run.stdout + run.stderr
