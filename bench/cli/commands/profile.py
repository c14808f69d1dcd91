"""``bench profile``: where each framework spends a step, layer by layer (the framework's own profiler,
and each layer alone), set against the whole step, with the top ops, the fixed cost of a step and,
with ``--trace``, each framework's trace in the run folder."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

from bench.analysis import attribution
from bench.cli import options, progress, validation
from bench.core import provenance, storage
from bench.execution import ab_profile, planning
from bench.output import answer_verdicts, html_pages, lockstep_report, plots
from bench.output import report as output_report
from bench.output.tables import breakdown

STEPS = 20
PROFILE_STEPS = 3


def add_parser(sub: Any) -> None:
    p = sub.add_parser("profile", help="where each framework spends a step: layers, passes, top ops, overhead")
    options.add_frameworks(p)
    options.add_model(p)
    options.add_lrn(p, "off", "each variant is profiled on its own")
    options.add_lrn_impl(p, fastest=False)
    p.add_argument("--mode", choices=("train", "forward"), default="train",
                   help="profile a training step or an inference forward pass [default: train]")
    p.add_argument("--batch-size", type=options.positive, nargs="+", default=[128])
    p.add_argument("--steps", type=options.positive, default=STEPS,
                   help=f"whole steps timed, the figure the layers must add up to [default: {STEPS}]")
    p.add_argument("--warmup", type=options.non_negative, default=5)
    p.add_argument("--profile-steps", type=options.positive, default=PROFILE_STEPS,
                   help=f"steps under the framework's profiler [default: {PROFILE_STEPS}]")
    p.add_argument("--layer-steps", type=options.positive, default=3,
                   help="timed calls per layer and round, each layer alone [default: 3]")
    p.add_argument("--layer-rounds", type=options.positive, default=3,
                   help="interleaved rounds over the layers [default: 3]")
    p.add_argument("--trace", action="store_true", help="keep each framework's trace in the run folder under "
                   "traces/ (Chrome/Perfetto JSON for ui.perfetto.dev, and the XPlane TensorBoard opens where the "
                   "framework writes one; README: 'Where a step goes')")
    options.add_config(p)
    options.add_output(p, timeout=1800.0, resume=False)
    options.add_data(p)
    options.finish(p, main)


def main(args: argparse.Namespace) -> int:
    choice = options.model_choices(args)
    lrn_modes = choice.lrn_modes
    sel = validation.prepare(args, "profile", lrn_used=any(lrn_modes))
    jobs = planning.plan(sel.frameworks, [args.mode], args.batch_size, lrn_modes, sel.base, rounds=1,
                      compile_modes=choice.compile, lrn_impls=choice.lrn_impl,
                      tunings=choice.tuning)
    console = progress.make_console()
    environment = provenance.collect()
    environment.update({"argv": sys.argv, "device": sel.device, "data": sel.data_text})
    storage.write_json(sel.run_dir / storage.ENV, environment)
    console.print(f"{len(jobs)} profile jobs, one worker process each, on {sel.device}; results in "
                  f"[bold]{sel.run_dir}[/]")

    def work(show: Callable[[str], None], after_each: Callable[[], None], say: Callable[[str], None]) -> None:
        for i, job in enumerate(jobs):
            show(f"[{i + 1}/{len(jobs)}] profiling {job.key.label()}")
            storage.append_record(sel.run_dir, _profile_one(job, sel.run_dir, args))
            after_each()

    interrupted = progress.with_progress(console, len(jobs), work)
    ok = report(sel.run_dir, console)
    storage.update_latest(sel.run_dir)
    if interrupted:
        console.print("[yellow]Interrupted: the frameworks profiled so far are kept.[/]")
        return 130
    return 0 if ok else 1


def _profile_one(job: planning.Job, run_dir: Path, args: argparse.Namespace) -> dict[str, Any]:
    cfg = replace(job.config, steps=args.steps, warmup=args.warmup)
    keep = run_dir / "traces" / f"{cfg.model.framework}-{cfg.mode}-b{cfg.batch_size}{'-lrn' if cfg.model.lrn else ''}"
    params = {"profile_steps": args.profile_steps, "layer_steps": args.layer_steps, "rounds": args.layer_rounds}
    out = ab_profile.profile_one(cfg, params, args.timeout, keep if args.trace else None)
    if args.trace and out["status"] == "ok":
        out["trace_dir"] = str(keep.relative_to(run_dir))
    return out


def report(run_dir: Path, console: Any, html: bool = True) -> bool:
    """Tables, CSVs, the stacked-bar PNG and (``html``) report.html from the stored profile records
    (``bench report`` too)."""
    folder = output_report.read(run_dir)
    recs = [r for r in folder.records if r.get("kind") == "profile"]
    done = [r for r in recs if r.get("status") == "ok"]
    failed = [r for r in recs if r.get("status") not in ("ok", "skipped")]
    layers = {id(r): attribution.layer_rows(r) for r in done}
    summaries = [attribution.summary_row(r, layers[id(r)]) for r in done]
    # the answer first, from the rows every table below is made of (report.html opens with it too)
    answer_verdicts.show(answer_verdicts.profile_lines(summaries, [layers[id(r)] for r in done], failed,
                                                       run_dir if html else None), console)
    for r in recs:
        if r.get("status") != "ok":
            console.print(f"[red]{r['framework']}: {r.get('status')}: {r.get('error')}[/]")
    storage.write_rows(run_dir / "profile_layers.csv", [row for r in done for row in layers[id(r)]],
                       columns=attribution.LAYER_COLUMNS)
    storage.write_rows(run_dir / "profile_summary.csv", summaries, columns=attribution.SUMMARY_COLUMNS)
    ops = [op for r in done for op in attribution.top_ops(r)]
    storage.write_rows(run_dir / "profile_ops.csv", ops, columns=attribution.OPS_COLUMNS)
    for r, s in zip(done, summaries, strict=True):
        breakdown.profile_table(layers[id(r)], s, attribution.top_ops(r, 5), console)
    if summaries:
        breakdown.profile_overhead_table(summaries, console)
        lockstep_report.profile_warnings(summaries, console)  # the figures left out above, named
        plots.profile_breakdown([row for r in done for row in layers[id(r)]], summaries,
                                run_dir / "profile_breakdown.png")
    if html:
        html_pages.write(html_pages.profile_page(folder, "bench profile", [layers[id(r)] for r in done], summaries,
                                                 ops, failed), run_dir)
    console.print(f"Files: {run_dir}/profile_layers.csv, profile_summary.csv, profile_ops.csv, profile_breakdown.png"
                  + (", report.html" if html else "")
                  + (", traces/ (open the .json/.json.gz in ui.perfetto.dev; the *_profile folders with "
                     "TensorBoard/XProf)" if (run_dir / "traces").exists() else ""))
    return len(done) == len([r for r in recs if r.get("status") != "skipped"])
