"""Does an interval keep its promise about the next run? Repeat one small config K times as
independent ``python -m bench`` invocations (step time and LRN ratio invocations interleaved, so the
machine's drift hits both), then report, for the interval bench used before (one worker process, its
steps resampled as if independent) and the one it uses now (several processes, t over process
estimates), the share of runs whose 95% interval holds the median of the other runs' estimates.

    python benchmarks/coverage.py --invocations 8            # ~10 minutes on a 2-core CPU
    python benchmarks/coverage.py --analyse reports/coverage-A reports/coverage-B   # re-analyse, pooled

Both intervals come from the same invocations: "old" uses only the first worker process of each
(what ``bench run`` and ``bench compare --lrn`` measured before: one process per config).

``--experiment frameworks`` checks the suite's two headline ratios as it measures them now against the
method before it, from alternating invocations of ``bench compare --lrn --no-layer --frameworks torch
tensorflow --mode forward --batch-size 32``: ``--method lockstep`` (new: the framework ratio turn by
turn inside a group, the LRN slowdown from the same workers, t over groups) and ``--method
independent`` (old: each framework in its own processes, Welch's t over them; the LRN pair in one
worker, t over processes). Quantities: torch / TensorFlow (forward, batch 32, LRN off) and torch's LRN
slowdown.

    python benchmarks/coverage.py --experiment frameworks --invocations 12     # ~17 min on a 2-core CPU

``--experiment reruns`` checks ``bench run``'s absolute times across invocations: K invocations each of
``bench run --frameworks torch`` and of ``--frameworks jax`` (``--mode train --batch-size 32 --steps 30
--data synthetic``, alternating torch and JAX), each framework's invocations into one parent folder so
that every run reads the earlier ones beside it (drift.csv). Old: the interval over this invocation's
processes; new: the interval with the machine's drift (t over the invocations so far). The first
invocation of each has no history: its row says so, and it counts as held only if its process interval
holds.

    python benchmarks/coverage.py --experiment reruns --invocations 8           # ~20 min on a 2-core CPU
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.analysis.intervals import TwoLevel, paired_ratio  # noqa: E402
from bench.analysis.stats import Ratio, Stats  # noqa: E402
from bench.cli.commands.compare import STEPS as COMPARE_STEPS  # noqa: E402
from bench.core import records, storage  # noqa: E402


def coverage(estimates: list[float], lows: list[float], highs: list[float]) -> float:
    """Share of runs whose interval holds the median of the other runs' estimates."""
    e = np.asarray(estimates)
    hits = [lows[i] <= float(np.median(np.delete(e, i))) <= highs[i] for i in range(len(e))]
    return float(np.mean(hits))


def _groups(run_dir: Path, lrn: bool | None = None) -> list[list[float]]:
    ms = [m for m in records.latest_per_round(records.measurements(storage.read_records(run_dir)))
          if m.ok and (lrn is None or m.key.lrn == lrn)]
    return [[s / 1e6 for s in m.samples_ns] for m in sorted(ms, key=lambda m: m.round)]


def analyse(outs: list[Path]) -> dict[str, Any]:
    metas = [json.loads((out / "coverage.json").read_text()) for out in outs]
    if len({json.dumps(m["config"]) for m in metas}) > 1:
        raise SystemExit("the experiments to pool ran different configs")
    all_runs = [r for m in metas for r in m["runs"]]
    result: dict[str, Any] = {"config": metas[0]["config"], "experiments": [str(o) for o in outs],
                              "invocations": len(all_runs)}
    for kind in ("step", "ratio"):
        runs = [r for r in all_runs if r["kind"] == kind and r["returncode"] == 0]
        old, new = [], []
        for r in runs:
            d = Path(r["dir"])
            if kind == "step":
                g = _groups(d)
                s = Stats.from_samples(g[0])
                old.append((s.mean, s.mean_ci_low, s.mean_ci_high))
                t = TwoLevel.of(g)
                new.append((t.estimate, t.ci_low, t.ci_high))
            else:
                off, on = _groups(d, False), _groups(d, True)
                o = Ratio.of(off[0], on[0])
                old.append((o.ratio, o.ci_low, o.ci_high))
                n = paired_ratio(off, on)
                new.append((n.ratio, n.ci_low, n.ci_high))
        walls = [r["wall_s"] for r in runs]
        result[kind] = {
            "runs": len(runs),
            "old": {"coverage": coverage(*map(list, zip(*old, strict=True))), "estimates": old},
            "new": {"coverage": coverage(*map(list, zip(*new, strict=True))), "estimates": new},
            "spread_of_estimates_pct": 100 * (max(e for e, _, _ in new) / min(e for e, _, _ in new) - 1),
            "median_half_width_pct": {
                "old": float(np.median([100 * (h - lo) / 2 / e for e, lo, h in old])),
                "new": float(np.median([100 * (h - lo) / 2 / e for e, lo, h in new]))},
            "wall_s_per_answer": float(np.median(walls)),
        }
    (outs[-1] / "coverage_result.json").write_text(json.dumps(result, indent=2))
    return result


