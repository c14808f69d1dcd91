"""``bench check`` through the CLI on stored results: bench run folders and pytest-benchmark saves,
exit codes, the Markdown summary, dashboard exports, and one line for each kind of bad input."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from bench.cli import main
from bench.core import storage
from bench.core.records import JobKey, Measurement

KEY = JobKey("torch", "train", 128, False, "eager", "module", "cpu", None, "hostA", None)


def _run_folder(path: Path, rng: np.random.Generator, scale: float = 1.0, processes: int = 4,
                packages: dict[str, str] | None = None, cpu: str = "Test CPU", key: JobKey = KEY,
                utc: str | None = None, **fields: Any) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    storage.write_json(path / storage.ENV, {"cpu_model": cpu, "hostname": "hostA", "git": {"commit": "a" * 40},
                                            "packages": packages or {"torch": "2.13.0"}})
    for r in range(processes):
        center = 300e6 * scale * np.exp(rng.normal(0, 0.01))
        samples = (center * (1 + rng.normal(0, 0.01, 30))).astype(int).tolist()
        when = {"utc": utc.replace("MM", f"{r:02d}")} if utc else {}  # one process a minute
        storage.append_record(path, Measurement(key, r, "ok", samples_ns=tuple(samples), **when, **fields).to_dict())
    return path


def _check(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(["check", *argv])
    out, err = capsys.readouterr()
    return code, out, err


def test_run_folders_unchanged_then_slower(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rng = np.random.default_rng(0)
    base = _run_folder(tmp_path / "base", rng)
    same = _run_folder(tmp_path / "same", rng)
    slow = _run_folder(tmp_path / "slow", rng, scale=1.15)
    code, out, _ = _check(capsys, "--baseline", str(base), "--candidate", str(same))
    assert code == 0 and "no change" in out and "torch train batch 128 LRN off (eager)" in out
    md, gh, bmf = tmp_path / "gate.md", tmp_path / "gh.json", tmp_path / "bmf.json"
    code, out, _ = _check(capsys, "--baseline", str(base), "--candidate", str(slow), "--markdown", str(md),
                          "--export", "github", str(gh), "--export", "bencher", str(bmf), "--out", str(tmp_path / "g"))
    assert code == 1 and "regression" in out and "REGRESSION in 1 of 1 rows" in out
    assert "## Performance gate: REGRESSION" in md.read_text() and "**regression**" in md.read_text()
    entry = json.loads(gh.read_text())[0]
    assert entry["unit"] == "ms" and entry["range"].startswith("± ") and "regression" in entry["extra"]
    assert 330 < entry["value"] < 360
    latency = json.loads(bmf.read_text())["torch train batch 128 LRN off (eager)"]["latency"]
    assert latency["lower_value"] < latency["value"] < latency["upper_value"] and latency["value"] > 3e8
    gate_json = json.loads((tmp_path / "g" / "gate.json").read_text())
    assert gate_json["exit_code"] == 1 and gate_json["rows"][0]["verdict"] == "regression"
    assert (tmp_path / "g" / "gate.csv").exists() and (tmp_path / "g" / "gate.md").exists()


def test_provenance_differences_are_listed_and_strict_refuses(tmp_path: Path,
                                                               capsys: pytest.CaptureFixture[str]) -> None:
    rng = np.random.default_rng(1)
    base = _run_folder(tmp_path / "base", rng)
    new = _run_folder(tmp_path / "new", rng, packages={"torch": "2.14.1"})
    code, out, _ = _check(capsys, "--baseline", str(base), "--candidate", str(new))
    assert code == 0 and "provenance differs: packages.torch: baseline '2.13.0', candidate '2.14.1'" in out
    code, _, err = _check(capsys, "--baseline", str(base), "--candidate", str(new), "--strict")
    assert code == 2 and "--strict" in err and "packages.torch" in err and len(err.strip().splitlines()) == 1


@pytest.mark.parametrize(("case", "message"), [
    ("missing", "no such file or folder"),
    ("nothing_common", "no benchmark in common"),
    ("devices", "different devices"),
    ("not_json", "not a pytest-benchmark JSON save"),
])
def test_bad_input_is_one_line_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str], case: str,
                                      message: str) -> None:
    rng = np.random.default_rng(2)
    base = _run_folder(tmp_path / "base", rng)
    other = {
        "missing": lambda: tmp_path / "nope",
        "nothing_common": lambda: _run_folder(tmp_path / "o", rng, key=JobKey(
            "jax", "train", 128, False, "jit", "reduce_window", "cpu", None, "hostA", None)),
        "devices": lambda: _run_folder(tmp_path / "o", rng, cpu="Another CPU"),
        "not_json": lambda: tmp_path / "x.txt",
    }[case]()
    if case == "not_json":
        other.write_text("hello")
    code, _, err = _check(capsys, "--baseline", str(base), "--candidate", str(other))
    assert code == 2 and message in err and len(err.strip().splitlines()) == 1


def _pytest_benchmark_file(path: Path, rng: np.random.Generator, scale: float, save_data: bool = True) -> Path:
    data = (0.3 * scale * np.exp(rng.normal(0, 0.01)) * (1 + rng.normal(0, 0.01, 25))).tolist()
    stats = {"median": float(np.median(data)), "mean": float(np.mean(data)), "rounds": len(data)}
    if save_data:
        stats["data"] = data
    path.write_text(json.dumps({
        "machine_info": {"node": "hostA", "cpu": {"brand_raw": "Test CPU"}, "python_version": "3.11.7",
                         "bench": {"torch": "2.13.0", "gpu": None}},
        "commit_info": {"id": "c" * 40},
        "benchmarks": [{"name": "test_step[torch-train]", "stats": stats,
                        "fullname": "benchmarks/test_steps.py::test_step[torch-train]"}]}))
    return path


@pytest.mark.parametrize("save_data", [True, False], ids=["with-data", "medians-only"])
def test_pytest_benchmark_saves_gate_with_the_same_statistics(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                              save_data: bool) -> None:
    rng = np.random.default_rng(3)
    base = [str(_pytest_benchmark_file(tmp_path / f"000{i}_base.json", rng, 1.0, save_data)) for i in range(4)]
    slow = [str(_pytest_benchmark_file(tmp_path / f"001{i}_slow.json", rng, 1.12, save_data)) for i in range(4)]
    code, out, _ = _check(capsys, "--baseline", *base, "--candidate", *slow)
    assert code == 1 and "regression" in out and "4 procs" in out
    code, out, _ = _check(capsys, "--baseline", base[0], "--candidate", slow[0])
    assert code == 0 and "inconclusive" in out  # one process (file) per side says nothing about the next run


def test_a_folder_of_pytest_benchmark_saves(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rng = np.random.default_rng(4)
    for side, scale in (("a", 1.0), ("b", 1.0)):
        (tmp_path / side).mkdir()
        for i in range(3):
            _pytest_benchmark_file(tmp_path / side / f"000{i}_x.json", rng, scale)
    code, out, _ = _check(capsys, "--baseline", str(tmp_path / "a"), "--candidate", str(tmp_path / "b"))
    assert code == 0 and "3 procs" in out
    code, _, err = _check(capsys, "--baseline", str(tmp_path / "a"), "--candidate",
                          str(_run_folder(tmp_path / "run", rng)))
    assert code == 2 and "no benchmark in common" in err


def test_stored_runs_measured_apart_carry_a_caveat(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rng = np.random.default_rng(5)
    base = _run_folder(tmp_path / "base", rng, utc="2026-01-01T10:MM:00Z")
    cand = _run_folder(tmp_path / "cand", rng, utc="2026-01-01T14:MM:00Z")
    md = tmp_path / "gate.md"
    code, out, _ = _check(capsys, "--baseline", str(base), "--candidate", str(cand), "--markdown", str(md),
                          "--out", str(tmp_path / "g"))
    text = " ".join(out.split())  # rich wraps long lines
    caveat = ("the sides were not measured together but 3h 57min apart (baseline 2026-01-01 10:00 UTC to "
              "2026-01-01 10:03 UTC, candidate 2026-01-01 14:00 UTC to 2026-01-01 14:03 UTC)")
    assert code == 0 and f"caveat: {caveat}" in text
    assert "Gate: no regression in 1 rows (caveat: the sides were not measured together but 3h 57min apart" in text
    assert f"> **Caveat:** {caveat}" in md.read_text()
    assert json.loads((tmp_path / "g" / "gate.json").read_text())["caveat"].startswith(caveat)
    code, _, err = _check(capsys, "--baseline", str(base), "--candidate", str(cand), "--strict")
    assert code == 2 and err.strip().startswith(f"bench: error: --strict: {caveat}")
    assert len(err.strip().splitlines()) == 1


def test_interleaved_or_lockstep_sides_are_measured_together(tmp_path: Path,
                                                             capsys: pytest.CaptureFixture[str]) -> None:
    rng = np.random.default_rng(6)
    base = _run_folder(tmp_path / "base", rng, utc="2026-01-01T10:MM:00Z")
    cand = _run_folder(tmp_path / "cand", rng, utc="2026-01-01T10:MM:30Z")  # interleaved with the baseline
    code, out, _ = _check(capsys, "--baseline", str(base), "--candidate", str(cand), "--strict")
    assert code == 0 and "caveat" not in out
    lock = [_run_folder(tmp_path / side, rng, utc=f"2026-01-0{day}T10:MM:00Z") for side, day in (("lb", 1), ("lc", 2))]
    for path in lock:  # lockstep pairs share ids: session:slot (bench ab's halves)
        recs = storage.read_records(path)
        (path / storage.RESULTS).unlink()
        for r in recs:
            storage.append_record(path, {**r, "lockstep": {"session": "s", "slot": r["round"]}})
    code, out, _ = _check(capsys, "--baseline", str(lock[0]), "--candidate", str(lock[1]))
    assert code == 0 and "caveat" not in out and "pairs" in out


def test_pytest_benchmark_saves_a_day_apart(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rng = np.random.default_rng(7)
    sides = []
    for name, day in (("base", 1), ("cand", 2)):
        files = []
        for i in range(3):
            path = _pytest_benchmark_file(tmp_path / f"{name}{i}.json", rng, 1.0)
            data = json.loads(path.read_text())
            path.write_text(json.dumps({**data, "datetime": f"2026-01-0{day}T09:0{i}:00.000001"}))  # naive UTC
            files.append(str(path))
        sides.append(files)
    code, out, _ = _check(capsys, "--baseline", *sides[0], "--candidate", *sides[1])
    assert code == 0 and "not measured together but 23h 58min apart" in " ".join(out.split())


def test_one_side_mixing_code_is_refused_and_each_side_says_what_measured(tmp_path: Path,
                                                                          capsys: pytest.CaptureFixture[str]) -> None:
    rng = np.random.default_rng(8)
    old = _run_folder(tmp_path / "old", rng, versions={"torch": "2.13.0"}, fingerprint="aaaaaaaaaaaa")
    new = _run_folder(tmp_path / "new", rng, versions={"torch": "2.13.0"}, fingerprint="bbbbbbbbbbbb")
    code, out, _ = _check(capsys, "--baseline", str(old), "--candidate", str(new))
    text = " ".join(out.split())
    assert code == 0 and "baseline measured with: torch 2.13.0; code aaaaaaaaaaaa" in text
    assert "candidate measured with: torch 2.13.0; code bbbbbbbbbbbb" in text
    code, _, err = _check(capsys, "--baseline", str(old), str(new), "--candidate", str(new))
    assert code == 2 and "one side mixes versions or code (torch 2.13.0; code aaaaaaaaaaaa in" in err
    assert len(err.strip().splitlines()) == 1


@pytest.mark.parametrize("label", [
    "torch train batch 128 LRN off (eager)",  # headers on one line
    "jax train batch 128 LRN on (jit) +reshape_pool",  # 46 columns: the headers go on two lines
])
def test_the_gate_table_fits_120_columns_with_the_name_whole(label: str) -> None:
    import io

    from rich.console import Console

    from bench.analysis.gate import GateResult, GateRow, Settings
    from bench.output import gate_report

    reason = "the interval allows up to 23% slower; it would catch 15% or more: add pairs or processes"
    row = GateRow(label, {}, 301.07, 342.21, 4, 4, "two-level", 4, 1.137, 1.119, 1.155, 0.95, 1e-6, 6e-6, 15.2,
                  "inconclusive", reason)
    out = io.StringIO()
    gate_report.table(GateResult([row], [], [], Settings(), 1), Console(file=out, width=120))
    lines = out.getvalue().splitlines()
    assert all(len(line) <= 120 for line in lines), max(lines, key=len)
    # the row is one line: the name whole, then its times, ratio with its interval, units and verdict
    (line,) = [line for line in lines if line.startswith(f" {label} ")]
    assert line.split()[-8:] == ["301.07", "342.21", "1.137", "[1.119,", "1.155]", "4", "procs", "inconclusive"]
    # what the table leaves out (p, detects, why), every word, on the lines below it
    below = " ".join(" ".join(lines[lines.index(line) + 1:]).split())
    assert f"{label}: inconclusive (p 6e-06, detects >= 15.2%): {reason}" in below
