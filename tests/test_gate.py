"""The regression gate on known sample sets: what it calls a regression, and how often it is wrong.

The simulated gates have the two-level structure measured on the 2-core development machine (24 A/A
lockstep pairs of torch train steps at batch 128): the two sides of a pair differ by ~2.5% (sd of
the log ratio of their medians), steps jitter ~2% with rare 2-5x stalls, and the machine's speed
moves both sides of a pair together.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from bench.analysis import gate
from bench.analysis.gate import Series, Settings
from bench.core.errors import UsageError

PROCESS_SD = 0.018  # each side's own process effect: sqrt(2) x 1.8% = the 2.5% measured between the sides
SHARED_SD = 0.05  # the machine's speed during a pair, common to both sides of it
STEP_SD = 0.02


def _process(rng: np.random.Generator, center: float, steps: int) -> list[float]:
    x = center * (1 + rng.normal(0, STEP_SD, steps))
    stalls = rng.random(steps) < 0.03
    x[stalls] *= rng.uniform(2, 5, stalls.sum())
    return x.tolist()


def _pairs(rng: np.random.Generator, slowdown: float = 1.0, pairs: int = 6, steps: int = 20,
           rows: int = 1) -> tuple[list[Series], list[Series]]:
    base, cand = [], []
    for row in range(rows):
        key = (("benchmark", f"row{row}"),)
        ga, gb = {}, {}
        for i in range(pairs):
            shared = 300 * math.exp(rng.normal(0, SHARED_SD))
            ga[f"s:{i}"] = _process(rng, shared * math.exp(rng.normal(0, PROCESS_SD)), steps)
            gb[f"s:{i}"] = _process(rng, slowdown * shared * math.exp(rng.normal(0, PROCESS_SD)), steps)
        base.append(Series(key, ga, "cpu X", paired=True))
        cand.append(Series(key, gb, "cpu X", paired=True))
    return base, cand


def _verdicts(n: int, seed: int, slowdown: float = 1.0) -> list[str]:
    rng = np.random.default_rng(seed)
    return [gate.check(*_pairs(rng, slowdown)).rows[0].verdict for _ in range(n)]


def test_a_planted_10_percent_slowdown_is_a_regression() -> None:
    verdicts = _verdicts(200, seed=1, slowdown=1.10)
    assert verdicts.count("regression") / len(verdicts) >= 0.90


def test_identical_distributions_are_not() -> None:
    verdicts = _verdicts(400, seed=2)
    assert verdicts.count("regression") / len(verdicts) <= 0.05
    assert verdicts.count("no change") / len(verdicts) >= 0.80  # and the gate says so, not just 'inconclusive'


def test_a_shift_inside_the_noise_floor_is_never_a_regression() -> None:
    rng = np.random.default_rng(3)
    key = (("benchmark", "quiet"),)
    for shift in (1.0, 1.01, 1.02, 1.029):
        base = Series(key, {f"s:{i}": [100.0 + 0.01 * j for j in range(20)] for i in range(8)}, "cpu", True)
        cand = Series(key, {f"s:{i}": [shift * (100 + rng.normal(0, 0.05)) for _ in range(20)] for i in range(8)},
                      "cpu", True)
        row = gate.check([base], [cand]).rows[0]
        assert row.verdict == "no change", (shift, row)
        if shift >= 1.01:  # measured precisely enough to be significant, and still not a regression
            assert row.p_adjusted < 0.05 and "inside the 3% floor" in row.reason


def test_the_correction_holds_the_family_wise_rate_over_many_unchanged_rows() -> None:
    rng = np.random.default_rng(4)
    alarms = raw_alarms = 0
    gates = 150
    for _ in range(gates):
        base, cand = _pairs(rng, rows=20)
        result = gate.check(base, cand, Settings(noise_floor=0.0, detect=0.10))  # the floor off: the test alone
        alarms += bool(result.regressions)
        raw_alarms += any(r.p_value < 0.05 and r.ratio > 1 for r in result.rows)
    assert alarms / gates <= 0.06  # family-wise, with 20 rows
    assert raw_alarms / gates > 0.3  # what uncorrected per-row tests would have done


def test_holm_adjusted_p_values() -> None:
    assert gate._holm([0.01, 0.04, 0.03, 0.005]) == pytest.approx([0.03, 0.06, 0.06, 0.02])


def test_the_detectable_slowdown_is_caught_with_about_80_percent_power() -> None:
    rng = np.random.default_rng(5)
    base, cand = _pairs(rng)
    row = gate.check(base, cand).rows[0]
    assert row.detectable_pct is not None and 5 < row.detectable_pct < 20
    hits = sum(bool(gate.check(*_pairs(rng, slowdown=1 + row.detectable_pct / 100)).regressions) for _ in range(200))
    assert 0.6 <= hits / 200 <= 0.95  # the quoted power (80%) for the typical spread


def test_rows_in_one_side_only_are_listed() -> None:
    rng = np.random.default_rng(6)
    base, cand = _pairs(rng, rows=3)
    result = gate.check(base[:2], [cand[0], cand[2]])
    assert [r.label for r in result.rows] == ["row0"]
    assert result.only_baseline == ["row1"] and result.only_candidate == ["row2"]


def test_bad_input_is_refused() -> None:
    rng = np.random.default_rng(7)
    base, cand = _pairs(rng)
    with pytest.raises(UsageError, match="no benchmark in common"):
        gate.check(base, [Series((("benchmark", "other"),), cand[0].groups, "cpu X")])
    moved = Series(cand[0].key, cand[0].groups, "NVIDIA H200", True)
    with pytest.raises(UsageError, match="different devices.*cpu X vs NVIDIA H200"):
        gate.check(base, [moved])
    with pytest.raises(UsageError, match="--detect"):
        Settings(noise_floor=0.1, detect=0.05)


def test_unpaired_processes_use_welch_and_one_process_is_inconclusive() -> None:
    rng = np.random.default_rng(8)
    base, cand = _pairs(rng, slowdown=1.3, pairs=6)
    unpaired = [Series(s.key, {f"b{i}": g for i, g in enumerate(s.groups.values())}, s.device) for s in base]
    row = gate.check(unpaired, cand).rows[0]
    assert row.method == "Welch t over process estimates" and row.verdict == "regression"
    one = [Series(s.key, {"only": next(iter(s.groups.values()))}, s.device) for s in base]
    row = gate.check(one, cand).rows[0]
    assert row.verdict == "inconclusive" and "one process" in row.reason and row.detectable_pct is None
