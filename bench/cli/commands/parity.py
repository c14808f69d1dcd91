"""``bench parity``: train every framework on MNIST in its own worker, then summarise and judge
(:mod:`bench.analysis.parity_stats`) and report. ``--trajectory`` shows how float32 rounding makes the loss
curves drift apart with dropout off."""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from bench.analysis.parity_stats import (
    PAIR_COLUMNS,
    QUICK_EPOCHS,
    QUICK_MAX_GAP,
    QUICK_TARGET,
    QUICK_TRAIN_SIZE,
    SUMMARY_COLUMNS,
    TAIL,
    curve_rows,
    pair_rows,
    summary_rows,
    target_reached,
    trajectory_columns,
    trajectory_rows,
    verdict,
)
from bench.cli import options, progress, validation
from bench.core import data, provenance, records, registry, storage
from bench.core.config import ModelConfig
from bench.core.errors import DataNotFound, UsageError
from bench.execution.runner import run_worker
from bench.model import spec
from bench.output.tables import accuracy

CURVE_COLUMNS = ("run", "framework", "seed", "step", "epoch", "metric", "value", "train_time_s")
SEEDS = 3  # the fewest that measure a seed-to-seed spread with a usable t quantile (t(0.95, 2) = 2.92)
PLANTS = {"keep-prob": "dropout applied as keep-probability (rate 1 - configured)"}


def add_parser(sub: Any) -> None:
    p = sub.add_parser("parity", help="train on MNIST in every framework: accuracy parity and time to accuracy")
    options.add_frameworks(p)
    options.add_model(p)
    p.add_argument("--epochs", type=options.positive, default=2)
    p.add_argument("--seeds", type=options.positive, default=SEEDS,
                   help=f"seeds 0..N-1: the verdict's unit (1 seed can only be INCONCLUSIVE) [default: {SEEDS}]")
    p.add_argument("--plant", metavar="FW=KIND", help="plant a training difference in one framework, to see the "
                   f"verdict catch it: {', '.join(f'{k} ({v})' for k, v in PLANTS.items())}")
    p.add_argument("--no-estimate", action="store_true",
                   help="skip the up-front estimate of the run's length (one short timing worker per framework)")
    options.add_lrn(p, "off", "parity trains one model per framework: off or on")
    p.add_argument("--batch-size", type=options.positive, default=128)
    p.add_argument("--dropout", type=float, default=spec.DROPOUT_RATE)
    p.add_argument("--eval-every", type=options.non_negative,
                   help="also evaluate every N steps (0: after each epoch only) [default: 100; --quick: 15]")
    p.add_argument("--train-size", type=options.positive, default=60000, help="first N training images [60000]")
    p.add_argument("--target", type=float, help="accuracy %% every framework must reach [99.0; --quick: 90]")
    p.add_argument("--max-gap", type=float, help="largest allowed pairwise gap, pp [0.3; --quick: 3]")
    p.add_argument("--quick", action="store_true", help="6,000 training images, 1 epoch, target 90%%, gap 3 pp")
    p.add_argument("--trajectory", action="store_true", help="dropout off, same batches, --trajectory-steps steps: "
                   "how far the loss curves drift apart")
    p.add_argument("--trajectory-steps", type=options.positive, default=100)
    options.add_device(p)
    options.add_threads(p)
    options.add_output(p, timeout=7200.0, resume=False)
    options.add_data(p, choices=())
    options.finish(p, main)


@dataclass(frozen=True)
class ParityPlan:
    """What ``bench parity`` will train, every option validated: the answer of :func:`validate`."""

    frameworks: list[str]
    device: str
    data_dir: str
    base: ModelConfig
    train_size: int
    epochs: int
    target: float
    eval_every: int
    max_gap: float
    plant: tuple[str, str] | None

    def jobs(self, args: argparse.Namespace) -> list[tuple[str, int, str]]:
        """(framework, seed, kind) in the order they run: seed by seed, every framework per seed."""
        if args.trajectory:
            return [(fw, 0, "trajectory") for fw in self.frameworks]
        return [(fw, seed, "parity") for seed in range(args.seeds) for fw in self.frameworks]


def main(args: argparse.Namespace) -> int:
    plan = validate(args)
    run_dir = storage.create_run_dir(args.out, prefix="parity")  # after every refusal: no empty folder left
    console = progress.make_console()
    announce(plan, args, run_dir, console)
    interrupted = run(plan, args, run_dir, console)
    code = report_parity(run_dir, plan.target, plan.max_gap, args.seeds, console)
    return 130 if interrupted else code


