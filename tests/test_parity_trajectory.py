"""``bench parity --trajectory`` end to end at its smallest: the test-only NumPy framework and one installed
framework train 3 steps on 8 real MNIST images each (seed 0, dropout off, the same batches), and the run
folder holds what the command promises: one trajectory record per framework, trajectory.csv with each
step's losses and their largest relative difference against the envelope, the loss curves and report.html."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from bench.analysis.equivalence import trajectory_tolerance
from bench.core import data, storage
from tests.conftest import installed

STEPS = 3


@pytest.mark.slow
def test_trajectory_writes_each_steps_losses_and_their_difference(tmp_path: Path, mnist: data.Dataset,
                                                                  numpy_framework: str) -> None:
    other = next(fw for fw in installed() if fw != numpy_framework)
    frameworks = [numpy_framework, other]
    run_dir = tmp_path / "traj"
    out = subprocess.run([sys.executable, "-m", "bench", "parity", "--trajectory", "--frameworks",
                          ",".join(frameworks), "--trajectory-steps", str(STEPS), "--batch-size", "8",
                          "--train-size", "8", "--data-dir", mnist.location, "--no-download", "--no-estimate",
                          "--device", "cpu", "--out", str(run_dir)], capture_output=True, text=True, timeout=1200)
    assert out.returncode == 0, out.stdout + out.stderr

    recs = [r for r in storage.read_records(run_dir) if r.get("kind") == "trajectory"]
    assert sorted(r["framework"] for r in recs) == sorted(frameworks)
    for r in recs:
        assert r["status"] == "ok" and r["seed"] == 0, r
        assert r["config"]["model"]["dropout"] == 0.0 and r["config"]["max_steps"] == STEPS
        assert r["config"]["eval_every"] == 0 and r["config"]["train_size"] == 8
        assert len(r["losses"]) == STEPS  # 8 images at batch 8: one step an epoch, 3 epochs, stopped at 3 steps
    losses = {r["framework"]: r["losses"] for r in recs}

    traj = pd.read_csv(run_dir / "trajectory.csv")
    assert list(traj.columns) == ["step", *(f"loss_{fw}" for fw in losses), "max_rel_diff", "envelope"]
    assert list(traj["step"]) == [1, 2, 3]
    for fw, curve in losses.items():
        assert list(traj[f"loss_{fw}"]) == pytest.approx(curve, rel=1e-12)
    for i, row in traj.iterrows():
        a, b = (losses[fw][int(i)] for fw in frameworks)  # type: ignore[call-overload]
        # the largest of |a-b|/|b| and |a-b|/|a|: the difference over the smaller loss
        assert row["max_rel_diff"] == pytest.approx(abs(a - b) / min(abs(a), abs(b)), rel=1e-9)
        assert row["envelope"] == pytest.approx(trajectory_tolerance(int(i)))  # type: ignore[call-overload]
    # the first loss is computed from the shared initial weights on the same batch: equal to float32 rounding
    assert traj["max_rel_diff"].iloc[0] < 1e-4
    # ~2.30 = ln(10): an untrained 10-class softmax; a framework that trained on other images or labels, or with
    # other weights, would start elsewhere
    assert all(2.0 < losses[fw][0] < 2.6 for fw in frameworks), losses

    curves = pd.read_csv(run_dir / "parity_curves.csv")
    train = curves[curves["metric"] == "train_loss"]
    assert sorted(set(train["framework"])) == sorted(frameworks) and set(train["run"]) == {"trajectory"}
    for fw in frameworks:
        assert list(train[train["framework"] == fw]["value"]) == pytest.approx(losses[fw], rel=1e-12)
    assert (run_dir / "report.html").stat().st_size > 0
    assert not (run_dir / "parity_summary.csv").exists()  # no verdict with --trajectory
