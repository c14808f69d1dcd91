"""``bench bisect GOOD BAD``: which first-parent commit between GOOD and BAD made the step slower. Every
probe a lockstep A/B comparison against the nearest known-good commit (:mod:`bench.execution.bisect`),
decided same / different / not yet (:mod:`bench.analysis.bisection`); the culprit confirmed against its
parent and profiled against it (which layer). Exit 0 when a culprit is found, 1 when none is (no
regression between GOOD and BAD, or the boundary did not hold up), 2 on bad input, 3 when
``--max-probes`` stopped it first, 130 on Ctrl-C (``--resume DIR`` continues)."""

from __future__ import annotations

import argparse
import math
import sys
import tempfile
from dataclasses import asdict
from pathlib import Path
from typing import Any

from bench.analysis import bisection, gate, profile_diff
from bench.cli import options, progress, validation
from bench.cli.commands import ab as ab_command
from bench.core import provenance, storage
from bench.core.errors import UsageError
from bench.execution import ab, planning, runner
from bench.execution.bisect import STATE, Engine, Options, State, Stopped, commits_between
from bench.output import bisect_report

PAIRS = 4  # the first batch of a probe; it doubles while the probe is "not yet"
BUDGET = 16  # pairs at most per probe
KEPT = ("resume", "out", "timeout", "max_probes")  # what --resume may change: the rest is in bisect.json


def add_parser(sub: Any) -> None:
    p = sub.add_parser("bisect", help="which commit between GOOD and BAD made it slower: lockstep probes, confirmed, "
                       "profiled")
    p.add_argument("good", metavar="GOOD", nargs="?", help="a commit that is fast (older)")
    p.add_argument("bad", metavar="BAD", nargs="?", help="a later commit that is slow (on GOOD's first-parent line)")
    ab_command.add_selection(p)
    options.add_rounds(p, PAIRS, "lockstep pairs a probe starts with; doubled while it is 'not yet' "
                       f"[default: {PAIRS}]", kind=options.int_at_least(2))
    options.add_output(p, timeout=1800.0, resume=False)
    p.add_argument("--probe-budget", type=options.int_at_least(2), default=BUDGET, metavar="PAIRS",
                   help="pairs at most per probe; a probe still undecided then is decided by its point estimate "
                        f"and marked so [default: {BUDGET}]")
    p.add_argument("--no-profile", action="store_true", help="do not profile the culprit against its parent")
    ab_command.add_profile_options(p)
    p.add_argument("--python", metavar="PYTHON",
                   help="interpreter (its installed frameworks) for every commit [default: this one]")
    p.add_argument("--max-probes", type=options.positive, metavar="N",
                   help="stop after N probes in this session (exit 3); --resume continues")
    p.add_argument("--resume", metavar="DIR", help="continue the bisection in DIR (its bisect.json) with its options")
    options.add_gate(p, outputs=False)
    options.finish(p, main)


def _fresh(args: argparse.Namespace, repo: Path) -> tuple[State, Path]:
    """Validate the input (before any folder is made), then the state of a new bisection in a new folder."""
    if args.good is None or args.bad is None:
        raise UsageError("bench bisect needs GOOD and BAD (e.g. bench bisect v1.2 main), or --resume DIR")
    if args.probe_budget < args.rounds:
        raise UsageError(f"--probe-budget {args.probe_budget} is below --rounds {args.rounds}; allowed: "
                         f"{args.rounds} or more pairs")
    gate.Settings(args.alpha, args.noise_floor, args.detect)  # the gate's options, refused in one line
    good, bad, commits = commits_between(repo, args.good, args.bad)
    for name, c in (("GOOD", good), ("BAD", bad)):
        try:
            ab.validate(repo, c.hash, False)
        except UsageError as exc:
            raise UsageError(f"{name} {c.hash[:10]}: {exc}") from None
    choice = options.model_choices(args)
    sel = validation.prepare(argparse.Namespace(**{**vars(args), "resume": False}), "bisect",
                         lrn_used=any(choice.lrn_modes))  # last check; makes the folder
    modes = ["train", "forward"] if args.mode == "both" else [args.mode]
    configs = [j.config for j in planning.plan(sel.frameworks, modes, args.batch_size, choice.lrn_modes, sel.base,
                                            rounds=1, compile_modes=choice.compile, lrn_impls=choice.lrn_impl,
                                            tunings=choice.tuning)]
    opts = Options(args.rounds, args.probe_budget, args.chunk, args.timeout, args.alpha, args.noise_floor, args.detect,
                   0 if args.no_profile else args.profile_rounds, ab_command.profile_params(args))
    state = State(str(repo), asdict(good), asdict(bad), [asdict(c) for c in commits], [c.to_dict() for c in configs],
                  asdict(opts), environment={"device": sel.device, "data": sel.data_text,
                                             "python": args.python or sys.executable})
    state.save(sel.run_dir)
    return state, sel.run_dir


