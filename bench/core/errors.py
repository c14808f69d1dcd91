"""Exceptions the CLI turns into one-line messages (exit 2 for usage, 1 for failures)."""

from __future__ import annotations


class BenchError(Exception):
    """A failure the user can act on; its message is printed as one line, exit code 1."""

    exit_code = 1


class UsageError(BenchError):
    """Invalid input detected before any work starts; exit code 2."""

    exit_code = 2


class FrameworkUnavailable(UsageError):
    """The framework is known but not installed; the message names the extra to install."""


class DataError(BenchError):
    """MNIST could not be found, read or verified."""


class DataNotFound(DataError):
    """No place searched had MNIST; ``--data auto`` may fall back to synthetic data on this only."""
