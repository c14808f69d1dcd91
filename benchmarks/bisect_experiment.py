"""How often does ``bench bisect`` name the right commit, and what does a bisection cost here?

Each trial builds a throwaway git history (this tree's ``bench/``, ``impls/`` and ``pyproject.toml`` as
GOOD, then ``--commits`` commits that change a notes file), plants a slowdown in one of them: the torch
adapter's conv3 scope busy-waits for a fixed time before its convolution, in every forward pass (the
isolated layer timing of the profile included), sized as a share of torch's training step measured here
first. Then ``bench bisect GOOD BAD`` runs on that history with the given options, and the trial records
whether it named the planted commit, its probes, its effect and its wall time.

    python benchmarks/bisect_experiment.py run --out benchmarks/results/bisect-A      # ~5 min a trial, 2-core CPU
    python benchmarks/bisect_experiment.py analyse benchmarks/results/bisect-A

Trials go one after another (only one thing may time at a time on this machine); ``experiment.json``
is rewritten after each, so an interrupted experiment keeps every finished trial.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
PLANT_FILE = "impls/torch_alexnet.py"
PLANT_AT = '''        if scope.kind == "conv":
            conv = getattr(self, scope.layer)
            return lambda x: F.relu(conv(x))
'''
PLANT = '''        if scope.kind == "conv" and scope.layer == "conv3":  # PLANTED by benchmarks/bisect_experiment.py
            import time as _time

            conv3 = getattr(self, scope.layer)

            def planted(x: torch.Tensor) -> torch.Tensor:
                until = _time.perf_counter() + {seconds!r}
                while _time.perf_counter() < until:
                    pass
                return F.relu(conv3(x))

            return planted
'''
# (slowdown %, 1-based position of the planted commit among the commits after GOOD)
TRIALS = ((10, 2), (20, 5), (10, 7), (20, 1), (10, 4), (20, 8), (10, 8), (20, 3), (10, 5), (20, 6))
MODEL = ["--frameworks", "torch", "--mode", "train", "--batch-size", "32", "--data", "synthetic"]
PROBE_FIELDS = ("kind", "index", "outcome", "pairs", "ratio", "ci_low", "ci_high", "forced")
IDENT = {"GIT_AUTHOR_NAME": "bench", "GIT_AUTHOR_EMAIL": "bench@localhost", "GIT_COMMITTER_NAME": "bench",
         "GIT_COMMITTER_EMAIL": "bench@localhost"}


def _git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", "-C", str(repo), *args], capture_output=True, text=True, check=True,
                          env={**os.environ, **IDENT}).stdout.strip()


def history(repo: Path, commits: int, position: int, seconds: float) -> list[str]:
    """GOOD and ``commits`` commits after it, the one at ``position`` (1-based) planted; their hashes."""
    for part in ("bench", "impls"):
        shutil.copytree(ROOT / part, repo / part, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "pyproject.toml", repo)
    _git(repo, "init", "-q", "-b", "main")
    _git(repo, "add", "-A")
    _git(repo, "commit", "-q", "-m", "good")
    hashes = [_git(repo, "rev-parse", "HEAD")]
    for i in range(1, commits + 1):
        (repo / "notes.txt").write_text(f"note {i}\n")
        subject = f"note {i}"
        if i == position:
            path = repo / PLANT_FILE
            text = path.read_text()
            if PLANT_AT not in text:
                raise SystemExit(f"cannot plant: the conv scope of {PLANT_FILE} changed")
            path.write_text(text.replace(PLANT_AT, PLANT.format(seconds=seconds) + PLANT_AT))
            subject = f"slow conv3 by {seconds * 1e3:.2f} ms"
        _git(repo, "add", "-A")
        _git(repo, "commit", "-q", "-m", subject)
        hashes.append(_git(repo, "rev-parse", "HEAD"))
    return hashes


def step_ms(argv: list[str], out: Path) -> float:
    """Torch's median training step here, in ms, with the bisection's own model options (the run's
    results.jsonl and summary.csv kept in ``out``, not its plots and page)."""
    with tempfile.TemporaryDirectory(prefix="bisect-calibration-") as tmp:
        proc = subprocess.run([sys.executable, "-m", "bench", "run", *argv, "--out", str(Path(tmp) / "run")],
                              capture_output=True, text=True, cwd=ROOT)
        if proc.returncode != 0:
            raise SystemExit(f"calibration failed: {proc.stderr[-800:]}")
        out.mkdir(parents=True, exist_ok=True)
        for name in ("results.jsonl", "summary.csv", "env.json"):
            shutil.copy(Path(tmp) / "run" / name, out / name)
    rows = [json.loads(line) for line in (out / "results.jsonl").read_text().splitlines()]
    samples = sorted(s for r in rows if r.get("kind") == "measure" and r.get("status") == "ok"
                     for s in r["samples_ns"])
    return samples[len(samples) // 2] / 1e6


def run(args: argparse.Namespace) -> None:
    out = Path(args.out).resolve()
    out.mkdir(parents=True, exist_ok=True)
    meta_path = out / "experiment.json"
    meta: dict[str, Any] = json.loads(meta_path.read_text()) if meta_path.exists() else {
        "argv": sys.argv, "model": args.model, "bisect": args.bisect, "commits": args.commits, "trials": []}
    if "step_ms" not in meta:
        meta["step_ms"] = step_ms(args.model + ["--steps", "30"], out / "calibration")
        meta_path.write_text(json.dumps(meta, indent=2))
    print(f"torch step here: {meta['step_ms']:.1f} ms (the median of every timed step, 3 processes x 30)", flush=True)
    done = {(t["pct"], t["position"]) for t in meta["trials"]}
    for pct, position in TRIALS[:args.trials]:
        if (pct, position) in done:
            continue
        seconds = round(meta["step_ms"] * pct / 100 / 1e3, 6)
        with tempfile.TemporaryDirectory(prefix="bisect-history-") as tmp:
            repo = Path(tmp) / "bench"
            hashes = history(repo, args.commits, position, seconds)
            folder = out / f"{pct}pct-at-{position}"
            if folder.exists():
                shutil.rmtree(folder)
            env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
            start = time.perf_counter()
            proc = subprocess.run([sys.executable, "-m", "bench", "bisect", hashes[0], hashes[-1], *args.model,
                                   *args.bisect, "--out", str(folder)], cwd=repo, capture_output=True, text=True,
                                  env=env)
            wall = time.perf_counter() - start
        (folder / "stdout.txt").write_text(proc.stdout + proc.stderr)
        state = json.loads((folder / "bisect.json").read_text()) if (folder / "bisect.json").exists() else {}
        result = state.get("result") or {}
        culprit = (result.get("culprit") or {}).get("hash")
        trial = {"pct": pct, "position": position, "planted_ms": seconds * 1e3, "planted": hashes[position],
                 "named": culprit, "right": culprit == hashes[position], "action": result.get("action"),
                 "exit_code": proc.returncode, "wall_s": round(wall, 1), "folder": folder.name,
                 "probes": [{k: p.get(k) for k in PROBE_FIELDS} for p in state.get("probes", [])]}
        confirm = next((p for p in reversed(state.get("probes", [])) if p.get("kind") == "confirm"), {})
        trial["profile_headline"] = confirm.get("profile_headline")
        meta["trials"].append(trial)
        meta_path.write_text(json.dumps(meta, indent=2))
        print(f"{pct}% at {position}: {'RIGHT' if trial['right'] else 'WRONG'} (exit {proc.returncode}, "
              f"{result.get('action')}), {len(trial['probes'])} probes, {wall / 60:.1f} min", flush=True)
    analyse(argparse.Namespace(folder=str(out)))


def analyse(args: argparse.Namespace) -> None:
    meta = json.loads((Path(args.folder) / "experiment.json").read_text())
    trials = meta["trials"]
    print(f"torch training step {meta['step_ms']:.1f} ms; {meta['commits']} commits after GOOD; model "
          f"{' '.join(meta['model'])}; bisect {' '.join(meta['bisect'])}")
    print("| slowdown | planted at | named | probes | pairs | minutes | outcome |")
    print("|---|---|---|---|---|---|---|")
    for t in trials:
        pairs = sum(p.get("pairs") or 0 for p in t["probes"])
        print(f"| {t['pct']}% ({t['planted_ms']:.2f} ms) | {t['position']} | "
              f"{'right' if t['right'] else 'WRONG'} | {len(t['probes'])} | {pairs} | {t['wall_s'] / 60:.1f} | "
              f"{t['action']} (exit {t['exit_code']}) |")
    right = sum(t["right"] for t in trials)
    minutes = [t["wall_s"] / 60 for t in trials]
    if trials:
        print(f"right commit in {right} of {len(trials)}; {sum(len(t['probes']) for t in trials) / len(trials):.1f} "
              f"probes and {sum(minutes) / len(minutes):.1f} min a bisection on average "
              f"({min(minutes):.1f}-{max(minutes):.1f})")


def main() -> None:
    p = argparse.ArgumentParser(allow_abbrev=False, description=__doc__.splitlines()[0])
    sub = p.add_subparsers(dest="cmd", required=True)
    r = sub.add_parser("run", allow_abbrev=False)
    r.add_argument("--out", required=True)
    r.add_argument("--trials", type=int, default=len(TRIALS), help=f"the first N of the plan [{len(TRIALS)}]")
    r.add_argument("--commits", type=int, default=8, help="commits after GOOD [8]")
    r.add_argument("--model", type=shlex.split, default=MODEL,
                   help=f"model options, for the calibration and the bisection [{' '.join(MODEL)}]")
    r.add_argument("--bisect", type=shlex.split, default=[], help="more bench bisect options, one string "
                   "(e.g. '--profile-rounds 2')")
    a = sub.add_parser("analyse", allow_abbrev=False)
    a.add_argument("folder")
    args = p.parse_args()
    run(args) if args.cmd == "run" else analyse(args)


if __name__ == "__main__":
    main()
