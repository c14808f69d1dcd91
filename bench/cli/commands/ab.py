"""``bench ab BASE [CANDIDATE]``: the pull-request gate. Two revisions of this project (CANDIDATE: the
working tree) measured in one job, their workers in lockstep pairs (:mod:`bench.execution.ab`), then
``bench check`` on the two halves. Exit 1 on a regression, 0 otherwise, 2 on bad input."""

from __future__ import annotations

import argparse
import sys
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from bench.analysis.gate import GateResult, Settings
from bench.cli import lockstep_options, options, progress, validation
from bench.cli.commands import check
from bench.core import provenance, records, storage
from bench.core.errors import UsageError
from bench.execution import ab, ab_profile, planning, runner
from bench.output import answer_verdicts, bisect_report, report
from bench.store import series

PAIRS = 8  # lockstep pairs per config: the units of the interval (t with 7 degrees of freedom)
STEPS = 20  # timed steps per side and pair
CHUNK = 1  # steps per turn (A B B A ...): step t of one side and of the other run moments apart
WARMUP = 5
AB_JSON = "ab.json"
PROFILE_ROUNDS = 4
# minutes from the start within which the stop rule may add pairs to rows still inconclusive: room beyond a gate
# of 8 pairs of one framework's training step at batch 32 on a 2-core CPU (its times: docs/validation.md, gate-D)
BUDGET = 8.0


def add_parser(sub: Any) -> None:
    p = sub.add_parser("ab", help="the A/B gate: two git revisions measured side by side in lockstep, then check")
    p.add_argument("base", metavar="BASE", help="the baseline revision (commit, branch or tag)")
    p.add_argument("candidate", metavar="CANDIDATE", nargs="?",
                   help="the candidate revision [default: the working tree, which must be clean unless --allow-dirty]")
    add_selection(p)
    options.add_rounds(p, PAIRS, "lockstep pairs per config, each a base and a candidate worker taking turns; the "
                       f"interval is over pairs [default: {PAIRS}]", "with --budget: the most pairs a config may get "
                       "[default: 4 x --rounds]")
    options.add_output(p, timeout=1800.0)
    p.add_argument("--allow-dirty", action="store_true", help="measure a working tree with uncommitted changes")
    p.add_argument("--base-python", metavar="PYTHON",
                   help="interpreter (its installed frameworks) for the base side [default: this one]")
    p.add_argument("--candidate-python", metavar="PYTHON",
                   help="interpreter for the candidate side, e.g. a venv with upgraded frameworks [default: this one]")
    p.add_argument("--profile", action="store_true",
                   help="also profile both sides, interleaved, and write profile_diff.csv: the ms each scope and "
                        "pass added, with a ratio and interval over rounds, ranked")
    add_profile_options(p)
    lockstep_options.add_budget(p, BUDGET, "more pairs are added to the rows still inconclusive after the first "
                                "--rounds pairs (0: none, the gate runs exactly --rounds pairs)")
    options.add_gate(p)
    options.finish(p, main)


def add_selection(p: argparse.ArgumentParser) -> None:
    """What both sides measure and how the pairs run (``bench ab`` and ``bench bisect``; each adds its --rounds)."""
    options.add_frameworks(p)
    options.add_lrn(p, "off", "every variant is a row of its own")
    options.add_lrn_impl(p, fastest=False)
    options.add_timing(p, steps=STEPS, warmup=WARMUP, mode="train")
    p.add_argument("--chunk", type=options.positive, default=CHUNK,
                   help=f"synchronised steps per turn within a pair [default: {CHUNK}]")


