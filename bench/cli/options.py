"""Option groups shared by the commands, and the parsers of their values.

Every option means the same in every command that takes it (``--lrn off|on|both``, bare ``--lrn``
meaning both, everywhere). A command composes only the groups it uses; an option it takes that would
not take effect in the chosen mode is refused with one line (:func:`refuse`), never silently ignored.
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, NoReturn

from bench.core import registry
from bench.core.errors import UsageError
from bench.core.registration import Registration
from bench.model import spec

if TYPE_CHECKING:
    from bench.execution import executor

LRN_MODES: dict[str, list[bool]] = {"off": [False], "on": [True], "both": [False, True]}


class Parser(argparse.ArgumentParser):
    def __init__(self, *args: Any, **kwargs: Any) -> None:  # no option is taken by its prefix (--data: --data-dir)
        super().__init__(*args, **{"allow_abbrev": False, **kwargs})

    def error(self, message: str) -> NoReturn:  # one line, exit 2
        raise UsageError(f"{self.prog}: {message} (see {self.prog} --help)")


def int_at_least(minimum: int) -> Callable[[str], int]:
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


positive = int_at_least(1)
non_negative = int_at_least(0)


def positive_float(value: str) -> float:
    try:
        x = float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive number, got {value!r}") from None
    if not x > 0:
        raise argparse.ArgumentTypeError(f"expected a positive number, got {value!r}")
    return x


def usable_cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:
        return os.cpu_count() or 1


def threads(value: str) -> int:
    """--threads: at most the cores this process may use (more would oversubscribe every framework)."""
    n = positive(value)
    cores = usable_cores()
    if n > cores:
        raise argparse.ArgumentTypeError(f"expected 1 to {cores} (the cores this machine lets bench use), "
                                         f"got {value!r}")
    return n


# --- option groups ---------------------------------------------------------------------------------
def add_frameworks(p: argparse.ArgumentParser) -> None:
    p.add_argument("--frameworks", nargs="+", metavar="FW",
                   help=f"subset of {', '.join(registry.names())} (or comma-separated) [default: all installed]")


def add_lrn(p: argparse.ArgumentParser, default: str, what: str) -> None:
    p.add_argument("--lrn", nargs="?", const="both", choices=tuple(LRN_MODES), default=default,
                   help=f"LRN layers off, on, or both variants (bare --lrn: both); {what} [default: {default}]")


def add_device(p: argparse.ArgumentParser) -> None:
    p.add_argument("--device", choices=("auto", "cpu", "gpu"), default="auto",
                   help="auto: a GPU when NVML sees one [default: auto]")


def add_precision(p: argparse.ArgumentParser) -> None:
    p.add_argument("--precision", choices=("strict", "default"), default="strict",
                   help="strict: float32 everywhere (TF32 off, highest matmul precision), what verify and parity "
                        "prove; default: each framework's own GPU default (TF32 on), the speed users get "
                        "[default: strict]")


def add_threads(p: argparse.ArgumentParser) -> None:
    # the help says what the limit is, not its value here: the reference (docs/cli.md) is the same everywhere
    p.add_argument("--threads", type=threads, help="intra-op threads and CPU cores (the last N), the same for "
                   "every framework; at most the cores this machine lets bench use (bench env lists them; a larger "
                   "N is refused, saying the limit) [default: each framework's own]")


def model_name(value: str) -> str:
    """--model: a name of bench.model.spec.MODELS (an unknown one is refused naming the choices)."""
    try:
        return spec.get_model(value).name
    except spec.UnknownModel as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def add_model(p: argparse.ArgumentParser) -> None:
    described = "; ".join(f"{m.name}: {m.description}" for m in spec.MODELS.values())
    p.add_argument("--model", type=model_name, default=spec.DEFAULT_MODEL, metavar="|".join(spec.MODELS),
                   help=f"which network ({described}); a model without a dataset here runs on synthetic data of "
                        f"its input shape [default: {spec.DEFAULT_MODEL}]")


DATA_KINDS = ("auto", "mnist", "synthetic")


def add_data(p: argparse.ArgumentParser, default: str = "auto", choices: tuple[str, ...] = DATA_KINDS) -> None:
    if len(choices) > 1:
        p.add_argument("--data", choices=choices, default=default,
                       help=f"MNIST, synthetic MNIST-shaped data, or auto (MNIST when found) [default: {default}]")
    p.add_argument("--data-dir", help="folder with the four MNIST IDX files (.gz or raw); "
                   "then $BENCH_DATA_DIR, then the user cache are searched")
    p.add_argument("--no-download", action="store_true", help="never try to download MNIST")


def _per_framework_help(field: str) -> str:
    return ", ".join(f"{r.name}={'|'.join(getattr(r, field))}" for r in registry.registrations().values())


def add_compile(p: argparse.ArgumentParser) -> None:
    p.add_argument("--compile", nargs="+", metavar="FW=MODE",
                   help=f"compile mode per framework: {_per_framework_help('compile_modes')} (first: the default)")


def add_tune(p: argparse.ArgumentParser) -> None:
    offered = "; ".join(f"{r.name}: {', '.join(r.tunings)}" for r in registry.registrations().values() if r.tunings)
    p.add_argument("--tune", nargs="+", metavar="FW=NAME[+NAME]",
                   help=f"exact tunings to switch on per framework ({offered or 'none offered'}); recorded in "
                        "every row's key and checked by bench verify [default: none]")


def parse_tune(values: list[str] | None) -> dict[str, tuple[str, ...]]:
    """``--tune FW=NAME[+NAME] ...`` -> {framework: names}, each validated against its registration."""
    out: dict[str, tuple[str, ...]] = {}
    for item in [v for value in values or [] for v in value.split(",") if v]:
        fw, sep, names = item.partition("=")
        if not sep or fw not in registry.names():
            raise UsageError(f"invalid --tune {item!r}; expected FRAMEWORK=NAME[+NAME] with FRAMEWORK one of "
                             f"{', '.join(registry.names())}")
        allowed = tuple(registry.get(fw).tunings)
        for name in names.split("+"):
            if name not in allowed:
                raise UsageError(f"invalid tuning for {fw} {name!r}; allowed: {', '.join(allowed) or 'none'}")
        out[fw] = tuple(sorted(set(out.get(fw, ()) + tuple(names.split("+")))))
    return out


def add_lrn_impl(p: argparse.ArgumentParser, fastest: bool) -> None:
    extra = " or 'fastest' (the layer micro-benchmark's pick)" if fastest else ""
    p.add_argument("--lrn-impl", nargs="+", metavar="FW=IMPL",
                   help=f"LRN implementation per framework: {_per_framework_help('lrn_impls')}{extra}")


def add_lrn_params(p: argparse.ArgumentParser) -> None:
    p.add_argument("--lrn-radius", type=int, default=spec.LRN_DEPTH_RADIUS, help="LRN depth_radius [default: 4]")
    p.add_argument("--lrn-alpha", type=float, default=spec.LRN_ALPHA, help="LRN alpha, not divided by the window "
                   "(bench/model/spec.py) [0.001/9]")
    p.add_argument("--lrn-beta", type=float, default=spec.LRN_BETA, help="LRN beta [default: 0.75]")
    p.add_argument("--lrn-bias", type=float, default=spec.LRN_BIAS, help="LRN bias [default: 1.0]")


LRN_PARAM_DESTS = ("lrn_radius", "lrn_alpha", "lrn_beta", "lrn_bias")


def lrn_params(args: argparse.Namespace) -> dict[str, Any]:
    return {"lrn_radius": args.lrn_radius, "lrn_bias": args.lrn_bias, "lrn_alpha": args.lrn_alpha,
            "lrn_beta": args.lrn_beta}


def add_config(p: argparse.ArgumentParser) -> None:
    """The model config of every timed step (bench run, compare, ab, bisect and profile)."""
    add_compile(p)
    add_tune(p)
    add_device(p)
    add_precision(p)
    add_threads(p)
    p.add_argument("--seed", type=non_negative, default=0)
    p.add_argument("--dropout", type=float, default=spec.DROPOUT_RATE)
    add_lrn_params(p)


def add_timing(p: argparse.ArgumentParser, steps: int, warmup: int, mode: str = "both") -> None:
    """What to measure and how; the defaults differ per command."""
    add_model(p)
    p.add_argument("--mode", choices=("train", "forward", "both"), default=mode,
                   help=f"time training steps, inference forward passes, or both [default: {mode}]")
    p.add_argument("--batch-size", type=positive, nargs="+", default=[128], help="one or several (a sweep)")
    p.add_argument("--steps", type=positive, default=steps, help=f"timed steps per job [default: {steps}]")
    p.add_argument("--warmup", type=non_negative, default=warmup,
                   help=f"untimed steps after the first [default: {warmup}]")
    add_config(p)
    p.add_argument("--include-transfer", action="store_true", help="time the host-to-device copy in each step")
    add_data(p)


def add_rounds(p: argparse.ArgumentParser, rounds: int, rounds_help: str, max_rounds_help: str | None = None,
               kind: Callable[[str], int] = positive) -> None:
    """--rounds, the units an interval is over; --max-rounds where a stop rule adds units."""
    p.add_argument("--rounds", type=kind, default=rounds, help=rounds_help)
    if max_rounds_help:
        p.add_argument("--max-rounds", type=positive, help=max_rounds_help)


def add_sampling(p: argparse.ArgumentParser, target_ci: float | None, max_steps: int) -> None:
    """How one worker samples on its own (bench run and compare; bench ab's pairs run exactly --steps)."""
    p.add_argument("--block-steps", type=non_negative, default=0,
                   help="steps in the pipelined block timed between two syncs [default: min(steps, 20)]")
    p.add_argument("--target-ci", type=positive_float, metavar="PCT", default=target_ci,
                   help="the 95%% interval of the median each row aims for, +-PCT%%: each worker adds steps "
                        "(up to --max-steps) until its own median is that precise, then more worker processes "
                        "are added (up to --max-rounds) while the interval across them is wider "
                        f"[default: {target_ci}]")
    p.add_argument("--max-steps", type=non_negative, default=max_steps,
                   help=f"cap for --target-ci [default: {max_steps or '4 x steps'}]")


def add_output(p: argparse.ArgumentParser, timeout: float, resume: bool = True) -> None:
    p.add_argument("--out", help="run folder [default: reports/<UTC time>-<command>]")
    if resume:
        p.add_argument("--resume", action="store_true",
                       help="skip jobs already finished in --out (or reports/latest), saying which")
    p.add_argument("--timeout", type=positive_float, default=timeout, help=f"seconds per worker [default: {timeout:g}]")


def finish(p: argparse.ArgumentParser, func: Callable[[argparse.Namespace], int]) -> None:
    """Attach the body, what :func:`given` needs to tell a user's choice from a default, and the command's
    name (an option it does not take is refused naming it: ``bench.cli.main``)."""
    actions = [a for a in p._actions if a.option_strings and a.dest != "help"]
    p.set_defaults(func=func, _defaults={a.dest: a.default for a in actions},
                   _flags={a.dest: a.option_strings[-1] for a in actions}, _prog=p.prog)


# --- values ------------------------------------------------------------------------------------------
def given(args: argparse.Namespace, dests: Iterable[str]) -> list[str]:
    """The options among ``dests`` that the user set to something other than their default."""
    defaults: dict[str, Any] = getattr(args, "_defaults", {})
    flags: dict[str, str] = getattr(args, "_flags", {})
    return [flags.get(d, d) for d in dests if d in defaults and getattr(args, d) != defaults[d]]


def refuse(args: argparse.Namespace, dests: Iterable[str], why: str) -> None:
    """One line naming every option that would have no effect here, and why."""
    bad = given(args, dests)
    if bad:
        raise UsageError(f"{', '.join(bad)} {'has' if len(bad) == 1 else 'have'} no effect {why}")


def parse_frameworks(values: list[str] | None) -> list[str]:
    """``--frameworks A B`` or ``A,B``; default every installed one. Unknown names list the
    valid ones; a named framework that is not installed names its extra."""
    if not values:
        names = registry.available()
        if not names:
            extras = [r.extra for r in registry.registrations().values()]
            raise UsageError(f"no framework is installed; install one with pip install 'bench[{extras[0]}]' "
                             f"(extras: {', '.join(extras)}, all)")
        return names
    names = list(dict.fromkeys(n.strip() for v in values for n in v.split(",") if n.strip()))
    for name in names:
        registry.get(name)
    return names


def parse_per_framework(values: list[str] | None, option: str, allowed: Callable[[Registration], tuple[str, ...]],
                        what: str, metavar: str) -> dict[str, str]:
    """``A=MODE B=MODE`` (or comma-separated) -> {framework: value}, validated against each registration."""
    out: dict[str, str] = {}
    for item in [v for value in values or [] for v in value.split(",") if v]:
        fw, sep, value = item.partition("=")
        if not sep or fw not in registry.names():
            raise UsageError(f"invalid {option} {item!r}; expected FRAMEWORK={metavar} with FRAMEWORK one of "
                             f"{', '.join(registry.names())}")
        choices = allowed(registry.get(fw))
        if value not in choices:
            raise UsageError(f"invalid {what} for {fw} {value!r}; allowed: {', '.join(choices)}")
        out[fw] = value
    return out


def parse_compile(values: list[str] | None) -> dict[str, str]:
    return parse_per_framework(values, "--compile", lambda r: r.compile_modes, "compile mode", "MODE")


def parse_named_lrn_impl(values: list[str] | None) -> dict[str, str]:
    """``--lrn-impl FW=IMPL`` where 'fastest' is not offered (only bench compare's layer benchmark picks it)."""
    impls = parse_lrn_impl(values)
    if isinstance(impls, str):
        raise UsageError("--lrn-impl fastest needs the layer micro-benchmark: use 'bench compare --lrn --lrn-impl "
                         "fastest', or name one per framework (FW=IMPL)")
    return impls


@dataclass(frozen=True)
class ModelChoices:
    """What the per-framework model options chose, validated before any work."""

    compile: dict[str, str]
    lrn_impl: dict[str, str]
    tuning: dict[str, tuple[str, ...]]
    lrn_modes: list[bool]


def model_choices(args: argparse.Namespace) -> ModelChoices:
    """``--compile``, ``--lrn-impl`` (named), ``--tune`` and ``--lrn``, validated together: an LRN variant
    without LRN is refused."""
    lrn_modes = LRN_MODES[args.lrn]
    if not any(lrn_modes):
        refuse(args, ["lrn_impl"], "without LRN (add --lrn on or --lrn both)")
    return ModelChoices(parse_compile(args.compile), parse_named_lrn_impl(args.lrn_impl), parse_tune(args.tune),
                        lrn_modes)


def parse_lrn_impl(values: list[str] | None) -> dict[str, str] | str:
    """``A=IMPL B=IMPL`` -> {framework: impl}; or ``fastest``."""
    items = [v for value in values or [] for v in value.split(",") if v]
    if items == ["fastest"]:
        return "fastest"
    return parse_per_framework(items, "--lrn-impl", lambda r: r.lrn_impls, "LRN implementation",
                               "IMPL (or 'fastest')")


def percent(value: str) -> float:
    """A percentage in [0, 100), returned as a fraction."""
    try:
        x = float(value)
    except ValueError:
        x = -1.0
    if not 0 <= x < 100:
        raise argparse.ArgumentTypeError(f"expected a percentage from 0 to 100, got {value!r}")
    return x / 100


def add_gate(p: argparse.ArgumentParser, outputs: bool = True) -> None:
    """How a regression is decided and (``outputs``: bench check and ab, not bisect) where the verdict goes."""
    from bench.analysis import gate

    g = p.add_argument_group("gate")
    g.add_argument("--alpha", type=positive_float, default=gate.ALPHA,
                   help=f"family-wise false-alarm rate over all rows (Holm; simultaneous intervals) [{gate.ALPHA}]")
    g.add_argument("--noise-floor", type=percent, default=gate.REGRESSION_FLOOR, metavar="PCT",
                   help="a regression's interval must clear 1 + this (%%): smaller shifts never fail the gate "
                        f"[{100 * gate.REGRESSION_FLOOR:g}]")
    g.add_argument("--detect", type=percent, default=gate.DETECT, metavar="PCT",
                   help=f"'no change' needs the interval to rule out a slowdown this large (%%) "
                        f"[{100 * gate.DETECT:g}]")
    if outputs:
        g.add_argument("--strict", action="store_true",
                       help="refuse (exit 2) when the two sides' provenance differs (versions, device, threads, data)")
        g.add_argument("--markdown", metavar="FILE", help="also write the verdict as Markdown "
                       "(e.g. $GITHUB_STEP_SUMMARY)")
        g.add_argument("--export", nargs=2, action="append", metavar=("FORMAT", "FILE"),
                       help="also write the candidate's figures for a dashboard: github (github-action-benchmark, "
                            "customSmallerIsBetter) or bencher (Bencher Metric Format); repeatable")


def parse_exports(values: list[list[str]] | None) -> list[tuple[str, str]]:
    from bench.output.export import FORMATS

    out = []
    for kind, path in values or []:
        if kind not in FORMATS:
            raise UsageError(f"invalid --export format {kind!r}; allowed: {', '.join(FORMATS)}")
        out.append((kind, path))
    return out


def add_executor(p: argparse.ArgumentParser) -> None:
    """Where the worker jobs run (bench.execution.executors)."""
    from bench.execution.executors import EXECUTORS

    g = p.add_argument_group("where jobs run")
    g.add_argument("--executor", choices=EXECUTORS, default="local",
                   help="local: one job at a time on this machine (or one per GPU with --gpus); ray: each job a "
                        "Ray task on a cluster (pip install 'bench[ray]') [default: local]")
    g.add_argument("--gpus", metavar="all|0,1,...", help="local GPU pool: one timed job per GPU at a time, each "
                   "worker seeing only its GPU and its own cores")
    g.add_argument("--address", help="with --executor ray: the cluster to join (ray://host:10001, or auto) "
                   "[default: start a local Ray]")
    g.add_argument("--accelerator-type", nargs="+", metavar="TYPE", default=[],
                   help="with --executor ray and GPU jobs: run every config on each of these Ray accelerator "
                        "types (e.g. A100 H100); rows from different GPU models never pool")


def make_executor(args: argparse.Namespace, device: str) -> executor.Executor:
    from bench.execution import executors

    if args.accelerator_type and args.executor != "ray":
        raise UsageError("--accelerator-type has no effect without --executor ray")
    if args.accelerator_type and device != "gpu":
        raise UsageError("--accelerator-type needs GPU jobs (--device gpu)")
    return executors.make(args.executor, device, args.gpus, args.address)
