"""``bench parity``, the pure half: records of the training workers in, summary rows, pairs,
trajectories and the verdict out. The worker is :mod:`bench.worker.tasks.parity`, the command
:mod:`bench.cli.commands.parity`.

Final accuracy is not the last checkpoint: within the second epoch, test accuracy moves by 0.3-0.7
pp from one evaluation to the next (measured on the development CPU), so one checkpoint cannot carry
a 0.3 pp verdict. Each (framework, seed) is scored by the mean of its evaluations over the last
quarter of training (:data:`TAIL`), then seeds are paired (a seed fixes the init and the data order).

The parity verdict is about frameworks, not about reaching a target (reported apart), and has three
outcomes, per pair and overall, at alpha = 0.05 with the margin ``max_gap`` (pp):

- PASS: an equivalence test (TOST: the 90% t-interval of the mean paired difference lies inside
  +-margin) for every pair;
- FAIL: some pair differs by more than the margin, significantly (the one-sided 95% bound of its
  |difference| is beyond the margin);
- INCONCLUSIVE: neither; the row says how many seeds would settle it at the seed-to-seed spread seen.

With one seed, the seed-to-seed spread cannot be measured: every pair is INCONCLUSIVE, and the
spread of the pair difference over the last-quarter evaluations stands in for it to say how many
seeds to run. Each pair also reports the smallest difference the run could have detected
(alpha 0.05 two-sided, power 80%).
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from bench.analysis.equivalence import trajectory_tolerance
from bench.analysis.intervals import t_quantile
from bench.analysis.stats import Stats

# --quick: CI-sized. 46 steps leave the models at 92-94% with 1-2 pp between frameworks (measured on
# this CPU: different dropout masks and float32 drift still dominate), so target and gap are relaxed.
QUICK_TRAIN_SIZE, QUICK_EPOCHS, QUICK_TARGET, QUICK_MAX_GAP = 6000, 1, 90.0, 3.0
THRESHOLDS = (98.0, 99.0)
TAIL = 0.25  # the final accuracy averages the evaluations of the last quarter of training
ALPHA = 0.05
POWER = 0.80
VERDICTS = ("PASS", "FAIL", "INCONCLUSIVE")
# parity_summary.csv (:func:`summary_rows`; a framework with no finished seed has only the first four
# filled) and parity_pairs.csv (:func:`pair_rows`)
SUMMARY_COLUMNS = ("framework", "seeds", "status", "error", "final_acc_mean", "final_acc_sd", "final_acc_min",
                   "final_acc_max", "last_checkpoint_acc", "evals_averaged", "planted", "final_test_loss",
                   "train_time_s", "step_mean_ms", "step_sd_ms", "step_median_ms", "step_ci_low_ms",
                   "step_ci_high_ms", "steps", *(c for t in THRESHOLDS for c in (f"time_to_{t:g}_s", f"reached_{t:g}")))
PAIR_COLUMNS = ("a", "b", "seeds", "diff_pp", "sd_pp", "ci90_low_pp", "ci90_high_pp", "ci_low_pp", "ci_high_pp",
                "verdict", "margin_pp", "detectable_pp", "seeds_needed", "noise_from")


def final_accuracy(evals: Sequence[dict[str, Any]]) -> tuple[float, list[float]]:
    """The mean test accuracy over the evaluations in the last quarter of training, and those values."""
    last = evals[-1]["step"]
    tail = [e["test_acc"] for e in evals if e["step"] >= (1 - TAIL) * last]
    return float(np.mean(tail)), tail


def _tail_by_step(evals: Sequence[dict[str, Any]]) -> dict[int, float]:
    last = evals[-1]["step"]
    return {e["step"]: e["test_acc"] for e in evals if e["step"] >= (1 - TAIL) * last}


def time_to(evals: Sequence[dict[str, Any]], threshold: float) -> float | None:
    """Training time (excluding evaluation) at the first evaluation at or above ``threshold``."""
    return next((e["train_time_s"] for e in evals if e["test_acc"] >= threshold), None)


def _ok(records: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    return [r for r in records if r.get("kind") == "parity" and r.get("status") == "ok" and r.get("evals")]


def summary_rows(records: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    rows = []
    by_fw: dict[str, list[dict[str, Any]]] = {}
    for r in records:
        if r.get("kind") == "parity":
            by_fw.setdefault(r["framework"], []).append(r)
    for fw, recs in by_fw.items():
        ok = _ok(recs)
        bad = [r for r in recs if r not in ok]
        row: dict[str, Any] = {"framework": fw, "seeds": len(ok), "status": "ok" if not bad else bad[0]["status"],
                               "error": bad[0].get("error") if bad else None}
        if ok:
            acc = np.array([final_accuracy(r["evals"])[0] for r in ok])
            steps = Stats.from_samples([s / 1e6 for r in ok for s in r["step_ns"]])
            row.update({
                "final_acc_mean": float(acc.mean()), "final_acc_sd": float(acc.std(ddof=1)) if len(acc) > 1 else None,
                "final_acc_min": float(acc.min()), "final_acc_max": float(acc.max()),
                "last_checkpoint_acc": float(np.mean([r["evals"][-1]["test_acc"] for r in ok])),
                "evals_averaged": len(final_accuracy(ok[0]["evals"])[1]),
                "planted": ok[0].get("planted"),
                "final_test_loss": float(np.mean([r["evals"][-1]["test_loss"] for r in ok])),
                "train_time_s": float(np.mean([r["train_time_s"] for r in ok])),
                "step_mean_ms": steps.mean, "step_sd_ms": steps.std, "step_median_ms": steps.median,
                "step_ci_low_ms": steps.mean_ci_low, "step_ci_high_ms": steps.mean_ci_high,
                "steps": len(ok[0]["losses"]),
            })
            for t in THRESHOLDS:
                times = [time_to(r["evals"], t) for r in ok]
                reached = [x for x in times if x is not None]
                row[f"time_to_{t:g}_s"] = float(np.mean(reached)) if reached else None
                row[f"reached_{t:g}"] = f"{len(reached)}/{len(ok)}"
        rows.append(row)
    return rows


def pair_rows(records: Sequence[dict[str, Any]], max_gap: float) -> list[dict[str, Any]]:
    """Every pair of frameworks: the paired difference of final accuracy (a - b, pp), its intervals,
    the equivalence verdict against ``max_gap``, the smallest detectable difference, and how many
    seeds would settle an inconclusive pair. Not the log-scale t of :func:`bench.analysis.intervals.over_units`:
    a difference of accuracies in pp, tested for equivalence within a margin (TOST), is not a ratio."""
    final: dict[str, dict[int, dict[str, Any]]] = {}
    for r in _ok(records):
        final.setdefault(r["framework"], {})[r["seed"]] = r
    rows = []
    for a, b in itertools.combinations(sorted(final), 2):
        seeds = sorted(set(final[a]) & set(final[b]))
        if not seeds:
            continue
        d = np.array([final_accuracy(final[a][s]["evals"])[0] - final_accuracy(final[b][s]["evals"])[0]
                      for s in seeds])
        mean, n = float(d.mean()), len(d)
        if n > 1:
            sd, df, source = float(d.std(ddof=1)), n - 1, f"{n} seeds"
        else:  # one seed: the checkpoint-to-checkpoint spread of the difference stands in for the seed spread
            ta, tb = _tail_by_step(final[a][seeds[0]]["evals"]), _tail_by_step(final[b][seeds[0]]["evals"])
            jitter = [ta[k] - tb[k] for k in sorted(set(ta) & set(tb))]
            sd = float(np.std(jitter, ddof=1)) if len(jitter) > 1 else math.nan
            df, source = max(len(jitter) - 1, 1), "1 seed: spread between evaluations stands in for seeds"
        se = sd / math.sqrt(n)
        t90, t95 = t_quantile(1 - 2 * ALPHA, df), t_quantile(1 - ALPHA, df)
        if n < 2 or not math.isfinite(se):
            verdict = "INCONCLUSIVE"
        elif abs(mean) + t90 * se < max_gap:
            verdict = "PASS"
        elif abs(mean) - t90 * se > max_gap:
            verdict = "FAIL"
        else:
            verdict = "INCONCLUSIVE"
        needed = None
        if verdict == "INCONCLUSIVE" and math.isfinite(sd) and abs(abs(mean) - max_gap) > 1e-9:
            # seeds for the 90% bound to clear the margin at this spread (normal quantile: many seeds)
            needed = max(n + 1, math.ceil((t_quantile(1 - 2 * ALPHA, 1e6) * sd / abs(abs(mean) - max_gap)) ** 2) + 1)
        rows.append({"a": a, "b": b, "seeds": n, "diff_pp": mean, "sd_pp": sd if math.isfinite(sd) else None,
                     "ci90_low_pp": mean - t90 * se, "ci90_high_pp": mean + t90 * se,
                     "ci_low_pp": mean - t95 * se, "ci_high_pp": mean + t95 * se,
                     "verdict": verdict, "margin_pp": max_gap,
                     "detectable_pp": (t95 + t_quantile(2 * POWER - 1, df)) * se if math.isfinite(se) else None,
                     "seeds_needed": needed, "noise_from": source})
    return rows


def verdict(summary: Sequence[dict[str, Any]], pairs: Sequence[dict[str, Any]], target: float,
            max_gap: float) -> tuple[str, list[str]]:
    """The overall parity verdict (PASS / FAIL / INCONCLUSIVE) and why; the target is reported apart."""
    reasons = []
    failed = False
    for s in summary:
        if s["status"] != "ok" or not s.get("seeds"):
            reasons.append(f"{s['framework']}: {s['status']} {s.get('error') or ''}".strip())
            failed = True
    for p in pairs:
        if p["verdict"] == "FAIL":
            reasons.append(f"{p['a']} - {p['b']} = {p['diff_pp']:+.2f} pp, beyond ±{max_gap:g} pp (90% CI "
                           f"[{p['ci90_low_pp']:+.2f}, {p['ci90_high_pp']:+.2f}])")
        elif p["verdict"] == "INCONCLUSIVE":
            more = f"; about {p['seeds_needed']} seeds would settle it" if p.get("seeds_needed") else ""
            reasons.append(f"{p['a']} - {p['b']} = {p['diff_pp']:+.2f} pp: cannot tell at {p['noise_from']}{more}")
    if len([s for s in summary if s.get("seeds")]) < 2:
        reasons.append("fewer than two frameworks trained: nothing to compare")
        failed = True
    if failed or any(p["verdict"] == "FAIL" for p in pairs):
        return "FAIL", reasons
    if pairs and all(p["verdict"] == "PASS" for p in pairs):
        return "PASS", reasons
    return "INCONCLUSIVE", reasons


def target_reached(summary: Sequence[dict[str, Any]], target: float) -> dict[str, bool]:
    """Whether each framework's final accuracy (seed mean) reached ``target``: reported apart from parity."""
    return {s["framework"]: bool(s.get("seeds")) and s["final_acc_mean"] >= target for s in summary}


