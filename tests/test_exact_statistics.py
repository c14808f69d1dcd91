"""Hand-computed cases for the verdicts and intervals that have no other home: parity's equivalence test
at the edges of its margin, and the framework ratios of lockstep groups (``bench compare``) with the width
they hand to the stop rule. Each expected number is written out from the formula and scipy's t quantiles
(scipy.stats.t.ppf), never taken from the code's output; the intervals of bench.analysis.intervals, the
gate, drift and exports are pinned the same way in their own test files."""

from __future__ import annotations

from typing import Any

import pytest

from bench.analysis import lockstep_ratios, parity_stats
from bench.analysis.lockstep_ratios import RatioWidth
from bench.core.config import ModelConfig, RunConfig
from bench.execution import planning

MARGIN = 0.5  # pp
# Three seeds, differences m - 0.1, m, m + 0.1 pp: sd 0.1, se = 0.1 / sqrt(3) = 0.0577350;
# t.ppf(0.95, 2) = 2.9199856 -> the 90% half-width (TOST at alpha 0.05) 0.1685854;
# t.ppf(0.975, 2) = 4.3026527 -> the 95% half-width 0.2484138; t.ppf(0.8, 2) = 1.0606602.
# PASS needs |m| + 0.1685854 < 0.5, i.e. |m| < 0.3314146; FAIL needs |m| - 0.1685854 > 0.5, i.e. |m| > 0.6685854.
HALF90, HALF95 = 0.1685854, 0.2484138


def _parity(framework: str, seed: int, accs: list[float]) -> dict[str, Any]:
    """A finished parity worker: evaluations at steps 70, 80, ... (the last quarter: step >= 75)."""
    evals = [{"step": 70 + 10 * i, "test_acc": a} for i, a in enumerate(accs)]
    return {"kind": "parity", "status": "ok", "framework": framework, "seed": seed, "evals": evals}


def _three_seeds(m: float) -> list[dict[str, Any]]:
    """alpha - beta = m - 0.1, m, m + 0.1 pp over seeds 0, 1, 2 (one evaluation each: the final accuracy)."""
    recs = []
    for seed, d in enumerate((m - 0.1, m, m + 0.1)):
        recs += [_parity("alpha", seed, [98.0 + d]), _parity("beta", seed, [98.0])]
    return recs


@pytest.mark.parametrize(("m", "verdict", "ci90"), [
    # -0.325: |m| + 0.1685854 = 0.4935854 < 0.5, just inside (t95 0.5734, sd for se 0.6170: not PASS)
    pytest.param(-0.325, "PASS", (-0.4935854, -0.1564146), id="just-inside-pass"),
    # 0.34: 0.34 + 0.1685854 = 0.5085854 > 0.5, just outside (z, 1.6448536 x se = 0.0949660, would call it PASS)
    pytest.param(0.34, "INCONCLUSIVE", (0.1714146, 0.5085854), id="just-outside-pass"),
    # 0.675: 0.675 - 0.1685854 = 0.5064146 > 0.5: significantly beyond the margin
    pytest.param(0.675, "FAIL", (0.5064146, 0.8435854), id="just-beyond-fail"),
    # 0.66: 0.66 - 0.1685854 = 0.4914146 < 0.5 (z would have 0.66 - 0.0949660 = 0.565 > 0.5: FAIL)
    pytest.param(0.66, "INCONCLUSIVE", (0.4914146, 0.8285854), id="just-short-of-fail"),
    # the mirror images: the margin holds on |difference| (a signed test would call -0.34 PASS, -0.675 not FAIL)
    pytest.param(-0.34, "INCONCLUSIVE", (-0.5085854, -0.1714146), id="negative-just-outside-pass"),
    pytest.param(-0.675, "FAIL", (-0.8435854, -0.5064146), id="negative-just-beyond-fail"),
])
def test_parity_verdict_at_the_edges_of_the_margin(m: float, verdict: str, ci90: tuple[float, float]) -> None:
    """The 95% interval is m -+ 0.2484138; the smallest detectable difference (4.3026527 + 1.0606602) x 0.0577350
    = 0.3096510 pp; an inconclusive pair needs max(3 + 1, ceil((z 1.6448536 x 0.1 / ||m| - 0.5|)^2) + 1) = 4
    seeds (|m| - 0.5 is 0.16 either side: (0.1028)^2 -> 1 + 1 = 2, so n + 1)."""
    (row,) = parity_stats.pair_rows(_three_seeds(m), MARGIN)
    assert (row["a"], row["b"], row["seeds"], row["noise_from"]) == ("alpha", "beta", 3, "3 seeds")
    assert row["diff_pp"] == pytest.approx(m, abs=1e-9) and row["sd_pp"] == pytest.approx(0.1, rel=1e-9)
    assert row["verdict"] == verdict and row["margin_pp"] == MARGIN
    assert (row["ci90_low_pp"], row["ci90_high_pp"]) == pytest.approx(ci90, abs=5e-7)
    assert (row["ci_low_pp"], row["ci_high_pp"]) == pytest.approx((m - HALF95, m + HALF95), abs=5e-7)
    assert row["detectable_pp"] == pytest.approx(0.3096510, rel=1e-6)
    assert row["seeds_needed"] == (4 if verdict == "INCONCLUSIVE" else None)


