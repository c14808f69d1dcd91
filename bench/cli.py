"""Command line: ``python -m bench <command>``. ``main(argv) -> int``; errors are one line.

Exit codes: 0 success, 1 a failed check or run, 2 usage errors (bad input, missing framework),
130 interrupted. ``BENCH_DEBUG=1`` prints tracebacks.
"""

from __future__ import annotations

import argparse
import os
import sys
import traceback
from collections.abc import Callable
from typing import Any, NoReturn

from bench.config import FRAMEWORKS
from bench.errors import BenchError, UsageError


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:  # one line, exit 2
        raise UsageError(f"{self.prog}: {message} (see {self.prog} --help)")


def parse_frameworks(values: list[str] | None, default_all_installed: bool = True) -> list[str]:
    """``--frameworks torch jax`` or ``torch,jax``; unknown names list the valid ones."""
    from bench import registry

    if not values:
        return registry.available() if default_all_installed else list(FRAMEWORKS)
    names = [n.strip() for v in values for n in v.split(",") if n.strip()]
    for name in names:
        if name not in FRAMEWORKS:
            raise UsageError(f"unknown framework {name!r}; valid names: {', '.join(FRAMEWORKS)}")
    return list(dict.fromkeys(names))


def _console() -> Any:
    from rich.console import Console

    console = Console()
    if not console.is_terminal and "COLUMNS" not in os.environ:
        console = Console(width=120)  # files and pipes: wide enough for every table
    return console


# --- commands ------------------------------------------------------------------------------------
def cmd_data(args: argparse.Namespace) -> int:
    from bench import data, render

    ds = data.locate_mnist(args.data_dir, allow_download=not args.no_download)
    console = _console()
    console.print(f"MNIST found in [bold]{ds.location}[/]; all four files match their MD5 checksums.")
    render.data_table(ds, console)
    return 0


def cmd_verify(args: argparse.Namespace) -> int:
    from bench import data, registry, render, verify

    frameworks = parse_frameworks(args.frameworks)
    if args.frameworks:
        for fw in frameworks:
            registry.require(fw)
    if not frameworks:
        raise UsageError("no framework is installed; install one with pip install 'bench[torch]' "
                         "(or tensorflow, jax, all)")
    lrn_modes = {"off": [False], "on": [True], "both": [False, True]}[args.lrn]
    ds = data.load(args.data, args.data_dir, allow_download=not args.no_download)
    images = ds.train_images[: args.batch_size]
    labels = ds.train_labels[: args.batch_size]
    console = _console()
    console.print(f"Verifying {', '.join(frameworks)} on {len(images)} {ds.source} images ({ds.location}), "
                  "canonical he init seed 0, dropout off, each framework in its own process.")
    with console.status("verifying") as status:
        results = verify.run(frameworks, lrn_modes, images, labels, timeout=args.timeout,
                             progress=lambda s: status.update(f"verifying {s}"))
    render.verify_table(results, console)
    ok = all(r.passed for r in results if r.status != "skipped") and any(r.status == "ok" for r in results)
    console.print("[green]All frameworks match the reference.[/]" if ok else "[bold red]Verification failed.[/]")
    return 0 if ok else 1


# --- parser --------------------------------------------------------------------------------------
def _positive(value: str) -> int:
    try:
        n = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {value!r}") from None
    if n < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {value!r}")
    return n


def _positive_float(value: str) -> float:
    try:
        x = float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive number, got {value!r}") from None
    if not x > 0:
        raise argparse.ArgumentTypeError(f"expected a positive number, got {value!r}")
    return x


def _data_options(p: argparse.ArgumentParser, default: str = "auto") -> None:
    p.add_argument("--data", choices=("auto", "mnist", "synthetic"), default=default,
                   help=f"MNIST, synthetic MNIST-shaped data, or auto (MNIST when found) [default: {default}]")
    p.add_argument("--data-dir", help="folder with the four MNIST IDX files (.gz or raw); "
                   "then $BENCH_DATA_DIR, then the user cache are searched")
    p.add_argument("--no-download", action="store_true", help="never try to download MNIST")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="bench", description="Benchmark one AlexNet-MNIST across PyTorch, TensorFlow and JAX.")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    p = sub.add_parser("data", help="find MNIST, verify its checksums and describe it")
    p.add_argument("--data-dir")
    p.add_argument("--no-download", action="store_true")
    p.set_defaults(func=cmd_data)

    p = sub.add_parser("verify", help="prove every framework matches the float64 reference")
    p.add_argument("--frameworks", nargs="+", help=f"subset of {', '.join(FRAMEWORKS)} [default: all installed]")
    p.add_argument("--lrn", choices=("off", "on", "both"), default="both")
    p.add_argument("--batch-size", type=_positive, default=32)
    p.add_argument("--timeout", type=_positive_float, default=600.0, help="seconds per worker")
    _data_options(p, default="mnist")
    p.set_defaults(func=cmd_verify)

    for register in _EXTRA_COMMANDS:
        register(sub)
    return parser


# Later modules add their sub-commands here without the parser growing into one long function.
_EXTRA_COMMANDS: list[Callable[[Any], None]] = []


def main(argv: list[str] | None = None) -> int:
    try:
        args = build_parser().parse_args(argv)
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
