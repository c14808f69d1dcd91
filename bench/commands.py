"""Bodies of ``bench run``, ``report``, ``env`` and ``calibrate``: validate everything, then work.

All validation happens before the first worker starts, so bad input costs nothing and gets one
line with exit code 2.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from bench import data, env, registry, render, report, storage, sweep
from bench.config import COMPILE_MODES, FRAMEWORKS, ModelConfig, RunConfig
from bench.errors import UsageError


def parse_compile(values: list[str] | None) -> dict[str, str]:
    """``torch=compile tensorflow=xla`` (or comma-separated) -> {framework: mode}, validated."""
    out: dict[str, str] = {}
    for item in [v for value in values or [] for v in value.split(",") if v]:
        fw, sep, mode = item.partition("=")
        if not sep or fw not in FRAMEWORKS:
            raise UsageError(f"invalid --compile {item!r}; expected FRAMEWORK=MODE with FRAMEWORK one of "
                             f"{', '.join(FRAMEWORKS)}")
        if mode not in COMPILE_MODES[fw]:
            raise UsageError(f"invalid compile mode for {fw} {mode!r}; allowed: {', '.join(COMPILE_MODES[fw])}")
        out[fw] = mode
    return out


def resolve_device(device: str) -> str:
    if device == "auto":
        return "gpu" if env.has_gpu() else "cpu"
    if device == "gpu" and not env.has_gpu():
        raise UsageError("--device gpu: no GPU found (NVML sees none); use --device cpu or auto")
    return device


def resolve_data(kind: str, data_dir: str | None, no_download: bool, seed: int) -> tuple[str, str | None, str]:
    """Decide once, in the parent, what every worker loads: (kind, folder, description)."""
    if kind == "synthetic":
        return "synthetic", None, "synthetic MNIST-shaped data (requested)"
    ds = data.load(kind, data_dir, seed=seed, allow_download=not no_download)
    if ds.source == "synthetic":
        return "synthetic", None, "synthetic MNIST-shaped data (MNIST not found)"
    return "mnist", ds.location, f"MNIST from {ds.location} (verified)"


def _console() -> Any:
    from bench.cli import make_console

    return make_console()


def cmd_run(args: argparse.Namespace) -> int:
    from bench.cli import parse_frameworks

    frameworks = parse_frameworks(args.frameworks)
    if not frameworks:
        raise UsageError("no framework is installed; install one with pip install 'bench[torch]' "
                         "(or tensorflow, jax, all)")
    compile_modes = parse_compile(args.compile)
    device = resolve_device(args.device)
    modes = ["train", "forward"] if args.mode == "both" else [args.mode]
    lrn_modes = {"off": [False], "on": [True], "both": [False, True]}[args.lrn]
    if args.resume and args.out is None:
        run_dir = storage.resolve_existing(None)
    else:
        run_dir = storage.create_run_dir(args.out, prefix=getattr(args, "run_prefix", "run"))
    kind, data_dir, data_text = resolve_data(args.data, args.data_dir, args.no_download, args.seed)
    base = RunConfig(ModelConfig(frameworks[0], device=device, threads=args.threads, seed=args.seed,
                                 dropout=args.dropout),
                     steps=args.steps, warmup=args.warmup, block_steps=args.block_steps, data=kind,
                     data_dir=data_dir, include_transfer=args.include_transfer)
    jobs = sweep.plan(frameworks, modes, args.batch_size, lrn_modes, base, rounds=args.rounds,
                      compile_modes=compile_modes)
    return execute_and_report(args, run_dir, jobs, frameworks, device, data_text, title="bench run")


def execute_and_report(args: argparse.Namespace, run_dir: Path, jobs: list[sweep.Job], frameworks: list[str],
                       device: str, data_text: str, title: str) -> int:
    console = _console()
    environment = env.collect()
    environment.update({"argv": sys.argv, "device": device, "data": data_text})
    env_path = run_dir / storage.ENV
    storage.write_json(env_path if not env_path.exists() else run_dir / f"env-resumed-{environment['utc']}.json",
                       environment)
    if "synthetic" in data_text:
        console.print(f"[bold yellow]Data: {data_text}. Timing only; every row is marked synthetic.[/]")
    console.print(f"{len(jobs)} jobs, one worker process each, on {device}; results in [bold]{run_dir}[/]")
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    interrupted = False
    try:
        with Progress(TextColumn("{task.description}"), BarColumn(), TimeElapsedColumn(), console=console,
                      transient=True) as progress:
            task = progress.add_task("starting", total=len(jobs) + 1)
            if not any(r.get("kind") == "gemm" and r.get("status") == "ok" for r in storage.read_records(run_dir)):
                progress.update(task, description="GEMM reference for % of peak")
                sweep.run_gemm(run_dir, frameworks, device, args.threads, args.timeout)
            progress.advance(task)

            def show(text: str) -> None:
                progress.update(task, description=text)

            def after_each() -> None:
                report.refresh(run_dir)
                progress.advance(task)

            sweep.execute(jobs, run_dir, args.timeout, progress=show, after_each=after_each)
    except KeyboardInterrupt:
        interrupted = True
    rows = report.finalize(run_dir, title)
    storage.update_latest(run_dir)
    render.run_table(rows, console, title=f"{title}: time per step ({device})")
    console.print(f"Files: {run_dir}/summary.csv, samples.csv, results.jsonl, env.json, summary.md, step_times.png")
    if interrupted:
        console.print(f"[yellow]Interrupted: finished rows are kept; continue with --resume --out {run_dir}[/]")
        return 130
    return 0 if all(r["status"] in ("ok", "skipped") for r in rows) else 1


def cmd_report(args: argparse.Namespace) -> int:
    run_dir = storage.resolve_existing(args.dir)
    rows = report.finalize(run_dir, title=f"bench report {run_dir.name}")
    console = _console()
    render.run_table(rows, console, title=f"Stored results: {run_dir}")
    console.print(f"Re-rendered summary.csv, samples.csv, summary.md and step_times.png in {run_dir}")
    return 0


def cmd_env(args: argparse.Namespace) -> int:
    from bench.runner import run_worker

    info = env.collect()
    frameworks = []
    for fw in FRAMEWORKS:
        versions = {p: info["packages"].get(p) for p in registry.REQUIRES[fw] if info["packages"].get(p)}
        if not registry.is_available(fw):
            text = f"not installed ({registry.install_hint(fw)})"
        else:
            text = ", ".join(f"{k} {v}" for k, v in versions.items())
            if not args.no_probe:
                out = run_worker("devices", {"framework": fw}, device="gpu" if env.has_gpu() else "cpu",
                                 timeout=args.timeout)
                text += (f"; {out.result['extra']}; devices: {', '.join(out.result['devices'])}"
                         if out.status == "ok" else f"; device probe {out.status}: {out.error}")
        frameworks.append({"framework": fw, "text": text})
    render.env_table(info, frameworks, _console())
    return 0


def cmd_calibrate(args: argparse.Namespace) -> int:
    from bench.cli import parse_frameworks
    from bench.runner import run_worker

    frameworks = parse_frameworks(args.frameworks)
    device = resolve_device(args.device)
    kind, data_dir, _ = resolve_data(args.data, args.data_dir, args.no_download, 0)
    params: dict[str, Any]
    if args.out:
        storage.create_run_dir(Path(args.out).parent)  # checks the folder is writable before any work
    console = _console()
    rows = []
    with console.status("calibrating") as status:
        for fw in frameworks:
            if not registry.is_available(fw):
                rows.append({"framework": fw, "status": "skipped", "error": registry.install_hint(fw)})
                continue
            status.update(f"calibrating {fw} (batch {args.batch_size}, {args.rounds} interleaved rounds)")
            params = {"framework": fw, "device": device, "batch_size": args.batch_size, "steps": args.steps,
                      "rounds": args.rounds, "data": kind, "data_dir": data_dir, "threads": args.threads}
            out = run_worker("calibrate", params, threads=args.threads, device=device, timeout=args.timeout)
            rows.append({"framework": fw, "status": out.status, "error": out.error, **out.result})
    render.calibrate_table(rows, console)
    if args.out:
        path = Path(args.out)
        storage.write_json(path, {"env": env.collect(), "device": device, "rows": rows})
        console.print(f"Saved to {path}")
    return 0 if all(r["status"] in ("ok", "skipped") for r in rows) else 1
