"""Framework ratios from lockstep groups, and the stop rule that decides where more groups go.
Pure: records in, rows out (the driver that measures the groups is :mod:`bench.execution.lockstep`).

A **group** is one worker per framework, alive at once, taking turns one synchronised step at a time
(A B C C B A ...). Step t of every framework in a group ran moments apart, so a slow spell of the
shared machine lands on all of them. The ratio framework / fastest is taken turn by turn inside each
group (the median over turns of the step log ratios) and its interval is a t over groups: the
gate's method (:func:`bench.analysis.intervals.log_ratio_lockstep`), with the group as the unit, so
each process's own speed stays in the interval instead of being hidden by the steps' number.
"""

from __future__ import annotations

import math
from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from bench.analysis import clusters, comparisons, interference
from bench.analysis.intervals import LogRatio, TwoLevel, log_ratio_lockstep, t_quantile, units_for
from bench.analysis.stats import CONFIDENCE, verdict_of
from bench.analysis.summary import by_stamp
from bench.core import fingerprint, records
from bench.core.errors import UsageError
from bench.core.records import JobKey, Measurement

METHOD = "lockstep: step ratios within a group, t over groups"
K = TypeVar("K", bound=Hashable)


def turn_order(contenders: Sequence[K], turn: int) -> list[K]:
    """Who steps in ``turn``: forwards on even turns, backwards on odd ones (A B C, C B A, ...), so no
    contender always runs right after the same other one, and each turn's first and last swap."""
    return list(contenders) if turn % 2 == 0 else list(reversed(contenders))


def start_order(contenders: Sequence[K], slot: int) -> list[K]:
    """The order a group's workers are built in (each alone) and take their first turn: rotated by the
    slot, so every contender builds first (on a quiet machine) equally often. For two it alternates."""
    s = slot % len(contenders) if contenders else 0
    return list(contenders[s:]) + list(contenders[:s])


def comparison_key(key: JobKey) -> tuple[Any, ...]:
    """What must be equal for two frameworks' rows to be compared: everything but the framework."""
    return (key.mode, key.batch_size, key.lrn, key.device, key.host, key.gpu, key.threads, key.precision)


def _group_id(m: Measurement) -> str | None:
    info = m.extra.get("lockstep")
    if not isinstance(info, dict) or "group" not in info:
        return None
    return str(info["group"])


def half_width_pct(lr: LogRatio, confidence: float = CONFIDENCE) -> float:
    """The interval's half-width on the ratio in percent (its upper side, the wider one on a log scale)."""
    if not math.isfinite(lr.se) or lr.df < 1:
        return math.inf
    return 100 * (math.exp(t_quantile(confidence, lr.df) * lr.se) - 1)


def groups_by_key(ms: Sequence[Measurement]) -> dict[tuple[Any, ...], dict[str, dict[JobKey, Measurement]]]:
    """comparison key -> group id -> framework key -> its ok record (the last one, should a group repeat)."""
    out: dict[tuple[Any, ...], dict[str, dict[JobKey, Measurement]]] = {}
    for m in ms:
        gid = _group_id(m)
        if gid is None or not m.ok:
            continue
        out.setdefault(comparison_key(m.key), {}).setdefault(gid, {})[m.key] = m
    return out


def _ms(m: Measurement) -> list[float]:
    return [s / 1e6 for s in m.samples_ns]


def _verdict(ratio: float, lo: float, hi: float, fastest: bool) -> str:
    """The words of the independent method's table (:func:`bench.analysis.comparisons.framework_rows`)."""
    if fastest:
        return "fastest"
    return "slower" if verdict_of(ratio, lo, hi) == "slower" else "not separable from the fastest"


def _cluster_ratio(common: Sequence[Mapping[JobKey, Measurement]], cluster: clusters.Cluster, fastest: JobKey,
                   key: JobKey) -> float:
    """The ratio over the groups of one cluster alone (its members index ``common``)."""
    chosen = [common[i] for i in cluster.members]
    return math.exp(float(sum(_group_log(g[fastest], g[key]) for g in chosen)) / len(chosen))


