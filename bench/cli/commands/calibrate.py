"""``bench calibrate``: timer resolution, sync cost, GEMM peak and the harness's own overhead."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from bench.cli import options, progress, validation
from bench.core import provenance, registry, storage
from bench.output.tables import checks


def add_parser(sub: Any) -> None:
    p = sub.add_parser("calibrate", help="timer resolution, sync cost, GEMM peak and harness overhead")
    options.add_frameworks(p)
    options.add_device(p)
    p.add_argument("--batch-size", type=options.positive, default=128)
    p.add_argument("--steps", type=options.positive, default=3, help="steps per round and loop [default: 3]")
    p.add_argument("--rounds", type=options.positive, default=8, help="interleaved bare/harness rounds [default: 8]")
    options.add_threads(p)
    p.add_argument("--timeout", type=options.positive_float, default=1800.0, help="seconds per worker [1800]")
    p.add_argument("--out", help="also save the figures as JSON in this file")
    options.add_data(p, default="synthetic")
    options.finish(p, main)


def main(args: argparse.Namespace) -> int:
    from bench.execution.runner import run_worker

    frameworks = options.parse_frameworks(args.frameworks)
    device = validation.resolve_device(args.device)
    kind, data_dir, _ = validation.resolve_data(args.data, args.data_dir, args.no_download, 0)
    if args.out:
        storage.create_run_dir(Path(args.out).parent, resume=True)  # checks the folder is writable before any work
    console = progress.make_console()
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
    checks.calibrate_table(rows, console)
    if args.out:
        path = Path(args.out)
        storage.write_json(path, {"env": provenance.collect(), "device": device, "rows": rows})
        console.print(f"Saved to {path}")
    return 0 if all(r["status"] in ("ok", "skipped") for r in rows) else 1
