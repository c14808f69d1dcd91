"""Sessions: ``tests`` (everything, all frameworks), ``torch``/``tensorflow``/``jax`` (each alone),
``lint`` (ruff + mypy), ``bench`` (the default benchmark suite).

Every install goes through constraints-cpu.txt so a CPU-only machine gets the CPU wheels; set
BENCH_CONSTRAINTS="" to install without it (GPU machines wanting the CUDA builds).
"""

from __future__ import annotations

import os

import nox

nox.options.default_venv_backend = "virtualenv"
nox.options.reuse_existing_virtualenvs = True
nox.options.sessions = ["tests"]

CONSTRAINTS = os.environ.get("BENCH_CONSTRAINTS", "constraints-cpu.txt")
TEST_DEPS = ("pytest", "hypothesis")


def _install(session: nox.Session, *args: str) -> None:
    extra = ("-c", CONSTRAINTS) if CONSTRAINTS else ()
    session.install(*extra, *args)


@nox.session
def tests(session: nox.Session) -> None:
    """The whole suite with every framework installed."""
    _install(session, "-e", ".[all]", *TEST_DEPS)
    session.run("pytest", *session.posargs)


def _framework_alone(framework: str) -> None:
    def session_fn(session: nox.Session) -> None:
        _install(session, "-e", f".[{framework}]", *TEST_DEPS)
        session.run("pytest", *session.posargs)

    session_fn.__doc__ = f"The suite with {framework} alone: the other frameworks' tests skip."
    nox.session(name=framework)(session_fn)


for _framework in ("torch", "tensorflow", "jax"):
    _framework_alone(_framework)


@nox.session
def lint(session: nox.Session) -> None:
    """ruff on everything, mypy (strict) on bench/."""
    _install(session, "-e", ".", "ruff", "mypy", "pandas-stubs", "types-psutil")
    session.run("ruff", "check", "bench", "impls", "tests", "noxfile.py")
    session.run("mypy", "bench")


@nox.session
def bench(session: nox.Session) -> None:
    """The default suite: train and forward steps at batch 128 for every installed framework, LRN off and
    on (interleaved), the LRN layer micro-benchmark and the frameworks side by side. Arguments pass
    through: ``nox -s bench -- --steps 20``."""
    _install(session, "-e", ".[all]")
    session.run("python", "-m", "bench", "compare", "--lrn", *session.posargs)


@nox.session
def parity(session: nox.Session) -> None:
    """Train every framework on MNIST (2 epochs) and compare accuracy; ``nox -s parity -- --quick`` for
    the CI-sized run."""
    _install(session, "-e", ".[all]")
    session.run("python", "-m", "bench", "parity", *session.posargs)
