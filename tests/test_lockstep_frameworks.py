"""Frameworks in lockstep (issue 19): the turn order, the ratio and its interval over groups, the stop
rule and its budget, and one small ``bench compare`` end to end with two test-only NumPy frameworks.
Nothing here times a real run against a clock: the clock of the stop-rule tests is fake."""

from __future__ import annotations

import csv
import math
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from rich.console import Console

from bench.analysis import lockstep_ratios
from bench.analysis.intervals import log_ratio_welch
from bench.analysis.lockstep_ratios import RatioWidth, more_groups, start_order, turn_order
from bench.core import records, storage
from bench.core.config import ModelConfig, RunConfig
from bench.execution import lockstep_compare, planning
from bench.output import html_pages, lockstep_report, report

ROOT = Path(__file__).resolve().parents[1]
TWO = "tests.numpy_framework:REGISTRATION,tests.numpy_twin:TWIN"


def test_turns_go_forwards_then_backwards() -> None:
    assert [turn_order("ABC", t) for t in range(4)] == [list("ABC"), list("CBA"), list("ABC"), list("CBA")]
    assert [start_order("ABC", s) for s in range(3)] == [list("ABC"), list("BCA"), list("CAB")]
    assert [start_order("AB", s) for s in range(3)] == [list("AB"), list("BA"), list("AB")]  # bench ab's rule


def _rec(fw: str, slot: int, samples_ms: list[float], mode: str = "forward", lrn: bool = False,
         faults: list[int] | None = None, others: float | None = None) -> dict[str, Any]:
    cfg = RunConfig(ModelConfig(fw, lrn=lrn), mode=mode, batch_size=2, steps=len(samples_ms))
    result: dict[str, Any] = {"samples_ns": [int(s * 1e6) for s in samples_ms]}
    if faults is not None:
        result["page_faults"] = faults
    if others is not None:
        result["interference"] = {"wall_s": 10.0, "others_cpu_s": 10.0 * others, "steal_s": 0.0}
    m = planning.Job(cfg, slot).record("ok", result)
    m.extra["lockstep"] = {"session": "s", "slot": slot, "group": f"s:{slot}", "contender": fw}
    return m.to_dict()


def _groups(ratio: float, groups: int, seed: int = 0, drift: float = 0.3, steps: int = 30) -> list[dict[str, Any]]:
    """Two frameworks per group: each group's machine speed (drift) and each step's slow spell hit both."""
    rng = np.random.default_rng(seed)
    out = []
    for g in range(groups):
        speed = 1 + drift * rng.random()
        spells = 1 + 0.5 * (rng.random(steps) < 0.2)
        base = 10 * speed * spells * (1 + 0.01 * rng.standard_normal(steps))
        other = ratio * 10 * speed * spells * (1 + 0.01 * rng.standard_normal(steps))
        out += [_rec("torch", g, list(base)), _rec("jax", g, list(other))]
    return out


def test_the_ratio_is_taken_turn_by_turn_and_its_interval_over_groups() -> None:
    recs = _groups(1.2, 6)
    rows = lockstep_ratios.framework_rows(recs, target_pct=3.0)
    jax = next(r for r in rows if r["framework"] == "jax")
    assert jax["fastest"] == "torch" and jax["groups"] == 6 and jax["ci_method"] == lockstep_ratios.METHOD
    assert jax["ratio_ci_low"] < 1.2 < jax["ratio_ci_high"] and abs(jax["ratio"] - 1.2) < 0.01
    assert jax["half_width_pct"] < 3.0 and jax["within_target"] and jax["verdict"] == "slower"
    # the same records as independent processes: the groups' drift goes into Welch's interval
    ms = records.measurements(recs)
    welch = log_ratio_welch([[s / 1e6 for s in m.samples_ns] for m in ms if m.key.framework == "torch"],
                            [[s / 1e6 for s in m.samples_ns] for m in ms if m.key.framework == "jax"])
    lo, hi = welch.interval()
    assert 100 * (hi / welch.ratio - 1) > 3 * jax["half_width_pct"]


