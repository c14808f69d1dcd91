"""The regression gate: candidate against baseline, row by row, with a verdict that does not flap.
Pure: series in, rows out (loading them is :mod:`bench.store.series`).

For each row common to both sides, the ratio candidate / baseline of the two-level estimate (each
process's median, :mod:`bench.analysis.intervals`) with an interval over the independent units:

- **lockstep pairs** (``bench ab``): one base and one candidate worker alive at once, taking turns
  step by step, so the machine's slow spells hit both; each pair's log ratio is the median of its
  step-by-step log ratios, and the interval a t over pairs;
- otherwise **processes** on each side (two stored runs, pytest-benchmark saves): Welch's t on the
  two sides' process estimates;
- with one process on a side there is nothing to say about the next run: the ratio is shown, the
  verdict is inconclusive.

A row is a **regression** only when its slowdown is significant after Holm's correction for the
number of rows tested, *and* the lower end of its simultaneous interval (Bonferroni, so the rows'
intervals hold together) is above 1 + the noise floor: a real but tiny shift, or the bias two
side-by-side processes can show when nothing changed, never fails the gate. **Improvement** is the
mirror. **No change** means the interval rules out a slowdown of ``detect`` or more;
**inconclusive**, that it does not (the row also says the smallest slowdown it would have caught
with 80% power).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

from bench.analysis.intervals import LogRatio, TwoLevel, log_ratio_lockstep, log_ratio_welch, t_quantile
from bench.analysis.stats import Ratio
from bench.core.errors import UsageError

ALPHA = 0.05  # family-wise false-alarm rate over all rows of one gate
# The smallest slowdown that can fail the gate (the lower end of a row's simultaneous interval must clear
# it): above the spread of A/A gates (both sides the same commit, lockstep pairs), with room for a noisier
# host; the figures: docs/validation.md, "The regression gate". ``bench check --noise-floor`` overrides it.
REGRESSION_FLOOR = 0.03
DETECT = 0.10  # a slowdown this large must be ruled out for "no change" (the gate's purpose: catch 10%)
POWER = 0.80  # the power at which each row's smallest detectable slowdown is quoted
VERDICTS = ("regression", "improvement", "no change", "inconclusive")
ONE_PROCESS_PER_SIDE = "one process per side: steps resampled (says nothing about the next run)"  # a row's method


@dataclass(frozen=True)
class Series:
    """One benchmark on one side: what identifies it across sides, and its samples per unit.

    ``groups`` maps a unit id to that unit's samples (ms). Units are worker processes; with
    ``paired`` their ids are lockstep pair ids (``session:slot``) that the other side shares."""

    key: tuple[tuple[str, str], ...]
    groups: dict[str, list[float]]
    device: str  # what measured: the GPU model, else the CPU model
    paired: bool = False
    source: str = ""
    name: str = ""  # how tables name it (default: the key's values)
    stamp: str = ""  # the framework versions and code fingerprint its units share ("" when not recorded)

    @property
    def label(self) -> str:
        return self.name or " ".join(v for _, v in self.key)


@dataclass(frozen=True)
class GateRow:
    label: str
    key: dict[str, str]
    baseline_ms: float
    candidate_ms: float
    baseline_units: int
    candidate_units: int
    method: str
    units: int  # pairs, or the smaller side's processes
    ratio: float
    ci_low: float
    ci_high: float
    confidence: float  # of the interval: simultaneous over the rows tested
    p_value: float
    p_adjusted: float  # Holm over the rows tested
    detectable_pct: float | None  # smallest slowdown caught with POWER
    verdict: str
    reason: str

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        key = out.pop("key")
        return {**key, **out}


@dataclass(frozen=True)
class Settings:
    alpha: float = ALPHA
    noise_floor: float = REGRESSION_FLOOR
    detect: float = DETECT

    def __post_init__(self) -> None:
        if not 0 < self.alpha < 1:
            raise UsageError(f"--alpha must be in (0, 1); got {self.alpha!r}")
        if not 0 <= self.noise_floor < 1:
            raise UsageError(f"--noise-floor must be a percentage in [0, 100); got {100 * self.noise_floor:g}")
        if not self.noise_floor < self.detect:
            raise UsageError(f"--detect ({100 * self.detect:g}%) must be above --noise-floor "
                             f"({100 * self.noise_floor:g}%): a slowdown inside the floor can never be called")


@dataclass(frozen=True)
class GateResult:
    rows: list[GateRow]
    only_baseline: list[str]
    only_candidate: list[str]
    settings: Settings
    tested: int = 0  # rows with an interval over units: the family the correction covers

    @property
    def regressions(self) -> list[GateRow]:
        return [r for r in self.rows if r.verdict == "regression"]

    @property
    def exit_code(self) -> int:
        return 1 if self.regressions else 0


def _log_ratio(a: Series, b: Series) -> tuple[LogRatio | None, list[list[float]], list[list[float]]]:
    """The log ratio over the best units both sides allow, and the groups it used."""
    common = sorted(set(a.groups) & set(b.groups)) if a.paired and b.paired else []
    if len(common) >= 2:
        ga, gb = [a.groups[i] for i in common], [b.groups[i] for i in common]
        return log_ratio_lockstep(ga, gb), ga, gb
    ga, gb = list(a.groups.values()), list(b.groups.values())
    if len(ga) >= 2 and len(gb) >= 2:
        return log_ratio_welch(ga, gb), ga, gb
    return None, ga, gb


def _holm(p: Sequence[float]) -> list[float]:
    """Holm's step-down adjusted p-values (family-wise error over the rows)."""
    order = sorted(range(len(p)), key=lambda i: p[i])
    out = [1.0] * len(p)
    running = 0.0
    for rank, i in enumerate(order):
        running = max(running, min(1.0, (len(p) - rank) * p[i]))
        out[i] = running
    return out


