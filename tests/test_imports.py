"""``import bench`` and ``python -m bench --help`` import no framework; no import cycles; bench/
knows frameworks only through the registry."""

from __future__ import annotations

import ast
import re
import subprocess
import sys
from pathlib import Path

import pytest

from bench import registry

ROOT = Path(__file__).resolve().parent.parent
FRAMEWORK_MODULES = sorted({m for reg in registry.registrations().values() for m in reg.requires})
CHECK = ("import sys; {stmt}; bad = [m for m in " + repr(tuple(FRAMEWORK_MODULES)) +
         " if m in sys.modules]; print(bad)")


@pytest.mark.parametrize("stmt", [
    "import bench",
    "import bench.cli, bench.runner, bench.verify, bench.worker, bench.data, bench.render, impls.spec, "
    "impls.reference, impls.frameworks, bench.summary, bench.records, bench.compare, bench.sweep",
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


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _imports(path: Path, package: str, known: set[str]) -> set[str]:
    """Every bench/impls module this file imports, at module level or inside a function, except under
    ``if TYPE_CHECKING:`` (types only, never executed)."""
    tree = ast.parse(path.read_text())
    skip: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            skip |= {id(n) for stmt in node.body for n in ast.walk(stmt)}
    out: set[str] = set()
    for node in ast.walk(tree):
        if id(node) in skip:
            continue
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module:
            base = node.module if node.level == 0 else ".".join(package.split(".")[: len(package.split(".")) -
                                                                                    node.level + 1] + [node.module])
            # ``from bench import registry`` imports the submodule; ``from bench import load``, the package
            names = [f"{base}.{a.name}" if f"{base}.{a.name}" in known else base for a in node.names]
        out |= {n for n in names if n in known}
    return out


def import_graph() -> dict[str, set[str]]:
    files = [p for d in ("bench", "impls") for p in (ROOT / d).rglob("*.py")]
    known = {_module_name(p) for p in files}
    graph = {}
    for p in files:
        name = _module_name(p)
        package = name if p.name == "__init__.py" else name.rpartition(".")[0]
        graph[name] = _imports(p, package, known) - {name}
    return graph


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                return stack[stack.index(nxt):] + [nxt]
            if nxt not in state and (found := visit(nxt)):
                return found
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state and (found := visit(node)):
            return found
    return None


def test_no_import_cycles() -> None:
    graph = import_graph()
    assert {"bench.commands.run", "bench.commands.compare"} <= graph["bench.cli"]
    assert find_cycle(graph) is None, " -> ".join(find_cycle(graph) or [])


def test_cycle_finder_finds_a_planted_cycle() -> None:
    graph = import_graph()
    graph["bench.stats"] = graph["bench.stats"] | {"bench.commands.run"}  # run -> common -> report -> ... -> stats
    assert find_cycle(graph) is not None


def test_bench_names_no_framework_outside_the_registry() -> None:
    """Framework knowledge lives in impls/: bench/ never branches on a framework's name."""
    pattern = re.compile("|".join(rf"\b{re.escape(name)}\b" for name in (*registry.names(), *FRAMEWORK_MODULES)))
    hits = [f"{p.relative_to(ROOT)}:{i}: {line.strip()}" for p in (ROOT / "bench").rglob("*.py")
            for i, line in enumerate(p.read_text().splitlines(), 1)
            if pattern.search(line) and p.name != "registry.py"]
    assert not hits, "\n".join(hits)
