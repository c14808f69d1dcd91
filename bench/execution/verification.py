"""``bench verify``'s parent side: one worker per (framework, LRN) collects the adapter's outputs,
and the pure checks of :mod:`bench.analysis.equivalence` compare them with the NumPy reference."""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from bench.analysis.equivalence import Check, compare, reference_outputs, tolerances
from bench.core import registry
from bench.execution.runner import run_worker
from bench.model import spec


@dataclass
class VerifyResult:
    framework: str
    lrn: bool
    status: str
    checks: list[Check]
    error: str | None = None
    describe: dict[str, str] | None = None
    model: str = spec.DEFAULT_MODEL

    @property
    def passed(self) -> bool:
        return self.status == "ok" and all(c.passed for c in self.checks)


def run(frameworks: list[str], lrn_modes: list[bool], images: np.ndarray, labels: np.ndarray,
        *, seed: int = 0, timeout: float | None = 600, progress: Callable[[str], None] | None = None,
        compile_modes: dict[str, str] | None = None, lrn_impls: dict[str, str] | None = None, device: str = "cpu",
        precision: str = "strict", tunings: dict[str, tuple[str, ...]] | None = None,
        model: str = spec.DEFAULT_MODEL) -> list[VerifyResult]:
    """Check every framework with LRN off and on, for ``model``; each in a fresh worker process."""
    m = spec.get_model(model)
    weights = m.init_weights(seed)
    results: list[VerifyResult] = []
    with tempfile.TemporaryDirectory(prefix="bench-verify-") as tmp:
        root = Path(tmp)
        inputs = root / "inputs.npz"
        np.savez(inputs, images=images, labels=labels,
                 **{f"w:{k}": v for k, v in weights.items()})  # type: ignore[arg-type]
        refs = {lrn: reference_outputs(images, labels, weights, lrn, m) for lrn in lrn_modes}
        for fw in frameworks:
            for lrn in lrn_modes:
                if not registry.is_available(fw):
                    results.append(VerifyResult(fw, lrn, "skipped", [], f"not installed: {registry.install_hint(fw)}",
                                                model=m.name))
                    continue
                if progress:
                    progress(f"{fw} LRN {'on' if lrn else 'off'}")
                workdir = root / f"{fw}-{int(lrn)}"
                workdir.mkdir()
                params = {"framework": fw, "lrn": lrn, "inputs": str(inputs), "compile": (compile_modes or {}).get(fw),
                          "lrn_impl": (lrn_impls or {}).get(fw), "device": device, "precision": precision,
                          "tuning": list((tunings or {}).get(fw, ())), "model": m.name}
                outcome = run_worker("verify", params, timeout=timeout, workdir=workdir, device=device)
                if outcome.status != "ok":
                    results.append(VerifyResult(fw, lrn, outcome.status, [], outcome.error, model=m.name))
                    continue
                with np.load(outcome.result["outputs"]) as got:
                    checks = compare(dict(got), refs[lrn], weights, tolerances(precision), m)
                results.append(VerifyResult(fw, lrn, "ok", checks, describe=outcome.result.get("describe"),
                                            model=m.name))
    return results
