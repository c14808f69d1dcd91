"""Worker task ``lrn_layer``: the LRN layer alone at the model's real shapes, every
implementation variant of one framework, each checked against the float64 reference before it
is timed. Variants are timed in interleaved rounds inside one process."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from bench.analysis.equivalence import LRN_RTOL, normalised_max
from bench.core import contract, registry
from bench.model import reference, spec
from bench.worker import timing

LRN_GRAD_RTOL = 1e-5  # backward of the LRN op alone: a few more float32 roundings than forward


def shapes(model: str = spec.DEFAULT_MODEL) -> dict[str, tuple[int, ...]]:
    """The LRN layers' input shapes in ``model`` (mnist: lrn1 28x28x64, lrn2 14x14x128), from its table."""
    acts = spec.get_model(model).shapes().activations
    return {layer.name: acts[layer.name] for layer in spec.get_model(model).layers(True) if layer.kind == "lrn"}


DIRECTIONS = ("forward", "forward_backward")


def inputs(batch: int, seed: int = 0, model: str = spec.DEFAULT_MODEL) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Post-ReLU-like activations (half zeros, std ~3) and a cotangent, per layer shape."""
    if batch < 1:
        raise ValueError(f"an LRN batch needs at least one image, got {batch}")
    rng = np.random.default_rng(seed)
    out = {}
    for name, shape in shapes(model).items():
        x = np.maximum(rng.normal(0.0, 3.0, (batch, *shape)), 0.0).astype(np.float32)
        out[name] = (x, rng.normal(0.0, 1.0, x.shape).astype(np.float32))
    return out


def _caller(fn: Callable[..., Any], args: tuple[Any, ...]) -> Callable[[int], Any]:
    def call(i: int) -> Any:
        return fn(*args)

    return call


def run(params: dict[str, Any], workdir: Path) -> dict[str, Any]:
    fw, device = params["framework"], params["device"]
    batch, steps, rounds = int(params["batch_size"]), int(params.get("steps", 20)), int(params.get("rounds", 4))
    lrn_params = spec.LrnParams(**params.get("lrn_params", {}))
    precision = str(params.get("precision", "strict"))  # as the model of the run's precision runs LRN
    cls = contract.adapter_class(fw)
    model = str(params.get("model", spec.DEFAULT_MODEL))
    data = inputs(batch, model=model)
    # The reference is computed on a slice: the op is per-pixel, so 8 images check every code path.
    ref_n = min(batch, 8)
    refs = {name: (reference.lrn_forward(x[:ref_n].astype(np.float64), lrn_params),
                   reference.lrn_backward(x[:ref_n].astype(np.float64), g[:ref_n].astype(np.float64), lrn_params))
            for name, (x, g) in data.items()}
    variants: dict[str, Any] = {}
    rows: list[dict[str, Any]] = []
    for impl in registry.get(fw).lrn_impls:
        layer = cls.lrn_layer(impl, lrn_params, device, precision)
        staged = {name: (layer.put(x), layer.put(g)) for name, (x, g) in data.items()}
        errs = {}
        t0 = time.perf_counter()
        for name, (x, g) in staged.items():
            y = layer.host(layer.forward(x))[:ref_n]
            dx = layer.host(layer.forward_backward(x, g))[:ref_n]
            errs[name] = (normalised_max(y, refs[name][0]), normalised_max(dx, refs[name][1]))
        layer.sync()
        first_s = time.perf_counter() - t0  # includes tracing/compiling both directions
        exact = all(f <= LRN_RTOL and b <= LRN_GRAD_RTOL for f, b in errs.values())
        variants[impl] = (layer, staged)
        for name in data:
            for direction in DIRECTIONS:
                rows.append({"framework": fw, "impl": impl, "layer": name, "model": model,
                             "shape": [batch, *data[name][0].shape[1:]],
                             "direction": direction, "max_err_forward": errs[name][0],
                             "max_err_backward": errs[name][1], "exact": exact, "first_call_s": first_s,
                             "precision": precision,
                             "samples_ns": []})
    for r in range(rounds):  # interleaved: every variant once per round, order rotated
        order = list(variants)[r % len(variants):] + list(variants)[: r % len(variants)]
        for impl in order:
            layer, staged = variants[impl]
            for row in rows:
                if row["impl"] != impl:
                    continue
                x, g = staged[row["layer"]]
                args = (x,) if row["direction"] == "forward" else (x, g)
                call = _caller(getattr(layer, row["direction"]), args)
                if r == 0:
                    for _ in range(2):  # warm-up outside the timed region
                        call(0)
                    layer.sync()
                row["samples_ns"] += timing.timed_region(call, layer.sync, max(1, steps // rounds),
                                                         time.perf_counter_ns)
    from bench.core.provenance import package_versions

    versions = {p: v for p, v in package_versions().items() if p in registry.get(fw).packages and v}
    return {"kind": "lrn_layer", "framework": fw, "device": device, "rows": rows, "versions": versions,
            "lrn_params": lrn_params.__dict__}
