"""``bench compare``: frameworks side by side (``--lrn off`` or ``on``), or what LRN costs
(``--lrn`` / ``--lrn both``: LRN off and on of each framework in one worker, interleaved, plus the
LRN layer micro-benchmark), or the layer micro-benchmark alone (``--layer``).

With two or more frameworks the default ``--method lockstep`` measures them in lockstep groups (one
worker per framework alive at once, each holding every config of a batch size, LRN off and on with
``--lrn both``: :mod:`bench.execution.lockstep_compare`), then adds groups for the ratios (framework
ratios, and LRN slowdowns) still wider than ``--target-ci`` within ``--budget``, and stores how that
rule ended so each ratio still wider names why; ``--method independent`` keeps one process per config and
Welch's t across them."""

from __future__ import annotations

import argparse
import dataclasses
import time
from collections.abc import Callable
from dataclasses import replace
from typing import Any

from bench.analysis import comparisons
from bench.cli import lockstep_options, options, progress, validation
from bench.core import storage
from bench.execution import lockstep_compare, lrn_pairs, planning, sweep
from bench.execution.executor import Executor
from bench.output import report
from bench.store import resume

# timed steps per worker and variant (a lockstep group's workers: 16 turns; one framework: where the --target-ci
# rule starts). 16, not 20: a group of the default suite also pays for starting, building and warming up its
# workers whatever it times, and the first pass's 3 groups must leave the budget something to add
STEPS = 16

ROUNDS = 3  # worker processes per config (an LRN pair's worker holds both variants): the unit of every interval
# lockstep: the stop rule adds groups until this many minutes after the first measurement; the nox session's
# install check, the imports and the tables after it take about half a minute more (the suite: within 10 min)
BUDGET_MIN = 8.5
# --model imagenet on a CPU: the book's network at batch 8, so that a lockstep group of the default suite (LRN off
# and on, train and forward, three frameworks) takes minutes on a 2-core machine (how long the suite took:
# docs/guide.md); a GPU takes batch 128, as the book timed it. mnist: 128 everywhere.
DEFAULT_BATCH = {("mnist", "cpu"): 128, ("mnist", "gpu"): 128, ("imagenet", "cpu"): 8, ("imagenet", "gpu"): 128}
MAX_GROUPS = 30  # lockstep: --max-rounds' default, the most groups a ratio may get
MAX_ROUNDS = 3  # with --target-ci, processes are added up to this many (raise it: the default suite must fit 12 min)
TIMING_DESTS = ("executor", "gpus", "address", "accelerator_type", "mode", "steps", "warmup", "compile", "tune",
                "rounds",
                "max_rounds", "dropout", "block_steps", "target_ci", "max_steps", "include_transfer", "lrn_impl",
                "seed", "data", "data_dir", "no_download", "method", "budget")


def add_parser(sub: Any) -> None:
    p = sub.add_parser("compare", help="frameworks side by side, or LRN off vs on (--lrn), with 95%% CIs")
    options.add_frameworks(p)
    options.add_lrn(p, "off", "off/on: the frameworks side by side with that model; both: what LRN costs, LRN off "
                    "and on built in one worker and timed in interleaved chunks, plus the layer micro-benchmark")
    options.add_lrn_impl(p, fastest=True)
    options.add_timing(p, steps=STEPS, warmup=5)
    options.add_rounds(p, ROUNDS, f"worker processes per config, interleaved across configs [default: {ROUNDS}]",
                       f"add units up to this many per config while the interval is wider than --target-ci [default: "
                       f"{MAX_GROUPS} lockstep groups with two or more frameworks, else {MAX_ROUNDS} processes]")
    options.add_sampling(p, target_ci=3.0, max_steps=120)
    options.add_output(p, timeout=1800.0)
    p.set_defaults(batch_size=None)  # by --model and device: DEFAULT_BATCH
    p.add_argument("--layer", action="store_true", help="only the LRN layer micro-benchmark")
    p.add_argument("--no-layer", action="store_true", help="with --lrn both: skip the layer micro-benchmark")
    p.add_argument("--wide", action="store_true", help="every column of every table, and every LRN layer variant "
                   "(the default tables fit 120 columns; the rest is in the CSVs and report.html)")
    p.add_argument("--layer-steps", type=options.positive, default=12,
                   help="timed calls per layer variant, at the first --batch-size [12]")
    lockstep_options.add_method(p)
    lockstep_options.add_budget(p, BUDGET_MIN, "--method lockstep adds groups for the framework ratios (and, "
                                "with --lrn both, the LRN slowdowns) still wider than --target-ci (the first pass "
                                "always runs); a ratio still wider at the end says why")
    options.add_executor(p)
    options.finish(p, main)


