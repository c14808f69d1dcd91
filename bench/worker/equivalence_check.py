"""In-run equivalence: the worker that times a config also checks that config (model, precision, compile
mode, LRN implementation, device) against the float64 reference, so no time is reported for a model that
computes something else. The comparison is :mod:`bench.analysis.equivalence`'s, the one ``bench verify``
uses, with the tolerance tier of the config's precision: logits (and the LRN op alone, with LRN on) for
a forward config; logits, loss, every gradient, one Adam step (and the LRN op) for a train config; on a
small fixed batch (:data:`CHECK_BATCH` images from :data:`CHECK_SEED`) at the canonical weights.

Where it runs: after the timed steps and the memory read-out, never inside the timed region, and not
before the warm-up either, because a check at a small batch before timing would change what is timed:
a compiler that has seen batch 4 may recompile the timed batch with a dynamic batch dimension (seen with one
framework's compile mode: "tensor 'x' size mismatch at index 0. expected 4, actual 32", then a dynamic-batch
graph), and every compiled mode would spend its compile in the check instead of in the compile call the run
reports. A train config with
dropout is checked on a model built alike with dropout off (a dropout mask cannot match the reference,
as in ``bench verify``); every other config on the very model that was timed.

The parent turns a failed check into a row with status ``not equivalent`` and no time
(:meth:`bench.core.records.Measurement.from_result`)."""

from __future__ import annotations

import dataclasses
import gc
import math
import time
from collections.abc import Callable
from typing import Any

import numpy as np

from bench.analysis import equivalence
from bench.core import data
from bench.core.config import ModelConfig
from bench.model.spec import ModelSpec

CHECK_BATCH = 4
CHECK_SEED = 1234  # the same images in every run (mnist)


def check_images(model: ModelSpec, weights: dict[str, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """The fixed check batch: :data:`CHECK_BATCH` synthetic images of the model's input shape, with labels. For a
    model with no dataset here (imagenet), ``bench verify``'s images: seed 0, drawn free of float32 near-ties in a
    max-pool or a ReLU with LRN off and on (:func:`bench.analysis.equivalence.tie_free_images`), since at a
    near-tie a rounding difference routes a gradient elsewhere (seen on imagenet: seed 1234's draw sent
    TensorFlow's conv gradients 1e-3 away; seed 0's pass). For mnist, :data:`CHECK_SEED`'s uniform images
    (verify itself uses real MNIST; seed 0's tie-free draw failed two frameworks' train check with LRN on)."""
    if model.data is None:
        images, labels, _ = equivalence.tie_free_images(model, CHECK_BATCH, weights, [False, True], seed=0)
        return images, labels
    ds = data.synthetic(n_train=CHECK_BATCH, n_test=1, seed=CHECK_SEED, image_shape=model.input_shape,
                        classes=model.num_classes)
    return ds.train_images, ds.train_labels


def tier(precision: str) -> str:
    return "strict" if equivalence.tolerances(precision) == equivalence.STRICT else "tf32"


def _ratio(c: equivalence.Check) -> float:
    return c.difference / c.tolerance if math.isfinite(c.difference) else math.inf


def check(adapter: Any, mode: str, build: Callable[[ModelConfig], Any]) -> dict[str, Any]:
    """``adapter`` (already timed: this resets its weights and optimiser state) against the reference, for
    a ``mode`` config; ``build`` makes a model of a config (the adapter class), for the dropout-off twin.
    Returns what the record keeps: passed, tier, every check, the worst (largest share of its tolerance),
    the seconds it took and, when it failed, a one-line message."""
    start = time.perf_counter()
    cfg: ModelConfig = adapter.config
    train = mode == "train"
    twin = train and cfg.dropout > 0
    target = build(dataclasses.replace(cfg, dropout=0.0)) if twin else adapter
    model = cfg.model_spec
    weights = model.init_weights(cfg.seed, cfg.init)
    images, labels = check_images(model, weights)
    if train:
        got = equivalence.collect(target, images, labels, weights)
    else:
        target.set_weights(weights)
        got = {"logits": target.logits(images)}
        if cfg.lrn:
            got["lrn"] = equivalence.strict_lrn(target, equivalence.lrn_input(model=model))
    if not cfg.lrn:
        got.pop("lrn", None)  # the LRN op is not part of a model without LRN
    if twin:
        del target
        gc.collect()
    ref = equivalence.reference_outputs(images, labels, weights, cfg.lrn, model=model, lrn_params=cfg.lrn_params)
    checks = equivalence.compare(got, ref, weights, equivalence.tolerances(cfg.precision), model=model)
    worst = max(checks, key=_ratio)
    failed = [c for c in checks if not c.passed]
    name = tier(cfg.precision)
    message = None
    if failed:
        message = ("not equivalent to the float64 reference: "
                   + ", ".join(f"{c.quantity} {c.difference:.2g} > {c.tolerance:.2g}" for c in failed)
                   + f" ({name} tier; compile {cfg.compile}, LRN impl {cfg.lrn_impl}, {cfg.device}, "
                   f"{CHECK_BATCH} images at the canonical weights); its time is not reported")
    return {
        "passed": not failed,
        "tier": name,
        "batch": CHECK_BATCH,
        "model_checked": "a twin with dropout off" if twin else "the timed model",
        "checks": [{"quantity": c.quantity, "difference": c.difference, "tolerance": c.tolerance,
                    "passed": c.passed} for c in checks],
        "worst": worst.quantity,
        "error": worst.difference,
        "tolerance": worst.tolerance,
        "seconds": time.perf_counter() - start,
        "message": message,
    }
