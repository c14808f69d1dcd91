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
from bench.analysis.intervals import LogRatio
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


SPEEDS = (1.0, 1.1, 0.95, 1.05)  # the machine's speed during each of 4 lockstep pairs, shared by both sides


def _hand_row(name: str, ratios: tuple[float, ...]) -> tuple[Series, Series]:
    """One row of 4 lockstep pairs: base steps 100s, 101s, 99s in pair i (median 100s); the candidate's
    steps are the base's times ratios[i], so every step log ratio of pair i is ln ratios[i]."""
    key = (("benchmark", name),)
    base = {f"s:{i}": [100 * s, 101 * s, 99 * s] for i, s in enumerate(SPEEDS)}
    cand = {f"s:{i}": [r * x for x in base[f"s:{i}"]] for i, r in enumerate(ratios)}
    return Series(key, base, "cpu X", paired=True), Series(key, cand, "cpu X", paired=True)


def test_a_hand_built_gate_row_by_row() -> None:
    """Three rows (m = 3), 4 lockstep pairs each; hand computation (scipy.stats.t.ppf / t.sf, numpy).
    Bonferroni: confidence 1 - 0.05/3 = 0.9833333, t.ppf(0.9916667, 3) = 4.8566573; t.ppf(0.8, 3) = 0.9784723.
    slow  ratios 1.20 1.25 1.15 1.22: mean log 0.1860195 -> ratio 1.2044457; sd 0.0351012, se = sd/2 = 0.0175506;
          interval exp(0.1860195 -+ 4.8566573 * 0.0175506) = [1.1060358, 1.3116116];
          p = 2 t.sf(0.1860195/0.0175506, 3) = 0.00179442;
          detectable = 1.03 * exp((4.8566573 + 0.9784723) * 0.0175506) - 1 = 14.107263%.
    edge  ratios 1.10 1.15 1.07 1.16: mean log 0.1127877 -> 1.1193943; sd 0.0380323, se 0.0190161;
          interval [1.0206430, 1.2277001]; p = 0.00957863; detectable 15.087265%. Its 95% interval (no Bonferroni,
          t.ppf(0.975, 3) = 3.1824463) would be [1.0536600, ...], clearing the 3% floor: a regression.
    flat  ratios 1.01 0.99 1.02 1.00: mean log 0.0049257 -> 1.0049378; sd 0.0128467, se 0.0064234;
          interval [0.9740717, 1.0367820]; p = 0.4990007; detectable 6.933816%.
    Holm: sorted p 0.00179442 x 3 = 0.00538327; 0.00957863 x 2 = 0.0191573; 0.4990007 x 1 = 0.4990007 (Bonferroni
          would give the edge row 0.0287359).
    Verdicts: slow p_adj < 0.05 and 1.1060 > 1.03: regression. edge significant but 1.0206 < 1.03, and its upper
          end 1.2277 > 1.10: inconclusive. flat not significant, [0.974, 1.037] inside [1/1.1, 1.1]: no change.
    Estimates: base mean of medians 100 x mean(SPEEDS) = 102.5; slow candidate mean(100 s_i r_i) = 123.7125."""
    rows = [_hand_row("slow", (1.20, 1.25, 1.15, 1.22)), _hand_row("edge", (1.10, 1.15, 1.07, 1.16)),
            _hand_row("flat", (1.01, 0.99, 1.02, 1.00))]
    result = gate.check([b for b, _ in rows], [c for _, c in rows])
    slow, edge, flat = result.rows
    assert result.tested == 3 and all(r.confidence == pytest.approx(1 - 0.05 / 3, rel=1e-12) for r in result.rows)
    assert all(r.method == "t over lockstep pairs" and r.units == 4 for r in result.rows)
    assert (slow.baseline_ms, slow.candidate_ms) == pytest.approx((102.5, 123.7125), rel=1e-12)
    want = {  # ratio, ci_low, ci_high, p, p_adjusted, detectable %
        "slow": (1.2044457, 1.1060358, 1.3116116, 0.00179442, 0.00538327, 14.107263),
        "edge": (1.1193943, 1.0206430, 1.2277001, 0.00957863, 0.0191573, 15.087265),
        "flat": (1.0049378, 0.9740717, 1.0367820, 0.4990007, 0.4990007, 6.933816),
    }
    for row in result.rows:
        got = (row.ratio, row.ci_low, row.ci_high, row.p_value, row.p_adjusted, row.detectable_pct)
        assert got == pytest.approx(want[row.label], rel=1e-5), row.label
    assert slow.verdict == "regression" and slow.reason == "20.4% slower; the interval clears the 3% floor"
    assert edge.verdict == "inconclusive"
    assert edge.reason == "the interval allows up to 23% slower; it would catch 15% or more: add pairs or processes"
    assert flat.verdict == "no change" and flat.reason == "a slowdown of 10% or more is ruled out"
    assert [r.label for r in result.regressions] == ["slow"] and result.exit_code == 1


def test_a_hand_built_welch_row() -> None:
    """Unpaired processes: Welch's t on the two sides' estimates, one row (m = 1, confidence 0.95).
    Process medians a = 10, 11, 12 and b = 20, 24, 30, 22: ratio 24/11 = 2.1818182, log 0.7801586;
    va = 1/3/121 = 0.0027548, vb = 18.666667/4/576 = 0.0081019, se 0.1041954, df 4.5908294;
    t.ppf(0.975, 4.5908294) = 2.6410457: interval [1.6569422, 2.8729612]; p = 0.000968869 (Holm over one: the same);
    t.ppf(0.8, 4.5908294) = 0.9270890: detectable = 1.03 * exp((2.6410457 + 0.9270890) * 0.1041954) - 1 = 49.382789%."""
    key = (("benchmark", "welch"),)
    base = Series(key, {f"b{i}": [v, v, 5 * v] for i, v in enumerate((10.0, 11.0, 12.0))}, "cpu X")
    cand = Series(key, {f"c{i}": [v, 3 * v, v] for i, v in enumerate((20.0, 24.0, 30.0, 22.0))}, "cpu X")
    row = gate.check([base], [cand]).rows[0]
    assert row.method == "Welch t over process estimates" and row.units == 3 and row.confidence == 0.95
    got = (row.ratio, row.ci_low, row.ci_high, row.p_value, row.p_adjusted, row.detectable_pct)
    assert got == pytest.approx((2.1818182, 1.6569422, 2.8729612, 0.000968869, 0.000968869, 49.382789), rel=1e-5)
    assert row.verdict == "regression"


def test_detectable_is_the_slowdown_whose_lower_bound_clears_the_floor_with_the_power() -> None:
    """LogRatio(se 0.02, df 5) at confidence 0.95, floor 3%, power 80%: t.ppf(0.975, 5) = 2.5705818,
    t.ppf(0.8, 5) = 0.9195438; 1.03 * exp((2.5705818 + 0.9195438) * 0.02) - 1 = 10.4465%. At 99%:
    t.ppf(0.995, 5) = 4.0321430: 1.03 * exp((4.0321430 + 0.9195438) * 0.02) - 1 = 13.7227%. No se: None."""
    lr = LogRatio(0.0, 0.02, 5, 6, "hand")
    assert gate.detectable(lr, 0.95, 0.03) == pytest.approx(0.104465, rel=1e-4)
    assert gate.detectable(lr, 0.99, 0.03) == pytest.approx(0.137227, rel=1e-4)
    assert gate.detectable(LogRatio(0.0, math.nan, math.nan, 1, "hand"), 0.95, 0.03) is None


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
