"""``bench profile``: per-layer shapes and FLOPs from the spec, the whole command end to end for every
installed framework at a tiny size (traces written and readable, attribution covering at least 90% of
the profiled op time, the sum of the layers and the whole step both reported), and ``bench report``."""

from __future__ import annotations

import csv
import gzip
import io
import json
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console

from bench.cli import main
from bench.model import spec
from tests.conftest import framework_params, require_framework

BATCH = 2


def test_scope_shapes_and_flops_match_the_spec() -> None:
    acts = spec.shapes().activations
    scopes = spec.scopes(lrn=True)
    assert [s.name for s in scopes][:4] == ["conv1", "lrn1", "pool1", "conv2"]
    assert [s.name for s in scopes][-4:] == ["fc2.dropout", "fc3", "loss", "optimizer"]
    assert spec.scope_input_shape(scopes[0]) == spec.IMAGE_SHAPE
    fc1 = next(s for s in scopes if s.name == "fc1")
    assert spec.scope_input_shape(fc1) == (4 * 4 * 128,)  # the flattened pool3 output
    assert spec.scope_input_shape(next(s for s in scopes if s.name == "conv3")) == acts["pool2"]
    forward = sum(spec.scope_flops(s, 8, "forward") or 0 for s in scopes)
    backward = sum(spec.scope_flops(s, 8, "backward") or 0 for s in scopes)
    assert forward == spec.forward_flops_per_image() * 8
    conv1 = spec.scope_flops(scopes[0], 8, "forward")
    assert conv1 == 2 * 3 * 3 * 1 * 64 * 28 * 28 * 8 and backward == 2 * forward - conv1  # no input grad for conv1
    assert spec.scope_flops(next(s for s in scopes if s.kind == "lrn"), 8, "forward") is None
    assert [s.name for s in spec.scopes(lrn=False) if s.kind == "lrn"] == []


def _rows(path: Path) -> list[dict[str, str]]:
    with open(path) as fh:
        return list(csv.DictReader(fh))


def _assert_findings_follow_the_figures(summary: dict[str, str], layers: list[dict[str, str]], text: str) -> None:
    """What a run's own raw figures imply is printed, exactly: a figure that cannot be true of the model (a
    negative per-image cost: the batch-1 step slower than the whole batch; layers timed alone summing past
    1.5 whole steps) is named as a warning and left out of the findings, any other is printed as a finding.
    The raw figures are the step, the batch-1 step and the isolated layer rows, which the sanity check leaves
    in the CSVs; a loaded machine decides which branch a run takes, the figures decide what it must print."""
    step, tiny = float(summary["step_ms"]), float(summary["tiny_step_ms"])
    assert summary["tiny_batch"] == "1"
    per_image = (step - tiny) / (BATCH - 1)  # t(batch) = fixed + batch x per-image, through batch 1 and BATCH
    iso = sum(float(r["ms"]) for r in layers if r["source"] == "isolated")
    if per_image < 0:  # then fixed = tiny - per_image exceeds the whole step too
        assert "per-image cost" in text and "fixed cost" in text, text
        assert summary["per_image_ms"] == summary["fixed_ms"] == "", summary
    else:
        assert "per-image cost" not in text and "fixed cost" not in text, text
        assert float(summary["per_image_ms"]) == pytest.approx(per_image, rel=1e-9)
        assert float(summary["fixed_ms"]) == pytest.approx(tiny - per_image, rel=1e-9)
    if iso > 1.5 * step:
        assert "layers timed alone sum to" in text, text
        assert "each scope alone adds up to" not in text and summary["isolated_sum_ms"] == "", summary
    else:
        assert f"each scope alone adds up to {iso:.1f} ms" in text and "layers timed alone sum" not in text, text
    named = f"warning: {summary['framework']} train batch {BATCH}:"  # lockstep_report.profile_warnings' lines
    assert (named in text) == (per_image < 0 or iso > 1.5 * step), text


