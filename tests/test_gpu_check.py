"""The prepared GPU check (benchmarks/gpu_check.py) end to end in its smallest CPU mode: every step
planned, run or skipped with its reason, the self-checks printed, README.md written."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from bench.core import registry

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.slow
def test_gpu_check_smallest_cpu_mode_writes_readme_and_verdicts(tmp_path: Path) -> None:
    if not registry.available():
        pytest.skip("no framework installed")
    out = tmp_path / "check"
    proc = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "gpu_check.py"), "--device", "cpu",
                           "--smallest", "--out", str(out), "--budget-s", "600"],
                          capture_output=True, text=True, cwd=ROOT, env={**os.environ}, timeout=1200)
    assert proc.returncode in (0, 1), proc.stdout[-3000:] + proc.stderr[-3000:]  # 1: a self-check said FAIL
    text = (out / "README.md").read_text()
    assert "## Self-checks" in text and "## Steps" in text and "device cpu" in text
    verdicts = [ln for ln in proc.stdout.splitlines() if ln.startswith(("PASS ", "FAIL ", "SKIP "))]
    assert any(ln.startswith(("PASS ", "FAIL ")) for ln in verdicts), proc.stdout[-3000:]
    assert any("GEMM below the float32 peak" in ln and ln.startswith("SKIP") for ln in verdicts)  # no GPU name
    assert (out / "env.log").exists() and (out / "profile-b4.log").exists() and (out / "gpu_check.log").exists()
    assert "verify --precision default: refused on a CPU" in text
