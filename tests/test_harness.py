"""Worker isolation, the sweep, stored outputs, resume and interruption."""

from __future__ import annotations

import csv
import dataclasses
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from bench.analysis import stop_rule, summary
from bench.core import fingerprint, records, registry, storage
from bench.core.config import ModelConfig, RunConfig
from bench.core.records import SummaryRow
from bench.execution import planning, runner, sweep
from bench.output import frames
from bench.store import resume
from tests import numpy_framework as numpy_module
from tests.conftest import framework_params, require_framework


@pytest.mark.parametrize(("how", "status", "text"), [
    ("raise", "failed", "RuntimeError: planted failure"),
    ("oom", "oom", "MemoryError"),
    ("signal", "oom", "SIGKILL"),
])
def test_worker_failures_become_outcomes(how: str, status: str, text: str) -> None:
    out = runner.run_worker("crash", {"how": how}, timeout=None)
    assert out.status == status
    assert text in (out.error or "")


def test_hung_worker_times_out() -> None:
    # the worker sleeps an hour: "timeout" (not "ok") is the proof the limit was enforced, whatever the
    # machine's speed (a worker still starting after 3 s is stopped the same way)
    out = runner.run_worker("crash", {"how": "hang"}, timeout=3)
    assert out.status == "timeout" and "--timeout 3 s" in (out.error or "")


def test_worker_sets_environment_before_frameworks() -> None:
    """What the child process itself saw: its environment, its cores, and no framework imported yet."""
    out = runner.run_worker("crash", {"how": "probe"}, threads=1, device="cpu", timeout=None)
    assert out.status == "ok"
    env = out.result["environ"]
    assert env["CUDA_VISIBLE_DEVICES"] == "" and env["OMP_NUM_THREADS"] == "1"
    for reg in registry.registrations().values():  # every framework's registered settings, before import
        for key, value in reg.worker_env(1, "cpu").items():
            assert env[key] == value, key
    assert out.result["frameworks_imported"] == []
    cores = sorted(os.sched_getaffinity(0))
    assert out.result["affinity"] == cores[-1:]  # the last core: CPU 0 takes the interrupts
    assert out.result["worker_env"]["cpu_affinity"] == str(cores[-1])
    assert out.result["ppid"] == os.getpid() and out.result["identity"]["host"]


def test_worker_exiting_without_a_result_becomes_a_row() -> None:
    out = runner.run_worker("crash", {"how": "exit"}, timeout=None)
    assert out.status == "failed" and out.returncode == 3
    assert "exited with code 3 and no result" in (out.error or "") and "planted exit" in (out.error or "")


# Run as its own process: a child subreaper, so the worker orphaned by its parent's death becomes its
# child, and waitpid says how the worker ended, as soon as it ends (no polling, no time limit).
_ORPHAN_WATCH = """
import ctypes, os, signal, subprocess, sys, time
from pathlib import Path
assert ctypes.CDLL(None, use_errno=True).prctl(36, 1, 0, 0, 0) == 0  # PR_SET_CHILD_SUBREAPER
pidfile = Path(sys.argv[1])
parent = subprocess.Popen([sys.executable, "-c", "from bench.execution import runner; runner.run_worker("
                           f"'crash', {{'how': 'hang', 'pidfile': {str(pidfile)!r}}}, timeout=None)"])
while not (pidfile.exists() and pidfile.read_text()):  # the worker is running (its task wrote its pid)
    if parent.poll() is not None:
        sys.exit(f"the parent ended first (exit {parent.returncode})")
    time.sleep(0.05)
worker = int(pidfile.read_text())
os.kill(parent.pid, signal.SIGKILL)
parent.wait()
# The parent's exit sent the worker its death signal before the parent could be reaped: by now the
# worker is a zombie or has SIGKILL pending. Otherwise it would sleep on for an hour: say so at once.
status_file = dict(line.split(":", 1) for line in Path(f"/proc/{worker}/status").read_text().splitlines())
pending = int(status_file["SigPnd"], 16) | int(status_file["ShdPnd"], 16)
if status_file["State"].strip()[0] not in "ZX" and not pending & (1 << (signal.SIGKILL - 1)):
    os.kill(worker, signal.SIGKILL)
    sys.exit("still running, no SIGKILL pending")
_, status = os.waitpid(worker, 0)
print(signal.Signals(os.WTERMSIG(status)).name if os.WIFSIGNALED(status) else f"exit {os.WEXITSTATUS(status)}")
"""