FRAMEWORK_QUANTITIES = {"torch/tensorflow": "torch over TensorFlow, forward, batch 32, LRN off",
                        "torch LRN slowdown": "torch's LRN on / off, forward, batch 32"}


def _framework_estimates(run_dir: Path) -> dict[str, tuple[float, float, float]]:
    """(estimate, low, high) of each framework quantity in one ``bench compare`` run folder, as bench
    itself computed them (the rows of framework_comparison.csv and lrn_comparison.csv)."""
    from bench.output import report

    rows = report.read(run_dir).rows
    out: dict[str, tuple[float, float, float]] = {}
    fw = {r["framework"]: r for r in rows.frameworks if not r["lrn"] and r["mode"] == "forward"}
    if {"torch", "tensorflow"} <= set(fw):
        t = fw["torch"]
        if t["fastest"] == "tensorflow":
            out["torch/tensorflow"] = (t["ratio"], t["ratio_ci_low"], t["ratio_ci_high"])
        else:  # the other row holds tensorflow / torch: invert it
            r = fw["tensorflow"]
            out["torch/tensorflow"] = (1 / r["ratio"], 1 / r["ratio_ci_high"], 1 / r["ratio_ci_low"])
    lrn = [r for r in rows.lrn if r["framework"] == "torch" and r["mode"] == "forward"]
    if lrn:
        out["torch LRN slowdown"] = (lrn[0]["slowdown"], lrn[0]["ci_low"], lrn[0]["ci_high"])
    return out


def analyse_frameworks(outs: list[Path]) -> dict[str, Any]:
    metas = [json.loads((out / "coverage.json").read_text()) for out in outs]
    if len({json.dumps(m["config"]) for m in metas}) > 1:
        raise SystemExit("the experiments to pool ran different configs")
    # each run's folder beside its coverage.json (a stored copy), else where the experiment wrote it
    all_runs = [{**r, "dir": str(out / Path(r["dir"]).name) if (out / Path(r["dir"]).name).is_dir() else r["dir"]}
                for out, m in zip(outs, metas, strict=True) for r in m["runs"]]
    result: dict[str, Any] = {"experiment": "frameworks", "config": metas[0]["config"],
                              "experiments": [str(o) for o in outs], "invocations": len(all_runs)}
    for quantity in FRAMEWORK_QUANTITIES:
        result[quantity] = {"what": FRAMEWORK_QUANTITIES[quantity]}
        for method, label in (("independent", "old"), ("lockstep", "new")):
            runs = [r for r in all_runs if r["kind"] == method and r["returncode"] in (0, 1)]
            est = [e[quantity] for e in (_framework_estimates(Path(r["dir"])) for r in runs) if quantity in e]
            if len(est) < 3:
                result[quantity][label] = {"runs": len(est)}
                continue
            e = [x for x, _, _ in est]
            result[quantity][label] = {
                "method": method, "runs": len(est),
                "coverage": coverage(e, [lo for _, lo, _ in est], [hi for _, _, hi in est]),
                "median_half_width_pct": float(np.median([100 * (hi - lo) / 2 / x for x, lo, hi in est])),
                "spread_of_estimates_pct": 100 * (max(e) / min(e) - 1),
                "wall_s_per_answer": float(np.median([r["wall_s"] for r in runs])),
                "estimates": est}
    (outs[-1] / "coverage_result.json").write_text(json.dumps(result, indent=2))
    return result