def test_parity_overall_verdict_follows_the_pairs() -> None:
    summary = [{"framework": "alpha", "status": "ok", "seeds": 3}, {"framework": "beta", "status": "ok", "seeds": 3}]
    for m, want in ((-0.325, "PASS"), (0.34, "INCONCLUSIVE"), (0.675, "FAIL")):
        assert parity_stats.verdict(summary, parity_stats.pair_rows(_three_seeds(m), MARGIN), 98.0, MARGIN)[0] == want


def test_parity_with_one_seed_takes_the_spread_between_evaluations_and_stays_inconclusive() -> None:
    """One seed, evaluations at 70 (outside the last quarter), 80, 90, 100: alpha 98.1, 98.3, 98.2, beta 98.0;
    final difference mean(98.1, 98.3, 98.2) - 98.0 = 0.2 pp; the evaluation-to-evaluation differences 0.1, 0.3,
    0.2 give sd 0.1 with df 2, se = 0.1 / sqrt(1); 90%: 0.2 -+ 2.9199856 x 0.1 = [-0.0919986, 0.4919986];
    seeds needed at margin 0.25: ceil((1.6448536 x 0.1 / 0.05)^2 = 10.82) + 1 = 12."""
    recs = [_parity("alpha", 0, [50.0, 98.1, 98.3, 98.2]), _parity("beta", 0, [50.0, 98.0, 98.0, 98.0])]
    (row,) = parity_stats.pair_rows(recs, 0.25)
    assert row["verdict"] == "INCONCLUSIVE" and row["seeds"] == 1 and row["noise_from"].startswith("1 seed")
    assert row["diff_pp"] == pytest.approx(0.2, abs=1e-9) and row["sd_pp"] == pytest.approx(0.1, rel=1e-9)
    assert (row["ci90_low_pp"], row["ci90_high_pp"]) == pytest.approx((-0.0919986, 0.4919986), abs=5e-7)
    assert row["seeds_needed"] == 12


def _lockstep(fw: str, group: int, samples_ms: list[float]) -> dict[str, Any]:
    cfg = RunConfig(ModelConfig(fw), mode="forward", batch_size=2, steps=len(samples_ms))
    m = planning.Job(cfg, group).record("ok", {"samples_ns": [round(s * 1e6) for s in samples_ms]})
    m.extra["lockstep"] = {"session": "s", "slot": group, "group": f"s:{group}", "contender": fw}
    return m.to_dict()


def test_lockstep_framework_row_is_the_median_step_ratio_with_a_t_over_groups() -> None:
    """Three groups of torch and jax taking turns; hand computation (scipy.stats.t.ppf, numpy):
    group 0: torch 10, 20, 8;      jax 13, 21, 24: step ratios 1.3, 1.05, 3.0 -> median log ln 1.3 = 0.2623643;
    group 1: torch 20, 40, 10, 99; jax 22, 40, 13: the 3 common turns 1.1, 1.0, 1.3 -> ln 1.1 = 0.0953102;
    group 2: torch 5, 5;           jax 6, 6.5: 1.2, 1.3 -> (ln 1.2 + ln 1.3) / 2 = 0.2223429.
    Fastest by the two-level estimate: torch medians 10, 30, 5 -> 15; jax 21, 22, 6.25 -> 16.4166667.
    jax / torch: mean log 0.1933391 -> 1.2132942; sd (ddof=1) 0.0872220, se 0.0503577; t.ppf(0.975, 2) = 4.3026527:
    half 0.2166715, interval [0.9769377, 1.5068338] (holds 1: not separable); p = 2 t.sf(3.8393189, 2) = 0.0616353;
    half-width 100 (exp(0.2166715) - 1) = 24.193609%; jax steps 3 + 3 + 2 = 8.
    The stop rule's width: back from the half-width, sd = ln(1.24193609) / 4.3026527 x sqrt(3) = 0.0872220;
    groups for +-10%: the first n with 100 (exp(t.ppf(0.975, n - 1) x 0.0872220 / sqrt(n)) - 1) <= 10: n = 6
    (n = 5: 11.4%; n = 6: 9.6%); for +-5%: n = 15."""
    torch = [[10.0, 20.0, 8.0], [20.0, 40.0, 10.0, 99.0], [5.0, 5.0]]
    jax = [[13.0, 21.0, 24.0], [22.0, 40.0, 13.0], [6.0, 6.5]]
    recs = [r for g in range(3) for r in (_lockstep("torch", g, torch[g]), _lockstep("jax", g, jax[g]))]
    rows = {r["framework"]: r for r in lockstep_ratios.framework_rows(recs, target_pct=10.0)}
    row = rows["jax"]
    assert row["fastest"] == "torch" and row["groups"] == 3 and row["n"] == 8
    assert row["median_ms"] == pytest.approx(16.4166667, rel=1e-6) and rows["torch"]["median_ms"] == pytest.approx(15)
    got = (row["ratio"], row["ratio_ci_low"], row["ratio_ci_high"], row["p_value"], row["half_width_pct"])
    assert got == pytest.approx((1.2132942, 0.9769377, 1.5068338, 0.0616353, 24.193609), rel=1e-6)
    assert row["verdict"] == "not separable from the fastest" and row["within_target"] is False
    assert rows["torch"]["verdict"] == "fastest" and rows["torch"]["ratio"] == 1.0
    width = RatioWidth.of_row(row)
    assert width.sd_log == pytest.approx(0.0872220, rel=1e-6) and width.groups == 3
    assert width.groups_for(10.0) == 6 and width.groups_for(5.0) == 15