def add_profile_options(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("profile diff")
    g.add_argument("--profile-rounds", type=options.int_at_least(2), default=PROFILE_ROUNDS,
                   help=f"profile workers per side, alternating base and candidate; the diff's interval is over "
                        f"them [default: {PROFILE_ROUNDS}]")
    g.add_argument("--layer-steps", type=options.positive, default=3,
                   help="timed calls per layer and round, each layer alone [default: 3]")


def profile_params(args: argparse.Namespace) -> dict[str, Any]:
    """What each profile worker runs besides the whole step (:mod:`bench.worker.tasks.profile`)."""
    return {"profile_steps": 3, "layer_steps": args.layer_steps, "rounds": 2}


def _environment(side: ab.ABSide, sel: validation.Selection) -> dict[str, Any]:
    environment = provenance.collect()
    environment["git"] = {"commit": side.commit, "dirty": side.rev.dirty, "revision": side.revision}
    if side.source.python != sys.executable:
        environment["packages"] = provenance.package_versions(side.source.python)
    environment.update({"argv": sys.argv, "device": sel.device, "data": sel.data_text,
                        "python_executable": side.source.python, "source_root": str(side.source.root)})
    return environment


def _session(run_dir: Path, revs: dict[str, ab.Revision], resume: bool) -> str:
    """The lockstep session id, kept in ab.json; a resumed job must be measuring the same commits."""
    path = run_dir / AB_JSON
    if resume and path.exists():
        saved = storage.read_json(path)
        for name, rev in revs.items():
            if saved[name]["commit"] != rev.commit:
                raise UsageError(f"--resume: {run_dir} measured {name} {saved[name]['commit'][:10]}, not "
                                 f"{rev.commit[:10]}; resume with the same revisions or choose another --out")
        return str(saved["session"])
    session = ab.new_session()
    storage.write_json(path, {"session": session, **{n: vars(r) for n, r in revs.items()}, "argv": sys.argv})
    return session


def main(args: argparse.Namespace) -> int:
    choice = options.model_choices(args)
    lrn_modes = choice.lrn_modes
    if args.budget == 0:
        options.refuse(args, ["max_rounds"], "without --budget (it caps the pairs that rule adds)")
    elif args.max_rounds is not None and args.max_rounds < args.rounds:
        raise UsageError(f"--max-rounds {args.max_rounds} is below --rounds {args.rounds}; allowed: {args.rounds} "
                         "or more")
    if args.rounds < 2:
        raise UsageError(f"--rounds {args.rounds}: a gate needs 2 or more pairs (an interval over one pair is none)")
    check.validate(args)
    if not args.profile:
        options.refuse(args, ["profile_rounds", "layer_steps"], "without --profile")
    repo = ab.repo_root(runner.source_root())
    revs = {"base": ab.validate(repo, args.base, args.allow_dirty),
            "candidate": ab.validate(repo, args.candidate, args.allow_dirty)}
    sel = validation.prepare(args, "ab", lrn_used=any(lrn_modes))  # last check; makes the folder
    session = _session(sel.run_dir, revs, args.resume)
    modes = ["train", "forward"] if args.mode == "both" else [args.mode]
    configs = [j.config for j in planning.plan(sel.frameworks, modes, args.batch_size, lrn_modes, sel.base, rounds=1,
                                            compile_modes=choice.compile, lrn_impls=choice.lrn_impl,
                                            tunings=choice.tuning)]
    console = progress.make_console()
    with tempfile.TemporaryDirectory(prefix="bench-ab-") as workspace:
        # default None, not sys.executable: the parser (and so docs/cli.md) does not depend on the machine
        pythons = {"base": args.base_python or sys.executable, "candidate": args.candidate_python or sys.executable}
        sides = [ab.materialize(name, rev, repo, Path(workspace), sel.run_dir / name, pythons[name])
                 for name, rev in revs.items()]
        for side in sides:
            env_path = side.run_dir / storage.ENV
            if not env_path.exists():
                storage.write_json(env_path, _environment(side, sel))
        work = ab.pending(ab.plan(configs, args.rounds), sides)
        same = (" (the same commit: an A/A job)" if revs["base"].commit == revs["candidate"].commit
                and not revs["candidate"].dirty else "")
        extra = (f"; then more pairs for the rows still inconclusive, until {args.budget:g} min from the start"
                 if args.budget else "")
        console.print(f"bench ab: base {revs['base'].label()} vs candidate {revs['candidate'].label()}{same}; "
                      f"{len(work)} lockstep pairs of {args.steps} steps per side, chunks of {args.chunk}, on "
                      f"{sel.device}{extra}; results in [bold]{sel.run_dir}[/]")

        profiles = len(configs) * len(sides) * args.profile_rounds if args.profile else 0
        opts = ab.Options(args.rounds, args.chunk, args.timeout, float(args.budget or 0), args.max_rounds,
                          Settings(args.alpha, args.noise_floor, args.detect))

        def run(show: Callable[[str], None], after_each: Callable[[], None], say: Callable[[str], None]) -> None:
            ab.measure(work, configs, sides, session, opts, show, after_each, say)
            if args.profile:
                ab_profile.execute(configs, sides, sel.run_dir, args.profile_rounds, profile_params(args),
                                   args.timeout, show, after_each)

        interrupted = progress.with_progress(console, len(work) + profiles, run)
    folders = [report.finalize(side.run_dir, f"bench ab {side.name}: {side.rev.label()}") for side in sides]
    storage.update_latest(sel.run_dir)
    if interrupted:
        console.print(f"[yellow]Interrupted: finished pairs are kept; continue with --resume --out {sel.run_dir}[/]")
        return 130
    for side, folder in zip(sides, folders, strict=True):
        ms = records.measurements(folder.records)
        if ms and not any(m.ok for m in ms):
            raise UsageError(f"every pair failed on the {side.name} side ({side.rev.label()}): {ms[-1].error}; a "
                             "revision's workers must accept the jobs this bench sends (results in "
                             f"{sel.run_dir})")
    title = f"bench ab: {revs['candidate'].label()} vs {revs['base'].label()}"
    return report_gate(args, sel.run_dir, title, folders, console).exit_code


def report_gate(args: argparse.Namespace, run_dir: Path, title: str, folders: Sequence[report.Folder],
                console: Any) -> GateResult:
    """After the pairs: the gate on the two halves (``bench check``'s, which writes gate.csv, gate.json,
    gate.md and report.html into ``run_dir``), its answer block printed before its table, then the profile
    diff (``--profile``) and the files. ``folders``: the finalized base/ and candidate/ run folders."""
    base, cand = (series.load([str(f.run_dir)], name) for f, name in zip(folders, ("base", "candidate"), strict=True))
    table = console.capture()  # the gate's table and notes, printed below the answer they hold
    try:
        with table:
            result = check.run_gate(args, base, cand, run_dir, console, title=title, sides=folders)
    except BaseException:
        _write(console, table.get())  # what it printed before the error is shown, not lost
        raise
    answer_verdicts.show(answer_verdicts.gate_lines(result, run_dir), console)
    _write(console, table.get())
    if args.profile:
        bisect_report.profile(run_dir, console)
    console.print(f"Files: {run_dir}/gate.csv, gate.json, gate.md, report.html, base/ and candidate/ (each a run "
                  "folder)" + (f", {bisect_report.DIFF_CSV} and profile/ (each side's profile records)"
                               if args.profile else ""))
    return result



def _write(console: Any, rendered: str) -> None:
    """Text a console already rendered (``console.capture``), written as it is."""
    console.file.write(rendered)
    console.file.flush()
