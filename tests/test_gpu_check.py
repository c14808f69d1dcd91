"""The prepared GPU check (benchmarks/gpu_check.py) end to end in its smallest CPU mode: every step
planned and run, every self-check printed, the ones a CPU cannot hold skipped with their reason, none
failed, exit 0, README.md written; and the self-checks on hand-built step outcomes and profile rows."""

from __future__ import annotations

import csv
import os
import subprocess
import sys
from pathlib import Path

import pytest

from bench.core import registry
from benchmarks import gpu_check

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.slow
def test_gpu_check_smallest_cpu_mode_passes_every_check_a_cpu_can_hold(tmp_path: Path) -> None:
    if not registry.available():
        pytest.skip("no framework installed")
    framework = registry.available()[0]  # --smallest: the first installed framework alone
    out = tmp_path / "check"
    # a budget far above the few minutes the smallest run takes: the test waits for the steps, never races them
    proc = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "gpu_check.py"), "--device", "cpu",
                           "--smallest", "--out", str(out), "--budget-s", "3000"],
                          capture_output=True, text=True, cwd=ROOT, env={**os.environ}, timeout=3600)
    tail = proc.stdout[-4000:] + proc.stderr[-3000:]
    assert proc.returncode == 0, tail
    verdicts = [ln for ln in proc.stdout.splitlines() if ln.startswith(("PASS ", "FAIL ", "SKIP "))]
    assert not [ln for ln in verdicts if ln.startswith("FAIL ")], tail
    steps = ["env", "profile-b4", "verify-strict", "compare-lrn-b4", "compare-lrn-b8"]  # parity needs two frameworks
    for step in steps:
        assert any(ln.startswith(f"PASS step {step} ran: exit 0") for ln in verdicts), (step, tail)
    label = f"profile {framework} batch 4"
    expected = [
        f"PASS {label}: attribution covers >= 90% of ",
        f"SKIP {label}: profiled time per step <= the whole step: on a CPU the profiler times ops on the host",
        "SKIP allocator peak <= NVML: no row has both figures (CPU, or compare skipped)",
        "SKIP GEMM below the float32 peak: no float32 peak for GPU None in the table",
        "SKIP verify --precision default: refused on a CPU (TF32 is a GPU format)",
        f"SKIP parity --quick: it compares frameworks, and only {framework} runs here",
        "SKIP --model imagenet (verify, compare --lrn): left out by --smallest",
    ]
    for start in expected:
        assert any(ln.startswith(start) for ln in verdicts), (start, tail)
    assert len(verdicts) == len(steps) + len(expected), verdicts  # every check shown once, nothing else
    text = (out / "README.md").read_text()
    assert "## Self-checks" in text and "## Steps" in text and "device cpu" in text
    assert "verify --precision default: refused on a CPU" in text
    for ln in verdicts:  # the checks as a list; the steps not planned at all are rows of the steps table
        planned = not ln.startswith(("SKIP verify --precision default", "SKIP parity --quick:", "SKIP --model "))
        assert (f"- {ln}" in text) == planned and (ln[5:] in text), ln
    assert all(f"| {step} | ok |" in text for step in steps), text
    assert (out / "env.log").exists() and (out / "profile-b4.log").exists() and (out / "gpu_check.log").exists()


def _step(name: str, status: str, note: str = "") -> gpu_check.Step:
    return gpu_check.Step(name, [], 1.0, status=status, wall_s=3.0, note=note)


def test_a_failed_step_is_a_fail_and_one_cut_by_the_budget_a_skip(tmp_path: Path) -> None:
    """A profile step that crashed used to leave only 'SKIP profile attribution: no profile_summary.csv', so
    the check exited 0 with nothing checked."""
    steps = [_step("env", "ok"), _step("profile-b4", "exit 1"), _step("compare-lrn-b8", "stopped", "at the budget"),
             _step("parity-quick", "skipped", "estimated 108 s, 0 s left in the budget")]
    found = {c.name: (c.verdict, c.detail) for c in gpu_check.checks(tmp_path, steps, None)}
    assert found["step env ran"] == ("PASS", "exit 0 in 3 s")
    assert found["step profile-b4 ran"] == ("FAIL", "exit 1 (its output: profile-b4.log)")
    assert found["step compare-lrn-b8 ran"] == ("SKIP", "stopped for the budget: at the budget")
    assert found["step parity-quick ran"][0] == "SKIP" and "0 s left" in found["step parity-quick ran"][1]
    assert found["profile attribution"][0] == "SKIP"


def _profile_rows(tmp_path: Path, device: str, profiled_ms: float, coverage: float) -> gpu_check.Step:
    step = gpu_check.Step("profile-b4", [], 1.0, out="prof", status="ok")
    (tmp_path / "prof").mkdir()
    row = {"framework": "jax", "batch_size": "4", "device": device, "clock": "thunk time", "step_ms": "111.39",
           "coverage_pct": str(coverage), "profiler_attributed_ms": str(profiled_ms * coverage / 100),
           "profiler_unattributed_ms": str(profiled_ms * (1 - coverage / 100)), "profiler": "ok"}
    with open(tmp_path / "prof" / "profile_summary.csv", "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(row))
        writer.writeheader()
        writer.writerow(row)
    return step


@pytest.mark.parametrize(("device", "profiled", "verdict"), [("cpu", 147.12, "SKIP"), ("gpu", 147.12, "FAIL"),
                                                             ("gpu", 100.0, "PASS")])
def test_profiled_time_past_the_step_fails_on_a_gpu_and_is_skipped_on_a_cpu(tmp_path: Path, device: str,
                                                                            profiled: float, verdict: str) -> None:
    """jax on this 2-core machine: 147.12 ms of XLA:CPU thunk time in a 111.39 ms step (thunks run at once; torch
    and tensorflow went past their steps too, under the profiler's overhead); on a GPU stream it is a double count."""
    step = _profile_rows(tmp_path, device, profiled, 97.5)
    found = {c.name: c for c in gpu_check.checks(tmp_path, [step], "NVIDIA H100 80GB HBM3")}
    check = found["profile jax batch 4: profiled time per step <= the whole step"]
    assert check.verdict == verdict and f"{profiled:.2f} ms profiled, 111.39 ms step" in check.detail
    assert found["profile jax batch 4: attribution covers >= 90% of thunk time"].verdict == "PASS"


def test_parity_is_planned_only_with_two_frameworks(tmp_path: Path) -> None:
    """--smallest runs one framework, and bench parity with one exits 1 ("fewer than two frameworks trained"):
    that step was planned anyway and its failure went unseen until a failed step became a FAIL."""
    import argparse

    args = argparse.Namespace(device="cpu", smallest=True, data_dir=str(tmp_path))
    one = gpu_check.plan(args, ["torch"], gpu_check.CPU, ["--data", "mnist"], has_mnist=True)
    assert "parity-quick" not in [s.name for s in one.steps]
    assert "parity --quick: it compares frameworks, and only torch runs here" in one.skipped
    two = gpu_check.plan(args, ["torch", "jax"], gpu_check.CPU, ["--data", "mnist"], has_mnist=True)
    assert [s.name for s in two.steps][-1] == "parity-quick" and not [w for w in two.skipped if "parity" in w]
