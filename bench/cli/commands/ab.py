"""``bench ab BASE [CANDIDATE]``: the pull-request gate. Two revisions of this project (CANDIDATE: the
working tree) measured in one job, their workers in lockstep pairs (:mod:`bench.execution.ab`), then
``bench check`` on the two halves. Exit 1 on a regression, 0 otherwise, 2 on bad input."""

from __future__ import annotations

import argparse
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench.cli import common, options
from bench.cli.commands import check
from bench.core import provenance, records, storage
from bench.core.errors import UsageError
from bench.execution import ab, planning, runner
from bench.output import report, series

PAIRS = 8  # lockstep pairs per config: the units of the interval (t with 7 degrees of freedom)
STEPS = 20  # timed steps per side and pair
CHUNK = 1  # steps per turn (A B B A ...): step t of one side and of the other run moments apart
WARMUP = 5
NOT_HERE = ("target_ci", "max_steps", "max_rounds", "block_steps")
AB_JSON = "ab.json"


def add_parser(sub: Any) -> None:
    p = sub.add_parser("ab", help="the A/B gate: two git revisions measured side by side in lockstep, then check")
    p.add_argument("base", metavar="BASE", help="the baseline revision (commit, branch or tag)")
    p.add_argument("candidate", metavar="CANDIDATE", nargs="?",
                   help="the candidate revision [default: the working tree, which must be clean unless --allow-dirty]")
    options.add_frameworks(p)
    options.add_lrn(p, "off", "every variant is a row of its own")
    options.add_lrn_impl(p, fastest=False)
    options.add_timing(p, steps=STEPS, warmup=WARMUP, target_ci=None, max_steps=0, rounds=PAIRS, mode="train",
                       rounds_help=f"lockstep pairs per config, each a base and a candidate worker taking turns; "
                                   f"the interval is over pairs [default: {PAIRS}]",
                       max_rounds_help="(not used by bench ab)")
    p.add_argument("--chunk", type=options.positive, default=CHUNK,
                   help=f"synchronised steps per turn within a pair [default: {CHUNK}]")
    p.add_argument("--allow-dirty", action="store_true", help="measure a working tree with uncommitted changes")
    p.add_argument("--base-python", default=sys.executable, metavar="PYTHON",
                   help="interpreter (its installed frameworks) for the base side [default: this one]")
    p.add_argument("--candidate-python", default=sys.executable, metavar="PYTHON",
                   help="interpreter for the candidate side, e.g. a venv with upgraded frameworks [default: this one]")
    options.add_gate(p)
    options.finish(p, main)


def _environment(side: ab.ABSide, sel: common.Selection) -> dict[str, Any]:
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
    options.refuse(args, NOT_HERE, "in bench ab (every pair runs --steps steps per side)")
    choice = options.model_choices(args)
    lrn_modes = choice.lrn_modes
    if args.rounds < 2:
        raise UsageError(f"--rounds {args.rounds}: a gate needs 2 or more pairs (an interval over one pair is none)")
    check.validate(args)
    repo = ab.repo_root(runner.source_root())
    revs = {"base": ab.validate(repo, args.base, args.allow_dirty),
            "candidate": ab.validate(repo, args.candidate, args.allow_dirty)}
    sel = common.prepare(args, "ab", lrn_used=any(lrn_modes))  # last check; makes the folder
    session = _session(sel.run_dir, revs, args.resume)
    modes = ["train", "forward"] if args.mode == "both" else [args.mode]
    configs = [j.config for j in planning.plan(sel.frameworks, modes, args.batch_size, lrn_modes, sel.base, rounds=1,
                                            compile_modes=choice.compile, lrn_impls=choice.lrn_impl,
                                            tunings=choice.tuning)]
    console = common.make_console()
    with tempfile.TemporaryDirectory(prefix="bench-ab-") as workspace:
        pythons = {"base": args.base_python, "candidate": args.candidate_python}
        sides = [ab.materialize(name, rev, repo, Path(workspace), sel.run_dir / name, pythons[name])
                 for name, rev in revs.items()]
        for side in sides:
            env_path = side.run_dir / storage.ENV
            if not env_path.exists():
                storage.write_json(env_path, _environment(side, sel))
        work = ab.pending(ab.plan(configs, args.rounds), sides)
        same = (" (the same commit: an A/A job)" if revs["base"].commit == revs["candidate"].commit
                and not revs["candidate"].dirty else "")
        console.print(f"bench ab: base {revs['base'].label()} vs candidate {revs['candidate'].label()}{same}; "
                      f"{len(work)} lockstep pairs of {args.steps} steps per side, chunks of {args.chunk}, on "
                      f"{sel.device}; results in [bold]{sel.run_dir}[/]")

        def run(show: Callable[[str], None], after_each: Callable[[], None], say: Callable[[str], None]) -> None:
            ab.execute(work, sides, session, args.chunk, args.timeout, show, after_each)

        interrupted = common.with_progress(console, len(work), run)
    for side in sides:
        report.finalize(side.run_dir, f"bench ab {side.name}: {side.rev.label()}")
    storage.update_latest(sel.run_dir)
    if interrupted:
        console.print(f"[yellow]Interrupted: finished pairs are kept; continue with --resume --out {sel.run_dir}[/]")
        return 130
    for side in sides:
        ms = records.measurements(storage.read_records(side.run_dir))
        if ms and not any(m.ok for m in ms):
            raise UsageError(f"every pair failed on the {side.name} side ({side.rev.label()}): {ms[-1].error}; a "
                             "revision's workers must accept the jobs this bench sends (results in "
                             f"{sel.run_dir})")
    base, cand = (series.load([str(s.run_dir)], s.name) for s in sides)
    code = check.run_gate(args, base, cand, sel.run_dir, console,
                          title=f"bench ab: {revs['candidate'].label()} vs {revs['base'].label()}")
    console.print(f"Files: {sel.run_dir}/gate.csv, gate.json, gate.md, base/ and candidate/ (each a run folder)")
    return code

