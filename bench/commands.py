"""Bodies of ``bench run``, ``report``, ``env`` and ``calibrate``: validate everything, then work.

All validation happens before the first worker starts, so bad input costs nothing and gets one
line with exit code 2.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

from bench import data, env, registry, render, report, storage, sweep
from bench.config import COMPILE_MODES, FRAMEWORKS, LRN_IMPLS, ModelConfig, RunConfig
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


def parse_lrn_impl(values: list[str] | None) -> dict[str, str] | str:
    """``jax=matmul torch=compiled`` -> {framework: impl}; or ``fastest`` (from the layer benchmark)."""
    items = [v for value in values or [] for v in value.split(",") if v]
    if items == ["fastest"]:
        return "fastest"
    out: dict[str, str] = {}
    for item in items:
        fw, sep, impl = item.partition("=")
        if not sep or fw not in FRAMEWORKS:
            raise UsageError(f"invalid --lrn-impl {item!r}; expected FRAMEWORK=IMPL or 'fastest'")
        if impl not in LRN_IMPLS[fw]:
            raise UsageError(f"invalid LRN implementation for {fw} {impl!r}; allowed: {', '.join(LRN_IMPLS[fw])}")
        out[fw] = impl
    return out


def _prepare(args: argparse.Namespace, prefix: str) -> tuple[list[str], str, Path, RunConfig, str]:
    """Everything validated before the first worker: frameworks, device, folder, base config, data."""
    from bench.cli import parse_frameworks

    frameworks = parse_frameworks(args.frameworks)
    if not frameworks:
        raise UsageError("no framework is installed; install one with pip install 'bench[torch]' "
                         "(or tensorflow, jax, all)")
    device = resolve_device(args.device)
    lrn = {"lrn_radius": args.lrn_radius, "lrn_bias": args.lrn_bias, "lrn_alpha": args.lrn_alpha,
           "lrn_beta": args.lrn_beta}
    for fw in frameworks:  # LRN parameters against every backend that will run them (cuDNN limits on GPU)
        ModelConfig(fw, lrn=True, device=device, **lrn)
    base = RunConfig(ModelConfig(frameworks[0], device=device, threads=args.threads, seed=args.seed,
                                 dropout=args.dropout, **lrn),
                     steps=args.steps, warmup=args.warmup, block_steps=args.block_steps,
                     include_transfer=args.include_transfer, target_ci=args.target_ci, max_steps=args.max_steps)
    if args.resume and args.out is None:
        run_dir = storage.resolve_existing(None)
    else:
        run_dir = storage.create_run_dir(args.out, prefix=prefix, resume=args.resume)
    kind, data_dir, data_text = resolve_data(args.data, args.data_dir, args.no_download, args.seed)
    return frameworks, device, run_dir, replace(base, data=kind, data_dir=data_dir), data_text


def cmd_run(args: argparse.Namespace) -> int:
    compile_modes = parse_compile(args.compile)
    lrn_impls = parse_lrn_impl(args.lrn_impl)
    if lrn_impls == "fastest":
        raise UsageError("--lrn-impl fastest needs the layer benchmark: use 'bench compare --lrn --lrn-impl fastest'")
    frameworks, device, run_dir, base, data_text = _prepare(args, "run")
    modes = ["train", "forward"] if args.mode == "both" else [args.mode]
    lrn_modes = {"off": [False], "on": [True], "both": [False, True]}[args.lrn]
    assert isinstance(lrn_impls, dict)
    jobs = sweep.plan(frameworks, modes, args.batch_size, lrn_modes, base, rounds=args.rounds,
                      compile_modes=compile_modes, lrn_impls=lrn_impls)

    def work(show: Callable[[str], None], after_each: Callable[[], None]) -> None:
        sweep.execute(jobs, run_dir, args.timeout, progress=show, after_each=after_each)

    _, code = execute_and_report(args, run_dir, frameworks, device, data_text, "bench run", len(jobs), work)
    return code


def cmd_compare(args: argparse.Namespace) -> int:
    from bench import compare

    compile_modes = parse_compile(args.compile)
    lrn_impls = parse_lrn_impl(args.lrn_impl)
    frameworks, device, run_dir, base, data_text = _prepare(args, "compare")
    modes = ["train", "forward"] if args.mode == "both" else [args.mode]
    lrn_params = {"depth_radius": args.lrn_radius, "bias": args.lrn_bias, "alpha": args.lrn_alpha,
                  "beta": args.lrn_beta}
    with_layer = args.layer or (args.lrn and not args.no_layer)
    chosen: dict[str, str] = {}

    def work(show: Callable[[str], None], after_each: Callable[[], None]) -> None:
        nonlocal chosen
        if with_layer and not any(r.get("kind") == "lrn_layer" for r in storage.read_records(run_dir)):
            compare.run_layer(run_dir, frameworks, device, args.batch_size[0], args.layer_steps, args.threads,
                              lrn_params, args.timeout, show)
        after_each()
        chosen = (compare.fastest_exact(compare.layer_rows(storage.read_records(run_dir)))
                  if isinstance(lrn_impls, str) else dict(lrn_impls))
        if args.layer:
            return
        if args.lrn:
            configs = [replace(base, mode=mode, batch_size=b, model=replace(
                base.model, framework=fw, compile=compile_modes.get(fw), lrn_impl=chosen.get(fw)))
                for b in args.batch_size for mode in modes for fw in frameworks]
            compare.run_pairs(run_dir, configs, args.timeout, show, after_each)
        else:
            jobs = sweep.plan(frameworks, modes, args.batch_size, [args.with_lrn], base, rounds=args.rounds,
                              compile_modes=compile_modes, lrn_impls=chosen)
            sweep.execute(jobs, run_dir, args.timeout, progress=show, after_each=after_each)

    n_jobs = 1 + (0 if args.layer else len(args.batch_size) * len(modes) * len(frameworks) *
                  (1 if args.lrn else args.rounds))
    title = "bench compare --lrn" if args.lrn else ("bench compare --layer" if args.layer else "bench compare")
    _, code = execute_and_report(args, run_dir, frameworks, device, data_text, title, n_jobs, work,
                                    show_run_table=not args.layer)
    console = _console()
    if chosen:
        console.print("LRN implementations used for the model: " + ", ".join(f"{k}={v}" for k, v in chosen.items()))
    ok = report_comparisons(run_dir, console)
    return code if ok or code == 130 else 1


def report_comparisons(run_dir: Path, console: Any) -> bool:
    """Layer, LRN and framework tables with their CSVs and plots, from stored records alone.
    Returns False when a layer benchmark worker failed."""
    from bench import compare, plots

    records = storage.read_records(run_dir)
    ok = True
    for rec in records:
        if rec.get("kind") == "lrn_layer" and rec.get("status") != "ok":
            console.print(f"[red]LRN layer benchmark for {rec['framework']}: {rec['status']}: {rec.get('error')}[/]")
            ok = False
    layer = compare.layer_rows(records)
    if layer:
        storage.atomic_write(run_dir / "lrn_layer.csv", storage.to_csv(layer, list(layer[0])))
        render.layer_table(layer, compare.fastest_exact(layer), console)
    lrn_rows = compare.lrn_rows(records) if any(r.get("pair") for r in records) else []
    if lrn_rows:
        storage.atomic_write(run_dir / "lrn_comparison.csv", storage.to_csv(lrn_rows, list(lrn_rows[0])))
        plots.lrn_plots(lrn_rows, run_dir)
        render.lrn_table(lrn_rows, console)
    fw_rows = compare.framework_rows(records)
    if len({r["framework"] for r in fw_rows}) > 1:
        storage.atomic_write(run_dir / "framework_comparison.csv", storage.to_csv(fw_rows, list(fw_rows[0])))
        render.framework_table(fw_rows, console)
    console.print(f"All files in {run_dir}")
    return ok


def execute_and_report(args: argparse.Namespace, run_dir: Path, frameworks: list[str], device: str, data_text: str,
                       title: str, total: int,
                       work: Callable[[Callable[[str], None], Callable[[], None]], None],
                       show_run_table: bool = True) -> tuple[list[dict[str, Any]], int]:
    """Provenance, the GEMM reference, then ``work`` under a progress bar; Ctrl-C keeps every finished
    record and still writes the summary. Returns the summary rows and the exit code."""
    console = _console()
    environment = env.collect()
    environment.update({"argv": sys.argv, "device": device, "data": data_text})
    env_path = run_dir / storage.ENV
    storage.write_json(env_path if not env_path.exists() else run_dir / f"env-resumed-{environment['utc']}.json",
                       environment)
    if "synthetic" in data_text:
        console.print(f"[bold yellow]Data: {data_text}. Timing only; every row is marked synthetic.[/]")
    console.print(f"{total} jobs, one worker process each, on {device}; results in [bold]{run_dir}[/]")
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    interrupted = False
    try:
        # Repainted only when a job starts or ends: on a 2-core machine a 10 Hz progress bar in the
        # parent steals measurable CPU from the worker being timed.
        with Progress(TextColumn("{task.description}"), BarColumn(), TimeElapsedColumn(), console=console,
                      transient=True, auto_refresh=False) as progress:
            task = progress.add_task("starting", total=total + 1)
            if not any(r.get("kind") == "gemm" and r.get("status") == "ok" for r in storage.read_records(run_dir)):
                progress.update(task, description="GEMM reference for % of peak")
                sweep.run_gemm(run_dir, frameworks, device, args.threads, args.timeout)
            progress.advance(task)

            def show(text: str) -> None:
                progress.update(task, description=text, refresh=True)

            def after_each() -> None:
                report.refresh(run_dir)
                progress.update(task, advance=1, refresh=True)

            work(show, after_each)
    except KeyboardInterrupt:
        interrupted = True
    rows = report.finalize(run_dir, title)
    storage.update_latest(run_dir)
    if show_run_table:
        render.run_table(rows, console, title=f"{title}: time per step ({device})")
    console.print(f"Files: {run_dir}/summary.csv, samples.csv, results.jsonl, env.json, summary.md, step_times.png")
    if interrupted:
        console.print(f"[yellow]Interrupted: finished rows are kept; continue with --resume --out {run_dir}[/]")
        return rows, 130
    return rows, 0 if all(r["status"] in ("ok", "skipped") for r in rows) else 1


def cmd_report(args: argparse.Namespace) -> int:
    """Re-render everything a run folder's records support: run, comparison or parity outputs."""
    run_dir = storage.resolve_existing(args.dir)
    console = _console()
    records = storage.read_records(run_dir)
    if any(r.get("kind") in ("parity", "trajectory") for r in records):
        from bench.parity_cmd import report_parity

        env_path = run_dir / storage.ENV
        verdict = (storage.read_json(env_path) if env_path.exists() else {}).get("parity", {})
        return report_parity(run_dir, verdict.get("target", 99.0), verdict.get("max_gap", 0.3),
                             verdict.get("seeds", 1), console)
    rows = report.finalize(run_dir, title=f"bench report {run_dir.name}")
    if rows:
        render.run_table(rows, console, title=f"Stored results: {run_dir}")
    console.print(f"Re-rendered summary.csv, samples.csv, summary.md and step_times.png in {run_dir}")
    report_comparisons(run_dir, console)
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
    if args.out:
        storage.create_run_dir(Path(args.out).parent)  # checks the folder is writable before any work
    console = _console()
    rows: list[dict[str, Any]] = []
    with console.status("calibrating", refresh_per_second=1) as status:
        for fw in frameworks:
            if not registry.is_available(fw):
                rows.append({"framework": fw, "status": "skipped", "error": registry.install_hint(fw)})
                continue
            status.update(f"calibrating {fw} (batch {args.batch_size}, {args.rounds} interleaved rounds)")
            params: dict[str, Any] = {"framework": fw, "device": device, "batch_size": args.batch_size,
                                      "steps": args.steps, "rounds": args.rounds, "data": kind,
                                      "data_dir": data_dir, "threads": args.threads}
            out = run_worker("calibrate", params, threads=args.threads, device=device, timeout=args.timeout)
            rows.append({"framework": fw, "status": out.status, "error": out.error, **out.result})
    render.calibrate_table(rows, console)
    if args.out:
        path = Path(args.out)
        storage.write_json(path, {"env": env.collect(), "device": device, "rows": rows})
        console.print(f"Saved to {path}")
    return 0 if all(r["status"] in ("ok", "skipped") for r in rows) else 1