@pytest.mark.slow
@pytest.mark.parametrize("framework", framework_params())
def test_profile_end_to_end(framework: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    require_framework(framework)
    out = tmp_path / "prof"
    code = main(["profile", "--frameworks", framework, "--lrn", "on", "--batch-size", str(BATCH), "--steps", "3",
                 "--warmup", "1", "--profile-steps", "2", "--layer-steps", "1", "--layer-rounds", "2", "--trace",
                 "--data", "synthetic", "--out", str(out)])
    text = " ".join(capsys.readouterr().out.split())  # the console wraps long lines where the figures fall
    assert code == 0, text
    (summary,) = _rows(out / "profile_summary.csv")
    assert float(summary["coverage_pct"]) >= 90.0, summary
    assert float(summary["step_ms"]) > 0 and float(summary["profiler_attributed_ms"]) > 0
    # the profiler's findings, which no contradiction can remove
    assert f"whole step {float(summary['step_ms']):.1f} ms = profiler ops" in text, text
    assert f"attribution covers {float(summary['coverage_pct']):.1f}% of op time" in text, text
    layers = _rows(out / "profile_layers.csv")
    _assert_findings_follow_the_figures(summary, layers, text)
    for source in ("profiler", "isolated"):
        scopes = {r["scope"] for r in layers if r["source"] == source}
        assert {"conv1", "lrn1", "conv4", "fc1", "optimizer"} <= scopes, (source, scopes)
    conv4 = next(r for r in layers if r["source"] == "isolated" and r["scope"] == "conv4" and r["pass"] == "forward")
    assert float(conv4["gflops"]) > 0 and conv4["kind"] == "conv"
    assert _rows(out / "profile_ops.csv") and (out / "profile_breakdown.png").stat().st_size > 1000
    traces = [out / t for t in summary["traces"].split(";")]
    (trace_dir,) = (out / "traces").iterdir()
    assert all(t.exists() for t in (trace_dir / p for p in summary["traces"].split(";"))), traces
    readable = [p for p in trace_dir.rglob("*") if p.suffix in (".json", ".gz") and "trace" in p.name]
    assert readable, list(trace_dir.rglob("*"))
    for path in readable:
        data = json.loads(gzip.decompress(path.read_bytes()) if path.suffix == ".gz" else path.read_text())
        events = data["traceEvents"] if isinstance(data, dict) else data
        assert len(events) > 10
    assert main(["report", str(out)]) == 0  # re-rendered from the stored records
    assert "whole step" in capsys.readouterr().out


def _printed(step: float, tiny: float, iso: float) -> tuple[dict[str, Any], str]:
    """A hand-built profile summary at batch 8 (tiny batch 1) through the sanity check and both renderers."""
    from bench.analysis import sanity
    from bench.output import lockstep_report
    from bench.output.tables import breakdown

    per_image = (step - tiny) / (8 - 1)
    fixed = tiny - per_image
    row = sanity.checked({"framework": "torch", "mode": "train", "batch_size": 8, "lrn": False, "compile": "eager",
                          "step_ms": step, "tiny_step_ms": tiny, "tiny_batch": 1, "per_image_ms": per_image,
                          "fixed_ms": fixed, "fixed_share_pct": 100 * fixed / step, "isolated_sum_ms": iso,
                          "isolated_remainder_ms": step - iso, "profiler_attributed_ms": 0.9 * step,
                          "profiler_unattributed_ms": 0.05 * step, "remainder_ms": 0.05 * step,
                          "coverage_pct": 100 * 0.9 / 0.95, "clock": "host", "host_return_ms": 1.0,
                          "host_share_pct": 1.0, "page_faults_per_step": None, "versions": None,
                          "fingerprint": "unknown"})
    console = Console(file=io.StringIO(), width=120)
    breakdown.profile_table([], row, [], console)
    breakdown.profile_overhead_table([row], console)
    lockstep_report.profile_warnings([row], console)
    return row, " ".join(console.file.getvalue().split())  # type: ignore[attr-defined]


def test_sane_figures_are_printed_as_findings() -> None:
    # step 100 ms, batch-1 step 20 ms: per image (100 - 20) / (8 - 1) = 11.43 ms, fixed 20 - 11.43 = 8.57 ms
    # (8.6% of the step); the scopes alone 140 ms = 1.4 steps, inside the 1.5 a fused step allows
    row, text = _printed(100.0, 20.0, 140.0)
    assert row["warnings"] == "" and row["per_image_ms"] == pytest.approx(80 / 7)
    assert row["fixed_ms"] == pytest.approx(20 - 80 / 7) and row["isolated_sum_ms"] == 140.0
    assert "whole step 100.0 ms = profiler ops 90.0 ms" in text and "attribution covers 94.7% of op time" in text
    assert "each scope alone adds up to 140.0 ms; the step is -40.0 ms beyond that" in text
    assert "8.57" in text and "11.429" in text and "warning:" not in text
    assert "per-image cost" not in text and "fixed cost" not in text  # words only a warning uses


def test_contradicting_figures_are_named_and_not_printed() -> None:
    # batch-1 step 120 ms against a 100 ms batch-8 step: per image (100 - 120) / 7 = -2.857 ms, fixed
    # 120 + 2.857 = 122.86 ms = 123% of the step; the scopes alone 151 ms = 1.51 steps, past 1.5
    row, text = _printed(100.0, 120.0, 151.0)
    assert row["per_image_ms"] is None and row["fixed_ms"] is None and row["fixed_share_pct"] is None
    assert row["isolated_sum_ms"] is None and row["isolated_remainder_ms"] is None
    assert "warning: torch train batch 8: per-image cost -2.86 ms is negative" in text
    assert "warning: torch train batch 8: fixed cost 123% of the step is more than the whole step" in text
    assert "warning: torch train batch 8: layers timed alone sum to 1.5x the whole step (151.0 vs 100.0 ms)" in text
    assert "each scope alone adds up to" not in text and "-2.857" not in text and "122.86" not in text
    assert "whole step 100.0 ms = profiler ops 90.0 ms" in text  # the profiler's figures stand


def test_a_framework_without_profiler_hooks_is_said_so(numpy_framework: str, tmp_path: Path,
                                                       capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["profile", "--frameworks", numpy_framework, "--batch-size", "1", "--steps", "2", "--warmup", "0",
                 "--data", "synthetic", "--out", str(tmp_path / "p")])
    text = capsys.readouterr().out
    assert code == 0 and "no profiler breakdown: numpy has no profiler hook" in text


HLO = """
HloModule jit_train

%fused_computation.24 (param_0: f32[8,7,7,256]) -> f32[8,7,7,256] {
  ROOT %convolution.1 = f32[8,7,7,256]{3,2,1,0} convolution(%param_0), metadata={op_name="jit(train)/jvp(conv4)/conv_general_dilated"}
}

%wrapped_iota_computation.4 () -> s32[8,14,14,128] {
  ROOT %iota.1 = s32[8,14,14,128]{3,2,1,0} iota(), iota_dimension=1
}

ENTRY %main.99 (params__conv4_w__.1: f32[3,3,256,256]) -> f32[8,7,7,256] {
  %params__conv4_w__.1 = f32[3,3,256,256]{3,2,1,0} parameter(0), metadata={op_name="params[\\'conv4.w\\']"}
  %copy.185 = f32[3,3,256,256]{3,2,1,0} copy(%params__conv4_w__.1)
  %transpose_copy_fusion.13 = f32[3,3,256,256]{3,2,1,0} fusion(%copy.185), kind=kLoop, calls=%fused_computation.114
  %ynn_fusion.24 = f32[8,7,7,256]{3,2,1,0} fusion(%copy.185), kind=kCustom, calls=%fused_computation.24
  %wrapped_iota.4 = s32[8,14,14,128]{3,2,1,0} fusion(), kind=kLoop, calls=%wrapped_iota_computation.4
  %wrapped_reduce-window.1 = (f32[8,14,14,64]{3,2,1,0}, s32[8,14,14,64]{3,2,1,0}) fusion(%x), kind=kLoop, calls=%w
  %wrapped_scatter.2 = f32[8,28,28,64]{3,2,1,0} fusion(%y), kind=kLoop, calls=%s
  %mul.7 = f32[2048,1024]{1,0} multiply(%a, %b), metadata={op_name="jit(train)/transpose(jvp(fc1))/dot_general"}
  ROOT %adam.3 = f32[10]{0} add(%c, %d), metadata={op_name="jit(train)/optimizer/add"}
}
"""  # noqa: E501 (HLO lines are long)


@pytest.mark.jax
def test_jax_thunks_find_their_layer_from_the_compiled_hlo() -> None:
    """Own metadata, the called computation's, a weight's layout copy, and XLA:CPU's pool gradient named
    by its shapes (reduce-window by the pool's output, iota and scatter by its input)."""
    require_framework("jax")
    from impls.jax_alexnet import _op_names, _scope_of

    acts = spec.shapes().activations
    pools = [s for s in spec.scopes(True) if s.kind == "pool"]
    names = _op_names(HLO, {spec.scope_input_shape(s): s.name for s in pools}, {acts[s.name]: s.name for s in pools})
    scopes = spec.scope_names(True)
    expected = {"ynn_fusion.24": ("conv4", "forward"), "copy.185": ("conv4", ""),
                "transpose_copy_fusion.13": ("conv4", ""), "wrapped_iota.4": ("pool2", "forward"),
                "wrapped_reduce-window.1": ("pool1", "forward"), "wrapped_scatter.2": ("pool1", "backward"),
                "mul.7": ("fc1", "backward"), "adam.3": ("optimizer", "update")}
    for op, want in expected.items():
        assert _scope_of(names.get(op, ""), scopes) == want, (op, names.get(op))


def test_profile_csvs_carry_every_key_field() -> None:
    """A tuned, default-precision profile is told apart from an untuned strict one in every CSV."""
    from bench.analysis import attribution
    from bench.core.records import JobKey

    assert attribution.LAYER_COLUMNS[:len(JobKey.names())] == JobKey.names()
    rec = {"kind": "profile", "framework": "torch", "status": "ok", "samples_ns": [4_000_000, 4_200_000],
           "config": {"mode": "train", "batch_size": 8,
                      "model": {"lrn": False, "compile": "eager", "lrn_impl": "module", "device": "cpu", "threads": 2,
                                "precision": "default", "tuning": ["retain_memory"]}},
           "identity": {"host": "node-1", "gpu": None}, "versions": {"torch": "2.13.0"}, "fingerprint": "0123456789ab",
           "profile": {"steps": 2, "ops": [{"name": "aten::conv2d", "scope": "conv1", "pass_": "forward",
                                            "total_ns": 2_000_000, "calls": 2}]}}
    layers = attribution.layer_rows(rec)
    expected = {"framework": "torch", "mode": "train", "batch_size": 8, "lrn": False, "compile": "eager",
                "lrn_impl": "module", "device": "cpu", "threads": 2, "host": "node-1", "gpu": None,
                "precision": "default", "tuning": "retain_memory", "model": "mnist"}
    for row in (*layers, attribution.summary_row(rec, layers), *attribution.top_ops(rec)):
        assert {k: row[k] for k in JobKey.names()} == expected
    assert set(layers[0]) == set(attribution.LAYER_COLUMNS)
    assert attribution.summary_row(rec, layers)["fingerprint"] == "0123456789ab"