def test_frameworks_are_compared_only_on_the_same_config() -> None:
    recs = _groups(1.2, 3) + [_rec("torch", 9, [5.0] * 5, mode="train")]  # train: torch alone, no row
    rows = lockstep_ratios.framework_rows(recs)
    assert {r["mode"] for r in rows} == {"forward"} and len(rows) == 2


def test_the_stop_rule_grants_only_the_wide_ratios_widest_first() -> None:
    need = {"a": RatioWidth(8.0, 3, 0.05), "b": RatioWidth(2.0, 3, 0.01), "c": RatioWidth(15.0, 3, 0.1)}
    grant = more_groups(need, 3.0, {"a": 10.0, "b": 10.0, "c": 10.0}, budget_s=1000, max_groups=30)
    assert set(grant) == {"a", "c"}  # b is within the target
    assert all(0 < n <= 3 for n in grant.values())  # at most doubling what they have
    # a budget for three groups: the widest (c) is served first
    tight = more_groups(need, 3.0, {"a": 10.0, "b": 10.0, "c": 10.0}, budget_s=30, max_groups=30)
    assert tight == {"c": 3}
    assert more_groups(need, 3.0, {"a": 10.0, "c": 10.0}, budget_s=9, max_groups=30) == {}
    assert more_groups(need, 3.0, {"a": 1.0, "c": 1.0}, budget_s=1000, max_groups=4) == {"a": 1, "c": 1}


def test_groups_needed_grow_with_the_spread() -> None:
    assert RatioWidth(2.0, 4, 0.01).groups_for(3.0) == 4
    few, many = RatioWidth(6.0, 4, 0.03).groups_for(3.0), RatioWidth(12.0, 4, 0.06).groups_for(3.0)
    assert 4 < few < many
    back = RatioWidth.of_row({"groups": 4, "half_width_pct": 6.0})
    assert math.isclose(back.half_pct, 6.0) and back.sd_log > 0


def test_a_new_group_carries_what_was_granted_and_its_lrn_partner() -> None:
    plan = lockstep_compare.schedule({("train", 32, True): 2, ("forward", 32, False): 1}, pair=True)
    assert plan == {32: [{("train", True), ("train", False), ("forward", False), ("forward", True)},
                         {("train", True), ("train", False)}]}
    assert lockstep_compare.schedule({("train", 8, False): 1}, pair=False) == {8: [{("train", False)}]}


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def _fake_groups(clock: FakeClock, calls: list[int], check_s: float = 0.0) -> Any:
    """A run_group that stores synthetic groups (numpytwin's ratio far too noisy for +-3%) and
    advances the fake clock 60 s each, plus ``check_s`` in a group whose workers run the in-run check
    (each worker's checks take ``check_s`` in all, side by side)."""
    rng = np.random.default_rng(1)

    def fake_group(contenders: Any, slot: int, session: str, chunk: int, timeout: Any, pair: bool = False,
                   grouped: bool = False) -> list[Any]:
        calls.append(slot)
        checking = [c for c in contenders if c.check]
        clock.now += 60.0 + (check_s if checking else 0.0)
        noise = 1 + 0.3 * rng.standard_normal()  # one group's ratio: far too noisy for +-3%
        out = []
        for c in contenders:
            for cfg in c.configs:
                factor = noise if c.name == "numpytwin" else 1.0
                check = {"passed": True, "seconds": check_s / len(c.configs)} if c.check and check_s else {}
                m = planning.Job(cfg, slot).record("ok", {"samples_ns": [int(1e7 * factor)] * 4,
                                                          "equivalence": check})
                m.extra["lockstep"] = {"session": session, "slot": slot, "group": f"{session}:{slot}",
                                       "contender": c.name}
                storage.append_record(c.run_dir, m.to_dict())
                out.append(m)
        return out
    return fake_group


