"""What each faster exact mode that ``bench profile`` pointed at is worth: the default and the variant
run as bench's own measure jobs, one worker process each, alternated round by round (A B, B A, ...), so
the machine's drift hits both; the ratio is taken per round (adjacent processes) with a t-interval
over rounds, the same two-level statistic as everywhere else.

    python benchmarks/tuning_effects.py --rounds 4 --out benchmarks/results/tuning-effects.json
    python benchmarks/tuning_effects.py --mode forward --only retain_memory --out tuning-effects-forward.json
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.analysis.intervals import TwoLevel, log_ratio_paired  # noqa: E402
from bench.core import records, storage  # noqa: E402
from bench.core.config import ModelConfig, RunConfig  # noqa: E402
from bench.execution import planning, sweep  # noqa: E402

# (what, framework, LRN, the default's model options, the variant's)
EFFECTS: tuple[tuple[str, str, bool, dict[str, Any], dict[str, Any]], ...] = (
    ("torch --tune retain_memory", "torch", False, {}, {"tuning": ("retain_memory",)}),
    ("torch --lrn-impl conv1x1 (LRN on)", "torch", True, {}, {"lrn_impl": "conv1x1"}),
    ("torch conv1x1 + retain_memory (LRN on)", "torch", True, {}, {"lrn_impl": "conv1x1",
                                                                     "tuning": ("retain_memory",)}),
    ("jax --tune reshape_pool", "jax", False, {}, {"tuning": ("reshape_pool",)}),
    ("jax --tune reshape_pool (LRN on)", "jax", True, {}, {"tuning": ("reshape_pool",)}),
    ("tensorflow --compile xla", "tensorflow", False, {}, {"compile": "xla"}),
)


def measure(what: str, fw: str, lrn: bool, default: dict[str, Any], variant: dict[str, Any], rounds: int,
            steps: int, data: str, data_dir: str | None, mode: str = "train") -> dict[str, Any]:
    base = RunConfig(ModelConfig(fw, lrn=lrn, **default), mode=mode, batch_size=128, steps=steps, warmup=5,
                     data=data, data_dir=data_dir)
    alt = replace(base, model=replace(base.model, **variant))
    jobs = []
    for r in range(rounds):
        pair = [planning.Job(base, r), planning.Job(alt, r)]
        jobs += pair if r % 2 == 0 else pair[::-1]
    with tempfile.TemporaryDirectory() as tmp:
        run_dir = Path(tmp)
        sweep.execute(jobs, run_dir, timeout=1800)
        ms = records.latest_per_round(records.measurements(storage.read_records(run_dir)))
    by = {j.key: {m.round: [s / 1e6 for s in m.samples_ns] for m in ms if m.key == j.key and m.ok} for j in jobs}
    a, b = by[planning.key_of(base)], by[planning.key_of(alt)]
    common = sorted(set(a) & set(b))
    lr = log_ratio_paired([a[r] for r in common], [b[r] for r in common])
    lo, hi = lr.interval()
    faults = {name: sum(sum(m.page_faults) for m in ms if m.key == planning.key_of(c)) /
              max(1, sum(len(m.page_faults) for m in ms if m.key == planning.key_of(c)))
              for name, c in (("default", base), ("variant", alt))}
    shown = {k: list(v) if isinstance(v, tuple) else v for k, v in variant.items()}
    return {"what": what, "mode": mode, "framework": fw, "lrn": lrn, "variant": shown,
            "rounds": len(common), "default_ms": TwoLevel.of([a[r] for r in common]).estimate,
            "variant_ms": TwoLevel.of([b[r] for r in common]).estimate, "ratio": lr.ratio, "ci_low": lo,
            "ci_high": hi, "per_round_ratio": [round(float(np.median(b[r]) / np.median(a[r])), 3) for r in common],
            "page_faults_per_step": faults}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter,
                                allow_abbrev=False)
    p.add_argument("--rounds", type=int, default=4)
    p.add_argument("--steps", type=int, default=30)
    p.add_argument("--only", nargs="+", help="effects whose description contains one of these")
    p.add_argument("--mode", choices=("train", "forward"), default="train")
    p.add_argument("--data", default="mnist")
    p.add_argument("--data-dir")
    p.add_argument("--out", required=True)
    args = p.parse_args()
    out = []
    for effect in EFFECTS:
        if args.only and not any(o in effect[0] for o in args.only):
            continue
        row = measure(*effect, rounds=args.rounds, steps=args.steps, data=args.data, data_dir=args.data_dir,
                      mode=args.mode)
        print(f"{row['what']}: {row['default_ms']:.1f} -> {row['variant_ms']:.1f} ms, ratio {row['ratio']:.3f} "
              f"[{row['ci_low']:.3f}, {row['ci_high']:.3f}] over {row['rounds']} rounds {row['per_round_ratio']}, "
              f"page faults/step {row['page_faults_per_step']}", flush=True)
        out.append(row)
    Path(args.out).write_text(json.dumps(out, indent=2) + "\n")


if __name__ == "__main__":
    main()
