"""Equivalence in every timed run (design.md §3, issue #33): the worker that times a config checks it against
the float64 reference, the record carries the error, and a config that fails is refused: status
``not equivalent``, no step time, one line saying so, and in a lockstep comparison no ratio.

Every test runs ``python -m bench`` with the test-only NumPy frameworks (tests/numpy_framework.py,
tests/numpy_twin.py) through the real worker subprocesses. The planted config is the NumPy framework's
LRN implementation ``drops-sum`` (offered only under ``BENCH_TEST_PLANT_LRN``): LRN without the
neighbours' sum of squares, x * bias^-beta, which moves the logits by far more than the strict tier's 2e-5.
"""

from __future__ import annotations

import csv
import os
import subprocess
import sys
from pathlib import Path

from bench.core import records, storage
from bench.core.records import NOT_EQUIVALENT

ROOT = Path(__file__).resolve().parents[1]
TWO = "tests.numpy_framework:REGISTRATION,tests.numpy_twin:TWIN"
PLANT = ("--lrn-impl", "numpy=drops-sum")
COST_LINE = "in-run equivalence: "


def _bench(*argv: str, plant: bool = False) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "BENCH_EXTRA_FRAMEWORKS": TWO, "COLUMNS": "200",
           "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}
    env.pop("BENCH_TEST_PLANT_LRN", None)
    if plant:
        env["BENCH_TEST_PLANT_LRN"] = "1"
    return subprocess.run([sys.executable, "-m", "bench", *argv], cwd=ROOT, capture_output=True, text=True,
                          timeout=900, env=env)


def _summary(run_dir: Path) -> list[dict[str, str]]:
    with open(run_dir / "summary.csv") as fh:
        return list(csv.DictReader(fh))


RUN = ("run", "--frameworks", "numpy", "--lrn", "on", "--mode", "both", "--batch-size", "2", "--steps", "3",
       "--warmup", "1", "--rounds", "1", "--data", "synthetic")
COMPARE = ("compare", "--frameworks", "numpy", "numpytwin", "--lrn", "on", "--mode", "forward", "--batch-size", "2",
           "--steps", "3", "--warmup", "0", "--rounds", "1", "--budget", "0", "--data", "synthetic")


def test_a_timed_run_records_its_check(tmp_path: Path) -> None:
    """train (dropout 0.25: checked on a twin with dropout off) and forward (the timed model itself), each
    within the strict tier; the summary row carries the worst error, its tolerance and the tier, and the
    checks' cost is printed once."""
    out = _bench(*RUN, "--out", str(tmp_path))
    assert out.returncode == 0, out.stdout + out.stderr
    ms = records.measurements(storage.read_records(tmp_path))
    assert {m.key.mode for m in ms} == {"train", "forward"} and all(m.ok for m in ms)
    for m in ms:
        e = m.equivalence
        assert e["passed"] is True and e["tier"] == "strict" and e["batch"] == 4 and e["seconds"] > 0
        quantities = {c["quantity"] for c in e["checks"]}
        if m.key.mode == "train":
            assert e["model_checked"] == "a twin with dropout off"
            assert {"logits", "loss", "grad conv1", "grad fc2", "adam step", "lrn op"} <= quantities
        else:
            assert e["model_checked"] == "the timed model" and quantities == {"logits", "lrn op"}
        assert all(c["difference"] <= c["tolerance"] for c in e["checks"])
    rows = _summary(tmp_path)
    assert {r["status"] for r in rows} == {"ok"} and all(r["median_ms"] for r in rows)
    for r in rows:
        assert r["equiv_tier"] == "strict" and r["equiv_worst"]
        assert 0 <= float(r["equiv_error"]) <= float(r["equiv_tolerance"]) and float(r["equiv_check_s"]) > 0
    cost = [line for line in out.stdout.splitlines() if line.startswith(COST_LINE)]
    assert len(cost) == 1 and "2 configs checked" in cost[0] and "outside the timed region" in cost[0], cost
    assert "NOT EQUIVALENT" not in out.stdout


