"""The pytest-benchmark suite (benchmarks/) as ``nox -s perf`` runs it: one pytest process per framework,
saves that pytest-benchmark's own --benchmark-compare reads, and that ``bench check`` gates. Run here
on the test-only NumPy framework at a tiny batch, so it takes seconds."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

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
    gate = subprocess.run([sys.executable, "-m", "bench", "check", "--baseline", *map(str, saves[:2]), "--candidate",
                           *map(str, saves[2:])], cwd=ROOT, capture_output=True, text=True, timeout=120,
                          env={**os.environ, "COLUMNS": "200"})
    assert gate.returncode in (0, 1), gate.stderr
    assert "test_step[numpy-train]" in gate.stdout and "2 procs" in gate.stdout


def test_two_frameworks_in_one_process_are_refused(tmp_path: Path) -> None:
    run = _pytest(tmp_path, "-m", "numpy or torch")
    assert run.returncode != 0 and "one framework per pytest process" in run.stdout + run.stderr
    assert "got numpy, torch; select one with -m numpy" in run.stdout + run.stderr
