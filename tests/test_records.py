"""Typed records: round trips, old records, units declared per field, the README documenting every
column, and ``bench.load`` returning exactly what the CSV files hold."""

from __future__ import annotations

import dataclasses
import re
import subprocess
import sys
import tracemalloc
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import bench
from bench.analysis.stats import Stats
from bench.core import records, storage
from bench.core.records import JobKey, Measurement, SummaryRow
from bench.output import frames

ROOT = Path(__file__).resolve().parent.parent
KEY = JobKey("torch", "train", 8, True, "eager", "module", "cpu", 2, "host-a", None)


def test_measurement_round_trip_keeps_every_field() -> None:
    m = Measurement(KEY, 1, "ok", samples_ns=(5, 6), memory={"host_peak_rss_bytes": 10}, describe={"x": "y"},
                    pair=True, extra={"chunk": 5})
    d = m.to_dict()
    assert d["schema_version"] == records.SCHEMA_VERSION and d["kind"] == "measure"
    assert {k: d[k] for k in JobKey.names()} == KEY.to_dict() and d["chunk"] == 5 and d["samples_ns"] == [5, 6]
    assert Measurement.from_dict(d) == dataclasses.replace(m, utc=d["utc"])


def test_version_1_records_still_load() -> None:
    old = {"schema_version": 1, "kind": "measure", "framework": "jax", "mode": "forward", "batch_size": 4,
           "lrn": False, "compile": "jit", "lrn_impl": "reduce_window", "device": "cpu", "threads": None,
           "round": 0, "status": "ok", "samples_ns": [1, 2], "memory": {}}
    m = Measurement.from_dict(old)
    assert m.key.host == "" and m.key.gpu is None and m.ok
    assert m.key.precision == "strict"  # version 1 and 2 measured strict float32 only


def test_precision_is_part_of_the_key_and_the_label() -> None:
    fast = dataclasses.replace(KEY, precision="default")
    assert fast != KEY and JobKey.from_dict(fast.to_dict()) == fast
    assert "default precision" in fast.label() and "precision" not in KEY.label()
    m = Measurement(fast, 0, "ok", samples_ns=(1,), page_faults=(4,), preemptions=(0,))
    assert Measurement.from_dict(m.to_dict()).page_faults == (4,)


def test_a_summary_row_starts_with_the_key_fields_and_gives_the_key_back() -> None:
    row = SummaryRow(**KEY.to_dict(), median_ms=1.0)
    assert SummaryRow.columns()[:len(JobKey.names())] == JobKey.names()
    assert type(row.key) is JobKey and row.key == KEY and row.label() == KEY.label()


def test_resume_matches_by_key_equality_not_field_order() -> None:
    d = Measurement(KEY, 0, "ok", samples_ns=(1,)).to_dict()
    shuffled = dict(reversed(list(d.items())))
    assert records.done(records.measurements([shuffled])) == {(KEY, 0)}


def test_worker_identity_replaces_the_parents() -> None:
    m = Measurement.from_result(KEY, 0, "ok", {"identity": {"host": "node-7", "gpu": "H200"}, "samples_ns": [3]})
    assert (m.key.host, m.key.gpu) == ("node-7", "H200")


UNIT_SUFFIX = {"_ms": "ms", "_mib": "MiB", "_pct": "%", "_s": "s", "_gflops": "GFLOP/s", "_per_s": "images/s"}


def test_units_are_declared_and_agree_with_column_names() -> None:
    units = SummaryRow.units()
    for name, unit in units.items():
        for suffix, want in sorted(UNIT_SUFFIX.items(), key=lambda kv: -len(kv[0])):
            if name.endswith(suffix):
                assert unit == want, (name, unit)
                break
    assert units["cv"] == "ratio" and units["n"] == "count" and not any(n.endswith("_mb") for n in units)


def test_stats_scale_only_fields_in_the_samples_unit() -> None:
    st = Stats.from_samples([1e6, 2e6, 3e6])
    scaled = st.scaled(1e-6)
    assert scaled["mean"] == pytest.approx(2.0) and scaled["n"] == 3 and scaled["cv"] == st.cv
    units = {f.name: f.metadata["unit"] for f in dataclasses.fields(Stats)}
    assert {k for k, u in units.items() if u != "sample"} == {"n", "cv"}