def _group_log(a: Measurement, b: Measurement) -> float:
    return log_ratio_lockstep([_ms(a)], [_ms(b)]).log


def framework_rows(recs: Sequence[dict[str, Any]], target_pct: float | None = None) -> list[dict[str, Any]]:
    """Each framework against the fastest on the same config, from the groups where both ran: ratio,
    interval over groups, the groups, the method; named process clusters and interference when seen."""
    rows: list[dict[str, Any]] = []
    ms = records.measurements(list(recs))
    # a config refused once (its check runs in its first group's worker) has no time from any group
    refused_keys = {m.key for m in ms if m.status == records.NOT_EQUIVALENT}
    ms = [m for m in ms if m.key not in refused_keys or m.status == records.NOT_EQUIVALENT]
    # a config where contenders were refused (not equivalent) keeps its one equivalent contender, the fastest
    refused = {comparison_key(m.key) for m in ms if _group_id(m) and m.status == records.NOT_EQUIVALENT}
    for ckey, by_group in groups_by_key(ms).items():
        keys = sorted({k for g in by_group.values() for k in g}, key=lambda k: k.framework)
        if len(keys) < 2 and ckey not in refused:
            continue
        per_key = {k: [g[k] for g in by_group.values() if k in g] for k in keys}
        for k in keys:  # pooling checks what it pools, as the independent method's rows do
            parts = by_stamp([m for m in per_key[k] if m.ok])
            if len(parts) > 1:
                raise UsageError(f"{k.label()}: lockstep groups measured with different versions or code "
                                 f"({fingerprint.difference(parts[0][0], parts[1][0])}); a comparison pools only "
                                 "rows that agree: measure again into a new run folder")
        est = {k: TwoLevel.of([_ms(m) for m in per_key[k]]).estimate for k in keys}
        fastest = min(keys, key=lambda k: est[k])
        mode, batch, lrn, device = ckey[:4]
        for k in keys:
            common = [g for g in by_group.values() if k in g and fastest in g]
            if len(common) < 1:
                continue
            lr = log_ratio_lockstep([_ms(g[fastest]) for g in common], [_ms(g[k]) for g in common])
            lo, hi = lr.interval()
            half = half_width_pct(lr)
            own = clusters.of_records([g[k] for g in common])
            found = [] if k == fastest else own or clusters.of_records([g[fastest] for g in common])
            ratios = [_cluster_ratio(common, c, fastest, k) for c in found]
            note = ""  # only clusters whose ratios lie further apart than the interval (or the target) reaches
            if clusters.changes_conclusion(ratios, half, target_pct):
                whose = k.framework if own else f"the baseline {fastest.framework}"
                note = (f"{whose}'s processes in clusters ({clusters.apart_pct(ratios):.1f}% apart): "
                        + "; ".join(f"{c.describe()}: {x:.2f}x" for c, x in zip(found, ratios, strict=True)))
            timed = [g[x] for g in common for x in (k, fastest)]
            share, steal = interference.others_share(timed), interference.steal_share(timed)
            verdict = _verdict(lr.ratio, lo, hi, k == fastest)  # clusters never take the interval's place
            if share is not None and share > interference.FLAG_SHARE and k != fastest:
                verdict += f"; {interference.describe(share, steal)}"  # the fastest row's verdict stays "fastest"
            rows.append({"mode": mode, "batch_size": batch, "lrn": lrn, "device": device, "framework": k.framework,
                         "compile": k.compile, "fastest": fastest.framework, "median_ms": est[k],
                         "groups": len(common), "n": sum(len(g[k].samples_ns) for g in common),
                         "ratio": lr.ratio, "ratio_ci_low": lo, "ratio_ci_high": hi, "half_width_pct": half,
                         "p_value": lr.p_value, "ci_method": METHOD,
                         "within_target": None if target_pct is None or k == fastest else half <= target_pct,
                         "clusters": note,
                         "others_cpu_pct": None if share is None else 100 * share, "verdict": verdict,
                         **comparisons.stamp(per_key[k][0])})
    rows += refused_rows(recs, rows)
    return sorted(rows, key=lambda r: (r["mode"], r["batch_size"], r["lrn"],
                                       math.inf if r["ratio"] is None else r["ratio"]))