def _two_cfgs() -> list[RunConfig]:
    """Forward configs of the two test frameworks (BENCH_EXTRA_FRAMEWORKS set first)."""
    return [RunConfig(ModelConfig(fw), mode="forward", batch_size=2, steps=4, target_ci=3.0)
            for fw in ("numpy", "numpytwin")]


def test_the_driver_adds_groups_within_the_budget(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """run_group replaced by one that stores synthetic groups and advances a fake clock 60 s each."""
    clock = FakeClock()
    calls: list[int] = []
    monkeypatch.setenv("BENCH_EXTRA_FRAMEWORKS", TWO)
    monkeypatch.setattr(lockstep_compare, "run_group", _fake_groups(clock, calls))
    cfgs = _two_cfgs()
    said: list[str] = []
    lockstep_compare.execute(tmp_path, cfgs, rounds=3, timeout=None, pair=False, target_pct=3.0, budget_s=600,
                             max_groups=30, progress=lambda _: None, after_each=lambda: None, say=said.append,
                             clock=clock)
    assert calls[:3] == [0, 1, 2] and 3 < len(calls) <= 10  # the first pass, then what 10 minutes pay for
    assert clock.now <= 600 + 60
    assert said[0].startswith("plan: 3 lockstep groups first, 2 workers each")
    assert any("more group(s)" in s for s in said)
    assert "budget" in said[-1]  # it stopped because the time ran out, and says so
    recs = storage.read_records(tmp_path)
    stop = [r for r in recs if r.get("kind") == "stop_rule"]
    assert len(stop) == 1 and stop[0]["reason"] == lockstep_ratios.BUDGET and stop[0]["budget_min"] == 10
    assert stop[0]["wide"] == ["forward batch 2"] and stop[0]["groups_run"] == len(calls)
    # every report of the folder names the reason beside the ratio still wider than the target
    folder = report.read(tmp_path)
    wide = [r for r in folder.rows.frameworks if r["framework"] == "numpytwin"][0]
    assert wide["within_target"] is False
    reason = (f"±{wide['half_width_pct']:.1f}% is wider than ±3%: the 10-min --budget was spent, at {len(calls)} "
              "groups; about ")
    assert wide["wide_reason"].startswith(reason)
    console = Console(record=True, width=300)
    lockstep_report.framework_table(folder.rows.frameworks, console)
    assert f"numpytwin / numpy, forward batch 2 LRN off: {reason}" in console.export_text()
    page = html_pages.run_page(folder, "t")
    assert any(reason in cell for v in page.verdicts for row in v.rows for cell in row)


def test_the_first_pass_estimate_leaves_out_the_checks_only_group_one_runs(tmp_path: Path,
                                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    """Group 1's workers also run the in-run checks (200 s each, side by side): the first group takes 260 s,
    and the two groups after it 60 s each, so the first pass takes 260 + 2 x 60 = 380 s = 6.3 min."""
    clock = FakeClock()
    calls: list[int] = []
    monkeypatch.setenv("BENCH_EXTRA_FRAMEWORKS", TWO)
    monkeypatch.setattr(lockstep_compare, "run_group", _fake_groups(clock, calls, check_s=200.0))
    said: list[str] = []
    lockstep_compare.execute(tmp_path, _two_cfgs(), rounds=3, timeout=None, pair=False, target_pct=3.0,
                             budget_s=3600, max_groups=3, progress=lambda _: None, after_each=lambda: None,
                             say=said.append, clock=clock, started=0.0)
    assert calls == [0, 1, 2] and clock.now == 380.0
    assert said[1] == ("first group took 260 s (200 s of it the in-run checks, once a run): the first pass of 3 "
                       "groups takes about 6.3 min")


def test_the_budget_counts_from_the_first_measurement(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """500 s of a 600 s budget went to what ran before the groups (the layer benchmark): the first pass
    still runs whole, says it will end past the budget, and no group is added."""
    clock = FakeClock()
    clock.now = 500.0
    calls: list[int] = []
    monkeypatch.setenv("BENCH_EXTRA_FRAMEWORKS", TWO)
    monkeypatch.setattr(lockstep_compare, "run_group", _fake_groups(clock, calls))
    said: list[str] = []
    lockstep_compare.execute(tmp_path, _two_cfgs(), rounds=3, timeout=None, pair=False, target_pct=3.0, budget_s=600,
                             max_groups=30, progress=lambda _: None, after_each=lambda: None, say=said.append,
                             clock=clock, started=0.0)
    assert calls == [0, 1, 2]
    assert said[0].endswith("until 10 min from the first measurement (1.7 min left)")
    assert said[1] == ("first group took 60 s: the first pass of 3 groups takes about 3.0 min; that is past the "
                       "10-min --budget (the first pass always runs: each interval needs its --rounds groups), so "
                       "the run ends about 11.3 min after its first measurement")  # 500 + 60 + 2 x 60 s
    stop = [r for r in storage.read_records(tmp_path) if r.get("kind") == "stop_rule"]
    assert [(r["reason"], r["groups_run"]) for r in stop] == [(lockstep_ratios.BUDGET, 3)]


def test_each_wide_ratio_names_why() -> None:
    """The reason follows the stop rule's record; an LRN slowdown gets its width and the same reason."""
    fw = [{"framework": "b", "within_target": False, "clusters": "", "half_width_pct": 6.0, "groups": 4},
          {"framework": "c", "within_target": False, "clusters": "2 clusters", "half_width_pct": 9.0, "groups": 4},
          {"framework": "a", "within_target": True, "clusters": "", "half_width_pct": 1.0, "groups": 4}]
    lrn = [{"slowdown": 1.32, "ci_low": 1.25, "ci_high": 1.39, "processes": 4},
           {"slowdown": 2.0, "ci_low": 1.98, "ci_high": 2.02, "processes": 4}]
    lockstep_ratios.name_wide(fw, lrn, 3.0, {"reason": lockstep_ratios.BUDGET, "budget_min": 4.0})
    assert fw[0]["wide_reason"].startswith("±6.0% is wider than ±3%: the 4-min --budget was spent, at 4 groups; "
                                           "about ")
    assert fw[1]["wide_reason"].startswith("±9.0% is wider")  # a cluster note never stands in for the reason
    assert "wide_reason" not in fw[2]
    assert math.isclose(lrn[0]["half_width_pct"], 100 * (1.39 / 1.32 - 1)) and lrn[0]["within_target"] is False
    assert lrn[0]["wide_reason"].startswith("±5.3% is wider than ±3%: the 4-min --budget was spent, at 4 groups")
    assert lrn[1]["within_target"] is True and "wide_reason" not in lrn[1]
    capped = lockstep_ratios.wide_reason({"reason": lockstep_ratios.MAX_GROUPS, "max_groups": 12}, 4.0, 12, 3.0)
    assert "--max-rounds (12 groups) was reached, at 12 groups" in capped
    assert "no stop rule ran" in lockstep_ratios.wide_reason(None, 4.0, 3, 3.0)
    zero = lockstep_ratios.wide_reason({"reason": lockstep_ratios.BUDGET, "budget_min": 0.0}, 4.0, 3, 3.0)
    assert "--budget 0 asked for the first pass only, at 3 groups" in zero
    # the widest LRN slowdown of a (mode, batch) is what the stop rule sees for its LRN-on variant
    widths = lockstep_ratios.lrn_widths([{**lrn[0], "mode": "forward", "batch_size": 8},
                                         {**lrn[1], "mode": "forward", "batch_size": 8}])
    assert list(widths) == [("forward", 8, True)] and math.isclose(widths[("forward", 8, True)].half_pct,
                                                                   lrn[0]["half_width_pct"])


def _bench(*argv: str, timeout: float = 900) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "BENCH_EXTRA_FRAMEWORKS": TWO, "COLUMNS": "200",
           "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}
    return subprocess.run([sys.executable, "-m", "bench", *argv], cwd=ROOT, capture_output=True, text=True,
                          timeout=timeout, env=env)


def test_bad_method_options_are_one_line() -> None:
    out = _bench("compare", "--frameworks", "numpy", "numpytwin", "--method", "independent", "--budget", "2")
    assert out.returncode == 2 and out.stderr.count("\n") == 1 and "--budget has no effect" in out.stderr
    out = _bench("compare", "--frameworks", "numpy", "numpytwin", "--budget", "-1")
    assert out.returncode == 2 and "invalid --budget '-1'" in out.stderr
    out = _bench("compare", "--frameworks", "numpy", "numpytwin", "--executor", "ray")
    assert out.returncode == 2 and "with --method lockstep" in out.stderr


def test_compare_in_lockstep_end_to_end(tmp_path: Path) -> None:
    """Two workers alive at once, each holding train and forward; the table says lockstep and groups."""
    out = _bench("compare", "--frameworks", "numpy", "numpytwin", "--mode", "both", "--batch-size", "2", "--steps",
                 "3", "--warmup", "0", "--rounds", "2", "--budget", "0", "--data", "synthetic", "--out",
                 str(tmp_path))
    assert out.returncode == 0, out.stdout + out.stderr
    assert "plan: 2 lockstep groups first, 2 workers each" in out.stdout
    assert "Frameworks side by side, in lockstep" in out.stdout
    ms = records.measurements(storage.read_records(tmp_path))
    assert len(ms) == 8 and all(m.ok and len(m.samples_ns) == 3 for m in ms)  # 2 groups x 2 fws x 2 modes
    assert {m.extra["lockstep"]["group"].split(":")[1] for m in ms} == {"0", "1"}
    assert all(m.extra["chunks"] == 3 for m in ms)  # one step per turn
    assert all("interference" in m.extra or sys.platform != "linux" for m in ms)
    with open(tmp_path / "framework_comparison.csv") as fh:
        rows = list(csv.DictReader(fh))
    assert {r["mode"] for r in rows} == {"train", "forward"} and all(r["groups"] == "2" for r in rows)
    assert all(r["ci_method"] == lockstep_ratios.METHOD for r in rows)


def test_the_independent_method_stays_available(tmp_path: Path) -> None:
    out = _bench("compare", "--frameworks", "numpy", "numpytwin", "--method", "independent", "--mode", "forward",
                 "--batch-size", "2", "--steps", "3", "--max-steps", "3", "--warmup", "0", "--rounds", "2",
                 "--max-rounds", "2", "--data", "synthetic", "--out", str(tmp_path))
    assert out.returncode == 0, out.stdout + out.stderr
    assert "Frameworks side by side (ratio to the fastest" in out.stdout and "in lockstep" not in out.stdout
    assert not any(r.get("lockstep") for r in storage.read_records(tmp_path))  # no lockstep group stamped
    with open(tmp_path / "framework_comparison.csv") as fh:
        assert {r["ci_method"] for r in csv.DictReader(fh)} == {"Welch t over process estimates"}


def test_a_worker_holding_several_configs_stamps_each_with_its_code_and_identity() -> None:
    """What a lockstep worker records once (fingerprint, code, identity, environment) belongs to every
    config it measured, so resume's code check and the summary's keep-apart rule see each of them."""
    from bench.execution import lockstep
    from bench.execution.runner import Outcome
    from bench.worker import process

    fields = process.code_fields({"task": "lockstep", "params": {"configs": [{"model": {"framework": "torch"}}]}},
                                 "lockstep")
    assert fields["fingerprint"] and "impls.torch_alexnet" in fields["code"]
    out = Outcome("ok", {"variants": [{"samples_ns": [1]}, {"samples_ns": [2]}], "identity": {"host": "h"},
                         "worker_env": {"OMP_NUM_THREADS": "2"}, **fields})
    variants = lockstep._variant_results(out, 2)
    assert all(v["fingerprint"] == fields["fingerprint"] and v["identity"] == {"host": "h"} for v in variants)
    assert [v["samples_ns"] for v in variants] == [[1], [2]]


class _CountingAdapter:
    """Counts the steps a lockstep worker takes (the worker task needs nothing else of a framework)."""

    calls: list[str] = []
    can_reset_peak = False

    def __init__(self, model: Any) -> None:
        self.model = model

    def prepare(self, x: Any, y: Any) -> Any:
        return (x, y)

    def synchronize(self) -> None:
        pass

    def forward_step(self, batch: Any) -> None:
        self.calls.append("forward")

    def train_step(self, batch: Any) -> float:
        self.calls.append("train")
        return 0.5

    def loss_value(self, out: Any) -> float:
        return float(out)

    def reset_peak_memory(self) -> None:
        pass

    def memory(self) -> dict[str, Any]:
        return {}

    def versions(self) -> dict[str, str]:
        return {}

    def describe(self) -> dict[str, str]:
        return {}


def test_a_lockstep_worker_warms_up_as_bench_run_does(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Before it says ready, a lockstep worker takes the compile call and --warmup steps per config, as
    ``bench run`` does (no extra step), and then only the steps the parent asks for."""
    import socket
    import threading

    from bench.core.channel import Channel
    from bench.worker.tasks import lockstep as task

    monkeypatch.setattr(task.contract, "adapter_class", lambda name: _CountingAdapter)
    # a counting stand-in has no model to check: the in-run equivalence check (after the timed steps) is
    # tested with real models in test_inrun_equivalence.py
    monkeypatch.setattr(task.equivalence_check, "check", lambda adapter, mode, build: {"passed": True})
    _CountingAdapter.calls = []
    cfgs = [RunConfig(model=ModelConfig(framework="torch"), mode=m, batch_size=2, steps=3, warmup=4,
                      data="synthetic") for m in ("forward", "train")]
    mine, theirs = socket.socketpair()
    result: dict[str, Any] = {}
    worker = threading.Thread(target=lambda: result.update(task.run(
        {"fd": theirs.fileno(), "configs": [c.to_minimal_dict() for c in cfgs]}, tmp_path)))
    worker.start()
    parent = Channel(mine)
    assert parent.recv(60) == {"ready": True}
    assert _CountingAdapter.calls == ["forward"] * 5 + ["train"] * 5  # the compile call and 4 warm-up steps each
    for v in (0, 1):
        for _ in range(3):
            parent.send({"steps": 1, "variant": v})
            parent.recv(60)
    parent.send({"stop": True})
    worker.join(60)
    assert not worker.is_alive()
    assert [len(r["samples_ns"]) for r in result["variants"]] == [3, 3]
    assert _CountingAdapter.calls[10:] == ["forward"] * 3 + ["train"] * 3 + ["train"]  # the final loss's step


def test_a_config_refused_in_its_first_group_gets_no_ratio_from_the_later_ones() -> None:
    """The in-run check runs once a run, in a config's first group: jax refused there (not equivalent) must
    not get a ratio, nor be the fastest, from groups 2 and 3, whose workers ran no check."""
    recs = _groups(0.8, 3)  # jax 0.8x torch: it would be the fastest
    first_jax = next(r for r in recs if r["framework"] == "jax" and r["lockstep"]["slot"] == 0)
    first_jax.update(status=records.NOT_EQUIVALENT, samples_ns=[])
    rows = {r["framework"]: r for r in lockstep_ratios.framework_rows(recs, target_pct=3.0)}
    assert rows["jax"].get("ratio") is None and rows["jax"]["verdict"].startswith("not equivalent")
    assert rows["torch"]["verdict"] == "fastest"