def test_a_lockstep_comparison_records_each_contenders_check(tmp_path: Path) -> None:
    out = _bench(*COMPARE, "--out", str(tmp_path))
    assert out.returncode == 0, out.stdout + out.stderr
    ms = records.measurements(storage.read_records(tmp_path))
    assert {m.key.framework for m in ms} == {"numpy", "numpytwin"} and all(m.extra.get("lockstep") for m in ms)
    assert all(m.ok and m.equivalence["passed"] is True for m in ms)
    with open(tmp_path / "framework_comparison.csv") as fh:
        rows = list(csv.DictReader(fh))
    assert {r["framework"] for r in rows} == {"numpy", "numpytwin"} and all(r["ratio"] for r in rows)
    cost = [line for line in out.stdout.splitlines() if line.startswith(COST_LINE)]
    assert len(cost) == 1 and "2 configs checked" in cost[0], cost


def test_a_config_that_is_not_equivalent_is_refused_its_time(tmp_path: Path) -> None:
    """The planted LRN: both rows refused, no step statistic (absent, never 0), one line each, exit 1."""
    out = _bench(*RUN, *PLANT, "--out", str(tmp_path), plant=True)
    assert out.returncode == 1, out.stdout + out.stderr
    ms = records.measurements(storage.read_records(tmp_path))
    assert len(ms) == 2 and all(m.status == NOT_EQUIVALENT and not m.samples_ns for m in ms)
    for m in ms:
        assert m.equivalence["passed"] is False
        failed = {c["quantity"] for c in m.equivalence["checks"] if c["difference"] > c["tolerance"]}
        assert {"logits", "lrn op"} <= failed, failed
        assert "logits" in str(m.error) and "its time is not reported" in str(m.error)
    rows = _summary(tmp_path)
    assert len(rows) == 2 and {r["status"] for r in rows} == {NOT_EQUIVALENT}
    timed = ("n", "mean_ms", "median_ms", "min_ms", "p95_ms", "median_ci_low_ms", "images_per_s", "relative_to_fastest")
    assert all(r[c] == "" for r in rows for c in timed), rows
    assert all(float(r["equiv_error"]) > float(r["equiv_tolerance"]) for r in rows)
    with open(tmp_path / "samples.csv") as fh:
        assert not list(csv.DictReader(fh))
    lines = out.stdout.splitlines()
    refused = [line for line in lines if line.startswith("NOT EQUIVALENT: numpy")]
    assert len(refused) == 2 and all("LRN impl drops-sum" in line and "logits" in line for line in refused), lines
    cost = [line for line in lines if line.startswith(COST_LINE)]
    assert len(cost) == 1 and cost[0].endswith("2 not equivalent"), cost


def test_a_lockstep_contender_that_is_not_equivalent_gets_no_ratio(tmp_path: Path) -> None:
    """numpy with the planted LRN against numpytwin (the reference LRN): numpy's row says why and has no
    ratio; numpytwin, the only equivalent contender, is the fastest."""
    out = _bench(*COMPARE, *PLANT, "--out", str(tmp_path), plant=True)
    assert out.returncode == 1, out.stdout + out.stderr
    by_fw = {m.key.framework: m for m in records.measurements(storage.read_records(tmp_path))}
    assert by_fw["numpy"].status == NOT_EQUIVALENT and not by_fw["numpy"].samples_ns
    assert by_fw["numpytwin"].ok and by_fw["numpytwin"].equivalence["passed"] is True
    with open(tmp_path / "framework_comparison.csv") as fh:
        rows = {r["framework"]: r for r in csv.DictReader(fh)}
    assert rows["numpy"]["ratio"] == "" and rows["numpy"]["median_ms"] == ""
    assert rows["numpy"]["verdict"].startswith("not equivalent, no ratio")
    assert rows["numpytwin"]["verdict"] == "fastest" and rows["numpytwin"]["fastest"] == "numpytwin"
    refused = [line for line in out.stdout.splitlines() if line.startswith("NOT EQUIVALENT: numpy")]
    assert len(refused) == 1, out.stdout