def _resumed(args: argparse.Namespace, repo: Path) -> tuple[State, Path]:
    run_dir = Path(args.resume)
    if not (run_dir / STATE).exists():
        raise UsageError(f"--resume {args.resume}: no {STATE} there; give the folder of a bench bisect run")
    changed = options.given(args, [d for d in getattr(args, "_defaults", {}) if d not in KEPT])
    if changed:
        raise UsageError(f"{', '.join(changed)}: a resumed bisection keeps the options in {run_dir / STATE}; "
                         "give only --resume DIR (and --timeout, --max-probes)")
    state = State.load(run_dir)
    for name, given, saved in (("GOOD", args.good, state.good), ("BAD", args.bad, state.bad)):
        if given is not None and ab.resolve(repo, given) != saved["hash"]:
            raise UsageError(f"--resume: {run_dir} bisects {name} {saved['hash'][:10]}, not {given}; give the same "
                             "commits or none")
    state.options["timeout"] = args.timeout
    return state, run_dir


def _exit(step: bisection.Step) -> int:
    return 0 if step.action == bisection.FOUND else 1


def main(args: argparse.Namespace) -> int:
    repo = ab.repo_root(runner.source_root())
    state, run_dir = _resumed(args, repo) if args.resume else _fresh(args, repo)
    console = progress.make_console()
    n = len(state.commits)
    console.print(f"bench bisect: {n} first-parent commits after GOOD {state.good['hash'][:10]} up to BAD "
                  f"{state.bad['hash'][:10]}, {len(state.probes)} probes done (about {math.ceil(math.log2(n + 1)) + 2} "
                  f"in all); results in [bold]{run_dir}[/]")
    environment = {**provenance.collect(), **state.environment, "argv": sys.argv}
    step: bisection.Step | None = None
    stopped = ""
    with tempfile.TemporaryDirectory(prefix="bench-bisect-") as workspace:
        def work(show: Any, after_each: Any, say: Any) -> None:
            nonlocal step, stopped
            engine = Engine(repo, run_dir, state, Path(workspace), state.environment.get("python", sys.executable),
                            environment, show, after_each)
            try:
                step = engine.run(args.max_probes)
            except Stopped as exc:
                stopped = str(exc)

        total = (math.ceil(math.log2(n + 1)) + 2) * state.options["first_pairs"] * len(state.configs)
        interrupted = progress.with_progress(console, total, work)
    storage.update_latest(run_dir)
    if interrupted or step is None:
        bisect_report.table(state, console)
        console.print(f"[yellow]{stopped or 'Interrupted'}: {len(state.probes)} finished probes are kept in "
                      f"{run_dir / STATE}; continue with bench bisect --resume {run_dir}[/]")
        return 3 if stopped else 130
    if step.action == bisection.BAD_DOES_NOT_RUN:
        raise UsageError(f"BAD {state.bad['hash'][:10]} does not run, so there is nothing to bisect: "
                         f"{state.probes[-1]['reason']}")
    if step.action == bisection.FOUND and state.options["profile_rounds"]:
        confirm = state.probes[-1]
        rows = bisect_report.profile(run_dir / confirm["folder"], console)
        confirm["profile_headline"] = profile_diff.headline(rows)
    state.result = {"action": step.action, "culprit": None if step.index is None else state.commits[step.index],
                    "suspects": [state.commits[i] for i in step.suspects]}
    state.save(run_dir)
    bisect_report.table(state, console)
    for line in bisect_report.verdict(state, step):
        console.print(line)
    bisect_report.write(run_dir, state, step)
    console.print(f"Files: {run_dir}/{bisect_report.REPORT_MD}, {STATE}, one folder per probe"
                  + (f" ({state.probes[-1]['folder']}/{bisect_report.DIFF_CSV}: the profile diff)"
                     if step.action == bisection.FOUND and state.options["profile_rounds"] else ""))
    return _exit(step)
