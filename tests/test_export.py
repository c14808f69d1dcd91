"""Dashboard exports checked against the consumers' real formats: github-action-benchmark's
``customSmallerIsBetter`` entries (``{name, unit, value, range?, extra?}``, matched across runs by
``name``) and Bencher Metric Format (``{benchmark: {measure: {value, lower_value?, upper_value?}}}``,
one testbed per upload). Machines never share a name or a file, sub-microsecond values survive,
intervals stay above zero, and a one-process figure carries no interval."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from bench.analysis.intervals import TwoLevel, log_scale_interval
from bench.cli import main
from bench.core import storage
from bench.core.records import JobKey, Measurement
from bench.output import export

GITHUB_KEYS = {"name", "unit", "value", "range", "extra"}


def assert_github_format(data: Any) -> None:
    """What github-action-benchmark's customSmallerIsBetter parser accepts: a list of objects with a
    string name and unit, a number value, optional string range and extra."""
    assert isinstance(data, list)
    for e in data:
        assert set(e) <= GITHUB_KEYS and {"name", "unit", "value"} <= set(e)
        assert isinstance(e["name"], str) and isinstance(e["unit"], str)
        assert isinstance(e["value"], (int, float)) and not isinstance(e["value"], bool) and math.isfinite(e["value"])
        assert isinstance(e.get("range", ""), str) and isinstance(e.get("extra", ""), str)


def assert_bmf_format(data: Any) -> None:
    """Bencher's published BMF JSON schema: benchmark -> measure -> {value (required), lower_value,
    upper_value} numbers."""
    assert isinstance(data, dict)
    for measures in data.values():
        assert isinstance(measures, dict) and measures
        for metric in measures.values():
            assert set(metric) <= {"value", "lower_value", "upper_value"} and "value" in metric
            assert all(isinstance(v, (int, float)) and math.isfinite(v) for v in metric.values())


def _run(path: Path, host: str, cpu: str, commit: str, scale: float, rng: np.random.Generator) -> Path:
    path.mkdir(parents=True)
    storage.write_json(path / storage.ENV, {"cpu_model": cpu, "hostname": host, "git": {"commit": commit}})
    for fw, compile_mode in (("torch", "eager"), ("jax", "jit")):
        key = JobKey(fw, "train", 128, False, compile_mode, "x", "cpu", None, host, None)
        for r in range(3):
            samples = (300e6 * scale * (1 + rng.normal(0, 0.01, 20))).astype(int)
            storage.append_record(path, Measurement(key, r, "ok", samples_ns=tuple(samples.tolist())).to_dict())
    return path


def test_two_machine_history_exports_keep_machines_apart(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rng = np.random.default_rng(7)
    store = tmp_path / "store"
    for i, commit in enumerate(("a" * 40, "b" * 40)):
        for host, cpu, scale in (("ci-1", "CPU One", 1.0), ("ci-2", "CPU Two", 0.9)):
            run = _run(tmp_path / f"{host}-{i}", host, cpu, commit, scale, rng)
            assert main(["history", "append", str(run), "--store", str(store)]) == 0
    gh, bmf = tmp_path / "gh.json", tmp_path / "bmf.json"
    assert main(["history", "report", "--store", str(store), "--out", str(tmp_path / "r"),
                 "--export", "github", str(gh), "--export", "bencher", str(bmf)]) == 0
    out = capsys.readouterr().out
    entries = json.loads(gh.read_text())
    assert_github_format(entries)
    names = [e["name"] for e in entries]
    assert len(names) == 4 and len(set(names)) == 4  # 2 benchmarks x 2 machines, no name shared
    assert {n.rsplit(" [", 1)[1] for n in names} == {"ci-1_CPU-One]", "ci-2_CPU-Two]"}
    by_machine = {e["name"]: e["value"] for e in entries}
    assert by_machine["torch train batch 128 LRN off (eager) [ci-2_CPU-Two]"] < \
        by_machine["torch train batch 128 LRN off (eager) [ci-1_CPU-One]"]  # each machine keeps its own figure
    assert not bmf.exists()  # one BMF file per machine (Bencher's testbed), nothing overwritten
    files = {p.name: json.loads(p.read_text()) for p in tmp_path.glob("bmf.*.json")}
    assert set(files) == {"bmf.ci-1_CPU-One.json", "bmf.ci-2_CPU-Two.json"}
    for data in files.values():
        assert_bmf_format(data)
        assert set(data) == {"torch train batch 128 LRN off (eager)", "jax train batch 128 LRN off (jit)"}
    one = files["bmf.ci-1_CPU-One.json"]["torch train batch 128 LRN off (eager)"]["latency"]
    two = files["bmf.ci-2_CPU-Two.json"]["torch train batch 128 LRN off (eager)"]["latency"]
    assert two["value"] < one["value"] and 2.5e8 < two["value"] < 3.2e8
    assert "exported bencher:" in out and "bmf.ci-2_CPU-Two.json" in out


def test_history_bencher_export_of_one_machine_is_the_file_named(tmp_path: Path) -> None:
    rng = np.random.default_rng(8)
    store = tmp_path / "store"
    for host, cpu in (("ci-1", "CPU One"), ("ci-2", "CPU Two")):
        assert main(["history", "append", str(_run(tmp_path / host, host, cpu, "c" * 40, 1.0, rng)),
                     "--store", str(store)]) == 0
    bmf = tmp_path / "one.json"
    assert main(["history", "report", "--store", str(store), "--out", str(tmp_path / "r"), "--machine",
                 "ci-2_CPU-Two", "--export", "bencher", str(bmf)]) == 0
    assert_bmf_format(json.loads(bmf.read_text()))
    assert len(json.loads(bmf.read_text())) == 2


def test_sub_microsecond_values_are_not_rounded_to_zero() -> None:
    forty_ns = export.Point("tiny", "m", 40e-6, (39e-6, 40e-6, 41e-6))
    sub_us = export.Point("small", "m", 0.79e-3, (0.78e-3, 0.79e-3, 0.80e-3))
    gh = export.github_action_benchmark([forty_ns, sub_us])
    assert_github_format(gh)
    assert gh[0]["value"] == pytest.approx(4e-5, rel=1e-6) and gh[1]["value"] == pytest.approx(7.9e-4, rel=1e-6)
    assert float(gh[0]["range"].removeprefix("± ")) > 0  # the interval is not "± 0.0000" either
    bmf = export.bencher([forty_ns, sub_us])
    assert_bmf_format(bmf)
    assert bmf["tiny"]["latency"]["value"] == pytest.approx(40.0) and bmf["small"]["latency"]["value"] == 790.0
    assert 0 < bmf["tiny"]["latency"]["lower_value"] < 40.0 < bmf["tiny"]["latency"]["upper_value"]


def test_two_process_interval_near_zero_stays_positive() -> None:
    processes = (0.0002, 0.0014)  # ms: a linear t-interval with 2 processes reaches far below zero
    linear = TwoLevel.of([[v] * 5 for v in processes])
    assert linear.ci_low < 0
    p = export.Point("noisy", "m", 0.0008, processes)
    low, high = p.interval_ms or (math.nan, math.nan)
    # logs' mean ln sqrt(0.0002 * 0.0014) -> geometric mean 5.2915026e-4; sd |ln 7| / sqrt(2) = 1.3759663;
    # t.ppf(0.975, 1) = 12.7062047: half 12.7062047 * 1.3759663 / sqrt(2) = 12.3625664;
    # interval 5.2915026e-4 * exp(-+12.3625664) = [2.2624795e-09, 123.7580264] ms: wide, and above zero
    assert (low, high) == pytest.approx((2.2624795e-09, 123.7580264), rel=1e-6)
    assert 0 < low < 0.0008 < high
    gh = export.github_action_benchmark([p])[0]
    assert "95% CI" in gh["extra"] and "not a standard deviation" in gh["extra"] and "2 processes" in gh["extra"]
    latency = export.bencher([p])["noisy"]["latency"]
    assert latency["lower_value"] > 0 and latency["lower_value"] < latency["value"] < latency["upper_value"]


def test_the_log_scale_interval_is_a_t_interval_around_the_geometric_mean() -> None:
    """Hand computation (scipy.stats.t.ppf, numpy): process estimates 10, 12, 15 ms;
    logs 2.3025851, 2.4849066, 2.7080502: mean 2.4985140 (geometric mean 12.1644040), sd (ddof=1) 0.2030748;
    t.ppf(0.975, 2) = 4.3026527; half = 4.3026527 * 0.2030748 / sqrt(3) = 0.5044657;
    interval exp(2.4985140 -+ 0.5044657) = [7.3452094, 20.1454741] ms. Centred on the arithmetic mean 37/3
    (the mistake this pins out) it would be [7.4472136, 20.4252380]; with z for t [9.667, 15.307].
    At 90%: t.ppf(0.95, 2) = 2.9199856, half 0.3423526, [8.6378999, 17.1306365].
    The exports (value: the arithmetic two-level estimate 12.3333333): github's range is the larger distance
    from the value, max(12.3333333 - 7.3452094, 20.1454741 - 12.3333333) = 7.8121407 -> "± 7.81";
    BMF bounds in ns to 6 significant digits: 7345210 and 20145500."""
    assert log_scale_interval([10.0, 12.0, 15.0]) == pytest.approx((7.3452094, 20.1454741), rel=1e-6)
    assert log_scale_interval([10.0, 12.0, 15.0], 0.90) == pytest.approx((8.6378999, 17.1306365), rel=1e-6)
    assert log_scale_interval([10.0]) is None and log_scale_interval([10.0, 0.0]) is None
    p = export.Point("three", "m", 37 / 3, (10.0, 12.0, 15.0))
    assert export.github_action_benchmark([p])[0]["range"] == "± 7.81"
    latency = export.bencher([p])["three"]["latency"]
    assert (latency["lower_value"], latency["upper_value"]) == (7345210.0, 20145500.0)


def test_one_process_exports_no_interval_and_says_so() -> None:
    p = export.Point("single", "m", 288.9, (288.9,))
    gh = export.github_action_benchmark([p])[0]
    assert "range" not in gh and "one process: no interval" in gh["extra"]
    assert export.bencher([p]) == {"single": {"latency": {"value": 288.9e6}}}


def test_bmf_refuses_two_machines_in_one_file() -> None:
    with pytest.raises(ValueError, match="one testbed"):
        export.bencher([export.Point("x", "a", 1.0, (1.0, 1.1)), export.Point("x", "b", 1.0, (1.0, 1.1))])


def test_check_export_names_carry_the_machine(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rng = np.random.default_rng(9)
    base = _run(tmp_path / "base", "hostA", "CPU One", "a" * 40, 1.0, rng)
    cand = _run(tmp_path / "cand", "hostA", "CPU One", "b" * 40, 1.0, rng)
    gh, bmf = tmp_path / "gh.json", tmp_path / "bmf.json"
    main(["check", "--baseline", str(base), "--candidate", str(cand), "--export", "github", str(gh),
          "--export", "bencher", str(bmf)])
    capsys.readouterr()
    entries = json.loads(gh.read_text())
    assert_github_format(entries)
    assert all(e["name"].endswith(" [hostA_CPU-One]") and "3 processes" in e["extra"] for e in entries)
    assert_bmf_format(json.loads(bmf.read_text()))  # one machine: the file named