@dataclasses.dataclass(frozen=True)
class ComparePlan:
    """What ``bench compare`` will run, every option validated: the answer of :func:`validate`."""

    sel: validation.Selection
    modes: list[str]
    compile_modes: dict[str, str]
    tunings: dict[str, tuple[str, ...]]
    lrn_impls: str | dict[str, str]  # "fastest" (the layer micro-benchmark picks) or FW -> IMPL
    pairs: bool  # --lrn both: LRN off and on of each framework in one worker
    with_layer: bool  # the LRN layer micro-benchmark runs
    lockstep: bool  # one worker per framework alive at once, taking turns
    rounds: int
    max_rounds: int  # lockstep: the most groups a ratio may get; otherwise processes per config
    executor: Executor

    def n_jobs(self, args: argparse.Namespace) -> int:
        """The jobs the progress display counts: the layer micro-benchmark (or GEMM slot), then one per
        worker process or lockstep group."""
        if args.layer:
            return 1
        per_round = len(args.batch_size) if self.lockstep else (len(args.batch_size) * len(self.modes)
                                                                * len(self.sel.frameworks))
        return 1 + per_round * self.rounds


def main(args: argparse.Namespace) -> int:
    plan = validate(args)
    chosen: dict[str, str] = {}  # filled before the models run: a Ctrl-C during them still reports it

    started = time.monotonic()  # --budget counts from here: the GEMM reference and the layer benchmark too

    def work(show: Callable[[str], None], after_each: Callable[[], None], say: Callable[[str], None]) -> None:
        chosen.update(pick_lrn_impls(plan, args, show, after_each))
        if not args.layer:
            run_models(plan, args, chosen, show, after_each, say, started)

    title = "bench compare --lrn" if plan.pairs else ("bench compare --layer" if args.layer else "bench compare")
    code, folder = progress.execute_and_report(args, plan.sel, title, plan.n_jobs(args), work,
                                               show_run_table=not args.layer)
    return report_comparisons(folder, chosen, code, args.wide)


def validate(args: argparse.Namespace) -> ComparePlan:
    """Every refusal before the first worker: options that would not take effect, the method's own
    limits, then the selection (frameworks, device, folder, data)."""
    compile_modes = options.parse_compile(args.compile)
    tunings = options.parse_tune(args.tune)
    lrn_impls = options.parse_lrn_impl(args.lrn_impl)
    pairs = args.lrn == "both" and not args.layer
    with_layer = args.layer or (pairs and not args.no_layer)
    if args.layer:
        options.refuse(args, TIMING_DESTS + ("lrn", "no_layer"), "with --layer (the layer micro-benchmark alone "
                       "takes --frameworks, --batch-size, --layer-steps, --device, --threads, the LRN parameters)")
    if not pairs:
        options.refuse(args, ["no_layer"], "without --lrn both (only the LRN comparison runs the layer benchmark)")
    if not with_layer:
        options.refuse(args, ["layer_steps"],
                       "without the layer micro-benchmark (--lrn both without --no-layer, or --layer)")
    if args.lrn == "off":
        options.refuse(args, ["lrn_impl"], "with --lrn off (no model runs LRN)")
    if lrn_impls == "fastest" and not with_layer:
        options.refuse(args, ["lrn_impl"], "as 'fastest' without the layer micro-benchmark that picks it "
                       "(drop --no-layer, or name FW=IMPL)")
    rounds = args.rounds
    frameworks = options.parse_frameworks(args.frameworks)
    lockstep = args.method == "lockstep" and len(frameworks) > 1 and not args.layer
    if lockstep:
        options.refuse(args, ["executor", "gpus", "address", "accelerator_type", "block_steps", "max_steps"],
                       "with --method lockstep (its workers take turns on this machine; use --method independent)")
        if args.target_ci is None:
            options.refuse(args, ["max_rounds"], "without --target-ci (it caps the groups the stop rule adds)")
        max_rounds = lockstep_options.max_groups(args.max_rounds, rounds, MAX_GROUPS)
    else:
        options.refuse(args, ["budget"], "without --method lockstep and two or more frameworks (the budget is "
                       "that stop rule's)")
        max_rounds = validation.max_rounds(args, rounds, MAX_ROUNDS)
    device = validation.resolve_device(args.device)
    executor = options.make_executor(args, device)
    if args.batch_size is None:
        args.batch_size = [DEFAULT_BATCH[(args.model, device)]]
        if args.model != "mnist":
            progress.make_console().print(
                f"{args.model} on {device}: batch {args.batch_size[0]} (--batch-size to change)"
                + (f", the CPU default (a step at the book's {DEFAULT_BATCH[(args.model, 'gpu')]} does "
                   f"{DEFAULT_BATCH[(args.model, 'gpu')] // args.batch_size[0]} times the work)" if device == "cpu"
                   else ", as the book timed it"))
    sel = validation.prepare(args, "compare", lrn_used=args.lrn != "off" or args.layer)
    if args.resume:
        resume.check_resumable(sel.run_dir, sel.frameworks)
    modes = ["train", "forward"] if args.mode == "both" else [args.mode]
    return ComparePlan(sel, modes, compile_modes, tunings, lrn_impls, pairs, with_layer, lockstep, rounds, max_rounds,
                executor)


