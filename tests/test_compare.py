"""LRN and framework comparisons: ratios on known samples, every LRN variant against the reference,
bad LRN parameters, and the compare command end to end at a tiny size."""

from __future__ import annotations

import csv
import importlib.util
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from bench.analysis import comparisons
from bench.analysis.equivalence import LRN_RTOL, normalised_max
from bench.analysis.stats import Ratio
from bench.core import contract, registry
from bench.core.config import ModelConfig
from bench.core.errors import UsageError
from bench.model import reference, spec
from bench.worker.tasks.lrn_layer import LRN_GRAD_RTOL, inputs
from tests.conftest import framework_params, require_framework


def _rec(fw: str, lrn: bool, samples_ms: np.ndarray, mode: str = "train", **extra: Any) -> dict[str, Any]:
    return {"kind": "measure", "framework": fw, "mode": mode, "batch_size": 128, "lrn": lrn, "compile": "c",
            "lrn_impl": "i", "device": "cpu", "threads": None, "host": "h", "gpu": None, "round": 0, "status": "ok",
            "samples_ns": [int(s * 1e6) for s in samples_ms], **extra}


def test_planted_lrn_slowdown_is_found_and_judged_against_the_book() -> None:
    rng = np.random.default_rng(0)
    off = rng.normal(100, 3, 60)
    recs = [_rec("torch", False, off), _rec("torch", True, off * 1.5 + rng.normal(0, 1, 60),
                                             describe={"lrn_impl": "nn.LocalResponseNorm"})]
    (row,) = comparisons.lrn_rows(recs)
    assert row["verdict"] == "slower" and row["ci_low"] < 1.5 < row["ci_high"]
    assert row["lrn_share_pct"] == pytest.approx(100 / 3, abs=1.5)
    assert row["added_ms"] == pytest.approx(50, abs=2)
    assert row["vs_book"].endswith(": not 3x") and row["lrn_impl"] == "nn.LocalResponseNorm"
    assert row["memory_added_mib"] is None  # CPU: no allocator figure, never 0


def test_lrn_memory_added_is_the_allocator_peak_difference_with_the_others_beside_it() -> None:
    rng = np.random.default_rng(2)
    off = rng.normal(100, 3, 30)
    shared = {"alloc_reserved_bytes": 900 * 2**20, "nvml_process_bytes": 1400 * 2**20,
              "nvml_process_source": "device used minus at worker start"}
    (row,) = comparisons.lrn_rows([
        _rec("torch", False, off, memory={**shared, "alloc_peak_bytes": 300 * 2**20}),
        _rec("torch", True, off * 1.2, memory={**shared, "alloc_peak_bytes": 420 * 2**20})])
    assert row["memory_added_mib"] == pytest.approx(120) and (row["peak_off_mib"], row["peak_on_mib"]) == (300, 420)
    assert row["reserved_mib"] == 900 and row["nvml_process_mib"] == 1400
    assert row["nvml_process_source"] == "device used minus at worker start"


def test_identical_samples_are_inconclusive() -> None:
    x = np.random.default_rng(1).normal(100, 3, 60)
    (row,) = comparisons.lrn_rows([_rec("jax", False, x), _rec("jax", True, x.copy())])
    assert row["verdict"] == "inconclusive" and "inconclusive" in row["vs_book"]


def test_book_verdicts() -> None:
    assert comparisons.book_verdict(Ratio(3.1, 2.8, 3.3, 1e-9, "slower")).endswith(": holds 3x")
    assert comparisons.book_verdict(Ratio(4.0, 3.6, 4.4, 1e-9, "slower")).endswith(": worse than 3x")


def test_framework_ratios_to_the_fastest() -> None:
    rng = np.random.default_rng(2)
    recs = [_rec("torch", False, rng.normal(100, 2, 50)), _rec("jax", False, rng.normal(200, 4, 50)),
            _rec("tensorflow", False, rng.normal(100.2, 2, 50))]
    rows = {r["framework"]: r for r in comparisons.framework_rows(recs)}
    fastest = rows["torch"]["fastest"]
    assert rows[fastest]["verdict"] == "fastest"
    assert rows["jax"]["verdict"] == "slower" and rows["jax"]["ratio"] == pytest.approx(2.0, rel=0.03)
    other = "tensorflow" if fastest == "torch" else "torch"
    assert rows[other]["verdict"] == "not separable from the fastest"


def test_fastest_exact_ignores_inexact_variants() -> None:
    rows = [{"framework": "jax", "impl": "conv", "direction": "forward_backward", "exact": True, "mean_ms": 5.0},
            {"framework": "jax", "impl": "matmul", "direction": "forward_backward", "exact": True, "mean_ms": 2.0},
            {"framework": "jax", "impl": "reduce_window", "direction": "forward_backward", "exact": False,
             "mean_ms": 1.0}]
    assert comparisons.fastest_exact(rows) == {"jax": "matmul"}