def validate(args: argparse.Namespace) -> ParityPlan:
    """Every refusal before anything is written: options that would not take effect, the sizes, the
    plant, the device and real MNIST (parity never trains on synthetic data)."""
    model = spec.get_model(args.model)
    if model.data is None:
        shape = "x".join(map(str, model.input_shape))
        raise UsageError(f"bench parity --model {model.name}: there is no ImageNet here; parity trains to an accuracy "
                         f"target and would need the ILSVRC-2012 training and validation images ({shape}, "
                         f"{model.num_classes} classes) and a reader for them; models it can train: "
                         + ", ".join(m.name for m in spec.MODELS.values() if m.data is not None))
    frameworks = options.parse_frameworks(args.frameworks)
    if args.lrn == "both":
        raise UsageError("bench parity trains one model per framework: use --lrn off or --lrn on (received both)")
    if args.trajectory:
        options.refuse(args, ["seeds", "epochs", "eval_every", "target", "max_gap", "dropout", "quick", "plant"],
                       "with --trajectory (seed 0, dropout off, a fixed number of steps, no verdict)")
    else:
        options.refuse(args, ["trajectory_steps"], "without --trajectory")
    if args.quick:
        options.refuse(args, ["epochs", "train_size"], "with --quick (6,000 images, 1 epoch)")
    train_size = QUICK_TRAIN_SIZE if args.quick else args.train_size
    if args.batch_size > train_size:
        raise UsageError(f"--batch-size {args.batch_size} is larger than the training set ({train_size} images)")
    plant = parse_plant(args.plant, frameworks)
    device = validation.resolve_device(args.device)
    try:
        ds = data.locate_mnist(args.data_dir, allow_download=not args.no_download)
    except DataNotFound as exc:
        raise UsageError(f"parity needs real MNIST and never uses synthetic data. {exc}") from exc
    base = ModelConfig(frameworks[0], lrn=args.lrn == "on", device=device, dropout=args.dropout, threads=args.threads)
    return ParityPlan(frameworks, device, ds.location, base, train_size,
                epochs=QUICK_EPOCHS if args.quick else args.epochs,
                target=args.target if args.target is not None else (QUICK_TARGET if args.quick else 99.0),
                eval_every=args.eval_every if args.eval_every is not None else (15 if args.quick else 100),
                max_gap=args.max_gap if args.max_gap is not None else (QUICK_MAX_GAP if args.quick else 0.3),
                plant=plant)


