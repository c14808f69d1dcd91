"""``bench run``: time training and inference steps, one worker process per (framework, config,
round), rounds interleaved across configs."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import Any

from bench.cli import options, progress, validation
from bench.execution import planning, sweep
from bench.store import resume

ROUNDS = 3  # worker processes per config: the unit every interval is taken over
STEPS = 40  # timed steps per process (3 x 40 = 120 per config)
MAX_ROUNDS_FACTOR = 2


def add_parser(sub: Any) -> None:
    p = sub.add_parser("run", help="time training and inference steps, one worker per framework and config")
    options.add_frameworks(p)
    options.add_lrn(p, "off", "every variant is a row of its own")
    options.add_lrn_impl(p, fastest=False)
    options.add_timing(p, steps=STEPS, warmup=10)
    options.add_rounds(p, ROUNDS, "worker processes per config, interleaved across configs; intervals are taken over "
                       f"processes, so 3 or more [default: {ROUNDS}]", "with --target-ci: add processes up to this "
                       f"many per config while the interval is wider [default: {MAX_ROUNDS_FACTOR} x --rounds]")
    options.add_sampling(p, target_ci=None, max_steps=0)
    options.add_output(p, timeout=1800.0)
    options.add_executor(p)
    p.add_argument("--wide", action="store_true", help="every column of the time-per-step table (the default fits "
                   "120 columns; the rest is in summary.csv and report.html)")
    options.finish(p, main)


def main(args: argparse.Namespace) -> int:
    choice = options.model_choices(args)
    lrn_modes = choice.lrn_modes
    max_rounds = validation.max_rounds(args, args.rounds, MAX_ROUNDS_FACTOR * args.rounds)
    executor = options.make_executor(args, validation.resolve_device(args.device))
    sel = validation.prepare(args, "run", lrn_used=any(lrn_modes))
    if args.resume:
        resume.check_resumable(sel.run_dir, sel.frameworks)
    modes = ["train", "forward"] if args.mode == "both" else [args.mode]
    jobs = planning.plan(sel.frameworks, modes, args.batch_size, lrn_modes, sel.base, rounds=args.rounds,
                      compile_modes=choice.compile, lrn_impls=choice.lrn_impl,
                      tunings=choice.tuning, accelerator_types=args.accelerator_type)

    def work(show: Callable[[str], None], after_each: Callable[[], None], say: Callable[[str], None]) -> None:
        sweep.execute(jobs, sel.run_dir, args.timeout, progress=show, after_each=after_each, notify=say,
                      max_rounds=max_rounds, executor=executor)

    return progress.execute_and_report(args, sel, "bench run", len(jobs), work, across_invocations=True)[0]
