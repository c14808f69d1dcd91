"""Does an interval keep its promise about the next run? Repeat one small config K times as
independent ``python -m bench`` invocations (step time and LRN ratio invocations interleaved, so the
machine's drift hits both), then report, for the interval bench used before (one worker process, its
steps resampled as if independent) and the one it uses now (several processes, t over process
estimates), the share of runs whose 95% interval holds the median of the other runs' estimates.

    python benchmarks/coverage.py --invocations 8            # ~10 minutes on a 2-core CPU
    python benchmarks/coverage.py --analyse reports/coverage-A reports/coverage-B   # re-analyse, pooled

Both intervals come from the same invocations: "old" uses only the first worker process of each
(what ``bench run`` and ``bench compare --lrn`` measured before: one process per config).
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
    meta: dict[str, Any] = {"config": {k: " ".join(v) for k, v in cmds.items()}, "runs": []}
    for i in range(args.invocations):
        for kind in ("step", "ratio") if i % 2 == 0 else ("ratio", "step"):  # interleaved A B B A
            d = out / f"{kind}-{i}"
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
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--invocations", type=int, default=8)
    p.add_argument("--framework", default="torch")
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--steps", type=int, default=40)
    p.add_argument("--ratio-steps", type=int, default=20)
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--analyse", type=Path, nargs="+", help="only analyse stored experiment folders (pooled)")
    args = p.parse_args()
    outs = args.analyse or [run(args)]
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
