"""Command line: ``python -m bench <command>``. ``main(argv) -> int``; errors are one line.

This module only assembles the commands of :mod:`bench.cli.commands` (one module each: options and
body). Exit codes: 0 success, 1 a failed check or run, 2 usage errors (bad input, missing
framework), 130 interrupted. ``BENCH_DEBUG=1`` prints tracebacks.
"""

from __future__ import annotations

import argparse
import os
import sys
import traceback

from bench.cli.commands import (
    ab,
    bisect,
    calibrate,
    check,
    compare,
    data,
    env,
    help,
    history,
    parity,
    profile,
    report,
    run,
    verify,
)
from bench.cli.options import Parser
from bench.core.errors import BenchError, UsageError

# in the order --help lists them
COMMANDS = (data, verify, run, compare, profile, parity, report, env, calibrate, check, ab, bisect, history, help)


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(prog="bench", description="Benchmark one AlexNet-MNIST across PyTorch, TensorFlow and JAX.")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=Parser)
    for command in COMMANDS:
        command.add_parser(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    try:
        args, unknown = build_parser().parse_known_args(argv)
        if unknown:  # argparse's words, and the help of the command that does not take them
            raise UsageError(f"{args._prog}: unrecognized arguments: {' '.join(unknown)} (see {args._prog} --help)")
        return int(args.func(args))
    except BenchError as exc:
        print(f"bench: error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("bench: interrupted; results finished so far are kept on disk", file=sys.stderr)
        return 130
    except SystemExit as exc:  # --help
        return int(exc.code or 0)
    except Exception as exc:  # noqa: BLE001
        if os.environ.get("BENCH_DEBUG") == "1":
            traceback.print_exc()
        print(f"bench: internal error: {type(exc).__name__}: {exc} (BENCH_DEBUG=1 shows the traceback)",
              file=sys.stderr)
        return 1