RERUN_FRAMEWORKS = ("torch", "jax")


def analyse_reruns(outs: list[Path]) -> dict[str, Any]:
    """Per framework: the share of invocations whose interval (over processes: old; with the drift over
    the invocations so far: new) holds the median of the other invocations' medians."""
    import csv

    (out,) = outs  # one folder: main() refuses more
    meta = json.loads((out / "coverage.json").read_text())
    result: dict[str, Any] = {"experiment": "reruns", "config": meta["config"], "invocations": len(meta["runs"])}
    for fw in RERUN_FRAMEWORKS:
        runs = sorted((r for r in meta["runs"] if r["kind"] == fw and r["returncode"] == 0), key=lambda r: r["i"])
        rows = []
        for r in runs:
            d = out / fw / Path(r["dir"]).name
            with (d if d.is_dir() else Path(r["dir"])).joinpath("drift.csv").open() as f:
                row = next(csv.DictReader(f))
            rows.append({k: row[k] if k == "method" else float(row[k]) for k in
                         ("median_ms", "process_ci_low_ms", "process_ci_high_ms", "ci_low_ms", "ci_high_ms",
                          "invocations", "method")})
        if len(rows) < 3:
            result[fw] = {"runs": len(rows)}
            continue
        e = [r["median_ms"] for r in rows]
        old = coverage(e, [r["process_ci_low_ms"] for r in rows], [r["process_ci_high_ms"] for r in rows])
        new = coverage(e, [r["ci_low_ms"] for r in rows], [r["ci_high_ms"] for r in rows])
        hw = {k: [100 * (r[f"{p}ci_high_ms"] - r[f"{p}ci_low_ms"]) / 2 / r["median_ms"] for r in rows]
              for k, p in (("old", "process_"), ("new", ""))}
        result[fw] = {
            "runs": len(rows), "spread_of_estimates_pct": 100 * (max(e) / min(e) - 1),
            "old": {"method": "over this invocation's processes", "coverage": old,
                    "held": round(old * len(rows)), "median_half_width_pct": float(np.median(hw["old"]))},
            "new": {"method": "with the drift over the invocations so far", "coverage": new,
                    "held": round(new * len(rows)), "median_half_width_pct": float(np.median(hw["new"][1:]))},
            "wall_s_per_invocation": float(np.median([r["wall_s"] for r in runs])), "rows": rows}
    (out / "coverage_result.json").write_text(json.dumps(result, indent=2))
    return result


