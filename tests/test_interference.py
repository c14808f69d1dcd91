"""Interference seen and named (issue 19 item 5): /proc/stat parsed from a fixture, others' CPU worked
out from two snapshots, the flag on a record set and its summary column, and self-contradicting
profile figures turned into warnings."""

from __future__ import annotations

from typing import Any

import pytest

from bench.analysis import attribution, interference, sanity, summary
from bench.core.config import ModelConfig, RunConfig
from bench.execution import planning
from bench.worker import interference as probe
from bench.worker import timing

PROC_STAT = """cpu  10132153 290696 3084719 46828483 16683 0 25195 175 0 0
cpu0 1393280 32966 572056 13343292 6130 0 17875 175 0 0
cpu1 1335474 26356 573102 13316580 3562 0 4120 0 0 0
intr 1462898 0 0
ctxt 1990473
btime 1062191376
"""


def test_proc_stat_is_parsed_from_its_aggregate_line() -> None:
    t = probe.parse_proc_stat(PROC_STAT, ticks_per_s=100)
    assert t is not None
    assert t.busy_s == pytest.approx((10132153 + 290696 + 3084719 + 0 + 25195) / 100)  # no idle, iowait, steal
    assert t.steal_s == pytest.approx(1.75)
    assert probe.parse_proc_stat("intr 1 2\n", 100) is None
    short = probe.parse_proc_stat("cpu 100 0 100 500\n", 100)  # an old kernel's four columns
    assert short is not None and short.busy_s == pytest.approx(2.0) and short.steal_s == 0


def test_others_cpu_is_the_machine_minus_this_process() -> None:
    s = probe.Stretches()
    start = probe.Snapshot(0.0, probe.CpuTimes(100.0, 1.0), own_s=5.0)
    stop = probe.Snapshot(10.0, probe.CpuTimes(115.0, 1.5), own_s=13.0)  # 15 s busy, 8 of them ours
    s.add(start, stop)
    d = s.to_dict()
    assert d["wall_s"] == 10.0 and d["others_cpu_s"] == pytest.approx(7.0) and d["steal_s"] == pytest.approx(0.5)
    s.add(probe.Snapshot(0.0, None, 0.0), stop)  # no /proc/stat: nothing claimed
    assert s.stretches == 1
    assert probe.Stretches().to_dict() == {}


def test_every_timed_stretch_is_recorded() -> None:
    class Idle:
        def train_step(self, batch: Any) -> Any: ...
        def forward_step(self, batch: Any) -> Any: ...
        def synchronize(self) -> None: ...
        def prepare(self, images: Any, labels: Any) -> Any: ...

    c = timing.Counters()
    timing.timed_steps(Idle(), [0], "forward", 3, counters=c)
    timing.timed_steps(Idle(), [0], "forward", 2, counters=c)
    if probe.PROC_STAT.exists():
        assert c.interference.stretches == 2 and c.interference.to_dict()["wall_s"] >= 0


def _measured(others: float | None, steal: float = 0.0) -> dict[str, Any]:
    cfg = RunConfig(ModelConfig("torch"), mode="train", batch_size=8, steps=3)
    result: dict[str, Any] = {"samples_ns": [10_000_000] * 3, "page_faults": [0, 0, 0]}
    if others is not None:
        result["interference"] = {"wall_s": 20.0, "others_cpu_s": 20.0 * others, "steal_s": 20.0 * steal,
                                  "load_avg_1m": 3.5}
    return planning.Job(cfg, 0).record("ok", result).to_dict()


def test_a_row_measured_under_load_is_flagged_with_the_figure() -> None:
    busy, quiet = _measured(0.6), _measured(0.05)
    assert interference.others_share([busy]) == pytest.approx(0.6)
    flag = interference.flagged([busy])
    assert flag is not None and "60% of a core" in flag and "load average up to 3.5" in flag
    assert interference.flagged([quiet]) is None and interference.flagged([_measured(None)]) is None
    (row,) = summary.summarise([busy])
    assert row.others_cpu_pct == pytest.approx(60.0)


def test_the_hypervisors_steal_is_named_in_the_flag() -> None:
    stolen = _measured(0.1, steal=0.2)  # a tenth of a core to other processes, a fifth to other guests
    assert interference.others_share([stolen]) == pytest.approx(0.3)
    assert interference.steal_share([stolen]) == pytest.approx(0.2)
    assert interference.flagged([stolen]) == (
        "measured while other processes and the hypervisor (steal) took 30% of a core on average (20% of a core of "
        "that was steal) (load average up to 3.5)")
    assert interference.flagged([_measured(0.2, steal=0.04)]) is None  # 24%: under the quarter of a core


def test_the_flag_is_in_the_lockstep_verdict() -> None:
    from tests.test_lockstep_frameworks import _rec

    recs = [_rec(fw, g, [10.0 * (1.3 if fw == "jax" else 1)] * 5, others=0.5) for g in range(3)
            for fw in ("torch", "jax")]
    from bench.analysis import lockstep_ratios

    rows = {r["framework"]: r for r in lockstep_ratios.framework_rows(recs)}
    assert "50% of a core" in rows["jax"]["verdict"] and rows["jax"]["others_cpu_pct"] == pytest.approx(50)
    # the fastest row keeps its verdict word (tables and report.html key on it); its figure is in its column
    assert rows["torch"]["verdict"] == "fastest" and rows["torch"]["others_cpu_pct"] == pytest.approx(50)


def test_the_issues_disturbed_profile_is_flagged_not_reported() -> None:
    """bench profile under load: batch-1 step 494 ms, batch 16 240 ms, layers alone 4.6x the step."""
    rec = {"framework": "torch", "status": "ok", "samples_ns": [240_000_000] * 5,
           "tiny_samples_ns": [494_000_000] * 5, "tiny_batch": 1,
           "config": {"mode": "train", "batch_size": 16, "model": {"lrn": False}},
           "isolated": None}
    rows = [{"source": "isolated", "scope": "conv1", "ms": 4.6 * 240.0}]
    s = attribution.summary_row(rec, rows)
    assert s["per_image_ms"] is None and s["fixed_ms"] is None and s["fixed_share_pct"] is None
    assert s["isolated_sum_ms"] is None
    assert "per-image cost -16.93 ms is negative" in s["warnings"]
    assert "fixed cost 213% of the step" in s["warnings"] and "sum to 4.6x the whole step" in s["warnings"]


def test_a_sane_profile_keeps_its_figures() -> None:
    row = {"step_ms": 100.0, "tiny_step_ms": 20.0, "per_image_ms": 5.0, "fixed_ms": 15.0, "fixed_share_pct": 15.0,
           "isolated_sum_ms": 120.0, "isolated_remainder_ms": -20.0}
    assert sanity.checked(row) == {**row, "warnings": ""}


def test_the_lrn_pair_returns_the_counters_it_was_given() -> None:
    """pair.interleave used to fill counters of its own, so lrn_pair records had no page faults and no
    interference: the caller's are the ones it must fill."""
    from bench.worker.tasks import pair
    from tests.test_protocol import _cfg, _pair

    variants, _ = _pair([100], [300])
    counters = {lrn: timing.Counters() for lrn in variants}
    pair.interleave(variants, {False: ["x"], True: ["y"]}, _cfg(steps=5), chunk=5, clock=variants[False].clock,
                    counters=counters)
    assert all(len(c.page_faults) == 5 for c in counters.values())