def test_worker_dies_with_its_parent(tmp_path: Path) -> None:
    """SIGKILL the parent (nothing can be cleaned up): the worker must not go on running."""
    out = subprocess.run([sys.executable, "-c", _ORPHAN_WATCH, str(tmp_path / "worker.pid")], capture_output=True,
                         text=True)
    assert out.returncode == 0, "the worker outlived its SIGKILLed parent: " + out.stderr
    assert out.stdout.strip() == "SIGKILL", out.stdout


def _base(**kw: Any) -> RunConfig:
    return RunConfig(ModelConfig("torch"), steps=2, warmup=0, data="synthetic", **kw)


def test_plan_interleaves_rounds() -> None:
    jobs = planning.plan(["torch", "jax"], ["train"], [8], [False], _base(), rounds=2)
    assert [(j.config.model.framework, j.round) for j in jobs] == [("torch", 0), ("jax", 0), ("torch", 1), ("jax", 1)]


def test_sweep_continues_after_a_crash(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A job whose worker dies by signal becomes a row; the next job still runs."""
    from bench.execution import executors

    real = runner.start_worker
    calls: list[str] = []

    def fake(task: str, params: dict[str, Any], **kw: Any) -> runner.Running:  # what each job's worker does
        fw = params["config"]["model"]["framework"]
        calls.append(fw)
        return real("crash", {"how": "signal" if fw == "torch" else "probe"})

    monkeypatch.setattr(executors, "start_worker", fake)
    monkeypatch.setattr(sweep.registry, "is_available", lambda fw: True)
    jobs = planning.plan(["torch", "jax"], ["train"], [8], [False], _base())
    recs = sweep.execute(jobs, tmp_path, timeout=None)
    assert calls == ["torch", "jax"]
    assert [r.status for r in recs] == ["oom", "ok"]
    stored = storage.read_records(tmp_path)
    assert len(stored) == 2 and "SIGKILL" in stored[0]["error"]
    # resume: only the failed job is tried again, and the skipped one is named
    calls.clear()
    said: list[str] = []
    sweep.execute(jobs, tmp_path, timeout=None, notify=said.append)
    assert calls == ["torch"]
    assert said == [f"resume: 1 of 2 jobs already finished in {tmp_path}, skipped: jax train batch 8 LRN off round 1"]


def _measure(fw: str, rnd: int, base: int, host: str = "h1", **kw: Any) -> dict[str, Any]:
    return {"kind": "measure", "framework": fw, "mode": "train", "batch_size": 8, "lrn": False,
            "compile": "x", "lrn_impl": "y", "device": "cpu", "threads": None, "host": host, "gpu": None,
            "round": rnd, "status": "ok", "samples_ns": [base, base + 1_000_000], "compile_ns": 1e9,
            "flops_per_step": 10**9, "data_source": "synthetic", "memory": {"host_peak_rss_bytes": 2**30}, **kw}


def test_summary_pools_rounds_and_ranks() -> None:
    recs = [_measure(fw, rnd, base) for fw, base in (("torch", 10_000_000), ("jax", 20_000_000)) for rnd in range(2)]
    recs.append({"kind": "gemm", "status": "ok", "device": "cpu", "flops_per_s": 2e11})
    rows = {r.framework: r for r in summary.summarise(recs)}
    assert rows["torch"].n == 4 and rows["torch"].rounds == 2
    assert rows["torch"].mean_ms == pytest.approx(10.5)
    assert rows["jax"].relative_to_fastest == pytest.approx(20.5 / 10.5)
    assert rows["torch"].achieved_gflops == pytest.approx(1 / 0.0105)
    assert rows["torch"].pct_of_peak == pytest.approx(100 * (1 / 0.0105) / 200)
    assert rows["torch"].host_peak_rss_mib == 1024.0
    assert rows["torch"].alloc_peak_mib is None  # no allocator on CPU: None, never 0


def test_rows_from_different_machines_never_pool() -> None:
    recs = [_measure("torch", 0, 10_000_000, host="h1"), _measure("torch", 0, 30_000_000, host="h2"),
            _measure("torch", 1, 12_000_000, host="h1", gpu=None)]
    rows = {r.host: r for r in summary.summarise(recs)}
    assert rows["h1"].n == 4 and rows["h2"].n == 2
    assert rows["h2"].relative_to_fastest == 1.0  # ranked among rows of its own machine only


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
    out = _bench("run", "--frameworks", fw, "--batch-size", "8", "--steps", "3", "--warmup", "1", "--rounds", "2",
                 "--data", "synthetic", "--out", str(tmp_path))
    assert out.returncode == 0, out.stdout + out.stderr
    with open(tmp_path / "summary.csv") as fh:
        reader = csv.DictReader(fh)
        assert tuple(reader.fieldnames or ()) == SummaryRow.columns()
        rows = list(reader)
    assert {r["mode"] for r in rows} == {"train", "forward"}
    for r in rows:
        assert r["status"] == "ok" and r["framework"] == fw and r["n"] == "6" and r["rounds"] == "2"
        assert r["ci_method"] == "t over process estimates" and r["between_process_pct"] and r["within_process_pct"]
        assert float(r["median_ci_low_ms"]) <= float(r["median_ms"]) <= float(r["median_ci_high_ms"])
        assert float(r["mean_ms"]) > 0 and r["data_source"] == "synthetic"
        assert float(r["pct_of_peak"]) > 0 and float(r["host_peak_rss_mib"]) > 100
        assert r["alloc_peak_mib"] == ""  # CPU: no allocator figure
        assert r["host"] and r["gpu"] == ""  # recorded by the worker; CPU rows have no GPU
    with open(tmp_path / "samples.csv") as fh:
        samples = list(csv.DictReader(fh))
    assert len(samples) == 12 and set(samples[0]) == set(frames.SAMPLE_COLUMNS)
    assert {s["round"] for s in samples} == {"0", "1"}
    env = json.loads((tmp_path / "env.json").read_text())
    assert env["schema_version"] == records.SCHEMA_VERSION and env["git"]["commit"] and env["cpu_model"]
    assert (tmp_path / "step_times.png").stat().st_size > 1000
    assert "SYNTHETIC" in out.stdout
    # report re-renders from storage alone
    rep = _bench("report", str(tmp_path))
    assert rep.returncode == 0 and fw in rep.stdout


def _wait_for(proc: subprocess.Popen[str], state: str, reached: Callable[[], bool]) -> None:
    """Block until ``reached()`` (a state the run reports); fail at once, with its output, if the run
    ends first. No time limit decides the outcome (pytest's own timeout, if any, is the backstop)."""
    while not reached():
        if proc.poll() is not None:
            out, err = proc.communicate()
            pytest.fail(f"bench ended (exit {proc.returncode}) before {state}:\n{out}\n{err}")
        time.sleep(0.05)


@pytest.mark.slow
def test_resume_and_interrupt(tmp_path: Path, numpy_framework: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Ctrl-C while the second job's worker is certainly running (it blocks in its first forward step
    and says so) keeps the first job's record; --resume then runs only the second."""
    run_dir, flags = tmp_path / "run", tmp_path / "flags"
    flags.mkdir()
    args = ["run", "--frameworks", numpy_framework, "--batch-size", "2", "--steps", "2", "--warmup", "0",
            "--data", "synthetic", "--rounds", "1", "--mode", "both", "--out", str(run_dir)]
    monkeypatch.setenv(numpy_module.BLOCK_FORWARD, str(flags))
    # Ctrl-C's default action restored in the child: a runner started in the background (nohup, a
    # non-interactive shell's &) passes SIGINT down ignored, and Python then never raises KeyboardInterrupt
    proc = subprocess.Popen([sys.executable, "-m", "bench", *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    try:
        _wait_for(proc, "the train job's record was written",
                  lambda: any(r.get("kind") == "measure" for r in storage.read_records(run_dir)))
        _wait_for(proc, "the forward job's worker blocked", (flags / "blocked").exists)
        os.kill(proc.pid, signal.SIGINT)
        _, err = proc.communicate(timeout=300)  # a state, not a race: an exit after Ctrl-C, or a clear failure
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 130, err
    kept = records.measurements(storage.read_records(run_dir))
    assert [(m.key.mode, m.status) for m in kept] == [("train", "ok")]
    assert (run_dir / "summary.csv").exists() and not list(run_dir.glob(".*tmp"))
    monkeypatch.delenv(numpy_module.BLOCK_FORWARD)
    out = _bench(*args, "--resume")
    assert out.returncode == 0, out.stderr
    assert "resume: 1 of 2 jobs already finished" in out.stdout
    measured = records.measurements(storage.read_records(run_dir))
    assert sorted(m.key.mode for m in measured) == ["forward", "train"]



def test_every_csv_of_a_run_whose_every_job_failed_has_its_header(tmp_path: Path, numpy_framework: str,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    """A run whose every job fails still writes CSVs that pandas reads, each with its columns: no empty
    file without a header (drift.csv was one: "No columns to parse from file"). The forward step blocks
    for good, so no timed job can finish inside --timeout 1 on any machine, whatever its speed."""
    import pandas as pd

    from bench.store import drift

    flags = tmp_path / "flags"
    flags.mkdir()
    monkeypatch.setenv(numpy_module.BLOCK_FORWARD, str(flags))
    run_dir = tmp_path / "run"
    out = _bench("run", "--frameworks", numpy_framework, "--mode", "forward", "--batch-size", "2", "--steps", "2",
                 "--warmup", "0", "--data", "synthetic", "--rounds", "1", "--timeout", "1", "--out", str(run_dir))
    assert out.returncode == 1, out.stdout + out.stderr
    # the timed job blocks; the GEMM reference never calls the forward step, so it may finish inside 1 s or not
    recs = [r for r in storage.read_records(run_dir) if r.get("kind") == "measure"]
    assert len(recs) == 1 and recs[0]["status"] == "timeout", [r.get("status") for r in recs]
    written = {p.name: p for p in run_dir.glob("*.csv")}
    assert {"summary.csv", "samples.csv", drift.DRIFT_CSV} <= set(written), sorted(written)
    for name, path in written.items():
        frame = pd.read_csv(path)  # raises EmptyDataError on a file with no header
        assert len(frame.columns) > 0, name
    assert list(pd.read_csv(written[drift.DRIFT_CSV]).columns) == list(drift.DRIFT_COLUMNS)
    assert list(pd.read_csv(written["samples.csv"]).columns) == list(frames.SAMPLE_COLUMNS)
    summary_csv = pd.read_csv(written["summary.csv"], keep_default_na=False)
    assert list(summary_csv.columns) == list(SummaryRow.columns())
    assert list(summary_csv["status"]) == ["timeout"]  # the failed job is a row, with why

def test_plan_keeps_lrn_parameters_of_the_base() -> None:
    base = RunConfig(ModelConfig("torch", lrn_radius=2, lrn_beta=0.5, threads=1), steps=2, data="synthetic")
    jobs = planning.plan(["torch", "jax"], ["train"], [8], [True], base, compile_modes={"torch": "compile"})
    for job in jobs:
        m = job.config.model
        assert (m.lrn_radius, m.lrn_beta, m.threads, m.lrn) == (2, 0.5, 1, True)
    assert [j.config.model.compile for j in jobs] == ["compile", "jit"]


def test_latest_and_resume_without_out(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, numpy_framework: str) -> None:
    """reports/latest points at the newest run; ``--resume`` without ``--out`` continues it."""
    monkeypatch.setenv("BENCH_REPORTS", str(tmp_path))
    args = ["run", "--frameworks", numpy_framework, "--batch-size", "2", "--steps", "2", "--warmup", "0",
            "--data", "synthetic", "--mode", "forward", "--rounds", "1"]
    first = _bench(*args)
    assert first.returncode == 0, first.stderr
    (run_dir,) = [p for p in tmp_path.iterdir() if p.name != "latest"]
    assert (tmp_path / "latest").resolve() == run_dir.resolve() and storage.latest().resolve() == run_dir.resolve()
    again = _bench(*args, "--mode", "both", "--resume")
    assert again.returncode == 0, again.stderr
    assert "resume: 1 of 2 jobs already finished" in again.stdout and "numpy forward batch 2" in again.stdout
    measured = records.measurements(storage.read_records(run_dir))
    assert sorted(m.key.mode for m in measured) == ["forward", "train"]  # nothing measured twice
    assert [p for p in tmp_path.iterdir() if p.name != "latest"] == [run_dir]


def test_latest_falls_back_to_a_text_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BENCH_REPORTS", str(tmp_path))
    run_dir = storage.create_run_dir(None, prefix="run")
    storage.append_record(run_dir, {"kind": "gemm"})

    def no_symlinks(*a: Any, **kw: Any) -> None:
        raise OSError("symlinks not allowed here")

    monkeypatch.setattr(os, "symlink", no_symlinks)
    storage.update_latest(run_dir)
    assert (tmp_path / "latest").read_text().strip() == run_dir.name
    assert storage.resolve_existing(None) == run_dir.resolve()


def test_stop_rule_adds_processes_while_the_interval_is_wide(tmp_path: Path) -> None:
    """Processes that disagree (a process effect) get more processes, up to max_rounds; agreeing ones none."""
    base = _base(target_ci=3.0)
    jobs = planning.plan(["torch", "jax"], ["train"], [8], [False], base, rounds=3)
    speeds = {"torch": [100, 130, 80], "jax": [100, 101, 100]}  # torch's processes disagree by 30%
    for job in jobs:
        ms = speeds[job.config.model.framework][job.round] * 1_000_000
        storage.append_record(tmp_path, job.record("ok", {"samples_ns": [ms, ms + 1000, ms - 1000]}).to_dict())
    more = sweep.extra_rounds(jobs, tmp_path, 5, stop_rule.median_half_width)
    assert [(j.config.model.framework, j.round) for j in more] == [("torch", 3)]
    assert sweep.extra_rounds(jobs, tmp_path, 3, stop_rule.median_half_width) == []  # at the cap
    storage.append_record(tmp_path, more[0].record("failed", error="boom").to_dict())
    again = sweep.extra_rounds(jobs, tmp_path, 5, stop_rule.median_half_width)
    assert [(j.config.model.framework, j.round) for j in again] == [("torch", 4)]  # a failed try counts


def _stamped(run_dir: Path, versions: dict[str, str], code: dict[str, str] | None = None, rnd: int = 0) -> None:
    """A finished torch record in ``run_dir`` as a worker of this checkout writes it, with ``versions``
    and (optionally) other code hashes: what a run folder holds after code or versions changed."""

    job = planning.plan(["torch"], ["train"], [8], [False], _base())[0]
    stamp: dict[str, Any] = dict(fingerprint.of("impls.torch_alexnet", "measure"))
    if code is not None:
        stamp = {"code": code, "fingerprint": fingerprint.combine(code)}
    rec = job.record("ok", {"samples_ns": [10_000_000, 11_000_000], "versions": versions, **stamp})
    storage.append_record(run_dir, dataclasses.replace(rec, round=rnd).to_dict())


def test_worker_records_the_code_fingerprint(tmp_path: Path, numpy_framework: str) -> None:
    """A real (tiny) run: each record names the modules that measured and their hashes."""

    out = _bench("run", "--frameworks", numpy_framework, "--batch-size", "2", "--steps", "2", "--warmup", "0",
                 "--data", "synthetic", "--mode", "forward", "--rounds", "1", "--out", str(tmp_path))
    assert out.returncode == 0, out.stderr
    (m,) = records.measurements(storage.read_records(tmp_path))
    assert set(m.code) == {"tests.numpy_framework", "bench.model.spec", *fingerprint.SHARED_MODULES,
                           "bench.worker.tasks.measure"}
    assert m.fingerprint == fingerprint.combine(m.code) == fingerprint.combine(fingerprint.current_code(m.code))
    assert f"code {m.fingerprint}" in out.stdout  # the table's provenance line
    assert f"code {m.fingerprint}" in (tmp_path / "summary.md").read_text()
    assert summary.summarise(storage.read_records(tmp_path))[0].fingerprint == m.fingerprint


@pytest.mark.torch  # reads torch's installed version; skips where torch is not installed
def test_resume_refuses_a_changed_framework_version(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from importlib.metadata import version

    from bench.cli import main
    from bench.core.errors import UsageError

    _stamped(tmp_path, {"torch": "2.12.0"})
    jobs = planning.plan(["torch"], ["train"], [8], [False], _base(), rounds=2)
    with pytest.raises(UsageError) as err:
        resume.pending(jobs, tmp_path)
    line = str(err.value)
    assert line.startswith(f"cannot resume {tmp_path}: torch: torch 2.12.0 -> {version('torch')} since the first "
                           "record (") and line.endswith("pass --resume only with the same code")
    assert "\n" not in line
    assert main(["run", "--frameworks", "torch", "--batch-size", "8", "--mode", "train", "--data", "synthetic",
                 "--resume", "--out", str(tmp_path)]) == 2  # refused before any worker starts
    cli = capsys.readouterr().err.strip()
    assert cli == f"bench: error: {line}"
    assert len(records.measurements(storage.read_records(tmp_path))) == 1


@pytest.mark.torch  # reads torch's installed version; skips where torch is not installed
def test_resume_refuses_a_changed_adapter_source(tmp_path: Path) -> None:
    from importlib.metadata import version

    from bench.core.errors import UsageError

    code = dict(fingerprint.of("impls.torch_alexnet", "measure")["code"])  # type: ignore[arg-type]
    code["impls.torch_alexnet"] = "0123456789ab"  # the adapter's source when the first rounds ran
    _stamped(tmp_path, {"torch": version("torch")}, code)
    with pytest.raises(UsageError, match=r"torch: code [0-9a-f]{12} -> [0-9a-f]{12} \(impls.torch_alexnet changed\) "
                                         r"since the first record"):
        resume.pending(planning.plan(["torch"], ["train"], [8], [False], _base(), rounds=2), tmp_path)


@pytest.mark.torch  # reads torch's installed version; skips where torch is not installed
def test_resume_with_the_same_code_and_versions_goes_on(tmp_path: Path) -> None:
    from importlib.metadata import version

    _stamped(tmp_path, {"torch": version("torch"), "torch.cuda": "12.8"})  # extra facts are not packages
    jobs = planning.plan(["torch"], ["train"], [8], [False], _base(), rounds=2)
    assert [j.round for j in resume.pending(jobs, tmp_path)] == [1]


def test_summary_keeps_rows_of_different_code_apart() -> None:
    same = {"versions": {"torch": "2.13.0"}, "fingerprint": "aaaaaaaaaaaa"}
    recs = [_measure("torch", 0, 10_000_000, **same), _measure("torch", 1, 11_000_000, **same),
            _measure("torch", 2, 30_000_000, versions={"torch": "2.12.0"}, fingerprint="bbbbbbbbbbbb"),
            _measure("torch", 3, 31_000_000, status="failed", samples_ns=[])]
    rows = summary.summarise(recs)
    assert [(r.fingerprint, r.rounds, r.versions) for r in rows] == [("aaaaaaaaaaaa", 2, "torch=2.13.0"),
                                                                      ("bbbbbbbbbbbb", 1, "torch=2.12.0")]
    assert rows[1].status == "partial"  # the failed round goes with the newest code
    lines = summary.provenance_lines(rows)
    assert lines[0] == ("measured with: torch: torch 2.13.0; code aaaaaaaaaaaa | torch: torch 2.12.0; "
                        "code bbbbbbbbbbbb")
    assert "2 rows kept apart, not pooled" in lines[1]


def test_compare_refuses_rounds_of_different_code() -> None:
    from bench.analysis import comparisons
    from bench.core.errors import UsageError

    recs = [_measure("torch", 0, 10_000_000, versions={"torch": "2.13.0"}, fingerprint="aaaaaaaaaaaa"),
            _measure("torch", 1, 10_000_000, versions={"torch": "2.13.0"}, fingerprint="bbbbbbbbbbbb"),
            _measure("jax", 0, 20_000_000, versions={"jax": "0.10.2"}, fingerprint="cccccccccccc")]
    with pytest.raises(UsageError, match="rounds measured with different versions or code "
                                         r"\(code aaaaaaaaaaaa -> bbbbbbbbbbbb\)"):
        comparisons.framework_rows(recs)


# The browser tests' guard (tests/conftest.py: require_browser): skip with the reason, or fail under
# BENCH_REQUIRE_BROWSER=1, never a silent skip in CI.

def _guard_outcome(chromium: Path) -> tuple[type[BaseException], str]:
    """What require_browser raised: a skip or a failure, and its message (either one caught, so a guard
    that skips where it must fail fails this test instead of skipping it)."""
    from tests.conftest import require_browser

    with pytest.raises((pytest.skip.Exception, pytest.fail.Exception)) as raised:
        require_browser(chromium)
    return raised.type, str(raised.value)


def test_require_browser_skips_or_fails_without_chromium(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from tests.conftest import REQUIRE_BROWSER

    missing = tmp_path / "no-chromium"
    monkeypatch.delenv(REQUIRE_BROWSER, raising=False)
    kind, said = _guard_outcome(missing)
    assert kind is pytest.skip.Exception and said.startswith(f"{missing} not found"), (kind, said)
    monkeypatch.setenv(REQUIRE_BROWSER, "1")
    kind, said = _guard_outcome(missing)
    assert kind is pytest.fail.Exception, (kind, said)
    assert said.startswith(f"{missing} not found") and said.endswith("BENCH_REQUIRE_BROWSER=1 makes that a failure")


@pytest.mark.parametrize("how", ["missing", "broken"])
def test_require_browser_skips_or_fails_without_a_working_playwright(how: str, tmp_path: Path,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    import types

    from tests.conftest import REQUIRE_BROWSER

    chromium = tmp_path / "chromium"
    chromium.write_text("")  # present: only playwright is wrong
    if how == "missing":  # None in sys.modules: the import raises ModuleNotFoundError
        monkeypatch.setitem(sys.modules, "playwright", None)
        monkeypatch.setitem(sys.modules, "playwright.sync_api", None)
        why = "ModuleNotFoundError"
    else:  # a package whose submodule import raises what a broken install raises
        broken = types.ModuleType("playwright")
        broken.__path__ = [str(tmp_path / "broken")]  # type: ignore[attr-defined]
        (tmp_path / "broken").mkdir()
        (tmp_path / "broken" / "sync_api.py").write_text("raise ImportError('libnss3.so: cannot open shared object')")
        monkeypatch.setitem(sys.modules, "playwright", broken)
        monkeypatch.delitem(sys.modules, "playwright.sync_api", raising=False)
        why = "ImportError: libnss3.so"
    monkeypatch.delenv(REQUIRE_BROWSER, raising=False)
    kind, said = _guard_outcome(chromium)
    assert kind is pytest.skip.Exception and said.startswith(f"playwright.sync_api cannot be imported ({why}"), said
    monkeypatch.setenv(REQUIRE_BROWSER, "1")
    kind, said = _guard_outcome(chromium)
    assert kind is pytest.fail.Exception, (kind, said)
    assert f"({why}" in said and said.endswith("BENCH_REQUIRE_BROWSER=1 makes that a failure"), said


@pytest.mark.parametrize("required", [False, True])
def test_browser_tests_skip_or_fail_loudly_with_playwright_sabotaged(required: bool, tmp_path: Path) -> None:
    """The browser tests themselves, in a pytest of their own whose playwright is shadowed by a broken
    one: a skip that names the reason, or (BENCH_REQUIRE_BROWSER=1) an error."""
    if not Path("/usr/bin/chromium").exists():
        pytest.skip("needs /usr/bin/chromium: without it the guard stops before it imports playwright")
    (tmp_path / "playwright").mkdir()
    (tmp_path / "playwright" / "__init__.py").write_text("")
    (tmp_path / "playwright" / "sync_api.py").write_text("raise ImportError('sabotaged playwright')")
    env = {k: v for k, v in os.environ.items() if k != "BENCH_REQUIRE_BROWSER"}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(tmp_path), env.get("PYTHONPATH")]))
    if required:
        env["BENCH_REQUIRE_BROWSER"] = "1"
    root = Path(__file__).resolve().parent.parent
    out = subprocess.run([sys.executable, "-m", "pytest", "-q", "-rs", "-p", "no:cacheprovider",
                          "tests/test_html_browser.py::test_report_opens_offline_and_draws_every_csv_row[run]"],
                         capture_output=True, text=True, cwd=root, env=env, timeout=600)
    said = out.stdout + out.stderr
    assert "playwright.sync_api cannot be imported (ImportError: sabotaged playwright)" in said, said
    if required:
        assert out.returncode == 1 and "1 error" in said and "BENCH_REQUIRE_BROWSER=1 makes that a failure" in said, \
            said
    else:
        assert out.returncode == 0 and "1 skipped" in said and "SKIPPED" in said, said
