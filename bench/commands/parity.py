"""``bench parity``: train every framework on MNIST in its own worker, then summarise and judge
(:mod:`bench.parity_stats`) and report. ``--trajectory`` shows how float32 rounding makes the loss
curves drift apart with dropout off."""

from __future__ import annotations

import argparse
import sys
from dataclasses import replace
from pathlib import Path
from typing import Any

from bench import data, env, records, registry, render, storage
from bench.commands import common, options
from bench.config import ModelConfig
from bench.errors import DataNotFound, UsageError
from bench.parity_stats import QUICK, curve_rows, pair_rows, summary_rows, trajectory_rows, verdict
from bench.runner import run_worker

CURVE_COLUMNS = ("run", "framework", "seed", "step", "epoch", "metric", "value", "train_time_s")


def add_parser(sub: Any) -> None:
    p = sub.add_parser("parity", help="train on MNIST in every framework: accuracy parity and time to accuracy")
    options.add_frameworks(p)
    p.add_argument("--epochs", type=options.positive, default=2)
    p.add_argument("--seeds", type=options.positive, default=1,
                   help="seeds 0..N-1; 3 or more for a statistical verdict")
    options.add_lrn(p, "off", "parity trains one model per framework: off or on")
    p.add_argument("--batch-size", type=options.positive, default=128)
    p.add_argument("--dropout", type=float, default=0.25)
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


def main(args: argparse.Namespace) -> int:
    frameworks = options.parse_frameworks(args.frameworks)
    if args.lrn == "both":
        raise UsageError("bench parity trains one model per framework: use --lrn off or --lrn on (received both)")
    if args.trajectory:
        options.refuse(args, ["seeds", "epochs", "eval_every", "target", "max_gap", "dropout", "quick"],
                       "with --trajectory (seed 0, dropout off, a fixed number of steps, no verdict)")
    else:
        options.refuse(args, ["trajectory_steps"], "without --trajectory")
    if args.quick:
        options.refuse(args, ["epochs", "train_size"], "with --quick (6,000 images, 1 epoch)")
    train_size = QUICK["train_size"] if args.quick else args.train_size
    epochs = QUICK["epochs"] if args.quick else args.epochs
    target = args.target if args.target is not None else (QUICK["target"] if args.quick else 99.0)
    eval_every = args.eval_every if args.eval_every is not None else (15 if args.quick else 100)
    max_gap = args.max_gap if args.max_gap is not None else (QUICK["max_gap"] if args.quick else 0.3)
    if args.batch_size > train_size:
        raise UsageError(f"--batch-size {args.batch_size} is larger than the training set ({train_size} images)")
    device = common.resolve_device(args.device)
    try:
        ds = data.locate_mnist(args.data_dir, allow_download=not args.no_download)
    except DataNotFound as exc:
        raise UsageError(f"parity needs real MNIST and never uses synthetic data. {exc}") from exc
    run_dir = storage.create_run_dir(args.out, prefix="parity")
    base = ModelConfig(frameworks[0], lrn=args.lrn == "on", device=device, dropout=args.dropout, threads=args.threads)
    console = common.make_console()
    environment = env.collect()
    environment.update({"argv": sys.argv, "device": device, "data": f"MNIST from {ds.location}",
                        "parity": {"target": target, "max_gap": max_gap, "seeds": args.seeds}})
    storage.write_json(run_dir / storage.ENV, environment)
    if args.trajectory:
        jobs = [(fw, 0, "trajectory") for fw in frameworks]
    else:
        jobs = [(fw, seed, "parity") for seed in range(args.seeds) for fw in frameworks]
    mode = (f"trajectory: {args.trajectory_steps} steps, dropout off" if args.trajectory else
            f"{epochs} epoch(s) on {train_size} images, {args.seeds} seed(s)")
    console.print(f"Parity on {device}: {', '.join(frameworks)}, {mode}, batch {args.batch_size}, LRN {args.lrn}; "
                  f"results in [bold]{run_dir}[/]")
    interrupted = False
    try:
        with console.status("training", refresh_per_second=1) as status:
            for i, (fw, seed, kind) in enumerate(jobs):
                status.update(f"[{i + 1}/{len(jobs)}] {kind}: {fw} seed {seed}")
                rec: dict[str, Any] = {**records.header(kind), "framework": fw, "seed": seed}
                if not registry.is_available(fw):
                    storage.append_record(run_dir, {**rec, "status": "skipped", "error": registry.install_hint(fw)})
                    continue
                model = replace(base, framework=fw, seed=seed, compile=None, lrn_impl=None,
                                dropout=0.0 if kind == "trajectory" else base.dropout)
                params = {"model": model.to_dict(), "data_dir": ds.location, "batch_size": args.batch_size,
                          "epochs": -(-args.trajectory_steps // (train_size // args.batch_size))
                          if kind == "trajectory" else epochs,
                          "train_size": train_size, "eval_every": 0 if kind == "trajectory" else eval_every,
                          "max_steps": args.trajectory_steps if kind == "trajectory" else 0}
                out = run_worker("parity", params, threads=args.threads, device=device, timeout=args.timeout)
                result = dict(out.result)
                status_detail = result.pop("status_detail", None)
                rec.update({"status": status_detail if out.status == "ok" else out.status,
                            "error": out.error or result.pop("error", None), "wall_s": out.wall_s,
                            "config": params, **result})
                storage.append_record(run_dir, rec)
    except KeyboardInterrupt:
        interrupted = True
    code = report_parity(run_dir, target, max_gap, args.seeds, console)
    return 130 if interrupted else code


def report_parity(run_dir: Path, target: float, max_gap: float, seeds: int, console: Any) -> int:
    from bench import plots

    recs = storage.read_records(run_dir)
    curves = curve_rows(recs)
    if curves:
        storage.write_rows(run_dir / "parity_curves.csv", curves, CURVE_COLUMNS)
        plots.parity_plots(curves, run_dir)
    traj = trajectory_rows(recs)
    if traj:
        storage.write_rows(run_dir / "trajectory.csv", traj)
        render.trajectory_table(traj, console)
        return 0
    summary = summary_rows(recs)
    pairs = pair_rows(recs, max_gap)
    storage.write_rows(run_dir / "parity_summary.csv", summary)
    if pairs:
        storage.write_rows(run_dir / "parity_pairs.csv", pairs)
    ok, reasons = verdict(summary, pairs, target, max_gap)
    render.parity_tables(summary, pairs, console)
    note = "" if seeds >= 3 else f" (indicative only: {seeds} seed{'s' if seeds > 1 else ''}; use --seeds 3 or more)"
    if ok:
        console.print(f"[bold green]PASS[/]: every framework ≥ {target:g}% and every pair within ±{max_gap:g} pp{note}")
    else:
        console.print(f"[bold red]FAIL[/]{note}: " + "; ".join(reasons))
    console.print(f"Files in {run_dir}: parity_summary.csv, parity_pairs.csv, parity_curves.csv, parity_accuracy.png, "
                  "parity_loss.png, results.jsonl, env.json")
    return 0 if ok else 1
