"""Worker isolation, the sweep, stored outputs, resume and interruption."""

from __future__ import annotations

import csv
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from bench import results, runner, storage, sweep
from bench.config import ModelConfig, RunConfig
from tests.conftest import framework_params, require_framework


@pytest.mark.parametrize(("how", "status", "text"), [
    ("raise", "failed", "RuntimeError: planted failure"),
    ("oom", "oom", "MemoryError"),
    ("signal", "oom", "SIGKILL"),
])
def test_worker_failures_become_outcomes(how: str, status: str, text: str) -> None:
    out = runner.run_worker("crash", {"how": how}, timeout=60)
    assert out.status == status
    assert text in (out.error or "")


def test_hung_worker_times_out() -> None:
    start = time.monotonic()
    out = runner.run_worker("crash", {"how": "hang"}, timeout=3)
    assert out.status == "timeout" and "--timeout 3 s" in (out.error or "")
    assert time.monotonic() - start < 30


def test_worker_sets_environment_before_frameworks() -> None:
    out = runner.run_worker("crash", {"how": "none"}, threads=1, device="cpu", timeout=60)
    assert out.status == "ok"
    env = out.result["worker_env"]
    assert env["CUDA_VISIBLE_DEVICES"] == "" and env["XLA_PYTHON_CLIENT_PREALLOCATE"] == "false"
    assert env["OMP_NUM_THREADS"] == "1" and "intra_op_parallelism_threads=1" in env["XLA_FLAGS"]


def _base(**kw: Any) -> RunConfig:
    return RunConfig(ModelConfig("torch"), steps=2, warmup=0, data="synthetic", **kw)


def test_plan_interleaves_rounds() -> None:
    jobs = sweep.plan(["torch", "jax"], ["train"], [8], [False], _base(), rounds=2)
    assert [(j.config.model.framework, j.round) for j in jobs] == [("torch", 0), ("jax", 0), ("torch", 1), ("jax", 1)]


