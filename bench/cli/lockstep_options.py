"""Options of the lockstep method and its stop rule, shared by ``bench compare`` and ``bench ab``."""

from __future__ import annotations

import argparse

from bench.core.errors import UsageError

METHODS = ("lockstep", "independent")


def budget_minutes(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"invalid --budget {text!r}; expected minutes, a number >= 0") from None
    if not value >= 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"invalid --budget {text!r}; expected minutes, a finite number >= 0")
    return value


def add_method(p: argparse.ArgumentParser) -> None:
    p.add_argument("--method", choices=METHODS, default="lockstep",
                   help="lockstep: one worker per framework alive at once, taking turns step by step, the ratio's "
                        "interval over those groups; independent: each framework in its own processes, one after "
                        "another, the ratio by Welch's t over them (the method before lockstep) [default: lockstep]")


def add_budget(p: argparse.ArgumentParser, default: float, what: str) -> None:
    p.add_argument("--budget", type=budget_minutes, default=default, metavar="MIN",
                   help=f"minutes, from the start of the measurements, within which {what} [default: {default:g}]")


def max_groups(value: int | None, rounds: int, default: int) -> int:
    """--max-rounds as the stop rule's cap on groups (pairs): at least --rounds."""
    if value is None:
        return max(default, rounds)
    if value < rounds:
        raise UsageError(f"--max-rounds {value} is below --rounds {rounds}; allowed: {rounds} or more")
    return value