@pytest.mark.parametrize(("kw", "fragment"), [
    ({"lrn_radius": 9, "device": "gpu", "framework": "tensorflow"}, "cuDNN LRN needs depth_radius 1 to 7"),
    ({"lrn_beta": 0.001, "device": "gpu", "framework": "tensorflow"}, "cuDNN LRN needs beta >= 0.01"),
    ({"lrn_bias": 1e-6, "device": "gpu", "framework": "tensorflow"}, "cuDNN LRN needs bias >= 1e-5"),
    ({"lrn_bias": 0.0, "framework": "jax"}, "bias must be > 0"),
    ({"lrn_radius": -1, "framework": "torch"}, "depth_radius must be an integer >= 0"),
])
def test_bad_lrn_parameters_are_refused_before_any_run(kw: dict[str, Any], fragment: str) -> None:
    fw = kw.pop("framework")
    with pytest.raises(UsageError, match=fragment):
        ModelConfig(fw, lrn=True, **kw)


def test_cudnn_limits_only_bind_tensorflow_on_gpu() -> None:
    ModelConfig("tensorflow", lrn=True, lrn_radius=9)  # CPU kernel: fine
    ModelConfig("torch", lrn=True, device="gpu", lrn_radius=9)  # torch composes LRN: no cuDNN limit


def test_cli_refuses_bad_lrn_parameters(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    from bench.cli import main
    from bench.core import provenance


    monkeypatch.setattr(provenance, "has_gpu", lambda: True)
    code = main(["compare", "--lrn", "--device", "gpu", "--frameworks", "tensorflow", "--lrn-radius", "8"])
    err = capsys.readouterr().err
    assert code == 2 and "depth_radius 1 to 7" in err and len(err.strip().splitlines()) == 1


def test_empty_batch_never_reaches_an_lrn_kernel() -> None:
    with pytest.raises(ValueError, match="at least one image"):
        inputs(0)


@pytest.mark.parametrize("fw", framework_params())
def test_every_lrn_variant_equals_the_reference(fw: str) -> None:
    require_framework(fw)
    cls = contract.adapter_class(fw)
    p = spec.LrnParams(depth_radius=2, alpha=0.01, beta=0.6, bias=2.0)  # not the defaults: parameters flow through
    (x, g), _ = inputs(2).values()
    want_y = reference.lrn_forward(x.astype(np.float64), p)
    want_dx = reference.lrn_backward(x.astype(np.float64), g.astype(np.float64), p)
    for impl in registry.get(fw).lrn_impls:
        layer = cls.lrn_layer(impl, p, "cpu")
        xs, gs = layer.put(x), layer.put(g)
        assert normalised_max(layer.host(layer.forward(xs)), want_y) <= LRN_RTOL, impl
        assert normalised_max(layer.host(layer.forward_backward(xs, gs)), want_dx) <= LRN_GRAD_RTOL, impl


@pytest.mark.slow
def test_compare_lrn_end_to_end(tmp_path: Path) -> None:
    from bench.core.registry import available

    fws = available()
    if not fws:
        pytest.skip("no framework installed")
    out = subprocess.run([sys.executable, "-m", "bench", "compare", "--lrn", "--batch-size", "4", "--steps", "5",
                          "--warmup", "1", "--data", "synthetic", "--no-layer", "--rounds", "2", "--max-rounds", "2",
                          "--out", str(tmp_path)], capture_output=True, text=True, timeout=1200)
    assert out.returncode == 0, out.stdout + out.stderr
    with open(tmp_path / "lrn_comparison.csv") as fh:
        rows = list(csv.DictReader(fh))
    assert {r["framework"] for r in rows} == set(fws) and {r["mode"] for r in rows} == {"train", "forward"}
    for r in rows:
        assert float(r["ci_low"]) <= float(r["slowdown"]) <= float(r["ci_high"])
        assert r["processes"] == "2" and r["ci_method"] == "t over per-process ratios"
    assert (tmp_path / "lrn_slowdown.png").exists() and "What LRN costs" in out.stdout
    if len(fws) > 1:  # `nox -s torch` and friends run this with one framework
        assert (tmp_path / "framework_comparison.csv").exists() and "Frameworks side by side" in out.stdout
    (tmp_path / "lrn_comparison.csv").unlink()
    rep = subprocess.run([sys.executable, "-m", "bench", "report", str(tmp_path)], capture_output=True, text=True,
                         timeout=300)
    assert rep.returncode == 0 and "What LRN costs" in rep.stdout and (tmp_path / "lrn_comparison.csv").exists()


@pytest.mark.slow
def test_layer_benchmark_end_to_end(tmp_path: Path) -> None:
    """--layer alone; torch's compiled variant is skipped here only by choice of framework (it takes a minute)."""
    fws = [fw for fw in ("jax", "tensorflow") if importlib.util.find_spec(fw)]
    if not fws:
        pytest.skip("needs jax or tensorflow")
    out = subprocess.run([sys.executable, "-m", "bench", "compare", "--layer", "--frameworks", *fws,
                          "--batch-size", "2", "--layer-steps", "4", "--out", str(tmp_path)],
                         capture_output=True, text=True, timeout=900)
    assert out.returncode == 0, out.stdout + out.stderr
    with open(tmp_path / "lrn_layer.csv") as fh:
        rows = list(csv.DictReader(fh))
    assert {r["impl"] for r in rows} == {i for fw in fws for i in registry.get(fw).lrn_impls}
    assert all(r["exact"] == "True" for r in rows)
    assert "★" in out.stdout and "--lrn-impl" in out.stdout