def test_sweep_continues_after_a_crash(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A job whose worker dies by signal becomes a row; the next job still runs."""
    real = runner.run_worker
    calls: list[str] = []

    def fake(task: str, params: dict[str, Any], **kw: Any) -> runner.Outcome:
        fw = params["config"]["model"]["framework"]
        calls.append(fw)
        if fw == "torch":
            return real("crash", {"how": "signal"}, timeout=60)
        return runner.Outcome("ok", {"samples_ns": [5, 6, 7], "compile_ns": 9, "flops_per_step": 10,
                                     "data_source": "synthetic"})

    monkeypatch.setattr(sweep, "run_worker", fake)
    monkeypatch.setattr(sweep.registry, "is_available", lambda fw: True)
    jobs = sweep.plan(["torch", "jax"], ["train"], [8], [False], _base())
    recs = sweep.execute(jobs, tmp_path, timeout=60)
    assert calls == ["torch", "jax"]
    assert [r["status"] for r in recs] == ["oom", "ok"]
    stored = storage.read_records(tmp_path)
    assert len(stored) == 2 and "SIGKILL" in stored[0]["error"]
    # resume: only the failed job is tried again
    calls.clear()
    sweep.execute(jobs, tmp_path, timeout=60)
    assert calls == ["torch"]


def test_summary_pools_rounds_and_ranks() -> None:
    recs = []
    for fw, base in (("torch", 10_000_000), ("jax", 20_000_000)):
        for rnd in range(2):
            recs.append({"kind": "measure", "framework": fw, "mode": "train", "batch_size": 8, "lrn": False,
                         "compile": "x", "lrn_impl": "y", "device": "cpu", "threads": None, "round": rnd,
                         "status": "ok", "samples_ns": [base, base + 1_000_000], "compile_ns": 1e9,
                         "flops_per_step": 10**9, "data_source": "synthetic", "memory": {"host_peak_rss_bytes": 2**30}})
    recs.append({"kind": "gemm", "status": "ok", "device": "cpu", "flops_per_s": 2e11})
    rows = {r["framework"]: r for r in results.summarise(recs)}
    assert rows["torch"]["n"] == 4 and rows["torch"]["rounds"] == 2
    assert rows["torch"]["mean_ms"] == pytest.approx(10.5)
    assert rows["jax"]["relative_to_fastest"] == pytest.approx(20.5 / 10.5)
    assert rows["torch"]["achieved_gflops"] == pytest.approx(1 / 0.0105)
    assert rows["torch"]["pct_of_peak"] == pytest.approx(100 * (1 / 0.0105) / 200)
    assert rows["torch"]["host_peak_rss_mb"] == 1024.0
    assert rows["torch"]["alloc_peak_mb"] is None  # no allocator on CPU: None, never 0


def test_torn_last_line_is_ignored(tmp_path: Path) -> None:
    storage.append_record(tmp_path, {"a": 1})
    with open(tmp_path / storage.RESULTS, "a") as fh:
        fh.write('{"b": ')
    assert storage.read_records(tmp_path) == [{"a": 1}]


def _bench(*args: str, timeout: float = 900) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "bench", *args], capture_output=True, text=True, timeout=timeout)


@pytest.mark.slow
@pytest.mark.parametrize("fw", framework_params())
def test_tiny_real_run(fw: str, tmp_path: Path) -> None:
    require_framework(fw)
    out = _bench("run", "--frameworks", fw, "--batch-size", "8", "--steps", "3", "--warmup", "1",
                 "--data", "synthetic", "--out", str(tmp_path))
    assert out.returncode == 0, out.stdout + out.stderr
    with open(tmp_path / "summary.csv") as fh:
        reader = csv.DictReader(fh)
        assert tuple(reader.fieldnames or ()) == results.SUMMARY_COLUMNS
        rows = list(reader)
    assert {r["mode"] for r in rows} == {"train", "forward"}
    for r in rows:
        assert r["status"] == "ok" and r["framework"] == fw and r["n"] == "3"
        assert float(r["mean_ms"]) > 0 and r["data_source"] == "synthetic"
        assert float(r["pct_of_peak"]) > 0 and float(r["host_peak_rss_mb"]) > 100
        assert r["alloc_peak_mb"] == ""  # CPU: no allocator figure
    with open(tmp_path / "samples.csv") as fh:
        samples = list(csv.DictReader(fh))
    assert len(samples) == 6 and set(samples[0]) == set(storage.SAMPLE_COLUMNS)
    env = json.loads((tmp_path / "env.json").read_text())
    assert env["schema_version"] == 1 and env["git"]["commit"] and env["cpu_model"]
    assert (tmp_path / "step_times.png").stat().st_size > 1000
    assert "SYNTHETIC" in out.stdout
    # report re-renders from storage alone
    rep = _bench("report", str(tmp_path))
    assert rep.returncode == 0 and fw in rep.stdout


@pytest.mark.slow
def test_resume_and_interrupt(tmp_path: Path) -> None:
    require_framework("torch")
    args = ["run", "--frameworks", "torch", "--batch-size", "4", "--warmup", "0", "--data", "synthetic",
            "--out", str(tmp_path)]
    proc = subprocess.Popen([sys.executable, "-m", "bench", *args, "--steps", "400", "--mode", "both"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:  # wait for the first finished measurement, then Ctrl-C
        if any(r.get("kind") == "measure" for r in storage.read_records(tmp_path)):
            break
        time.sleep(0.5)
    os.kill(proc.pid, signal.SIGINT)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err
    kept = [r for r in storage.read_records(tmp_path) if r.get("kind") == "measure"]
    assert len(kept) == 1 and kept[0]["status"] == "ok"
    assert (tmp_path / "summary.csv").exists() and not list(tmp_path.glob(".*tmp"))
    out = _bench(*args, "--steps", "400", "--mode", "both", "--resume")
    assert out.returncode == 0, out.stderr
    measured = [r for r in storage.read_records(tmp_path) if r.get("kind") == "measure"]
    assert len(measured) == 2 and {r["mode"] for r in measured} == {"train", "forward"}


def test_plan_keeps_lrn_parameters_of_the_base() -> None:
    base = RunConfig(ModelConfig("torch", lrn_radius=2, lrn_beta=0.5, threads=1), steps=2, data="synthetic")
    jobs = sweep.plan(["torch", "jax"], ["train"], [8], [True], base, compile_modes={"torch": "compile"})
    for job in jobs:
        m = job.config.model
        assert (m.lrn_radius, m.lrn_beta, m.threads, m.lrn) == (2, 0.5, 1, True)
    assert [j.config.model.compile for j in jobs] == ["compile", "jit"]
