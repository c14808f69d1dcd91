"""Validating a selection before any worker starts: the device, the data, the frameworks, options that
would not take effect, the run folder. All of it happens before the first worker, so bad input costs
nothing and gets one line with exit code 2."""

from __future__ import annotations

import argparse
from dataclasses import dataclass, replace
from pathlib import Path

from bench.cli import options
from bench.core import data, provenance, storage
from bench.core.config import ModelConfig, RunConfig
from bench.core.errors import UsageError
from bench.model import spec


def resolve_device(device: str) -> str:
    if device == "auto":
        return "gpu" if provenance.has_gpu() else "cpu"
    if device == "gpu" and not provenance.has_gpu():
        raise UsageError("--device gpu: no GPU found (NVML sees none); use --device cpu or auto")
    return device


def resolve_data(kind: str, data_dir: str | None, no_download: bool, seed: int,
                 model: str = spec.DEFAULT_MODEL) -> tuple[str, str | None, str]:
    """Decide once, in the parent, what every worker loads: (kind, folder, description). A model without a
    dataset here (imagenet) runs on synthetic data of its input shape, and says so; --data mnist is refused."""
    m = spec.get_model(model)
    if m.data is None:
        if kind == "mnist":
            raise UsageError(f"--data mnist: model {m.name} has no MNIST here ({m.description}); it runs on "
                             "synthetic data of its input shape only (--data synthetic or auto)")
        shape = "x".join(map(str, m.input_shape))
        return "synthetic", None, f"synthetic {shape} data, {m.num_classes} classes (model {m.name}: no dataset here)"
    if kind == "synthetic":
        return "synthetic", None, "synthetic MNIST-shaped data (requested)"
    ds = data.load(kind, data_dir, seed=seed, allow_download=not no_download)
    if ds.source == "synthetic":
        return "synthetic", None, "synthetic MNIST-shaped data (MNIST not found)"
    return "mnist", ds.location, f"MNIST from {ds.location} (verified)"


@dataclass(frozen=True)
class Selection:
    frameworks: list[str]
    device: str
    run_dir: Path
    base: RunConfig
    data_text: str


def prepare(args: argparse.Namespace, prefix: str, lrn_used: bool) -> Selection:
    """Everything validated before the first worker: frameworks, device, options that would not take
    effect, the folder, the base config, the data. Protocol options a command does not offer
    (``--target-ci``, ``--resume``, ...) take their defaults."""
    frameworks = options.parse_frameworks(args.frameworks)
    device = resolve_device(args.device)
    if not lrn_used:
        options.refuse(args, options.LRN_PARAM_DESTS, "without LRN (add --lrn on or --lrn both)")
    target_ci = getattr(args, "target_ci", None)
    if target_ci is None:
        options.refuse(args, ["max_steps"], "without --target-ci (it caps the adaptive sampling)")
    lrn = options.lrn_params(args)
    for fw in frameworks:  # LRN parameters against every backend that will run them (GPU kernel limits)
        ModelConfig(fw, lrn=True, device=device, **lrn)
    base = RunConfig(ModelConfig(frameworks[0], device=device, threads=args.threads, seed=args.seed,
                                 dropout=args.dropout, precision=getattr(args, "precision", "strict"),
                                 model=getattr(args, "model", spec.DEFAULT_MODEL), **lrn),
                     steps=args.steps, warmup=args.warmup, block_steps=getattr(args, "block_steps", 0),
                     include_transfer=getattr(args, "include_transfer", False), target_ci=target_ci,
                     max_steps=getattr(args, "max_steps", 0))
    kind, data_dir, data_text = resolve_data(args.data, args.data_dir, args.no_download, args.seed,
                                             base.model.model)
    resume = getattr(args, "resume", False)
    if resume and args.out is None:
        run_dir = storage.resolve_existing(None)
    else:  # last: a refused run leaves no empty folder behind
        run_dir = storage.create_run_dir(args.out, prefix=prefix, resume=resume)
    return Selection(frameworks, device, run_dir, replace(base, data=kind, data_dir=data_dir), data_text)


def max_rounds(args: argparse.Namespace, rounds: int, default: int) -> int:
    """--max-rounds: only with --target-ci (it is that rule's cap), and at least --rounds."""
    if args.target_ci is None:
        options.refuse(args, ["max_rounds"], "without --target-ci (it caps the processes that rule adds)")
        return rounds
    value = args.max_rounds if args.max_rounds is not None else max(default, rounds)
    if value < rounds:
        raise UsageError(f"--max-rounds {value} is below --rounds {rounds}; allowed: {rounds} or more")
    return int(value)