def trajectory_columns(records: Sequence[dict[str, Any]]) -> tuple[str, ...]:
    """trajectory.csv's header: the step, one loss column per framework that finished, the figures."""
    return ("step", *(f"loss_{fw}" for fw in dict.fromkeys(r["framework"] for r in _ok_traj(records))),
            "max_rel_diff", "envelope")


def trajectory_rows(records: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """trajectory.csv (:func:`trajectory_columns`): the frameworks' losses step by step, side by side."""
    curves = {r["framework"]: np.array(r["losses"]) for r in _ok_traj(records)}
    if len(curves) < 2:
        return []
    n = min(len(c) for c in curves.values())
    rows = []
    for i in range(n):
        vals = {fw: float(c[i]) for fw, c in curves.items()}
        worst = max(abs(vals[a] - vals[b]) / abs(vals[b]) for a, b in itertools.permutations(vals, 2))
        rows.append({"step": i + 1, **{f"loss_{fw}": v for fw, v in vals.items()}, "max_rel_diff": worst,
                     "envelope": trajectory_tolerance(i)})
    return rows


def _ok_traj(records: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    return [r for r in records if r.get("kind") == "trajectory" and r.get("status") == "ok"]


def curve_rows(records: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """Long format: training loss per step and test accuracy/loss per evaluation."""
    out = []
    for r in records:
        if r.get("kind") not in ("parity", "trajectory") or r.get("status") != "ok":
            continue
        base = {"framework": r["framework"], "seed": r["seed"], "run": r["kind"]}
        spe = r.get("steps_per_epoch") or 1
        for i, v in enumerate(r["losses"]):
            out.append({**base, "step": i + 1, "epoch": i / spe, "metric": "train_loss", "value": v})
        for e in r.get("evals", []):
            for m in ("test_acc", "test_loss"):
                out.append({**base, "step": e["step"], "epoch": e["epoch"], "metric": m, "value": e[m],
                            "train_time_s": e["train_time_s"]})
    return out
