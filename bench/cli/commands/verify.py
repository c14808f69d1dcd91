"""``bench verify``: every framework against the float64 NumPy reference, each in its own worker."""

from __future__ import annotations

import argparse
from typing import Any

from bench.cli import options, progress, validation
from bench.core import registry
from bench.core.config import ModelConfig
from bench.core.errors import UsageError
from bench.model import spec

DEFAULT_BATCH = 32
SYNTHETIC_BATCH = 4  # each image is drawn free of max-pool near-ties through the float64 reference


def add_parser(sub: Any) -> None:
    p = sub.add_parser("verify", help="prove every framework matches the float64 reference")
    options.add_frameworks(p)
    options.add_model(p)
    options.add_lrn(p, "both", "each variant is checked against its own reference")
    p.add_argument("--batch-size", type=options.positive,
                   help="images checked (the float64 reference needs ~6 MiB each for mnist, ~57 MiB for imagenet) "
                        f"[default: {DEFAULT_BATCH} for mnist, {SYNTHETIC_BATCH} for a model without a dataset here]")
    options.add_compile(p)
    options.add_tune(p)
    options.add_lrn_impl(p, fastest=False)
    options.add_device(p)
    options.add_precision(p)
    p.add_argument("--timeout", type=options.positive_float, default=600.0, help="seconds per worker [600]")
    options.add_data(p, default="mnist")
    options.finish(p, main)


def check_batch_fits(batch: int, available: int | None = None, model: spec.ModelSpec = spec.MNIST) -> None:
    """The float64 reference keeps every activation of the batch for its backward pass: refuse a batch
    that cannot fit in memory before computing anything (the kernel would kill the process)."""
    from bench.analysis.equivalence import reference_bytes

    if available is None:
        import psutil

        available = int(psutil.virtual_memory().available)
    fixed, per_image = reference_bytes(model)
    limit = max(1, int((0.7 * available - fixed) // per_image))
    if batch > limit:
        need = (fixed + batch * per_image) / 2**30
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
        ModelConfig(fw, device=device, precision=args.precision, model=args.model)
    model = spec.get_model(args.model)
    console = progress.make_console()
    if model.data is None:  # no dataset here (imagenet): synthetic images of its shape without a max-pool near-tie
        from bench.analysis.equivalence import POOL_TIE_MARGIN, RELU_TIE_MARGIN, tie_free_images

        batch = args.batch_size or SYNTHETIC_BATCH
        check_batch_fits(batch, model=model)
        with console.status(f"drawing {batch} synthetic {model.name} images", refresh_per_second=1):
            images, labels, draws = tie_free_images(model, batch, model.init_weights(0), options.LRN_MODES[args.lrn])
        source = (f"synthetic {'x'.join(map(str, model.input_shape))} images (numpy default_rng(seed=0), {draws} "
                  f"drawn, those with a float32 near-tie in a max-pool (gap < {POOL_TIE_MARGIN:g}) or a ReLU "
                  f"(|input| < {RELU_TIE_MARGIN:g} of its layer's) left out; no ImageNet here)")
    else:
        batch = args.batch_size or DEFAULT_BATCH
        check_batch_fits(batch, model=model)
        ds = data.load(args.data, args.data_dir, allow_download=not args.no_download)
        if batch > len(ds.train_images):
            raise UsageError(f"--batch-size {batch}: the {ds.source} training set has "
                             f"{len(ds.train_images)} images; use that many or fewer")
        images, labels = ds.train_images[:batch], ds.train_labels[:batch]
        source = f"{ds.source} images ({ds.location})"
    console.print(f"Verifying {model.name + ' in ' if model.data is None else ''}{', '.join(frameworks)} on "
                  f"{len(images)} {source} on "
                  f"{device}, {args.precision} precision (tolerances: bench/analysis/equivalence.py), canonical he "
                  "init seed 0, dropout off, each framework in its own process.")
    with console.status("verifying", refresh_per_second=1) as status:
        results = verification.run(frameworks, options.LRN_MODES[args.lrn], images, labels, timeout=args.timeout,
                             progress=lambda s: status.update(f"verifying {s}"), compile_modes=compile_modes,
                             lrn_impls=lrn_impls, device=device, precision=args.precision,
                             tunings=options.parse_tune(args.tune), model=model.name)
    checks.verify_table(results, console)
    ok = all(r.passed for r in results if r.status != "skipped") and any(r.status == "ok" for r in results)
    console.print("[green]All frameworks match the reference.[/]" if ok else "[bold red]Verification failed.[/]")
    return 0 if ok else 1
