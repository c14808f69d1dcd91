"""``import bench`` and ``python -m bench --help`` import no framework; the import contracts of
pyproject.toml hold, and a planted violation of each breaks them; bench/ knows frameworks only
through the registry."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from bench.core import registry

ROOT = Path(__file__).resolve().parent.parent
FRAMEWORK_MODULES = sorted({m for reg in registry.registrations().values() for m in reg.requires})
CHECK = ("import sys; {stmt}; bad = [m for m in " + repr(tuple(FRAMEWORK_MODULES)) +
         " if m in sys.modules]; print(bad)")


@pytest.mark.parametrize("stmt", [
    "import bench",
    "import bench.cli, bench.api, bench.execution.runner, bench.execution.verification, bench.worker.process, "
    "bench.core.data, bench.output.tables.runs, bench.output.tables.checks, bench.model.spec, bench.model.reference, "
    "impls.frameworks, bench.analysis.summary, bench.core.records, bench.analysis.comparisons, bench.execution.sweep, "
    "bench.output.frames",
    "from bench.cli import main; main(['--help'])",
    "from bench.cli import main; main(['verify', '--help'])",
    "from bench.cli import main; main(['compare', '--help'])",
])
def test_no_framework_imported(stmt: str) -> None:
    out = subprocess.run([sys.executable, "-c", CHECK.format(stmt=stmt)], capture_output=True, text=True, check=True)
    assert out.stdout.strip().splitlines()[-1] == "[]", out.stdout


def test_module_help_runs_without_frameworks() -> None:
    out = subprocess.run([sys.executable, "-X", "importtime", "-m", "bench", "--help"], capture_output=True, text=True)
    assert out.returncode == 0
    assert "verify" in out.stdout
    imported = {line.split("|")[-1].strip() for line in out.stderr.splitlines() if "|" in line}
    assert not imported & set(FRAMEWORK_MODULES)


LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")


def _lint_imports(root: Path) -> subprocess.CompletedProcess[str]:
    """``lint-imports`` on the tree at ``root`` with the contracts of its pyproject.toml."""
    if not LINT_IMPORTS.exists():
        pytest.fail(f"import-linter is not installed beside {sys.executable} (nox installs it)")
    return subprocess.run([str(LINT_IMPORTS), "--config", str(root / "pyproject.toml"), "--no-cache"], cwd=root,
                          capture_output=True, text=True, env={**os.environ, "PYTHONPATH": str(root)})


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    """A copy of bench/, impls/ and pyproject.toml to plant imports in."""
    for name in ("bench", "impls"):
        shutil.copytree(ROOT / name, tmp_path / name, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "pyproject.toml", tmp_path)
    return tmp_path


def test_the_import_contracts_hold() -> None:
    out = _lint_imports(ROOT)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "broken" not in out.stdout.lower().split("contracts:")[-1].replace("0 broken", "")


def _plant(tree: Path, module: str, code: str) -> None:
    path = tree / module
    path.write_text(path.read_text() + "\n" + code + "\n")


@pytest.mark.parametrize(("module", "code", "contract"), [
    # analysis reads records only: a table module is a layer above it
    ("bench/analysis/stats.py", "from bench.output.tables import runs  # noqa", "is layered"),
    # the worker side never drives workers: an import inside a function counts too
    ("bench/worker/timing.py", "def _f() -> None:\n    from bench.execution import runner  # noqa", "is layered"),
    # a type-only import counts as well
    ("bench/core/records.py", "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from bench.cli import main",
     "Only bench.__main__ imports the command line"),
    ("impls/frameworks.py", "from bench.analysis import stats  # noqa", "impls/ imports only the core of bench"),
    # the model is the lowest layer: not even the core's errors
    ("bench/model/spec.py", "from bench.core import errors  # noqa", "The model (spec and float64 reference)"),
    ("bench/analysis/gate.py", "import subprocess  # noqa", "Analysis is pure"),
    ("bench/core/errors.py", "def _f() -> None:\n    import torch  # noqa", "bench imports no framework"),
    # a cycle between two modules of one package: registry -> errors -> registry
    ("bench/core/errors.py", "def _f() -> None:\n    from bench.core import registry  # noqa", "No import cycles"),
    # a task borrowing another task's helpers: what tasks share lives in bench.worker
    ("bench/worker/tasks/pair.py", "from bench.worker.tasks import measure  # noqa",
     "Worker tasks import no other task"),
], ids=["analysis->output", "worker->execution-in-function", "core->cli-type-checking", "impls->analysis",
        "model->core", "analysis-subprocess", "bench->framework", "cycle", "task->task"])
def test_a_planted_violation_fails_lint_imports(tree: Path, module: str, code: str, contract: str) -> None:
    _plant(tree, module, code)
    out = _lint_imports(tree)
    assert out.returncode == 1, out.stdout + out.stderr
    broken = out.stdout.split("Broken contracts", 1)[-1]
    assert contract in broken, out.stdout


def test_bench_names_no_framework_outside_the_registry() -> None:
    """Framework knowledge lives in impls/: bench/ never branches on a framework's name."""
    pattern = re.compile("|".join(rf"\b{re.escape(name)}\b" for name in (*registry.names(), *FRAMEWORK_MODULES)))
    hits = [f"{p.relative_to(ROOT)}:{i}: {line.strip()}" for p in (ROOT / "bench").rglob("*.py")
            for i, line in enumerate(p.read_text().splitlines(), 1)
            if pattern.search(line) and p.name != "registry.py"]
    assert not hits, "\n".join(hits)