def run(args: argparse.Namespace) -> Path:
    out = ROOT / "reports" / f"coverage-{time.strftime('%Y%m%dT%H%M%S', time.gmtime())}"
    out.mkdir(parents=True)
    common = ["--frameworks", args.framework, "--batch-size", str(args.batch_size), "--rounds", str(args.rounds),
              "--data", "synthetic"]
    cmds = {
        "step": ["run", "--mode", "train", "--steps", str(args.steps), *common],
        "ratio": ["compare", "--lrn", "--no-layer", "--mode", "forward", "--steps", str(args.ratio_steps),
                  "--max-rounds", str(args.rounds), *common],
    }
    if args.experiment == "frameworks":
        suite = ["compare", "--lrn", "--no-layer", "--frameworks", "torch", "tensorflow", "--mode", "forward",
                 "--batch-size", str(args.batch_size), "--steps", str(args.ratio_steps), "--rounds",
                 str(args.rounds), "--max-rounds", str(args.rounds), "--data", "synthetic"]
        cmds = {"lockstep": [*suite, "--method", "lockstep", "--budget", "0"],
                "independent": [*suite, "--method", "independent"]}
    if args.experiment == "reruns":
        cmds = {fw: ["run", "--frameworks", fw, "--mode", "train", "--batch-size", str(args.batch_size), "--steps",
                     "30", "--data", "synthetic"] for fw in RERUN_FRAMEWORKS}
    kinds = list(cmds)
    meta: dict[str, Any] = {"config": {k: " ".join(v) for k, v in cmds.items()}, "runs": []}
    for i in range(args.invocations):
        for kind in kinds if i % 2 == 0 else kinds[::-1]:  # interleaved A B B A
            d = out / kind / f"{i:02d}" if args.experiment == "reruns" else out / f"{kind}-{i}"
            t0 = time.perf_counter()
            proc = subprocess.run([sys.executable, "-m", "bench", *cmds[kind], "--out", str(d)], cwd=ROOT,
                                  capture_output=True, text=True)
            meta["runs"].append({"kind": kind, "i": i, "dir": str(d), "returncode": proc.returncode,
                                 "wall_s": time.perf_counter() - t0, "stderr": proc.stderr[-500:]})
            (out / "coverage.json").write_text(json.dumps(meta, indent=2))
            print(f"{kind} {i + 1}/{args.invocations}: exit {proc.returncode}, {meta['runs'][-1]['wall_s']:.0f} s",
                  flush=True)
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter,
                                allow_abbrev=False)
    p.add_argument("--invocations", type=int, default=8)
    p.add_argument("--framework", default="torch")
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--steps", type=int, default=40)
    p.add_argument("--ratio-steps", type=int, default=COMPARE_STEPS,
                   help=f"--steps of the compare invocations (bench compare's default: {COMPARE_STEPS})")
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--experiment", choices=("steps", "frameworks", "reruns"), default="steps",
                   help="steps: step time and LRN ratio of one framework; frameworks: the suite's framework "
                        "ratio and LRN slowdown, lockstep against the independent method; reruns: bench run's "
                        "absolute times across invocations, torch and JAX [steps]")
    p.add_argument("--analyse", type=Path, nargs="+",
                   help="only analyse stored experiment folders (pooled; reruns: one folder, as its drift interval "
                        "is built from that folder's own invocations in order)")
    args = p.parse_args()
    outs = args.analyse or [run(args)]
    if json.loads((outs[0] / "coverage.json").read_text())["config"].keys() == set(RERUN_FRAMEWORKS):
        if len(outs) > 1:
            p.error(f"--analyse got {len(outs)} reruns folders; a reruns experiment is analysed one folder at a time "
                    "(each invocation's drift interval comes from the invocations before it in that folder)")
        rr = analyse_reruns(outs)
        for fw in RERUN_FRAMEWORKS:
            r = rr[fw]
            if "old" not in r:
                print(f"{fw}: only {r['runs']} invocations finished")
                continue
            print(f"{fw}: {r['runs']} invocations, medians {r['spread_of_estimates_pct']:.1f}% apart; the other runs' "
                  f"median held by the process interval in {r['old']['held']} of {r['runs']} (half-width "
                  f"{r['old']['median_half_width_pct']:.1f}%), with drift in {r['new']['held']} of {r['runs']} "
                  f"(half-width {r['new']['median_half_width_pct']:.1f}%); {r['wall_s_per_invocation']:.0f} s each")
        print(f"stored in {outs[-1]}")
        return
    if json.loads((outs[0] / "coverage.json").read_text())["config"].keys() == {"lockstep", "independent"}:
        fw_result = analyse_frameworks(outs)
        for quantity, what in FRAMEWORK_QUANTITIES.items():
            for label in ("old", "new"):
                r = fw_result[quantity][label]
                if "coverage" not in r:
                    print(f"{what}, {label}: only {r['runs']} runs with the figure")
                    continue
                print(f"{what}, {label} ({r['method']}): {r['runs']} runs, estimates "
                      f"{r['spread_of_estimates_pct']:.1f}% apart; coverage {r['coverage']:.0%}, half-width "
                      f"{r['median_half_width_pct']:.1f}%, {r['wall_s_per_answer']:.0f} s per invocation")
        print(f"stored in {outs[-1]}")
        return
    result = analyse(outs)
    for kind, what in (("step", "step time (median)"), ("ratio", "LRN ratio")):
        r = result[kind]
        print(f"{what}: {r['runs']} runs, estimates {r['spread_of_estimates_pct']:.1f}% apart; coverage old "
              f"{r['old']['coverage']:.0%} (half-width {r['median_half_width_pct']['old']:.1f}%), new "
              f"{r['new']['coverage']:.0%} (half-width {r['median_half_width_pct']['new']:.1f}%); "
              f"{r['wall_s_per_answer']:.0f} s per answer")
    print(f"stored in {outs[-1]}")


if __name__ == "__main__":
    main()