def detectable(lr: LogRatio, confidence: float, noise_floor: float, power: float = POWER) -> float | None:
    """The smallest true slowdown (fraction) that this row would call a regression with ``power``:
    the lower end of its interval must clear 1 + noise floor."""
    if not math.isfinite(lr.se):
        return None
    return (1 + noise_floor) * math.exp((t_quantile(confidence, lr.df) + t_quantile(2 * power - 1, lr.df)) * lr.se) - 1


def _verdict(ratio: float, lo: float, hi: float, p_adj: float, s: Settings, mde: float | None) -> tuple[str, str]:
    floor_hi, floor_lo = 1 + s.noise_floor, 1 / (1 + s.noise_floor)
    significant = p_adj < s.alpha
    if significant and lo > floor_hi:
        return "regression", f"{100 * (ratio - 1):.1f}% slower; the interval clears the {100 * s.noise_floor:g}% floor"
    if significant and hi < floor_lo:
        return "improvement", f"{100 * (1 - ratio):.1f}% faster; the interval clears the floor"
    if hi <= 1 + s.detect and lo >= 1 / (1 + s.detect):
        if significant:
            where = ("inside the" if abs(ratio - 1) <= s.noise_floor else "whose interval does not clear the")
            return "no change", f"a significant {100 * (ratio - 1):+.1f}% shift, {where} {100 * s.noise_floor:g}% floor"
        return "no change", f"a slowdown of {100 * s.detect:g}% or more is ruled out"
    caught = f"; it would catch {100 * mde:.0f}% or more" if mde is not None else ""
    return "inconclusive", f"the interval allows up to {100 * (hi - 1):.0f}% slower{caught}: add pairs or processes"


def check(baseline: Sequence[Series], candidate: Sequence[Series], settings: Settings | None = None) -> GateResult:
    """Match rows by key and give each its ratio, interval, p-value and verdict. Rows measured on
    different devices are refused (a ratio between two machines says nothing about the change)."""
    s = settings or Settings()
    base = {x.key: x for x in baseline}
    cand = {x.key: x for x in candidate}
    common = [k for k in base if k in cand]
    if not common:
        raise UsageError(f"baseline and candidate have no benchmark in common (baseline: "
                         f"{', '.join(base[k].label for k in base) or 'none'}; candidate: "
                         f"{', '.join(cand[k].label for k in cand) or 'none'})")
    mixed = [f"{base[k].label}: {base[k].device} vs {cand[k].device}" for k in common
             if base[k].device != cand[k].device]
    if mixed:
        raise UsageError("rows were measured on different devices, so their ratio would compare machines, not "
                         f"code: {'; '.join(mixed)}; measure both sides on one machine (bench ab does)")
    computed = {k: _log_ratio(base[k], cand[k]) for k in common}
    testable = [k for k in common if computed[k][0] is not None]
    m = max(1, len(testable))
    confidence = 1 - s.alpha / m
    adjusted = dict(zip(testable, _holm([computed[k][0].p_value for k in testable]), strict=True))  # type: ignore[union-attr]
    rows = []
    for k in common:
        lr, ga, gb = computed[k]
        a_est, b_est = TwoLevel.of(ga).estimate, TwoLevel.of(gb).estimate
        if lr is None:
            one = Ratio.of([x for g in ga for x in g], [x for g in gb for x in g], estimator="median")
            ratio, lo, hi, p, p_adj, mde, method, units = (one.ratio, one.ci_low, one.ci_high, one.p_value, math.nan,
                                                           None, ONE_PROCESS_PER_SIDE, 1)
            verdict, reason = "inconclusive", "one process on a side: give two or more runs (processes) per side"
        else:
            lo, hi = lr.interval(confidence)
            ratio, p, p_adj, method, units = lr.ratio, lr.p_value, adjusted[k], lr.method, lr.units
            mde = detectable(lr, confidence, s.noise_floor)
            verdict, reason = _verdict(ratio, lo, hi, p_adj, s, mde)
        rows.append(GateRow(base[k].label, dict(k), a_est, b_est, len(ga), len(gb), method, units, ratio, lo, hi,
                            confidence, p, p_adj, None if mde is None else 100 * mde, verdict, reason))
    return GateResult(rows, [base[k].label for k in base if k not in cand],
                      [cand[k].label for k in cand if k not in base], s, len(testable))


def provenance_differences(a: dict[str, Any], b: dict[str, Any]) -> list[tuple[str, Any, Any]]:
    """Flattened fields whose values differ between two provenance records (both given as flat dicts)."""
    return [(k, a.get(k), b.get(k)) for k in sorted(set(a) | set(b)) if a.get(k) != b.get(k)]
