"""How often does the regression gate cry wolf, and how often does it catch a real 10% slowdown?

Real gates on this machine: A/A (``bench ab HEAD``: the project against itself) and A/B (``bench ab
HEAD PLANTED``, where PLANTED is a commit made here with git plumbing, never on a branch, whose torch
adapter does extra real work in every training step: a no-grad forward pass over some images of the
batch), alternating so the machine's drift hits both kinds. Then a simulation of many gates drawn
from the real samples' two-level structure: each simulated gate draws its lockstep pairs (with
replacement) from the real ones, and resamples the steps inside each worker process.

    python benchmarks/gate_experiment.py run --gates 6 --out benchmarks/results/gate-A   # ~35 min, 2-core CPU
    python benchmarks/gate_experiment.py analyse benchmarks/results/gate-A [more folders] --simulate 1000

``run --ci`` is the small gate ``.ci/run`` calls: one A/A gate that must say "no change" and one A/B gate
with a larger plant that must say "regression".
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.analysis import gate  # noqa: E402
from bench.analysis.gate import Series  # noqa: E402
from bench.store import series  # noqa: E402

PLANT_FILE = "impls/torch_alexnet.py"
PLANT_AFTER = "        loss.backward()\n"  # the first one after "def train_step"
PLANT = ("        with torch.no_grad():  # PLANTED by benchmarks/gate_experiment.py: extra work in every step\n"
         "            self.model(x[:{images}])\n")


def git(*args: str, env: dict[str, str] | None = None, data: bytes | None = None) -> str:
    out = subprocess.run(["git", "-C", str(ROOT), *args], input=data, capture_output=True, check=True,
                         env={**os.environ, **(env or {})})
    return out.stdout.decode().strip()


def planted_commit(base: str, images: int) -> str:
    """A commit (reachable from no branch) that is ``base`` plus the plant; the working tree is untouched."""
    text = git("show", f"{base}:{PLANT_FILE}") + "\n"
    step = text.find("    def train_step(")
    at = text.find(PLANT_AFTER, step) if step >= 0 else -1
    if at < 0:
        raise SystemExit(f"cannot plant: no 'loss.backward()' in train_step of {PLANT_FILE} at {base}")
    at += len(PLANT_AFTER)
    blob = git("hash-object", "-w", "--stdin", data=(text[:at] + PLANT.format(images=images) + text[at:]).encode())
    index = {"GIT_INDEX_FILE": str(ROOT / ".git" / "bench-plant-index")}
    git("read-tree", base, env=index)
    git("update-index", "--cacheinfo", f"100644,{blob},{PLANT_FILE}", env=index)
    tree = git("write-tree", env=index)
    os.unlink(index["GIT_INDEX_FILE"])
    ident = {"GIT_AUTHOR_NAME": "bench", "GIT_AUTHOR_EMAIL": "bench@localhost", "GIT_COMMITTER_NAME": "bench",
             "GIT_COMMITTER_EMAIL": "bench@localhost"}
    return git("commit-tree", tree, "-p", git("rev-parse", base), "-m",
               f"PLANTED slowdown: {images} extra forward images per torch train step", env=ident)


def one_gate(base: str, candidate: str, out: Path, extra: list[str]) -> dict[str, Any]:
    start = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "bench", "ab", base, candidate, "--frameworks", "torch",
                           "--out", str(out), *extra], capture_output=True, text=True)
    wall = time.perf_counter() - start
    result = json.loads((out / "gate.json").read_text()) if (out / "gate.json").exists() else {}
    rows = result.get("rows") or [{}]
    return {"dir": str(out), "exit_code": proc.returncode, "wall_s": wall, "verdict": rows[0].get("verdict"),
            "verdicts": [r.get("verdict") for r in rows],
            "ratio": rows[0].get("ratio"), "ci": [rows[0].get("ci_low"), rows[0].get("ci_high")],
            "stderr": proc.stderr[-500:]}


def run(args: argparse.Namespace) -> None:
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    base = git("rev-parse", "HEAD")
    planted = planted_commit(base, args.images)
    meta: dict[str, Any] = {"base": base, "planted": planted, "images": args.images, "argv": sys.argv, "gates": []}
    extra = list(args.ab_args or [])
    for flag, value in (("--rounds", args.pairs), ("--steps", args.steps), ("--mode", args.mode)):
        extra += [flag, str(value)] if value else []
    for i in range(args.gates):
        for kind, cand in (("aa", base), ("ab", planted)):
            if kind == "aa" and args.aa_gates is not None and i >= args.aa_gates:
                continue  # only the first --aa-gates rounds have an A/A gate
            g = one_gate(base, cand, out / f"{kind}-{i}", extra)
            g["kind"] = kind
            meta["gates"].append(g)
            print(f"{kind} {i}: exit {g['exit_code']} {g['verdict']} ratio {g['ratio']} in {g['wall_s']:.0f} s",
                  flush=True)
            (out / "experiment.json").write_text(json.dumps(meta, indent=2))
    if args.ci:
        aa, ab = (next(g for g in meta["gates"] if g["kind"] == k) for k in ("aa", "ab"))
        ok, line = ci_outcome(aa, ab)
        print(line)
        if not ok:
            print(aa["stderr"], ab["stderr"], file=sys.stderr)
            raise SystemExit(1)


# what CI requires of each gate: its verdict word and the exit code bench ab gives with it
CI_EXPECTED = {"aa": ("no change", 0), "ab": ("regression", 1)}


def ci_outcome(aa: dict[str, Any], ab: dict[str, Any]) -> tuple[bool, str]:
    """The CI gate's judgement of its two gates: the A/A gate must say "no change" (an "inconclusive" A/A
    exits 0 too, but a gate that cannot rule out a 10% slowdown of the code against itself is not working)
    and the planted slowdown must say "regression"; each with the exit code that verdict gives."""
    def said(g: dict[str, Any]) -> list[Any]:  # every row's verdict (a gate of several rows must agree in all)
        return list(g.get("verdicts") or [g["verdict"]])

    wrong = [f"{name} said {', '.join(map(str, said(g)))} (exit {g['exit_code']}), expected {verdict} (exit {code})"
             for name, g, (verdict, code) in (("A/A", aa, CI_EXPECTED["aa"]), ("planted", ab, CI_EXPECTED["ab"]))
             if set(said(g)) != {verdict} or g["exit_code"] != code]
    head = (f"CI gate: A/A {aa['verdict']} (exit {aa['exit_code']}), planted {ab['verdict']} (exit "
            f"{ab['exit_code']})")
    return not wrong, f"{head}: " + ("OK" if not wrong else "FAILED: " + "; ".join(wrong))


# --- analysis -------------------------------------------------------------------------------------
def _pairs(gate_dir: Path) -> list[tuple[list[float], list[float]]]:
    a = series.load([str(gate_dir / "base")], "base").series[0]
    b = series.load([str(gate_dir / "candidate")], "candidate").series[0]
    return [(a.groups[k], b.groups[k]) for k in sorted(set(a.groups) & set(b.groups))]


def _series(pairs: list[tuple[np.ndarray, np.ndarray]]) -> tuple[Series, Series]:
    key = (("benchmark", "simulated"),)
    return (Series(key, {str(i): a.tolist() for i, (a, _) in enumerate(pairs)}, "cpu", True),
            Series(key, {str(i): b.tolist() for i, (_, b) in enumerate(pairs)}, "cpu", True))


def simulate(pool: list[tuple[list[float], list[float]]], gates: int, pairs: int, seed: int,
             scale: float = 1.0, settings: gate.Settings | None = None) -> dict[str, float]:
    """Verdict shares of ``gates`` gates, each ``pairs`` pairs drawn from ``pool`` with their turns
    resampled (step t of both sides together, keeping the lockstep pairing); ``scale`` multiplies the
    candidate's steps (a clean planted effect)."""
    rng = np.random.default_rng(seed)
    arrays = [(np.asarray(a), np.asarray(b)) for a, b in pool]
    counts: dict[str, int] = dict.fromkeys(gate.VERDICTS, 0)
    for _ in range(gates):
        drawn = [arrays[i] for i in rng.integers(0, len(arrays), pairs)]
        sim = []
        for a, b in drawn:
            turns = rng.integers(0, min(a.size, b.size), min(a.size, b.size))
            sim.append((a[turns], scale * b[turns]))
        counts[gate.check(*[[s] for s in _series(sim)], settings).rows[0].verdict] += 1
    return {k: v / gates for k, v in counts.items()}


