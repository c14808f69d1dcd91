"""Process effects named, not averaged away (issue 19 item 3): a gap-based split of per-process
medians and page-fault counts into clusters, on synthetic data, and the note the run table prints."""

from __future__ import annotations

from typing import Any

from bench.analysis import clusters
from bench.core.config import ModelConfig, RunConfig
from bench.execution import planning
from bench.output import lockstep_report


def test_page_fault_clusters_are_split_first() -> None:
    found = clusters.split([12.0, 12.4, 8.1, 8.0], [20_000, 21_000, 0, 3])
    assert [c.by for c in found] == ["page faults", "page faults"]
    low, high = found
    assert low.members == (2, 3) and high.members == (0, 1) and high.page_faults == 20_500
    assert "2 processes at 12.20 ms, 20,500 page faults/step" == high.describe()


def test_a_few_faults_are_no_cluster() -> None:
    assert clusters.split([10.0, 10.1, 10.2], [0, 50, 60]) == []  # below MIN_FAULTS per step
    assert clusters.split([10.0, 10.1, 10.2], [5000, 6000, 7000]) == []  # no tenfold gap


def test_step_time_clusters_need_a_gap_beyond_the_spread() -> None:
    found = clusters.split([10.0, 10.1, 10.2, 12.0, 12.1])
    assert [len(c.members) for c in found] == [3, 2] and found[0].by == "step time"
    assert clusters.split([10.0, 10.5, 11.0, 11.5]) == []  # evenly spread: no gap stands out
    assert clusters.split([10.0, 10.05, 10.6]) == []  # a 5.5% gap: below the minimum separation
    assert clusters.split([10.0, 15.0]) == []  # two processes always have a gap


def _rec(slot: int, ms: float, faults: int) -> dict[str, Any]:
    cfg = RunConfig(ModelConfig("torch"), mode="train", batch_size=32, steps=3)
    result = {"samples_ns": [int(ms * 1e6)] * 3, "page_faults": [faults] * 3}
    return planning.Job(cfg, slot).record("ok", result).to_dict()


class Console:
    def __init__(self) -> None:
        self.lines: list[str] = []

    def print(self, text: str) -> None:
        self.lines.append(text)


def test_the_table_names_each_cluster() -> None:
    # five processes: medians 40, 41, 40.5 | 30, 30.2; their interval's half-width is t(4) x sd / sqrt(5)
    # = 2.776 x 5.53 / 2.236 = 6.87 ms, 18.9% of the 36.34 ms mean: the clusters, 40.5 / 30.1 - 1 = 34.6%
    # apart, lie further apart than the interval reaches, so they are named
    recs = [_rec(0, 40.0, 20_000), _rec(1, 41.0, 19_500), _rec(2, 40.5, 20_500), _rec(3, 30.0, 0), _rec(4, 30.2, 0)]
    con = Console()
    (line,) = lockstep_report.process_notes(recs, con)
    assert "torch train batch 32" in line and "2 clusters by page faults" in line
    assert "2 processes at 30.10 ms, 0 page faults/step" in line and "3 processes at 40.50 ms" in line
    # three processes 40, 41 | 30: half-width t(2) x 6.08 / sqrt(3) = 4.303 x 3.51 = 15.1 ms, 40.8% of 37 ms:
    # the interval already spans the 35% between the clusters, so no note
    assert lockstep_report.process_notes([_rec(0, 40.0, 20_000), _rec(1, 41.0, 19_500), _rec(2, 30.0, 0)],
                                         Console()) == []
    assert lockstep_report.process_notes([_rec(0, 40.0, 0), _rec(1, 40.5, 0)], Console()) == []


def test_a_lockstep_ratio_names_its_clusters_with_each_ones_ratio() -> None:
    from bench.analysis import lockstep_ratios
    from tests.test_lockstep_frameworks import _rec as group_rec

    recs = []
    for g, (slow, faults) in enumerate([(1.5, 20_000), (1.5, 21_000), (1.1, 0), (1.1, 10)]):
        recs += [group_rec("torch", g, [10.0] * 5, faults=[0] * 5),
                 group_rec("jax", g, [10.0 * slow] * 5, faults=[faults] * 5)]
    jax = next(r for r in lockstep_ratios.framework_rows(recs) if r["framework"] == "jax")
    assert jax["verdict"] == "not separable from the fastest"  # the interval's verdict stays; the note is beside it
    assert "2 processes at 11.00 ms, 5 page faults/step: 1.10x" in jax["clusters"]
    assert "2 processes at 15.00 ms, 20,500 page faults/step: 1.50x" in jax["clusters"]
