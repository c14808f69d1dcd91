"""Worker task ``verify``: one adapter computes everything :func:`bench.analysis.equivalence.compare` checks,
from the canonical weights the parent saved; the parent compares with the float64 reference."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from bench.analysis import equivalence
from bench.core import contract
from bench.core.config import ModelConfig


def run(params: dict[str, Any], workdir: Path) -> dict[str, Any]:
    inputs = np.load(str(params["inputs"]))
    weights = {k[2:]: inputs[k] for k in inputs.files if k.startswith("w:")}
    config = ModelConfig(str(params["framework"]), lrn=bool(params["lrn"]), dropout=0.0,
                         compile=params.get("compile"), lrn_impl=params.get("lrn_impl"),
                         device=params.get("device", "cpu"), precision=params.get("precision", "strict"),
                         tuning=tuple(params.get("tuning") or ()), model=str(params.get("model") or "mnist"))
    adapter = contract.adapter_class(config.framework)(config)
    got = equivalence.collect(adapter, inputs["images"], inputs["labels"], weights)
    out = workdir / "outputs.npz"
    np.savez(out, **got)  # type: ignore[arg-type]
    describe = {**adapter.describe(), "compile_mode": str(adapter.config.compile),
                "lrn_impl_mode": str(adapter.config.lrn_impl) + "".join(f" +{t}" for t in adapter.config.tuning)}
    return {"outputs": str(out), "describe": describe, "versions": adapter.versions()}
