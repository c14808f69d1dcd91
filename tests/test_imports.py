"""``import bench`` and ``python -m bench --help`` must not import any framework."""

from __future__ import annotations

import subprocess
import sys

import pytest

CHECK = "import sys; {stmt}; bad = [m for m in ('torch', 'tensorflow', 'jax', 'optax') if m in sys.modules]; print(bad)"


@pytest.mark.parametrize("stmt", [
    "import bench",
    "import bench.cli, bench.runner, bench.verify, bench.worker, bench.data, bench.render, impls.spec, impls.reference",
    "from bench.cli import main; main(['--help'])",
    "from bench.cli import main; main(['verify', '--help'])",
])
def test_no_framework_imported(stmt: str) -> None:
    out = subprocess.run([sys.executable, "-c", CHECK.format(stmt=stmt)], capture_output=True, text=True, check=True)
    assert out.stdout.strip().splitlines()[-1] == "[]", out.stdout


def test_module_help_runs_without_frameworks() -> None:
    out = subprocess.run([sys.executable, "-X", "importtime", "-m", "bench", "--help"], capture_output=True, text=True)
    assert out.returncode == 0
    assert "verify" in out.stdout
    imported = {line.split("|")[-1].strip() for line in out.stderr.splitlines() if "|" in line}
    assert not imported & {"torch", "tensorflow", "jax"}
