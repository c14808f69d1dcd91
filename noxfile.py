"""Sessions: ``tests`` (everything, all frameworks), one per framework extra (``torch``,
``tensorflow``, ``jax``: the suite with that framework alone), ``lint`` (ruff, mypy, lint-imports),
``bench`` (the default benchmark suite), ``parity``, ``perf`` (the pytest-benchmark suite, one pytest
process per framework), ``gate`` (a small real A/A and A/B regression gate, as CI runs it).

Installs are pinned: on a machine where ``nvidia-smi -L`` lists a GPU, the CUDA builds of the three
frameworks (extra ``gpu``, constraints-gpu.txt); elsewhere the CPU wheels (extra ``all``,
constraints-cpu.txt). ``BENCH_GPU=1`` / ``BENCH_GPU=0`` forces either; ``BENCH_CONSTRAINTS=FILE`` (or
``""``: none) overrides the constraints file.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import nox

nox.options.default_venv_backend = "virtualenv"
nox.options.reuse_existing_virtualenvs = True
nox.options.sessions = ["tests"]


def _has_gpu() -> bool:
    forced = os.environ.get("BENCH_GPU")
    if forced in ("0", "1"):
        return forced == "1"
    if shutil.which("nvidia-smi") is None:
        return False
    try:
        out = subprocess.run(["nvidia-smi", "-L"], capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.SubprocessError):
        return False
    return out.returncode == 0 and "GPU" in out.stdout


GPU = _has_gpu()
FRAMEWORKS_EXTRA = "gpu" if GPU else "all"  # every framework: their CUDA builds on a GPU machine
CONSTRAINTS = os.environ.get("BENCH_CONSTRAINTS", "constraints-gpu.txt" if GPU else "constraints-cpu.txt")
# import-linter: tests/test_imports.py runs lint-imports; playwright drives /usr/bin/chromium
TEST_DEPS = ("pytest", "hypothesis", "pytest-benchmark", "ray", "import-linter", "playwright")
# One session per framework extra in pyproject.toml (the extras are the frameworks' install recipes;
# read with a pattern, since tomllib needs Python 3.11 and nox may run on 3.10).
_PYPROJECT = Path(__file__).with_name("pyproject.toml").read_text()
_EXTRAS_TABLE = _PYPROJECT.split("[project.optional-dependencies]", 1)[1].split("\n[", 1)[0]
NOT_FRAMEWORKS = ("all", "gpu", "ray")  # extras that are not one framework each
FRAMEWORK_EXTRAS = [name for name in re.findall(r"^(\w[\w-]*)\s*=", _EXTRAS_TABLE, re.M) if name not in NOT_FRAMEWORKS]


def _install(session: nox.Session, *args: str) -> None:
    if GPU:
        session.log(f"NVIDIA GPU found: installing the CUDA builds ({CONSTRAINTS or 'unpinned'}); BENCH_GPU=0 for the "
                    "CPU wheels")
    extra = ("-c", CONSTRAINTS) if CONSTRAINTS else ()
    session.install(*extra, *args)


@nox.session
def tests(session: nox.Session) -> None:
    """The whole suite with every framework installed."""
    _install(session, "-e", f".[{FRAMEWORKS_EXTRA}]", *TEST_DEPS)
    session.run("pytest", *session.posargs)


def _framework_alone(framework: str) -> None:
    def session_fn(session: nox.Session) -> None:
        _install(session, "-e", f".[{framework}]", *TEST_DEPS)
        session.run("pytest", *session.posargs)

    session_fn.__doc__ = f"The suite with {framework} alone: the other frameworks' tests skip."
    nox.session(name=framework)(session_fn)


for _framework in FRAMEWORK_EXTRAS:
    _framework_alone(_framework)


@nox.session
def lint(session: nox.Session) -> None:
    """ruff on everything, mypy (strict) on bench/ and impls/ (frameworks installed, for their types), and
    lint-imports: the layer and import contracts of pyproject.toml."""
    _install(session, "-e", f".[{FRAMEWORKS_EXTRA}]", "ruff", "mypy", "import-linter", "pandas-stubs", "types-psutil",
             *TEST_DEPS)
    session.run("ruff", "check", "bench", "impls", "tests", "benchmarks", "noxfile.py")
    session.run("mypy", "bench", "impls")
    session.run("lint-imports")


@nox.session
def bench(session: nox.Session) -> None:
    """The default suite: train and forward steps at batch 128 for every installed framework, LRN off and
    on (interleaved), the LRN layer micro-benchmark and the frameworks side by side. Arguments pass
    through: ``nox -s bench -- --steps 20``."""
    _install(session, "-e", f".[{FRAMEWORKS_EXTRA}]")
    session.run("python", "-m", "bench", "compare", "--lrn", *session.posargs)


@nox.session
def parity(session: nox.Session) -> None:
    """Train every framework on MNIST (2 epochs) and compare accuracy; ``nox -s parity -- --quick`` for
    the CI-sized run."""
    _install(session, "-e", f".[{FRAMEWORKS_EXTRA}]")
    session.run("python", "-m", "bench", "parity", *session.posargs)


@nox.session
def perf(session: nox.Session) -> None:
    """The pytest-benchmark suite (benchmarks/test_steps.py): one pytest process per installed framework,
    each with its own storage (.benchmarks/<framework>), so pytest-benchmark's own options work per
    framework: ``nox -s perf -- --benchmark-autosave --benchmark-save-data``, then
    ``nox -s perf -- --benchmark-compare``; ``bench check`` gates two saves. BENCH_PERF_FRAMEWORKS=torch,jax
    picks some."""
    _install(session, "-e", f".[{FRAMEWORKS_EXTRA}]", *TEST_DEPS)
    wanted = [f for f in os.environ.get("BENCH_PERF_FRAMEWORKS", ",".join(FRAMEWORK_EXTRAS)).split(",") if f]
    storage_given = any(a.startswith("--benchmark-storage") for a in session.posargs)
    for framework in wanted:
        storage = [] if storage_given else [f"--benchmark-storage=file://.benchmarks/{framework}"]
        session.run("pytest", "benchmarks", "-m", framework, "-p", "no:cacheprovider", "--benchmark-disable-gc",
                    *storage, *session.posargs)


@nox.session
def gate(session: nox.Session) -> None:
    """A small real regression gate, as CI runs it: this commit against itself must say "no change", and
    against a commit with a slowdown planted in torch's training step (made with git plumbing, on no
    branch) it must fail. Batch 64, and a 3-minute budget per gate for the pairs the stop rule adds (bench
    ab's default of 8 would let an undecided A/A gate alone take 8 minutes), so it takes a few minutes on a
    2-core machine."""
    _install(session, "-e", ".[torch]")
    session.run("python", "benchmarks/gate_experiment.py", "run", "--ci", "--gates", "1", "--images", "48",
                "--out", "reports/ci-gate", "--", "--batch-size", "64", "--budget", "3", *session.posargs)
