"""``bench compare``: frameworks side by side (``--lrn off`` or ``on``), or what LRN costs
(``--lrn`` / ``--lrn both``: LRN off and on of each framework in one worker, interleaved, plus the
LRN layer micro-benchmark), or the layer micro-benchmark alone (``--layer``).

With two or more frameworks the default ``--method lockstep`` measures them in lockstep groups (one
worker per framework alive at once, each holding every config of a batch size, LRN off and on with
``--lrn both``: :mod:`bench.execution.lockstep_compare`), then adds groups for the ratios still wider
than ``--target-ci`` within ``--budget``; ``--method independent`` keeps one process per config and
Welch's t across them."""

from __future__ import annotations

import argparse
import dataclasses
from collections.abc import Callable
from dataclasses import replace
from typing import Any

from bench.analysis import comparisons
from bench.cli import lockstep_options, options, progress, validation
from bench.core import storage
from bench.execution import lockstep_compare, lrn_pairs, planning, resume, sweep
from bench.output import report

STEPS = 20  # timed steps per process and variant before the --target-ci rule (3 processes: 60 per row)

ROUNDS = 3  # worker processes per config (an LRN pair's worker holds both variants): the unit of every interval
BUDGET_MIN = 8.0  # lockstep: the stop rule adds groups until this many minutes after the first measurement
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
    options.add_timing(p, steps=STEPS, warmup=5, target_ci=3.0, max_steps=120, rounds=ROUNDS,
                       rounds_help=f"worker processes per config, interleaved across configs [default: {ROUNDS}]",
                       max_rounds_help=f"add processes up to this many per config while the interval is wider than "
                                       f"--target-ci [default: {MAX_ROUNDS}]")
    p.add_argument("--layer", action="store_true", help="only the LRN layer micro-benchmark")
    p.add_argument("--no-layer", action="store_true", help="with --lrn both: skip the layer micro-benchmark")
    p.add_argument("--layer-steps", type=options.positive, default=12,
                   help="timed calls per layer variant, at the first --batch-size [12]")
    lockstep_options.add_method(p)
    lockstep_options.add_budget(p, BUDGET_MIN, "--method lockstep adds groups for the framework ratios still "
                                "wider than --target-ci (the first pass always runs)")
    options.add_executor(p)
    options.finish(p, main)


def main(args: argparse.Namespace) -> int:
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
        options.refuse(args, ["executor", "gpus", "address", "accelerator_type"], "with --method lockstep (its "
                       "workers take turns on this machine; use --method independent)")
        if args.target_ci is None:
            options.refuse(args, ["max_rounds"], "without --target-ci (it caps the groups the stop rule adds)")
        max_groups = lockstep_options.max_groups(args.max_rounds, rounds, MAX_GROUPS)
    else:
        options.refuse(args, ["budget"], "without --method lockstep and two or more frameworks (the budget is "
                       "that stop rule's)")
    max_rounds = validation.max_rounds(args, rounds, MAX_ROUNDS) if not lockstep else max_groups
    executor = options.make_executor(args, validation.resolve_device(args.device))
    sel = validation.prepare(args, "compare", lrn_used=args.lrn != "off" or args.layer)
    if args.resume:
        resume.check_resumable(sel.run_dir, sel.frameworks)
    modes = ["train", "forward"] if args.mode == "both" else [args.mode]
    lrn_params = dataclasses.asdict(sel.base.model.lrn_params)  # the validated config, not the raw options
    chosen: dict[str, str] = {}
    base = sel.base

    def work(show: Callable[[str], None], after_each: Callable[[], None], say: Callable[[str], None]) -> None:
        nonlocal chosen
        if with_layer and not any(r.get("kind") == "lrn_layer" for r in storage.read_records(sel.run_dir)):
            lrn_pairs.run_layer(sel.run_dir, sel.frameworks, sel.device, args.batch_size[0], args.layer_steps,
                              args.threads, lrn_params, args.timeout, show, precision=base.model.precision)
        after_each()
        chosen = (comparisons.fastest_exact(comparisons.layer_rows(storage.read_records(sel.run_dir)))
                  if isinstance(lrn_impls, str) else dict(lrn_impls))
        if args.layer:
            return
        if lockstep:
            states = [False, True] if pairs else options.LRN_MODES[args.lrn]
            configs = [replace(base, mode=mode, batch_size=b, model=replace(
                base.model, framework=fw, lrn=lrn, compile=compile_modes.get(fw), lrn_impl=chosen.get(fw),
                tuning=tunings.get(fw, ()))) for b in args.batch_size for mode in modes for lrn in states
                for fw in sel.frameworks]
            lockstep_compare.execute(sel.run_dir, configs, rounds, args.timeout, pair=pairs, target_pct=args.target_ci,
                                     budget_s=60 * args.budget, max_groups=max_rounds, progress=show,
                                     after_each=after_each, say=say)
        elif pairs:
            configs = [replace(base, mode=mode, batch_size=b, model=replace(
                base.model, framework=fw, compile=compile_modes.get(fw), lrn_impl=chosen.get(fw),
                tuning=tunings.get(fw, ())))
                for b in args.batch_size for mode in modes for fw in sel.frameworks]
            if args.accelerator_type:  # every pair once per GPU type (Ray)
                configs = [replace(c, extra={**c.extra, "accelerator_type": t}) for c in configs
                           for t in args.accelerator_type]
            lrn_pairs.run_pairs(sel.run_dir, configs, rounds, args.timeout, show, after_each, notify=say,
                              max_rounds=max_rounds, executor=executor)
        else:
            jobs = planning.plan(sel.frameworks, modes, args.batch_size, options.LRN_MODES[args.lrn], base,
                                 rounds=rounds, compile_modes=compile_modes, lrn_impls=chosen,
                                 accelerator_types=args.accelerator_type, tunings=tunings)
            sweep.execute(jobs, sel.run_dir, args.timeout, progress=show, after_each=after_each, notify=say,
                          max_rounds=max_rounds, executor=executor)

    per_round = len(args.batch_size) if lockstep else len(args.batch_size) * len(modes) * len(sel.frameworks)
    n_jobs = 1 + (0 if args.layer else per_round * rounds)
    title = "bench compare --lrn" if pairs else ("bench compare --layer" if args.layer else "bench compare")
    code, folder = progress.execute_and_report(args, sel, title, n_jobs, work, show_run_table=not args.layer)
    console = progress.make_console()
    if chosen:
        console.print("LRN implementations used for the model: " + ", ".join(f"{k}={v}" for k, v in chosen.items()))
    ok = report.print_comparisons(folder, console)
    return code if ok or code == 130 else 1