def lower_ends(pool: list[tuple[list[float], list[float]]], gates: int, pairs: int, seed: int) -> np.ndarray:
    """The lower end of the gate's interval in ``gates`` simulated A/A gates (no floor): how often each
    candidate floor would still be cleared when nothing changed."""
    rng = np.random.default_rng(seed)
    arrays = [(np.asarray(a), np.asarray(b)) for a, b in pool]
    out = []
    for _ in range(gates):
        sim = []
        for a, b in (arrays[i] for i in rng.integers(0, len(arrays), pairs)):
            turns = rng.integers(0, min(a.size, b.size), min(a.size, b.size))
            sim.append((a[turns], b[turns]))
        out.append(gate.check(*[[s] for s in _series(sim)], gate.Settings(noise_floor=0.0)).rows[0].ci_low)
    return np.asarray(out)


def analyse(args: argparse.Namespace) -> None:
    metas = [json.loads((Path(d) / "experiment.json").read_text()) for d in args.dirs]
    # each gate's folder is read beside its experiment.json (the experiment may have been moved)
    gates_all = [{**g, "dir": str(Path(d) / Path(g["dir"]).name)} for d, m in zip(args.dirs, metas, strict=True)
                 for g in m["gates"]]
    pools: dict[str, list[tuple[list[float], list[float]]]] = {"aa": [], "ab": []}
    for g in gates_all:
        if g["exit_code"] in (0, 1):
            pools[g["kind"]] += _pairs(Path(g["dir"]))
    out: dict[str, Any] = {"experiments": args.dirs, "planted_images": sorted({m["images"] for m in metas})}
    for kind in ("aa", "ab"):
        gs = [g for g in gates_all if g["kind"] == kind and g["exit_code"] in (0, 1)]
        detects = [json.loads((Path(g["dir"]) / "gate.json").read_text())["rows"][0]["detectable_pct"] for g in gs]
        out[kind] = {"gates": len(gs), "verdicts": {v: sum(g["verdict"] == v for g in gs) for v in gate.VERDICTS},
                     "exit_codes": [g["exit_code"] for g in gs], "ratios": [round(g["ratio"], 4) for g in gs],
                     "intervals": [[round(x, 4) for x in g["ci"]] for g in gs], "detectable_pct": detects,
                     "wall_s": [round(g["wall_s"], 1) for g in gs], "pairs_pooled": len(pools[kind]),
                     "not_run": [g["dir"] for g in gates_all if g["kind"] == kind and g["exit_code"] not in (0, 1)]}
    # each pair's statistic as the gate takes it: the median over turns of log(candidate_t / base_t)
    logs = {k: np.array([np.median(np.log(np.asarray(b[:len(a)]) / np.asarray(a[:len(b)]))) for a, b in pools[k]])
            for k in pools}
    out["pair_log_ratio"] = {k: {"mean": float(v.mean()), "sd": float(v.std(ddof=1)), "n": int(v.size),
                                 "min": float(v.min()), "max": float(v.max())} for k, v in logs.items()}
    out["planted_effect"] = float(np.exp(logs["ab"].mean() - logs["aa"].mean()))
    pairs = args.pairs
    out["simulation"] = {
        "gates": args.simulate, "pairs_per_gate": pairs,
        "false_alarm (A/A pool)": simulate(pools["aa"], args.simulate, pairs, 1),
        "real plant (A/B pool)": simulate(pools["ab"], args.simulate, pairs, 2),
        "clean 10% on the A/A pool": simulate(pools["aa"], args.simulate, pairs, 3, scale=1.10),
    }
    lows = lower_ends(pools["aa"], args.simulate, pairs, 4)
    out["noise_floor_check"] = {f"lower end above {1 + f:g} (A/A, no floor)": float(np.mean(lows > 1 + f))
                                for f in (0.0, 0.01, 0.02, 0.03)}
    text = json.dumps(out, indent=2)
    print(text)
    if args.save:
        Path(args.save).write_text(text + "\n")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter,
                                allow_abbrev=False)
    sub = p.add_subparsers(dest="cmd", required=True)
    r = sub.add_parser("run", allow_abbrev=False)
    r.add_argument("--gates", type=int, default=6, help="gates of each kind (A/A, A/B), alternating")
    r.add_argument("--images", type=int, default=40, help="extra forward images per train step in the plant")
    r.add_argument("--pairs", type=int, help="lockstep pairs per gate [bench ab's default]")
    r.add_argument("--steps", type=int, help="steps per side and pair [bench ab's default]")
    r.add_argument("--mode", choices=("train",), default=None)
    r.add_argument("--aa-gates", type=int, help="A/A gates, in the first rounds (to top up an earlier "
                   "experiment's) [--gates]")
    r.add_argument("--out", required=True)
    r.add_argument("--ci", action="store_true", help="assert A/A says no change and A/B is caught (exit 1 if not)")
    r.add_argument("ab_args", nargs="*", help="more bench ab options, after --")
    a = sub.add_parser("analyse", allow_abbrev=False)
    a.add_argument("dirs", nargs="+")
    a.add_argument("--simulate", type=int, default=1000)
    a.add_argument("--pairs", type=int, default=8, help="pairs per simulated gate (bench ab's default)")
    a.add_argument("--save", help="write the analysis JSON here")
    args = p.parse_args()
    run(args) if args.cmd == "run" else analyse(args)


if __name__ == "__main__":
    main()
