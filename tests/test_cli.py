"""CLI exit codes and one-line errors (no framework needed for any of these)."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from typing import Any

import pytest

import bench
from bench.cli import main
from bench.core import registry


def _run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = main(argv)
    out, err = capsys.readouterr()
    return code, out, err


def test_unknown_framework_lists_valid_names(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = _run(["verify", "--frameworks", "pytorch"], capsys)
    assert code == 2
    assert err.strip() == "bench: error: unknown framework 'pytorch'; valid names: torch, tensorflow, jax"


def test_invalid_choice_is_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = _run(["verify", "--lrn", "maybe"], capsys)
    assert code == 2
    assert len(err.strip().splitlines()) == 1
    assert "'maybe'" in err and "off" in err and "both" in err


def test_non_positive_batch(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = _run(["verify", "--batch-size", "0"], capsys)
    assert code == 2 and "expected a positive integer, got '0'" in err


def test_unknown_command(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = _run(["frobnicate"], capsys)
    assert code == 2 and "frobnicate" in err


def test_missing_framework_names_the_extra(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "optax" else real(name, *a))
    code, _, err = _run(["verify", "--frameworks", "jax"], capsys)
    assert code == 2
    assert "framework 'jax' is not installed (missing module" in err and "bench[jax]" in err
    assert not registry.is_available("jax")


def test_get_adapter_rejects_bad_options() -> None:
    from bench.core.errors import UsageError

    with pytest.raises(UsageError, match="unknown framework 'pytorch'; valid names: torch, tensorflow, jax"):
        bench.get_adapter("pytorch")
    with pytest.raises(UsageError, match="invalid compile mode for torch 'jit'; allowed: eager, compile"):
        from bench.core.config import ModelConfig

        ModelConfig("torch", compile="jit")
    with pytest.raises(UsageError, match=r"dropout must be a rate in \[0, 1\); got 1.5"):
        ModelConfig("jax", dropout=1.5)
    with pytest.raises(UsageError, match="invalid device 'tpu'; allowed: cpu, gpu"):
        ModelConfig("jax", device="tpu")


def test_data_command_reports_location(capsys: pytest.CaptureFixture[str], mnist: object) -> None:
    code, out, _ = _run(["data", "--no-download"], capsys)
    assert code == 0 and "MD5" in out and "60000" in out and "5923" in out


def test_data_command_missing(tmp_path: object, monkeypatch: pytest.MonkeyPatch,
                              capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.delenv("BENCH_DATA_DIR", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    code, _, err = _run(["data", "--no-download", "--data-dir", str(tmp_path)], capsys)
    assert code == 1 and err.startswith("bench: error: MNIST not found; looked in --data-dir")


@pytest.mark.slow
def test_verify_end_to_end(mnist: object) -> None:
    """The user's command: every installed framework, LRN off and on, in worker processes."""
    if not registry.available():
        pytest.skip("no framework installed")
    out = subprocess.run([sys.executable, "-m", "bench", "verify", "--batch-size", "8"],
                         capture_output=True, text=True, timeout=900)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "FAIL" not in out.stdout and out.stdout.count("PASS") == 2 * len(registry.available())


