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
from impls import spec


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


def make_console() -> Any:
    from rich.console import Console

    console = Console()
    if not console.is_terminal and "COLUMNS" not in os.environ:
        console = Console(width=180)  # files and pipes: wide enough for every table
    return console


# --- commands ------------------------------------------------------------------------------------
def cmd_data(args: argparse.Namespace) -> int:
    from bench import data, render

    ds = data.locate_mnist(args.data_dir, allow_download=not args.no_download)
    console = make_console()
    console.print(f"MNIST found in [bold]{ds.location}[/]; all four files match their MD5 checksums.")
    render.data_table(ds, console)
    return 0


def cmd_verify(args: argparse.Namespace) -> int:
    from bench import data, registry, render, verify
    from bench.commands import parse_compile

    frameworks = parse_frameworks(args.frameworks)
    compile_modes = parse_compile(args.compile)
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
    console = make_console()
    console.print(f"Verifying {', '.join(frameworks)} on {len(images)} {ds.source} images ({ds.location}), "
                  "canonical he init seed 0, dropout off, each framework in its own process.")
    with console.status("verifying", refresh_per_second=1) as status:
        results = verify.run(frameworks, lrn_modes, images, labels, timeout=args.timeout,
                             progress=lambda s: status.update(f"verifying {s}"), compile_modes=compile_modes)
    render.verify_table(results, console)
    ok = all(r.passed for r in results if r.status != "skipped") and any(r.status == "ok" for r in results)
    console.print("[green]All frameworks match the reference.[/]" if ok else "[bold red]Verification failed.[/]")
    return 0 if ok else 1


# --- parser --------------------------------------------------------------------------------------
def _int_at_least(minimum: int) -> Callable[[str], int]:
    what = "a positive integer" if minimum == 1 else f"an integer >= {minimum}"

    def parse(value: str) -> int:
        try:
            n = int(value)
        except ValueError:
            n = minimum - 1
        if n < minimum:
            raise argparse.ArgumentTypeError(f"expected {what}, got {value!r}")
        return n

    return parse


_positive = _int_at_least(1)
_non_negative = _int_at_least(0)


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
    p.add_argument("--compile", nargs="+", metavar="FW=MODE",
                   help="verify a compiled path too: torch=compile, tensorflow=xla, ...")
    p.add_argument("--timeout", type=_positive_float, default=600.0, help="seconds per worker")
    _data_options(p, default="mnist")
    p.set_defaults(func=cmd_verify)

    _add_run(sub)
    _add_misc(sub)
    return parser


def _selection_options(p: argparse.ArgumentParser, steps: int = 100, warmup: int = 10,
                       target_ci: float | None = None, max_steps: int = 0, rounds: int = 1) -> None:
    """Options shared by run and compare: what to measure and how (defaults differ per command)."""
    p.add_argument("--frameworks", nargs="+", help=f"subset of {', '.join(FRAMEWORKS)} [default: all installed]")
    p.add_argument("--mode", choices=("train", "forward", "both"), default="both",
                   help="time training steps, inference forward passes, or both [default: both]")
    p.add_argument("--batch-size", type=_positive, nargs="+", default=[128], help="one or several (a sweep)")
    p.add_argument("--steps", type=_positive, default=steps, help=f"timed steps per job [default: {steps}]")
    p.add_argument("--warmup", type=_non_negative, default=warmup,
                   help=f"untimed steps after the first [default: {warmup}]")
    p.add_argument("--compile", nargs="+", metavar="FW=MODE",
                   help="per framework: torch=eager|compile, tensorflow=function|xla|eager, jax=jit")
    p.add_argument("--device", choices=("auto", "cpu", "gpu"), default="auto")
    p.add_argument("--threads", type=_positive, help="intra-op threads and CPU cores, the same for every framework")
    p.add_argument("--rounds", type=_positive, default=rounds,
                   help=f"interleaved rounds across frameworks [default: {rounds}]")
    p.add_argument("--seed", type=_non_negative, default=0)
    p.add_argument("--dropout", type=float, default=0.25)
    p.add_argument("--block-steps", type=_non_negative, default=0,
                   help="steps in the pipelined block timed between two syncs [default: min(steps, 20)]")
    p.add_argument("--target-ci", type=_positive_float, metavar="PCT", default=target_ci,
                   help="after --steps, keep sampling until the mean's 95%% CI half-width is below PCT%% "
                        f"(up to --max-steps) [default: {target_ci}]")
    p.add_argument("--max-steps", type=_non_negative, default=max_steps,
                   help=f"cap for --target-ci [default: {max_steps or '4 x steps'}]")
    p.add_argument("--include-transfer", action="store_true", help="time the host-to-device copy in each step")
    p.add_argument("--lrn-impl", nargs="+", metavar="FW=IMPL",
                   help="LRN implementation per framework: torch=module|compiled, tensorflow=op|xla, "
                        "jax=reduce_window|matmul|conv")
    p.add_argument("--lrn-radius", type=int, default=spec.LRN_DEPTH_RADIUS, help="LRN depth_radius [default: 4]")
    p.add_argument("--lrn-alpha", type=float, default=spec.LRN_ALPHA, help="LRN alpha, TF convention [0.001/9]")
    p.add_argument("--lrn-beta", type=float, default=spec.LRN_BETA, help="LRN beta [default: 0.75]")
    p.add_argument("--lrn-bias", type=float, default=spec.LRN_BIAS, help="LRN bias [default: 1.0]")
    p.add_argument("--out", help="run folder [default: reports/<UTC time>-<command>]")
    p.add_argument("--resume", action="store_true", help="skip jobs already finished in --out (or reports/latest)")
    p.add_argument("--timeout", type=_positive_float, default=1800.0, help="seconds per worker [default: 1800]")
    _data_options(p)


