"""``bench verify``: every framework against the float64 NumPy reference, each in its own worker."""

from __future__ import annotations

import argparse
from typing import Any

from bench.cli import options, progress, validation
from bench.core import registry
from bench.core.config import ModelConfig
from bench.core.errors import UsageError


def add_parser(sub: Any) -> None:
    p = sub.add_parser("verify", help="prove every framework matches the float64 reference")
    options.add_frameworks(p)
    options.add_lrn(p, "both", "each variant is checked against its own reference")
    p.add_argument("--batch-size", type=options.positive, default=32,
                   help="images checked (the float64 reference needs ~6 MiB each) [default: 32]")
    options.add_compile(p)
    options.add_tune(p)
    options.add_lrn_impl(p, fastest=False)
    options.add_device(p)
    options.add_precision(p)
    p.add_argument("--timeout", type=options.positive_float, default=600.0, help="seconds per worker [600]")
    options.add_data(p, default="mnist")
    options.finish(p, main)


def check_batch_fits(batch: int, available: int | None = None) -> None:
    """The float64 reference keeps every activation of the batch for its backward pass: refuse a batch
    that cannot fit in memory before computing anything (the kernel would kill the process)."""
    from bench.analysis.equivalence import REFERENCE_BYTES_PER_IMAGE

    if available is None:
        import psutil

        available = int(psutil.virtual_memory().available)
    limit = max(1, int(0.7 * available // REFERENCE_BYTES_PER_IMAGE))
    if batch > limit:
        need = batch * REFERENCE_BYTES_PER_IMAGE / 2**30
        raise UsageError(f"--batch-size {batch}: the float64 reference needs ~{need:,.1f} GiB for it, and "
                         f"{available / 2**30:.1f} GiB is available; use --batch-size {limit} or less")


def main(args: argparse.Namespace) -> int:
    from bench.core import data
    from bench.execution import verification
    from bench.output.tables import checks

    frameworks = options.parse_frameworks(args.frameworks)
    compile_modes = options.parse_compile(args.compile)
    lrn_impls = options.parse_named_lrn_impl(args.lrn_impl)
    device = validation.resolve_device(args.device)
    if args.frameworks:
        for fw in frameworks:
            registry.require(fw)
    for fw in frameworks:  # precision and device refused here in one line, not in every worker
        ModelConfig(fw, device=device, precision=args.precision)
    check_batch_fits(args.batch_size)
    ds = data.load(args.data, args.data_dir, allow_download=not args.no_download)
    if args.batch_size > len(ds.train_images):
        raise UsageError(f"--batch-size {args.batch_size}: the {ds.source} training set has "
                         f"{len(ds.train_images)} images; use that many or fewer")
    images = ds.train_images[: args.batch_size]
    labels = ds.train_labels[: args.batch_size]
    console = progress.make_console()
    console.print(f"Verifying {', '.join(frameworks)} on {len(images)} {ds.source} images ({ds.location}) on "
                  f"{device}, {args.precision} precision (tolerances: bench/analysis/equivalence.py), canonical he "
                  "init seed 0, dropout off, each framework in its own process.")
    with console.status("verifying", refresh_per_second=1) as status:
        results = verification.run(frameworks, options.LRN_MODES[args.lrn], images, labels, timeout=args.timeout,
                             progress=lambda s: status.update(f"verifying {s}"), compile_modes=compile_modes,
                             lrn_impls=lrn_impls, device=device, precision=args.precision,
                             tunings=options.parse_tune(args.tune))
    checks.verify_table(results, console)
    ok = all(r.passed for r in results if r.status != "skipped") and any(r.status == "ok" for r in results)
    console.print("[green]All frameworks match the reference.[/]" if ok else "[bold red]Verification failed.[/]")
    return 0 if ok else 1