@pytest.mark.parametrize(("argv", "fragment"), [
    (["run", "--steps", "0"], "expected a positive integer, got '0'"),
    (["run", "--batch-size", "-8"], "expected a positive integer, got '-8'"),
    (["run", "--warmup", "-1"], "expected an integer >= 0, got '-1'"),
    (["run", "--compile", "torch=xla"], "invalid compile mode for torch 'xla'; allowed: eager, compile"),
    (["run", "--compile", "pytorch=eager"], "FRAMEWORK one of torch, tensorflow, jax"),
    (["run", "--mode", "eval"], "'eval'"),
    (["run", "--frameworks", "pytorch"], "valid names: torch, tensorflow, jax"),
    (["report", "/nonexistent/run"], "no results in /nonexistent/run"),
])
def test_run_usage_errors(argv: list[str], fragment: str, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = _run(argv, capsys)
    assert code == 2, err
    assert fragment in err and len(err.strip().splitlines()) == 1


def test_gpu_requested_without_gpu(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    from bench.core import provenance

    monkeypatch.setattr(provenance, "has_gpu", lambda: False)
    code, _, err = _run(["run", "--device", "gpu", "--frameworks", "torch"], capsys)
    assert code == 2 and "--device gpu: no GPU found" in err


def test_unwritable_output_folder(tmp_path: Any, capsys: pytest.CaptureFixture[str]) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")
    code, _, err = _run(["run", "--frameworks", "torch", "--data", "synthetic", "--out", str(blocker / "run")], capsys)
    assert code == 2 and "cannot write the output folder" in err


def test_env_command_without_probe(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = _run(["env", "--no-probe"], capsys)
    assert code == 0 and "CPU" in out and "bench commit" in out
    for fw in ("torch", "tensorflow", "jax"):
        assert fw in out


def test_out_folder_with_results_needs_resume(tmp_path: Any, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "results.jsonl").write_text("{}\n")
    code, _, err = _run(["run", "--frameworks", "torch", "--data", "synthetic", "--out", str(tmp_path)], capsys)
    assert code == 2 and "already holds results" in err and "--resume" in err


@pytest.mark.parametrize(("argv", "fragment"), [
    # options that used to be accepted and silently ignored
    (["compare", "--lrn", "--lrn-impl", "fastest", "--no-layer"],
     "--lrn-impl has no effect as 'fastest' without the layer micro-benchmark"),
    (["compare", "--lrn-impl", "fastest"], "--lrn-impl has no effect with --lrn off"),
    (["compare", "--lrn", "on", "--lrn-impl", "fastest"],
     "--lrn-impl has no effect as 'fastest' without the layer micro-benchmark"),
    (["compare", "--no-layer"], "--no-layer has no effect without --lrn both"),
    (["compare", "--layer-steps", "5"], "--layer-steps has no effect without the layer micro-benchmark"),
    (["compare", "--layer", "--steps", "5", "--mode", "train"], "--mode, --steps have no effect with --layer"),
    (["compare", "--lrn-radius", "3"], "--lrn-radius has no effect without LRN"),
    (["run", "--lrn-beta", "0.5"], "--lrn-beta has no effect without LRN"),
    (["run", "--lrn-impl", "jax=matmul"], "--lrn-impl has no effect without LRN"),
    (["run", "--max-steps", "50"], "--max-steps has no effect without --target-ci"),
    (["run", "--lrn", "on", "--lrn-impl", "fastest"], "--lrn-impl fastest needs the layer micro-benchmark"),
    (["parity", "--trajectory", "--seeds", "5"], "--seeds has no effect with --trajectory"),
    (["parity", "--trajectory-steps", "50"], "--trajectory-steps has no effect without --trajectory"),
    (["parity", "--quick", "--epochs", "3"], "--epochs has no effect with --quick"),
    (["parity", "--lrn"], "parity trains one model per framework: use --lrn off or --lrn on (received both)"),
    (["env", "--no-probe", "--timeout", "5"], "--timeout has no effect with --no-probe"),
    (["run", "--accelerator-type", "A100"], "--accelerator-type has no effect without --executor ray"),
    (["run", "--address", "auto"], "--address has no effect without --executor ray"),
    (["run", "--gpus", "all", "--device", "cpu"], "--gpus needs GPU jobs"),
    (["compare", "--layer", "--executor", "ray"], "--executor has no effect with --layer"),
    (["ab", "HEAD", "--target-ci", "3"], "bench ab: unrecognized arguments: --target-ci 3 (see bench ab --help)"),
    (["compare", "--frameworks", "torch", "jax", "--block-steps", "5"], "--block-steps has no effect with --method "
     "lockstep"),
    (["ab", "HEAD", "--rounds", "1"], "a gate needs 2 or more pairs"),
    (["ab", "HEAD", "--noise-floor", "20", "--detect", "10"], "--detect (10%) must be above --noise-floor"),
    (["check", "--baseline", "x", "--candidate", "y", "--export", "csv", "z"], "invalid --export format 'csv'"),
    (["profile", "--lrn-impl", "torch=compiled"], "--lrn-impl has no effect without LRN"),
    (["history", "report", "--store", "/nonexistent/store"], "no history store at /nonexistent/store"),
    # non-finite LRN parameters (every comparison >= 0 holds for inf, none for nan)
    (["compare", "--lrn", "--lrn-alpha", "inf"], "lrn_alpha must be a finite number, got inf"),
    (["run", "--lrn", "on", "--lrn-beta", "nan"], "lrn_beta must be a finite number, got nan"),
    (["compare", "--lrn", "--lrn-bias", "inf"], "lrn_bias must be a finite number, got inf"),
    (["run", "--precision", "default", "--device", "cpu"], "--precision default is for GPUs"),
    (["verify", "--precision", "default", "--device", "cpu"], "--precision default is for GPUs"),
    # values this machine cannot honour
    (["run", "--threads", "100000"], "expected 1 to "),
    (["verify", "--batch-size", "100000"], "the float64 reference needs ~"),
])
def test_options_that_would_not_take_effect_are_refused(argv: list[str], fragment: str,
                                                        capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = _run(argv, capsys)
    assert code == 2, err
    assert fragment in err and len(err.strip().splitlines()) == 1, err


@pytest.mark.parametrize(("argv", "message"), [
    # read as --data-dir synthetic before allow_abbrev=False
    (["parity", "--data", "synthetic"],
     "bench parity: unrecognized arguments: --data synthetic (see bench parity --help)"),
    (["compare", "--batch", "8"], "bench compare: unrecognized arguments: --batch 8 (see bench compare --help)"),
    (["history", "report", "--sto", "x"],
     "bench history report: unrecognized arguments: --sto x (see bench history report --help)"),
])
def test_no_option_is_taken_by_its_prefix(argv: list[str], message: str, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = _run(argv, capsys)
    assert (code, err) == (2, f"bench: error: {message}\n")


def test_verify_batch_limit_follows_available_memory() -> None:
    from bench.cli.commands.verify import check_batch_fits
    from bench.core.errors import UsageError

    check_batch_fits(100, available=2**30)  # ~600 MiB of 1 GiB
    with pytest.raises(UsageError, match=r"--batch-size 200: .* use --batch-size 119 or less"):
        check_batch_fits(200, available=2**30)


def test_threads_up_to_the_usable_cores_are_accepted() -> None:
    from bench.cli import options

    n = options.usable_cores()
    assert options.threads(str(n)) == n


def test_lrn_means_the_same_in_every_command() -> None:
    from bench.cli import build_parser

    parser = build_parser()
    for command in ("run", "verify", "compare", "parity", "profile"):
        assert parser.parse_args([command, "--lrn"]).lrn == "both", command
        assert parser.parse_args([command, "--lrn", "on"]).lrn == "on", command


@pytest.mark.parametrize(("value", "fragment"), [
    ("torch=lr", "invalid --plant 'torch=lr'; expected FW=KIND"),
    ("keep-prob", "invalid --plant 'keep-prob'"),
    ("pytorch=keep-prob", "with FW one of"),
])
def test_bad_plant_is_refused(value: str, fragment: str, capsys: pytest.CaptureFixture[str], mnist: object) -> None:
    code, _, err = _run(["parity", "--plant", value, "--no-estimate"], capsys)
    assert code == 2 and fragment in err and len(err.strip().splitlines()) == 1, err


def test_max_rounds_below_rounds_is_refused_before_any_folder(tmp_path: Any,
                                                              capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "run"
    code, _, err = _run(["run", "--frameworks", "torch", "--rounds", "3", "--target-ci", "2", "--max-rounds", "2",
                         "--out", str(out)], capsys)
    assert code == 2 and "--max-rounds 2 is below --rounds 3" in err and not out.exists()
    code, _, err = _run(["run", "--frameworks", "torch", "--max-rounds", "5"], capsys)
    assert code == 2 and "--max-rounds has no effect without --target-ci" in err
