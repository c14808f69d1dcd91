"""The drift across invocations in ``bench run``'s interval (:mod:`bench.analysis.drift`,
:mod:`bench.store.drift`): earlier run folders beside this one, of the same config, code and host."""

from __future__ import annotations

import math
import os
from pathlib import Path

import numpy as np
import pytest
from rich.console import Console

from bench.analysis import drift as analysis
from bench.analysis import summary
from bench.analysis.intervals import t_quantile
from bench.analysis.stats import CONFIDENCE
from bench.core import storage
from bench.output.tables import runs
from bench.store import drift
from tests.report_fixtures import run_folder


def test_without_earlier_invocations_the_process_interval_stays_and_says_so() -> None:
    d = analysis.across(10.0, 9.5, 10.6, [])
    assert (d.invocations, d.ci_low, d.ci_high, d.spread_pct) == (1, 9.5, 10.6, None)
    assert d.method == analysis.THIS_ONLY


def test_the_interval_is_t_over_the_invocations_log_estimates() -> None:
    """Hand computation (scipy.stats.t.ppf, numpy): this estimate 10, earlier 11, 9, 12;
    logs 2.3025851, 2.3978953, 2.1972246, 2.4849066: sd (ddof=1) s = 0.1238368; t.ppf(0.975, 3) = 3.1824463;
    half = 3.1824463 * 0.1238368 = 0.3941040 (no / sqrt(k): the level a rerun centres on, not the mean's);
    interval centred on this estimate: 10 * exp(-+0.3941040) = [6.7428390, 14.8305483]. (With s / sqrt(4):
    [8.2115, 12.1781].)"""
    d = analysis.across(10.0, 9.9, 10.1, [11.0, 9.0, 12.0])
    assert d.invocations == 4 and d.method == analysis.OVER_INVOCATIONS
    assert (d.ci_low, d.ci_high) == pytest.approx((6.7428390, 14.8305483), rel=1e-6)
    assert d.spread_pct == pytest.approx(12.383682, rel=1e-6) and d.earlier_median == 11.0
    assert (d.process_ci_low, d.process_ci_high) == (9.9, 10.1)


def test_never_narrower_than_the_interval_over_processes() -> None:
    d = analysis.across(10.0, 6.0, 15.0, [10.01, 9.99])
    assert (d.ci_low, d.ci_high) == (6.0, 15.0)


@pytest.mark.parametrize("bad", [[0.0], [float("nan")], [-1.0]])
def test_bad_estimates_are_refused(bad: list[float]) -> None:
    with pytest.raises(ValueError, match="positive and finite"):
        analysis.across(10.0, 9.0, 11.0, bad)


def test_coverage_of_the_level_in_simulated_drifting_invocations() -> None:
    """8 invocations a sequence, each one's level drawn around the machine's (sd 12% between
    invocations, like the 2-core machine's), 3 processes of 2% each: the k-th invocation's interval
    (with the k-1 before it) holds the machine's level in at least 95% of sequences (it errs wide:
    this estimate is one of those its sd is taken over), the process interval alone in far fewer."""
    rng = np.random.default_rng(7)
    held, held_alone, n = 0, 0, 0
    for _ in range(2000):
        levels = 100 * np.exp(rng.normal(0, 0.12, 8))
        ests = []
        for k, level in enumerate(levels):
            procs = level * np.exp(rng.normal(0, 0.02, 3))
            est, sd = procs.mean(), procs.std(ddof=1)
            half = t_quantile(CONFIDENCE, 2) * sd / math.sqrt(3)
            lo, hi = est - half, est + half
            if k >= 2:  # 3 or more invocations
                d = analysis.across(est, lo, hi, ests)
                held += d.ci_low <= 100 <= d.ci_high
                held_alone += lo <= 100 <= hi
                n += 1
            ests.append(est)
    assert 0.95 <= held / n <= 0.995
    assert held_alone / n < 0.3


def _folders(root: Path, scales: list[float]) -> list[Path]:
    out = []
    for i, scale in enumerate(scales):
        d = run_folder(root / f"run-{i}", batches=(32,), seed=i, scale=scale)
        t = 1_000_000 + i
        os.utime(d / storage.RESULTS, (t, t))  # older first
        out.append(d)
    return out


def test_earlier_folders_of_the_same_config_code_and_host_widen_the_interval(tmp_path: Path) -> None:
    *earlier, here = _folders(tmp_path / "reports", [1.0, 1.15, 0.9, 1.05])
    (tmp_path / "reports" / "not-a-run").mkdir()  # no results.jsonl: not an invocation
    rows = summary.summarise(storage.read_records(here))
    pairs = drift.across(here, rows)
    assert len(pairs) == len(rows) == 3  # three frameworks at batch 32
    for row, d in pairs:
        assert d.invocations == 4
        assert d.ci_low < row.median_ci_low_ms and d.ci_high > row.median_ci_high_ms
    drift.write(here, pairs)
    text = (here / drift.DRIFT_CSV).read_text()
    assert text.splitlines()[0].startswith("framework,") and text.count("\n") == 4
    console = Console(record=True, width=200)
    runs.drift_table(pairs, console)
    out = console.export_text()
    assert "Across invocations" in out and "covers this invocation only" not in out


def test_another_config_or_a_broken_folder_is_not_an_earlier_invocation(tmp_path: Path) -> None:
    root = tmp_path / "reports"
    run_folder(root / "other-batch", batches=(64,), seed=1)
    broken = root / "broken"
    broken.mkdir(parents=True)
    (broken / storage.RESULTS).write_text("{not json\n")
    here = run_folder(root / "here", batches=(32,), seed=2)
    pairs = drift.across(here, summary.summarise(storage.read_records(here)))
    assert pairs and all(d.invocations == 1 and d.method == analysis.THIS_ONLY for _, d in pairs)
    console = Console(record=True, width=200)
    runs.drift_table(pairs, console)
    assert "covers this invocation only" in console.export_text()
