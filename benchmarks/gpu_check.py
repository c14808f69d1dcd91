"""The prepared one-shot GPU check: every GPU path of bench once, with self-checks, in a fixed budget.

    PYTHONPATH=. python benchmarks/gpu_check.py --out reports/gpu --data-dir .gpu-data/mnist
    python benchmarks/gpu_check.py --device cpu --out /tmp/gpu-check-cpu   # the same steps, tiny sizes

For every framework importable here it runs, as subprocesses of ``python -m bench`` with their output
tee'd into ``DIR``: ``bench env``; ``verify`` in both precisions (on a CPU only strict: default is
GPU-only); ``compare --lrn`` at batch 128 and 1024 (LRN's cost and memory added); ``profile --trace``
at batch 128; ``parity --quick --seeds 3``. Then self-checks, each printing PASS, FAIL or SKIP with its
reason: each step ran (a step that failed is a FAIL, one cut by the budget a SKIP); each profile's
attribution covers >= 90% of its device time and does not add up to more than the whole step (on a
CPU skipped: its profilers time ops on the host, slowed by the profiler and on several threads at
once); the allocator peak does not exceed NVML's figure for the process; the GEMM reference is below
the device's float32 peak (a table by GPU name). The exit code is 1 when any check says FAIL. Steps
are planned against ``--budget-s``: a step whose estimate no longer fits is skipped, one that runs long
is stopped before the budget, and README.md in DIR names both, with the GPU, driver, CUDA and package
versions it ran on.

On the GPU machine the MNIST files travel in the checkout's git-ignored ``.gpu-data/`` folder
(``--data-dir .gpu-data/mnist``); without data the timing steps use synthetic batches and parity is
skipped, said so in README.md.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import platform
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.core import gpus, registry  # noqa: E402 - after the checkout is on the path

# float32 (non-tensor-core) peak TFLOP/s by GPU name, from NVIDIA's data sheets (SXM boards; PCIe lower)
FP32_PEAK_TFLOPS = {"H200": 67.0, "H100": 67.0, "A100": 19.5, "L40S": 91.6, "A10": 31.2, "V100": 15.7}
MARGIN_S = 10.0  # kept free at the end of the budget for the checks and README
COVERAGE_MIN_PCT = 90.0


@dataclass
class Sizes:
    """What one mode runs: the GPU sizes of the issue, or tiny ones for a CPU."""

    batches: tuple[int, int]
    steps: int
    warmup: int
    rounds: int
    verify_batch: int
    profile_steps: int
    seeds: int
    precisions: tuple[str, ...]
    imagenet_batch: int  # the book's 224x224 network (--model imagenet, synthetic data): LRN's cost at this batch


GPU = Sizes((128, 1024), steps=30, warmup=5, rounds=2, verify_batch=32, profile_steps=3, seeds=3,
            precisions=("strict", "default"), imagenet_batch=128)
CPU = Sizes((4, 8), steps=5, warmup=1, rounds=2, verify_batch=8, profile_steps=1, seeds=1, precisions=("strict",),
            imagenet_batch=2)


@dataclass
class Step:
    name: str
    argv: list[str]
    estimate_s: float  # planned cost; a step that no longer fits is skipped
    out: str | None = None  # its run folder under DIR
    status: str = "planned"
    wall_s: float = 0.0
    note: str = ""


@dataclass
class Check:
    name: str
    verdict: str  # PASS, FAIL or SKIP
    detail: str


@dataclass
class Plan:
    steps: list[Step] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)  # not planned at all, with why


def plan(args: argparse.Namespace, frameworks: list[str], sizes: Sizes, data: list[str], has_mnist: bool) -> Plan:
    """Every step, most important first (the budget cuts from the end): the environment, the profile (whose
    self-checks need it), verify, the LRN comparisons, parity. Estimates: per framework worker on an H200
    (CUDA init, compile) or on a CPU, times the steps' worker counts."""
    n = len(frameworks)
    fw = ["--frameworks", *frameworks]
    dev = ["--device", args.device]
    per_worker = 15.0 if args.device == "gpu" else 12.0
    p = Plan()
    probe = ["--no-probe"] if args.smallest else ["--timeout", "60"]  # smallest: no worker per framework
    p.steps.append(Step("env", ["env", *probe], 5 + 8 * n))
    p.steps.append(Step(f"profile-b{sizes.batches[0]}", ["profile", *fw, *dev, "--trace", "--batch-size",
                                                         str(sizes.batches[0]), "--steps", str(sizes.steps),
                                                         "--profile-steps", str(sizes.profile_steps), *data],
                        per_worker * 2 * n, out=f"profile-b{sizes.batches[0]}"))
    for precision in sizes.precisions:
        p.steps.append(Step(f"verify-{precision}", ["verify", *fw, *dev, "--precision", precision,
                                                    "--batch-size", str(sizes.verify_batch), *data],
                            per_worker * 2 * n))
    if "default" not in sizes.precisions:
        p.skipped.append("verify --precision default: refused on a CPU (TF32 is a GPU format)")
    common = ["--steps", str(sizes.steps), "--warmup", str(sizes.warmup), "--rounds", str(sizes.rounds),
              "--max-rounds", str(sizes.rounds), "--no-layer", *data]
    for batch in sizes.batches:
        p.steps.append(Step(f"compare-lrn-b{batch}", ["compare", "--lrn", *fw, *dev, "--batch-size", str(batch),
                                                      *common], per_worker * (sizes.rounds * n + 1),
                            out=f"compare-b{batch}"))
    if args.smallest:
        p.skipped.append("--model imagenet (verify, compare --lrn): left out by --smallest")
    else:  # the book's own network, on synthetic 224x224x3 images (no ImageNet here), as the book timed it
        without_data = common[:len(common) - len(data)]
        p.steps.append(Step("verify-imagenet", ["verify", "--model", "imagenet", *fw, *dev], per_worker * 4 * n))
        p.steps.append(Step(f"compare-lrn-imagenet-b{sizes.imagenet_batch}",
                            ["compare", "--lrn", "--model", "imagenet", *fw, *dev, "--batch-size",
                             str(sizes.imagenet_batch), *without_data, "--data", "synthetic"],
                            per_worker * 2 * (sizes.rounds * n + 1),
                            out=f"compare-imagenet-b{sizes.imagenet_batch}"))
    if n < 2:  # bench parity exits 1 with one framework: "fewer than two frameworks trained: nothing to compare"
        alone = ", ".join(frameworks) or "none"
        p.skipped.append(f"parity --quick: it compares frameworks, and only {alone} runs here")
    elif has_mnist:
        parity = ["parity", "--quick", *fw, *dev, "--seeds", str(sizes.seeds), "--data-dir", args.data_dir]
        p.steps.append(Step("parity-quick", parity, per_worker * 3 * n * sizes.seeds, out="parity"))
    else:
        p.skipped.append("parity --quick: no MNIST (give --data-dir or set BENCH_DATA_DIR); it trains on real data")
    return p