def pick_lrn_impls(plan: ComparePlan, args: argparse.Namespace, show: Callable[[str], None],
                   after_each: Callable[[], None]) -> dict[str, str]:
    """The layer micro-benchmark (when it runs and is not yet in the folder), then the LRN
    implementation each framework's model will use: the fastest exact one, or the ones named."""
    sel, base = plan.sel, plan.sel.base
    if plan.with_layer and not any(r.get("kind") == "lrn_layer" for r in storage.read_records(sel.run_dir)):
        lrn_params = dataclasses.asdict(base.model.lrn_params)  # the validated config, not the raw options
        lrn_pairs.run_layer(sel.run_dir, sel.frameworks, sel.device, args.batch_size[0], args.layer_steps,
                            args.threads, lrn_params, args.timeout, show, precision=base.model.precision,
                            model=base.model.model)
    after_each()
    return (comparisons.fastest_exact(comparisons.layer_rows(storage.read_records(sel.run_dir)))
            if isinstance(plan.lrn_impls, str) else dict(plan.lrn_impls))


def run_models(plan: ComparePlan, args: argparse.Namespace, chosen: dict[str, str], show: Callable[[str], None],
               after_each: Callable[[], None], say: Callable[[str], None], started: float | None = None) -> None:
    """The model configs by the plan's method: lockstep groups, LRN pairs in one worker, or one
    process per config. ``started`` (time.monotonic) is where the lockstep budget counts from."""
    sel, base = plan.sel, plan.sel.base

    def config(mode: str, batch: int, fw: str, **model: Any) -> Any:
        return replace(base, mode=mode, batch_size=batch, model=replace(
            base.model, framework=fw, compile=plan.compile_modes.get(fw), lrn_impl=chosen.get(fw),
            tuning=plan.tunings.get(fw, ()), **model))

    if plan.lockstep:
        states = [False, True] if plan.pairs else options.LRN_MODES[args.lrn]
        configs = [config(mode, b, fw, lrn=lrn) for b in args.batch_size for mode in plan.modes for lrn in states
                   for fw in sel.frameworks]
        lockstep_compare.execute(sel.run_dir, configs, plan.rounds, args.timeout, pair=plan.pairs,
                                 target_pct=args.target_ci, budget_s=60 * args.budget, max_groups=plan.max_rounds,
                                 progress=show, after_each=after_each, say=say, started=started)
    elif plan.pairs:
        configs = [config(mode, b, fw) for b in args.batch_size for mode in plan.modes for fw in sel.frameworks]
        if args.accelerator_type:  # every pair once per GPU type (Ray)
            configs = [replace(c, extra={**c.extra, "accelerator_type": t}) for c in configs
                       for t in args.accelerator_type]
        lrn_pairs.run_pairs(sel.run_dir, configs, plan.rounds, args.timeout, show, after_each, notify=say,
                            max_rounds=plan.max_rounds, executor=plan.executor)
    else:
        jobs = planning.plan(sel.frameworks, plan.modes, args.batch_size, options.LRN_MODES[args.lrn], base,
                             rounds=plan.rounds, compile_modes=plan.compile_modes, lrn_impls=chosen,
                             accelerator_types=args.accelerator_type, tunings=plan.tunings)
        sweep.execute(jobs, sel.run_dir, args.timeout, progress=show, after_each=after_each, notify=say,
                      max_rounds=plan.max_rounds, executor=plan.executor)


def report_comparisons(folder: report.Folder, chosen: dict[str, str], code: int, wide: bool = False) -> int:
    """After the answer block and the run table: the LRN implementations used, then the comparison
    tables (``wide``: every column); exit 1 when a comparison could not be made (unless interrupted: 130)."""
    console = progress.make_console()
    if chosen:
        console.print("LRN implementations used for the model: " + ", ".join(f"{k}={v}" for k, v in chosen.items()))
    ok = report.print_comparisons(folder, console, wide=wide)
    return code if ok or code == 130 else 1