def test_reports_readme_documents_every_column() -> None:
    text = (ROOT / "reports" / "README.md").read_text()
    documented = set(re.findall(r"[a-z0-9_]+", text))
    missing = [c for c in SummaryRow.columns() + frames.SAMPLE_COLUMNS if c not in documented]
    assert not missing, missing
    for kind in records.KINDS:
        assert f"`kind: {kind}`" in text, kind


def _fake_run(tmp_path: Path) -> Path:
    for fw, base in (("torch", 10_000_000), ("jax", 20_000_000)):
        for rnd in range(2):
            key = dataclasses.replace(KEY, framework=fw)
            m = Measurement(key, rnd, "ok", samples_ns=(base, base + 2_000_000, base + 1_000_000), compile_ns=10**9,
                            flops_per_step=10**9, data_source="synthetic", memory={"host_peak_rss_bytes": 2**30})
            storage.append_record(tmp_path, m.to_dict())
    return tmp_path


def test_load_returns_the_frames_the_csv_files_hold(tmp_path: Path) -> None:
    from bench.output import report

    run_dir = _fake_run(tmp_path)
    report.refresh(run_dir)
    loaded = bench.load(run_dir)
    assert list(loaded.summary.columns) == list(SummaryRow.columns()) and len(loaded.summary) == 2
    assert list(loaded.samples.columns) == list(frames.SAMPLE_COLUMNS) and len(loaded.samples) == 12
    on_disk = pd.read_csv(run_dir / "summary.csv")
    # a CSV cannot tell an empty string (no tuning) from a missing value: read_csv makes both NaN
    in_memory = loaded.summary.replace("", float("nan"))
    pd.testing.assert_frame_equal(in_memory.dropna(axis=1, how="all").reset_index(drop=True),
                                  on_disk.dropna(axis=1, how="all"), check_dtype=False)
    samples = pd.read_csv(run_dir / "samples.csv")
    assert samples["time_ns"].tolist() == loaded.samples["time_ns"].tolist()
    by_fw = loaded.samples.groupby("framework")["time_ns"].median() / 1e6
    assert by_fw["torch"] == pytest.approx(11.0)


def test_bootstrap_memory_is_bounded_for_long_runs() -> None:
    """BCa's jackknife of n samples is an n x (n - 1) array unless batched: 10,000 step times took
    2.6 GB before ``batch=`` was passed (160 MB after)."""
    x = np.random.default_rng(0).lognormal(0, 0.3, 10_000)
    tracemalloc.start()
    Stats.from_samples(x)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert peak < 400 * 2**20, f"{peak / 2**20:.0f} MiB"


def test_plots_leave_the_global_matplotlib_backend_alone(tmp_path: Path) -> None:
    row = {"framework": "a", "mode": "train", "batch_size": 1, "slowdown": 2.0, "ci_low": 1.5, "ci_high": 2.5,
           "off_ms": 1.0, "on_ms": 2.0}
    code = (f"import matplotlib, pathlib, sys; matplotlib.use('pdf'); from bench.output import plots; "
            f"plots.lrn_plots([{row!r}], pathlib.Path({str(tmp_path)!r})); "
            "print(matplotlib.get_backend(), 'matplotlib.pyplot' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["pdf", "False"]
    assert (tmp_path / "lrn_slowdown.png").stat().st_size > 1000


def test_fingerprint_round_trips_and_older_records_are_unknown() -> None:
    from bench.analysis import summary

    m = Measurement(KEY, 0, "ok", samples_ns=(5, 6), versions={"torch": "2.13.0"}, fingerprint="0123456789ab",
                    code={"impls.torch_alexnet": "aaaaaaaaaaaa", "impls.spec": "bbbbbbbbbbbb"})
    d = m.to_dict()
    assert d["schema_version"] == 4 and d["fingerprint"] == "0123456789ab" and "code" not in m.extra
    assert Measurement.from_dict(d) == dataclasses.replace(m, utc=d["utc"])
    old = {k: v for k, v in d.items() if k not in ("fingerprint", "code")} | {"schema_version": 3}
    loaded = Measurement.from_dict(old)
    assert loaded.fingerprint is None and loaded.code == {} and loaded.ok
    (row,) = summary.summarise([old, {**old, "round": 1}])
    assert row.fingerprint == "unknown" and row.rounds == 2  # unknowns pool with unknowns, no crash
    assert Measurement.from_result(KEY, 0, "ok", {"samples_ns": [1], "code": None}).code == {}