def run_step(step: Step, out: Path, deadline: float, say: Any) -> None:
    """Run one step as ``python -m bench ...``, its output tee'd to DIR/<name>.log, stopped at the deadline."""
    left = deadline - time.monotonic()
    if left < step.estimate_s:
        step.status = "skipped"
        step.note = f"estimated {step.estimate_s:.0f} s, {max(left, 0):.0f} s left in the budget"
        say(f"SKIP {step.name}: {step.note}")
        return
    argv = [sys.executable, "-m", "bench", *step.argv] + (["--out", str(out / step.out)] if step.out else [])
    say(f"RUN  {step.name}: {' '.join(argv[1:])}")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}
    t0 = time.monotonic()
    with open(out / f"{step.name}.log", "w") as log:
        proc = subprocess.Popen(argv, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                                start_new_session=True)

        def tee() -> None:  # a thread, so a step that prints nothing is still stopped at the deadline
            assert proc.stdout is not None
            for line in proc.stdout:
                log.write(line)
                print(f"  {line}", end="", flush=True)

        reader = threading.Thread(target=tee, daemon=True)
        reader.start()
        rc: int | None = None
        try:
            rc = proc.wait(timeout=max(1.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            step.status, step.note = "stopped", "stopped at the budget (what it finished is in its folder)"
        finally:  # at the budget, or this script interrupted: never leave the step running
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGKILL)  # its whole session: the bench parent and its workers
                proc.wait()
        reader.join(timeout=5)
    step.wall_s = time.monotonic() - t0
    if step.status != "stopped":
        step.status = "ok" if rc == 0 else f"exit {rc}"
    say(f"{'DONE' if step.status == 'ok' else 'STOP'} {step.name}: {step.status} in {step.wall_s:.0f} s")


def _csv(path: Path) -> list[dict[str, str]]:
    if not path.exists():
        return []
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def _num(text: str | None) -> float | None:
    try:
        return float(text) if text not in (None, "") else None
    except ValueError:
        return None


def step_checks(steps: list[Step]) -> list[Check]:
    """Each planned step ran: a step that failed is a FAIL (the checks that read its files would otherwise
    only find them missing and skip); one cut by the budget is a SKIP with why."""
    found = []
    for s in steps:
        if s.status == "ok":
            found.append(Check(f"step {s.name} ran", "PASS", f"exit 0 in {s.wall_s:.0f} s"))
        elif s.status in ("skipped", "stopped"):
            found.append(Check(f"step {s.name} ran", "SKIP", f"{s.status} for the budget: {s.note}"))
        else:
            found.append(Check(f"step {s.name} ran", "FAIL", f"{s.status} (its output: {s.name}.log)"))
    return found


def checks(out: Path, steps: list[Step], gpu_name: str | None) -> list[Check]:
    """The self-checks, from the files the steps wrote."""
    found: list[Check] = step_checks(steps)
    prof = next((s for s in steps if s.name.startswith("profile")), None)
    rows = _csv(out / prof.out / "profile_summary.csv") if prof and prof.out else []
    if not rows:
        found.append(Check("profile attribution", "SKIP", "no profile_summary.csv (profile skipped or failed)"))
    for r in rows:
        label = f"profile {r['framework']} batch {r['batch_size']}"
        cov, step_ms = _num(r.get("coverage_pct")), _num(r.get("step_ms"))
        attributed, unattributed = _num(r.get("profiler_attributed_ms")), _num(r.get("profiler_unattributed_ms"))
        if cov is None or step_ms is None or attributed is None or unattributed is None:
            found.append(Check(f"{label}: attribution", "SKIP", f"profiler: {r.get('profiler') or 'no figures'}"))
            continue
        found.append(Check(f"{label}: attribution covers >= {COVERAGE_MIN_PCT:.0f}% of {r.get('clock')}",
                           "PASS" if cov >= COVERAGE_MIN_PCT else "FAIL", f"{cov:.1f}% attributed to layers"))
        total = attributed + unattributed
        name, figures = f"{label}: profiled time per step <= the whole step", f"{total:.2f} ms profiled, " \
            f"{step_ms:.2f} ms step"
        if r.get("device") == "cpu":  # the bound holds for one device stream, not for a CPU's thread pools
            found.append(Check(name, "SKIP", "on a CPU the profiler times ops on the host, slowed by its own overhead "
                               f"and on several threads at once, so their sum may exceed the step timed without it: "
                               f"{figures}"))
        else:
            found.append(Check(name, "PASS" if total <= step_ms else "FAIL", figures))
    mem = [r for s in steps if s.name.startswith("compare") and s.out for r in _csv(out / s.out / "summary.csv")]
    pairs = [(r, _num(r.get("alloc_peak_mib")), _num(r.get("nvml_process_mib"))) for r in mem]
    both = [(r, a, n) for r, a, n in pairs if a is not None and n is not None]
    if not both:
        found.append(Check("allocator peak <= NVML", "SKIP", "no row has both figures (CPU, or compare skipped)"))
    for r, a, n in both:
        found.append(Check(f"{r['framework']} batch {r['batch_size']} LRN {r['lrn']}: allocator peak <= NVML process",
                           "PASS" if a <= n else "FAIL", f"{a:.0f} MiB peak, {n:.0f} MiB NVML "
                           f"({r.get('nvml_process_source')})"))
    peak = next((v for k, v in FP32_PEAK_TFLOPS.items() if gpu_name and k in gpu_name), None)
    gemms = [json.loads(line) for s in steps if s.name.startswith("compare") and s.out
             for line in _lines(out / s.out / "results.jsonl")]
    measured = [(g["framework"], g["flops_per_s"] / 1e12) for g in gemms if g.get("kind") == "gemm"
                and g.get("status") == "ok"]
    if peak is None:
        found.append(Check("GEMM below the float32 peak", "SKIP",
                           f"no float32 peak for GPU {gpu_name!r} in the table ({', '.join(FP32_PEAK_TFLOPS)})"))
    elif not measured:
        found.append(Check("GEMM below the float32 peak", "SKIP", "no GEMM reference measured"))
    for fw, tflops in measured if peak is not None else []:
        found.append(Check(f"{fw} strict GEMM below the {gpu_name} float32 peak", "PASS" if tflops < peak else
                           "FAIL", f"{tflops:.1f} TFLOP/s against {peak:.1f}"))
    return found


def _lines(path: Path) -> list[str]:
    return [ln for ln in path.read_text().splitlines() if ln.strip()] if path.exists() else []


def _versions(frameworks: list[str]) -> dict[str, str]:
    from bench.core.provenance import package_versions

    wanted = {p for fw in frameworks for p in registry.get(fw).packages} | {"numpy", "scipy", "pandas", "nvidia-ml-py"}
    return {p: v for p, v in package_versions().items() if p in wanted and v}


def readme(out: Path, args: argparse.Namespace, frameworks: list[str], p: Plan, found: list[Check],
           started: str, data_note: str) -> None:
    inv = gpus.gpu_inventory()
    lines = ["# bench GPU check", "",
             f"Ran {started} on {platform.node()} ({platform.platform()}), Python {platform.python_version()}, "
             f"device {args.device}, budget {args.budget_s:.0f} s. Command: `{' '.join(sys.argv)}`.", ""]
    if inv:
        g = inv[0]
        lines.append(f"GPU: {g['name']} ({len(inv)} visible), driver {g['driver']}, CUDA driver {g['cuda_driver']}, "
                     f"{g['memory_total_bytes'] / 2**30:.0f} GiB.")
    else:
        lines.append("GPU: none seen by NVML (a CPU run: tiny sizes, GPU-only checks skipped).")
    absent = [fw for fw in registry.names() if fw not in frameworks]
    lines += ["", f"Frameworks run: {', '.join(frameworks) or 'none'}; absent here: {', '.join(absent) or 'none'}.",
              "Versions: " + ", ".join(f"{k} {v}" for k, v in sorted(_versions(frameworks).items())) + ".",
              f"Data: {data_note}.", "", "## Steps", "",
              "| step | status | wall s | note | log |", "|---|---|---|---|---|"]
    lines += [f"| {s.name} | {s.status} | {s.wall_s:.0f} | {s.note} | {s.name}.log"
              + (f", {s.out}/" if s.out else "") + " |" for s in p.steps]
    lines += [f"| {why.split(':')[0]} | not planned | | {why} | |" for why in p.skipped]
    lines += ["", "## Self-checks", ""] + [f"- {c.verdict} {c.name}: {c.detail}" for c in found]
    (out / "README.md").write_text("\n".join(lines) + "\n")


def _interrupted(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(allow_abbrev=False, description=__doc__.split("\n")[0])
    ap.add_argument("--out", required=True, type=Path, help="folder for everything it prints and writes")
    ap.add_argument("--device", choices=("gpu", "cpu"), default="gpu")
    ap.add_argument("--budget-s", type=float, default=330.0, help="wall-time budget in seconds [330]")
    ap.add_argument("--data-dir", default=os.environ.get("BENCH_DATA_DIR"),
                    help="MNIST folder [$BENCH_DATA_DIR]; on the GPU machine .gpu-data/mnist")
    ap.add_argument("--smallest", action="store_true", help="one framework only (the test's mode)")
    args = ap.parse_args(argv)
    # a SIGTERM (a timeout around this script) unwinds like Ctrl-C, so the running step is killed too
    signal.signal(signal.SIGTERM, _interrupted)
    if args.budget_s <= MARGIN_S:
        ap.error(f"--budget-s must be above {MARGIN_S:.0f}; got {args.budget_s:g}")
    deadline = time.monotonic() + args.budget_s - MARGIN_S
    out: Path = args.out
    out.mkdir(parents=True, exist_ok=True)
    started = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    log = open(out / "gpu_check.log", "w")  # noqa: SIM115 - open for the whole run

    def say(text: str) -> None:
        print(text, flush=True)
        log.write(text + "\n")
        log.flush()

    frameworks = registry.available()[:1] if args.smallest else registry.available()
    sizes = GPU if args.device == "gpu" else CPU
    has_mnist = bool(args.data_dir) and Path(args.data_dir).is_dir()
    data = ["--data", "mnist", "--data-dir", args.data_dir] if has_mnist else ["--data", "synthetic"]
    data_note = f"MNIST from {args.data_dir}" if has_mnist else "synthetic batches (no MNIST folder given or found)"
    p = plan(args, frameworks, sizes, data, has_mnist)
    if not frameworks:
        say("no framework is importable here: nothing to run")
    for step in p.steps:
        run_step(step, out, deadline, say)
    inv = gpus.gpu_inventory()
    found = checks(out, p.steps, str(inv[0]["name"]) if inv else None)
    for c in found:
        say(f"{c.verdict} {c.name}: {c.detail}")
    for why in p.skipped:
        say(f"SKIP {why}")
    readme(out, args, frameworks, p, found, started, data_note)
    say(f"README: {out / 'README.md'}")
    log.close()
    return 1 if any(c.verdict == "FAIL" for c in found) else 0


if __name__ == "__main__":
    sys.exit(main())
