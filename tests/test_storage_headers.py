"""Every CSV a command writes keeps its header whatever failed (issue #30): ``storage.write_rows``
refuses a file with neither rows nor columns, and a ``bench compare --lrn`` and a ``bench profile``
whose every job fails write CSVs that pandas reads back, each with its columns."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from bench.analysis import attribution
from bench.core import storage
from tests import numpy_framework as numpy_module


def test_write_rows_refuses_a_file_with_neither_rows_nor_columns(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"^empty\.csv: no rows and no columns"):
        storage.write_rows(tmp_path / "empty.csv", [])
    assert not (tmp_path / "empty.csv").exists()


def test_write_rows_keeps_the_header_with_no_rows(tmp_path: Path) -> None:
    storage.write_rows(tmp_path / "none.csv", [], columns=("a", "b"))
    frame = pd.read_csv(tmp_path / "none.csv")
    assert list(frame.columns) == ["a", "b"] and len(frame) == 0


def test_write_rows_refuses_a_row_key_its_columns_leave_out(tmp_path: Path) -> None:
    """A column list next to the code that builds the rows cannot silently drop a figure it forgot."""
    with pytest.raises(ValueError, match=r"^rows\.csv: row keys 'c' are not among its columns \(a, b\)"):
        storage.write_rows(tmp_path / "rows.csv", [{"a": 1, "b": 2, "c": 3}], columns=("a", "b"))


def _bench(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "bench", *args], capture_output=True, text=True, timeout=900)


def _every_csv(run_dir: Path) -> dict[str, pd.DataFrame]:
    """Every CSV of the folder read back; each must have columns (a headerless file raises EmptyDataError)."""
    out = {p.name: pd.read_csv(p) for p in sorted(run_dir.glob("*.csv"))}
    for name, frame in out.items():
        assert len(frame.columns) > 0, name
    return out


@pytest.fixture
def blocked(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The NumPy framework's forward step blocks for good: no job finishes inside --timeout 1 on any machine."""
    flags = tmp_path / "flags"
    flags.mkdir()
    monkeypatch.setenv(numpy_module.BLOCK_FORWARD, str(flags))


def test_every_csv_of_a_compare_whose_every_job_failed_has_its_header(tmp_path: Path, numpy_framework: str,
                                                                      blocked: None) -> None:
    run_dir = tmp_path / "run"
    out = _bench("compare", "--frameworks", numpy_framework, "--lrn", "both", "--no-layer", "--mode", "forward",
                 "--batch-size", "2", "--steps", "2", "--warmup", "0", "--rounds", "1", "--max-rounds", "1",
                 "--data", "synthetic", "--timeout", "1", "--out", str(run_dir))
    assert out.returncode == 1 and "Traceback" not in out.stderr, out.stdout + out.stderr
    # every timed job blocks; the GEMM reference never calls the forward step, so it may finish inside 1 s or not
    recs = [r for r in storage.read_records(run_dir) if r.get("kind") == "measure"]
    assert len(recs) == 2 and all(r["status"] == "timeout" for r in recs), [r.get("status") for r in recs]
    written = _every_csv(run_dir)
    assert {"summary.csv", "samples.csv"} <= set(written), sorted(written)


def test_every_csv_of_a_profile_whose_every_job_failed_has_its_header(tmp_path: Path, numpy_framework: str,
                                                                      blocked: None) -> None:
    run_dir = tmp_path / "run"
    out = _bench("profile", "--frameworks", numpy_framework, "--mode", "forward", "--batch-size", "2",
                 "--steps", "1", "--warmup", "0", "--profile-steps", "1", "--layer-steps", "1", "--layer-rounds", "1",
                 "--data", "synthetic", "--timeout", "1", "--out", str(run_dir))
    assert out.returncode == 1 and "Traceback" not in out.stderr, out.stdout + out.stderr
    recs = [r for r in storage.read_records(run_dir) if r.get("kind") == "profile"]
    assert recs and all(r["status"] == "timeout" for r in recs), [r.get("status") for r in recs]
    written = _every_csv(run_dir)
    assert list(written["profile_layers.csv"].columns) == list(attribution.LAYER_COLUMNS)
    assert list(written["profile_summary.csv"].columns) == list(attribution.SUMMARY_COLUMNS)
    assert list(written["profile_ops.csv"].columns) == list(attribution.OPS_COLUMNS)
    assert all(len(frame) == 0 for frame in written.values()), {n: len(f) for n, f in written.items()}
