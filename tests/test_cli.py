"""CLI exit codes and one-line errors (no framework needed for any of these)."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from typing import Any

import pytest

from bench import registry
from bench.cli import main


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
    from bench.errors import UsageError

    with pytest.raises(UsageError, match="unknown framework 'pytorch'; valid names: torch, tensorflow, jax"):
        registry.get_adapter("pytorch")
    with pytest.raises(UsageError, match="invalid compile mode for torch 'jit'; allowed: eager, compile"):
        from bench.config import ModelConfig

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
    from bench import env

    monkeypatch.setattr(env, "has_gpu", lambda: False)
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