def refused_rows(recs: Sequence[dict[str, Any]], rows: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """One row per lockstep contender that failed its in-run equivalence check (status ``not equivalent``):
    refused for the comparison, so no time and no ratio, and its verdict says why."""
    fastest = {(r["mode"], r["batch_size"], r["lrn"], r["device"]): r["fastest"] for r in rows}
    out: dict[JobKey, dict[str, Any]] = {}
    for m in records.measurements(list(recs)):
        if _group_id(m) is None or m.status != records.NOT_EQUIVALENT:
            continue
        mode, batch, lrn, device = comparison_key(m.key)[:4]
        out[m.key] = {"mode": mode, "batch_size": batch, "lrn": lrn, "device": device, "framework": m.key.framework,
                      "compile": m.key.compile, "fastest": fastest.get((mode, batch, lrn, device)), "median_ms": None,
                      "groups": 0, "n": 0, "ratio": None, "ratio_ci_low": None, "ratio_ci_high": None,
                      "half_width_pct": None, "p_value": None, "ci_method": METHOD, "within_target": None,
                      "clusters": "", "others_cpu_pct": None, "status": records.NOT_EQUIVALENT,
                      "verdict": f"not equivalent, no ratio: {m.error}", **comparisons.stamp(m)}
    return list(out.values())


@dataclass(frozen=True)
class RatioWidth:
    """Where a ratio's interval stands, for the stop rule: its half-width (%), the groups behind it, and
    the spread of one group's log ratio (what the half-width will be with more groups)."""

    half_pct: float
    groups: int
    sd_log: float
    confidence: float = CONFIDENCE  # of the interval whose half-width this is (a gate's is simultaneous)

    @classmethod
    def of(cls, lr: LogRatio) -> RatioWidth:
        sd = lr.se * math.sqrt(lr.units) if math.isfinite(lr.se) else math.inf
        return cls(half_width_pct(lr), lr.units, sd)

    @classmethod
    def of_row(cls, row: Mapping[str, Any]) -> RatioWidth:
        """From a :func:`framework_rows` row: the spread of one group's log ratio, back from its half-width."""
        n, half = int(row["groups"]), float(row["half_width_pct"])
        if n < 2 or not math.isfinite(half):
            return cls(math.inf, n, math.inf)
        return cls(half, n, math.log1p(half / 100) / t_quantile(CONFIDENCE, n - 1) * math.sqrt(n))

    def groups_for(self, target_pct: float, cap: int = 1000) -> int:
        """About how many groups would bring the half-width within ``target_pct`` at the spread seen."""
        if self.half_pct <= target_pct:
            return self.groups
        if not math.isfinite(self.sd_log):
            return max(self.groups + 1, 2)
        return units_for(self.sd_log, math.log1p(target_pct / 100), max(2, self.groups), self.confidence, cap)


def widths(rows: Sequence[Mapping[str, Any]]) -> dict[tuple[Any, ...], RatioWidth]:
    """(mode, batch, lrn) -> where its widest ratio against the fastest stands."""
    out: dict[tuple[Any, ...], RatioWidth] = {}
    for r in rows:
        if r["framework"] != r["fastest"] and r["ratio"] is not None:  # a refused contender has no ratio to narrow
            k = (r["mode"], r["batch_size"], r["lrn"])
            w = RatioWidth.of_row(r)
            if k not in out or w.half_pct > out[k].half_pct:
                out[k] = w
    return out


def lrn_widths(lrn_rows: Sequence[Mapping[str, Any]]) -> dict[tuple[Any, ...], RatioWidth]:
    """(mode, batch, True) -> where its widest LRN slowdown stands (the rows of
    :func:`bench.analysis.comparisons.lrn_rows`, measured in the same lockstep workers: a group granted
    to the LRN-on variant takes its LRN-off twin along, so the slowdown gains a process too)."""
    out: dict[tuple[Any, ...], RatioWidth] = {}
    for r in lrn_rows:
        w = RatioWidth.of_row({"groups": r["processes"], "half_width_pct": lrn_half_width_pct(r)})
        k = (r["mode"], r["batch_size"], True)
        if k not in out or w.half_pct > out[k].half_pct:
            out[k] = w
    return out


def lrn_half_width_pct(row: Mapping[str, Any]) -> float:
    """An LRN slowdown's half-width in percent (its upper side: the interval is symmetric in log)."""
    s, hi = row.get("slowdown"), row.get("ci_high")
    if s is None or hi is None or not (math.isfinite(s) and math.isfinite(hi)) or s <= 0:
        return math.inf
    return 100 * (float(hi) / float(s) - 1)


# how the stop rule ended (the "stop_rule" record :mod:`bench.execution.lockstep_compare` writes)
WITHIN, BUDGET, MAX_GROUPS = "within", "budget", "max_groups"


def wide_reason(stop: Mapping[str, Any] | None, half_pct: float, units: int, target_pct: float) -> str:
    """Why a ratio is still wider than the target, in words: the stop rule's end (from its record;
    none when no rule ran) and about how many groups the spread seen says would reach the target."""
    w = RatioWidth.of_row({"groups": units, "half_width_pct": half_pct})
    need = w.groups_for(target_pct)
    more = f"; about {need} would reach it" if math.isfinite(w.sd_log) and need > units else ""
    if stop is None:
        why = "no stop rule ran (the run was cut short, or made before bench recorded it)"
    elif stop.get("reason") == BUDGET and not float(stop["budget_min"]):
        why = "--budget 0 asked for the first pass only"
    elif stop.get("reason") == BUDGET:
        why = f"the {float(stop['budget_min']):g}-min --budget was spent"
    elif stop.get("reason") == MAX_GROUPS:
        why = f"--max-rounds ({stop['max_groups']} groups) was reached"
    else:
        why = "the stop rule ended with every ratio it tracks within the target"
    return f"±{half_pct:.1f}% is wider than ±{target_pct:g}%: {why}, at {units} groups{more}"


def name_wide(fw_rows: Sequence[dict[str, Any]], lrn_rows: Sequence[dict[str, Any]], target_pct: float | None,
              stop: Mapping[str, Any] | None) -> None:
    """Give every ratio still wider than ``target_pct`` its reason (``wide_reason``), in place: the
    framework rows (clusters or not: a cluster note goes beside the interval, never in its place), and
    the LRN slowdowns (which also get their ``half_width_pct`` and ``within_target``)."""
    for r in fw_rows:
        if r.get("within_target") is False:
            r["wide_reason"] = wide_reason(stop, r["half_width_pct"], r["groups"], target_pct or math.inf)
    for r in lrn_rows:
        half = lrn_half_width_pct(r)
        r["half_width_pct"] = half
        r["within_target"] = None if target_pct is None else half <= target_pct
        if r["within_target"] is False:
            r["wide_reason"] = wide_reason(stop, half, r["processes"], target_pct)  # type: ignore[arg-type]


def more_groups(need: Mapping[K, RatioWidth], target_pct: float | Mapping[K, float], cost_s: Mapping[K, float],
                budget_s: float, max_groups: int) -> dict[K, int]:
    """The stop rule: how many more groups each ratio gets. Only ratios still wider than their target
    (``target_pct``, one for all or one per ratio) get any; at most as many as would reach it (and no
    more than doubling what they have, as the spread is itself an estimate), up to ``max_groups`` in
    all; the widest (relative to its target) first, and only as many as ``budget_s`` pays for at
    ``cost_s`` seconds per group."""
    def target(k: K) -> float:
        return target_pct[k] if isinstance(target_pct, Mapping) else target_pct

    grant: dict[K, int] = {}
    left = budget_s
    wide = [k for k, w in need.items() if w.half_pct > target(k) and w.groups < max_groups]
    for k in sorted(wide, key=lambda k: -need[k].half_pct / max(target(k), 1e-9)):
        w = need[k]
        wanted = min(w.groups_for(target(k)), max_groups, 2 * max(w.groups, 1)) - w.groups
        cost = max(cost_s.get(k, 0.0), 1e-9)
        n = min(wanted, int(left // cost))
        if n > 0:
            grant[k] = n
            left -= n * cost
    return grant