def _add_run(sub: Any) -> None:
    from bench import commands

    p = sub.add_parser("run", help="time training and inference steps, one worker per framework and config")
    _selection_options(p)
    p.add_argument("--lrn", choices=("off", "on", "both"), default="off")
    p.set_defaults(func=commands.cmd_run)

    p = sub.add_parser("compare", help="frameworks side by side, or LRN off vs on (--lrn), with 95%% CIs")
    _selection_options(p, steps=30, warmup=5, target_ci=3.0, max_steps=120, rounds=3)
    p.add_argument("--lrn", action="store_true", help="LRN off vs on per framework, plus the layer micro-benchmark")
    p.add_argument("--layer", action="store_true", help="only the LRN layer micro-benchmark")
    p.add_argument("--no-layer", action="store_true", help="with --lrn: skip the layer micro-benchmark")
    p.add_argument("--layer-steps", type=_positive, default=12, help="timed calls per layer variant [12]")
    p.add_argument("--with-lrn", action="store_true", help="without --lrn: compare the frameworks with LRN on")
    p.set_defaults(func=commands.cmd_compare)


def _add_misc(sub: Any) -> None:
    from bench import commands, parity_cmd

    p = sub.add_parser("parity", help="train on MNIST in every framework: accuracy parity and time to accuracy")
    p.add_argument("--frameworks", nargs="+", help=f"subset of {', '.join(FRAMEWORKS)} [default: all installed]")
    p.add_argument("--epochs", type=_positive, default=2)
    p.add_argument("--seeds", type=_positive, default=1, help="seeds 0..N-1; 3 or more for a statistical verdict")
    p.add_argument("--lrn", choices=("off", "on"), default="off")
    p.add_argument("--batch-size", type=_positive, default=128)
    p.add_argument("--dropout", type=float, default=0.25)
    p.add_argument("--eval-every", type=_non_negative,
                   help="also evaluate every N steps (0: after each epoch only) [default: 100; --quick: 15]")
    p.add_argument("--train-size", type=_positive, default=60000, help="first N training images [60000]")
    p.add_argument("--target", type=float, help="accuracy %% every framework must reach [99.0; --quick: 90]")
    p.add_argument("--max-gap", type=float, help="largest allowed pairwise gap, pp [0.3; --quick: 3]")
    p.add_argument("--quick", action="store_true", help="6,000 training images, 1 epoch, target 90%%, gap 3 pp")
    p.add_argument("--trajectory", action="store_true", help="dropout off, same batches, --trajectory-steps steps: "
                   "how far the loss curves drift apart")
    p.add_argument("--trajectory-steps", type=_positive, default=100)
    p.add_argument("--device", choices=("auto", "cpu", "gpu"), default="auto")
    p.add_argument("--threads", type=_positive)
    p.add_argument("--timeout", type=_positive_float, default=7200.0, help="seconds per worker [7200]")
    p.add_argument("--out", help="run folder [default: reports/<UTC time>-parity]")
    p.add_argument("--data-dir", help="folder with the four MNIST IDX files")
    p.add_argument("--no-download", action="store_true")
    p.set_defaults(func=parity_cmd.cmd_parity)

    p = sub.add_parser("report", help="re-render tables, CSVs and plots of a stored run")
    p.add_argument("dir", nargs="?", help="run folder [default: reports/latest]")
    p.set_defaults(func=commands.cmd_report)

    p = sub.add_parser("env", help="installed frameworks, versions, devices and GPU details")
    p.add_argument("--no-probe", action="store_true", help="do not start a worker per framework to list devices")
    p.add_argument("--timeout", type=_positive_float, default=120.0)
    p.set_defaults(func=commands.cmd_env)

    p = sub.add_parser("calibrate", help="timer resolution, sync cost, GEMM peak and harness overhead")
    p.add_argument("--frameworks", nargs="+")
    p.add_argument("--device", choices=("auto", "cpu", "gpu"), default="auto")
    p.add_argument("--batch-size", type=_positive, default=128)
    p.add_argument("--steps", type=_positive, default=3, help="steps per round and loop [default: 3]")
    p.add_argument("--rounds", type=_positive, default=8, help="interleaved bare/harness rounds [default: 8]")
    p.add_argument("--threads", type=_positive)
    p.add_argument("--timeout", type=_positive_float, default=1800.0)
    p.add_argument("--out", help="also save the figures as JSON here")
    _data_options(p, default="synthetic")
    p.set_defaults(func=commands.cmd_calibrate)


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
