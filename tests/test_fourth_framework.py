"""Adding a framework needs nothing under bench/: the test-only NumPy framework (one module,
tests/numpy_framework.py, one registration) runs every command end to end, through the same
workers, records and reports as the real three."""

from __future__ import annotations

import csv
import json
import subprocess
import sys
from pathlib import Path

import pytest

from bench.core import records, registry, storage


def _bench(*args: str, timeout: float = 600) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "bench", *args], capture_output=True, text=True, timeout=timeout)


def test_registration_is_all_bench_knows(numpy_framework: str) -> None:
    reg = registry.get(numpy_framework)
    assert reg.is_available() and numpy_framework in registry.available()
    from bench.core.config import ModelConfig

    assert ModelConfig(numpy_framework).compile == "none"  # defaults come from the registration
    with pytest.raises(Exception, match="invalid compile mode for numpy 'jit'; allowed: none"):
        ModelConfig(numpy_framework, compile="jit")


def test_verify(numpy_framework: str) -> None:
    out = _bench("verify", "--frameworks", numpy_framework, "--batch-size", "4", "--data", "synthetic")
    assert out.returncode == 0, out.stdout + out.stderr
    assert out.stdout.count("PASS") == 2 and "All frameworks match the reference" in out.stdout


def test_run(numpy_framework: str, tmp_path: Path) -> None:
    out = _bench("run", "--frameworks", numpy_framework, "--batch-size", "2", "--steps", "3", "--warmup", "1",
                 "--lrn", "both", "--rounds", "2", "--data", "synthetic", "--out", str(tmp_path))
    assert out.returncode == 0, out.stdout + out.stderr
    with open(tmp_path / "summary.csv") as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) == 4 and {r["framework"] for r in rows} == {numpy_framework}
    assert all(r["status"] == "ok" and r["n"] == "6" and r["rounds"] == "2" for r in rows)
    assert all(r["compile"] == "none" and r["lrn_impl"] == "reference" for r in rows)


def test_compare_lrn_with_every_protocol_option(numpy_framework: str, tmp_path: Path) -> None:
    """--rounds, --include-transfer and --block-steps used to be accepted and ignored by the pair worker."""
    out = _bench("compare", "--lrn", "--frameworks", numpy_framework, "--batch-size", "2", "--steps", "5",
                 "--warmup", "1", "--mode", "forward", "--layer-steps", "4", "--rounds", "2", "--max-rounds", "2",
                 "--include-transfer",
                 "--block-steps", "3", "--data", "synthetic", "--out", str(tmp_path))
    assert out.returncode == 0, out.stdout + out.stderr
    assert "What LRN costs" in out.stdout and "LRN layer alone" in out.stdout
    measured = records.measurements(storage.read_records(tmp_path))
    assert len(measured) == 4 and all(m.pair and m.ok for m in measured)  # 2 rounds x (off, on)
    assert sorted(m.round for m in measured) == [0, 0, 1, 1]
    assert all(m.include_transfer and m.block_steps == 3 and m.block_mean_ns for m in measured)
    with open(tmp_path / "lrn_comparison.csv") as fh:
        (row,) = list(csv.DictReader(fh))
    assert row["framework"] == numpy_framework and int(row["n_off"]) >= 10  # pooled over both rounds
    with open(tmp_path / "lrn_layer.csv") as fh:
        assert {r["impl"] for r in csv.DictReader(fh)} == {"reference"}


def test_calibrate_and_env(numpy_framework: str, tmp_path: Path) -> None:
    out = _bench("calibrate", "--frameworks", numpy_framework, "--batch-size", "2", "--steps", "2", "--rounds", "2",
                 "--out", str(tmp_path / "calibration.json"))
    assert out.returncode == 0, out.stdout + out.stderr
    saved = json.loads((tmp_path / "calibration.json").read_text())
    (row,) = saved["rows"]
    assert row["status"] == "ok" and row["gemm_gflops"] > 0 and row["timer"]["observed_min_ns"] > 0
    assert row["harness_cost_us"] > 0 and len(row["overhead_ci"]) == 2
    env = _bench("env")
    assert env.returncode == 0 and "NumPy" in env.stdout and "cpu" in env.stdout