def announce(plan: ParityPlan, args: argparse.Namespace, run_dir: Path, console: Any) -> None:
    """The provenance file, then what will run (and, unless --no-estimate, how long it should take)."""
    environment = provenance.collect()
    environment.update({"argv": sys.argv, "device": plan.device, "data": f"MNIST from {plan.data_dir}",
                        "parity": {"target": plan.target, "max_gap": plan.max_gap, "seeds": args.seeds}})
    storage.write_json(run_dir / storage.ENV, environment)
    mode = (f"trajectory: {args.trajectory_steps} steps, dropout off" if args.trajectory else
            f"{plan.epochs} epoch(s) on {plan.train_size} images, {args.seeds} seed(s)")
    console.print(f"Parity on {plan.device}: {', '.join(plan.frameworks)}, {mode}, batch {args.batch_size}, LRN "
                  f"{args.lrn}; results in [bold]{run_dir}[/]")
    if plan.plant:
        console.print(f"[bold yellow]Planted difference: {plan.plant[0]} trains with {PLANTS[plan.plant[1]]}.[/]")
    if not args.trajectory:
        steps = plan.epochs * (plan.train_size // args.batch_size)
        evals = plan.epochs + (steps // plan.eval_every if plan.eval_every else 0)
        console.print(plan_text(plan.frameworks, args.seeds, steps, evals, plan.max_gap, plan.device,
                                args.batch_size, args.threads, None if args.no_estimate else plan.data_dir,
                                quick=args.quick))


def run(plan: ParityPlan, args: argparse.Namespace, run_dir: Path, console: Any) -> bool:
    """One training worker per job, each record appended as it finishes; True when Ctrl-C stopped it
    (every finished record is kept)."""
    jobs = plan.jobs(args)
    try:
        with console.status("training", refresh_per_second=1) as status:
            for i, (fw, seed, kind) in enumerate(jobs):
                status.update(f"[{i + 1}/{len(jobs)}] {kind}: {fw} seed {seed}")
                storage.append_record(run_dir, train_one(plan, args, fw, seed, kind))
    except KeyboardInterrupt:
        return True
    return False


def train_one(plan: ParityPlan, args: argparse.Namespace, fw: str, seed: int, kind: str) -> dict[str, Any]:
    """The record of one training worker (or a skipped one, with the install hint)."""
    rec: dict[str, Any] = {**records.header(kind), "framework": fw, "seed": seed}
    if not registry.is_available(fw):
        return {**rec, "status": "skipped", "error": registry.install_hint(fw)}
    base = plan.base
    planted = plan.plant is not None and plan.plant[0] == fw
    dropout = 0.0 if kind == "trajectory" else (1.0 - base.dropout if planted else base.dropout)
    model = replace(base, framework=fw, seed=seed, compile=None, lrn_impl=None, dropout=dropout)
    if plan.plant is not None and planted:
        rec["planted"] = f"{plan.plant[1]}: {PLANTS[plan.plant[1]]}"
    trajectory = kind == "trajectory"
    params = {"model": model.to_dict(), "data_dir": plan.data_dir, "batch_size": args.batch_size,
              "epochs": -(-args.trajectory_steps // (plan.train_size // args.batch_size)) if trajectory
              else plan.epochs,
              "train_size": plan.train_size, "eval_every": 0 if trajectory else plan.eval_every,
              "max_steps": args.trajectory_steps if trajectory else 0}
    out = run_worker("parity", params, threads=args.threads, device=plan.device, timeout=args.timeout)
    result = dict(out.result)
    status_detail = result.pop("status_detail", None)
    rec.update({"status": status_detail if out.status == "ok" else out.status,
                "error": out.error or result.pop("error", None), "wall_s": out.wall_s, "config": params, **result})
    return rec


def report_parity(run_dir: Path, target: float, max_gap: float, seeds: int, console: Any, html: bool = True) -> int:
    """Tables, CSVs, PNGs and (``html``) report.html from the stored parity or trajectory records."""
    from bench.output import answer_verdicts, html_pages, plots
    from bench.output import report as output_report

    folder = output_report.read(run_dir)
    recs = folder.records
    curves = curve_rows(recs)
    if curves:
        storage.write_rows(run_dir / "parity_curves.csv", curves, CURVE_COLUMNS)
        plots.parity_plots(curves, run_dir)
    traj = trajectory_rows(recs)
    if traj:
        storage.write_rows(run_dir / "trajectory.csv", traj, trajectory_columns(recs))
        block = answer_verdicts.trajectory_lines(traj, run_dir if html else None)
        answer_verdicts.show(block, console)  # the answer first; report.html opens with the same lines
        accuracy.trajectory_table(traj, console)
        if html:
            worst = max(r["max_rel_diff"] for r in traj)
            html_pages.write(html_pages.parity_page(
                folder, "bench parity --trajectory", "TRAJECTORY", f"largest relative loss difference {worst:.3g} "
                f"over {len(traj)} steps (dropout off, same batches)", [], [], curves, block), run_dir)
        return 0
    summary = summary_rows(recs)
    pairs = pair_rows(recs, max_gap)
    storage.write_rows(run_dir / "parity_summary.csv", summary, SUMMARY_COLUMNS)
    if pairs:
        storage.write_rows(run_dir / "parity_pairs.csv", pairs, PAIR_COLUMNS)
    outcome, reasons = verdict(summary, pairs, target, max_gap)
    block = answer_verdicts.parity_lines(outcome, summary, pairs, run_dir if html else None)
    answer_verdicts.show(block, console)  # the answer first, from the rows the tables show; report.html opens with it
    accuracy.parity_tables(summary, pairs, console)
    reached = target_reached(summary, target)
    console.print(f"Target {target:g}% (reported apart from parity): " + ", ".join(
        f"{fw} {'reached' if ok else 'not reached'}" for fw, ok in reached.items()))
    style = {"PASS": "bold green", "FAIL": "bold red", "INCONCLUSIVE": "bold yellow"}[outcome]
    head = {"PASS": f"every pair of frameworks is within ±{max_gap:g} pp (equivalence test, alpha 0.05)",
            "FAIL": f"a pair of frameworks differs by more than ±{max_gap:g} pp, significantly",
            "INCONCLUSIVE": "the data cannot tell the frameworks apart from the noise"}[outcome]
    console.print(f"[{style}]{outcome}[/]: {head}" + (": " + "; ".join(reasons) if reasons else ""))
    if html:
        html_pages.write(html_pages.parity_page(folder, "bench parity", outcome, head + (": " + "; ".join(reasons)
                                                if reasons else ""), summary, pairs, curves, block), run_dir)
    console.print(f"Final accuracy: the mean of the evaluations in the last {TAIL:.0%} of training, per seed (one "
                  "checkpoint jitters by 0.3-0.7 pp); pairs are compared seed by seed.")
    console.print(f"Files in {run_dir}: parity_summary.csv, parity_pairs.csv, parity_curves.csv, parity_accuracy.png, "
                  "parity_loss.png, results.jsonl, env.json" + (", report.html" if html else ""))
    return 1 if outcome == "FAIL" else 0


def parse_plant(value: str | None, frameworks: list[str]) -> tuple[str, str] | None:
    if value is None:
        return None
    fw, sep, kind = value.partition("=")
    if not sep or fw not in frameworks or kind not in PLANTS:
        raise UsageError(f"invalid --plant {value!r}; expected FW=KIND with FW one of {', '.join(frameworks)} and "
                         f"KIND one of {', '.join(PLANTS)}")
    return fw, kind


def plan_text(frameworks: list[str], seeds: int, steps: int, evals: int, margin: float, device: str,
              batch: int, threads: int | None, data_dir: str | None, quick: bool = False) -> str:
    """What the run will do, how long it should take here (timed up front: a few steps per framework),
    and what verdict its seeds can give."""
    lines = [f"Plan: {len(frameworks) * seeds} training runs ({seeds} seed(s) x {len(frameworks)} frameworks), "
             f"{steps} steps and {evals} evaluations of 10,000 images each."]
    if data_dir is not None:
        total = 0.0
        for fw in frameworks:
            per_step = _probe(fw, "train", batch, device, threads, data_dir)
            per_eval = _probe(fw, "forward", 1000, device, threads, data_dir)
            if per_step is None or per_eval is None:
                lines.append(f"  {fw}: no estimate (its timing probe failed)")
                continue
            total += seeds * (steps * per_step + evals * 10 * per_eval)
            lines.append(f"  {fw}: {per_step:.2f} s per training step, {10 * per_eval:.1f} s per evaluation "
                         "(measured now)")
        lines.append(f"  estimated: {total / 60:.0f} minutes of training and evaluation, plus worker start-up")
    if seeds < 2:
        lines.append("  1 seed: the verdict can only be INCONCLUSIVE (a seed-to-seed spread needs 2+ seeds).")
    else:
        from bench.analysis.intervals import t_quantile
        from bench.analysis.parity_stats import ALPHA

        k = t_quantile(1 - 2 * ALPHA, seeds - 1) / seeds**0.5
        lines.append(f"  {seeds} seeds: PASS needs |difference| + {k:.2f} x seed sd < {margin:g} pp; FAIL needs "
                     f"|difference| - {k:.2f} x seed sd > {margin:g} pp (per pair).")
    if device == "cpu" and not quick:
        lines.append(f"  On a CPU the full size is hours for {seeds} seeds; '--quick --seeds {max(seeds, 3)}' "
                     "(6,000 images, 1 epoch, margin 3 pp) is the size that can be decisive here.")
    return "\n".join(lines)


def _probe(fw: str, mode: str, batch: int, device: str, threads: int | None, data_dir: str) -> float | None:
    """Median seconds per step of a few steps in a worker (the parity run's own settings)."""
    from bench.core.config import RunConfig

    if not registry.is_available(fw):
        return None
    cfg = RunConfig(ModelConfig(fw, device=device, threads=threads), mode=mode, batch_size=batch, steps=3, warmup=1,
                    data="mnist", data_dir=data_dir)
    out = run_worker("measure", {"config": cfg.to_dict()}, threads=threads, device=device, timeout=600)
    if out.status != "ok" or not out.result.get("samples_ns"):
        return None
    return float(sorted(out.result["samples_ns"])[1]) / 1e9
