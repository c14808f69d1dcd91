"""Small synthetic folders of every kind a report is written for (run, compare, profile, parity, ab,
history), built from the stored record types with made-up step times: nothing is timed. Shared by
the report tests and the browser tests."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import numpy as np

from bench.analysis.changepoints import Entry
from bench.core import records, storage
from bench.core.records import JobKey, Measurement
from bench.model import spec
from bench.store import history_store

FRAMEWORKS = ("torch", "tensorflow", "jax")
BASE_MS = {"torch": 9.0, "tensorflow": 12.0, "jax": 7.5}
KEY = JobKey("torch", "train", 64, False, "eager", "module", "cpu", 2, "host-a", None)
ENV = {"utc": "2026-01-01T00:00:00Z", "git": {"commit": "0123456789abcdef", "dirty": False}, "hostname": "host-a",
       "platform": "Linux-6.1-x86_64", "python": "3.11.2", "cpu_model": "Synthetic CPU <8 cores>", "cpu_affinity": 2,
       "gpus": [], "packages": {"torch": "2.13.0", "tensorflow": "2.21.0", "jax": "0.10.2"},
       "flags": {"OMP_NUM_THREADS": "2"}, "device": "cpu", "data": "synthetic MNIST-shaped data (requested)"}


def _samples(rng: np.random.Generator, ms: float, n: int = 8) -> tuple[int, ...]:
    return tuple(int(v * 1e6) for v in rng.lognormal(np.log(ms), 0.04, n))


def _env(run_dir: Path, argv: list[str], **extra: Any) -> None:
    storage.write_json(run_dir / storage.ENV, {**ENV, "argv": argv, **extra})


def run_folder(run_dir: Path, batches: tuple[int, ...] = (32, 64, 128), rounds: int = 3, seed: int = 0,
               scale: float = 1.0) -> Path:
    """bench run: three frameworks at three batch sizes (a sweep), ``rounds`` worker processes each."""
    rng = np.random.default_rng(seed)
    run_dir.mkdir(parents=True, exist_ok=True)
    for b in batches:
        for fw in FRAMEWORKS:
            key = dataclasses.replace(KEY, framework=fw, batch_size=b)
            for rnd in range(rounds):
                ms = scale * BASE_MS[fw] * b / 64 * (1 + 0.05 * rnd)  # a process effect to see
                m = Measurement(key, rnd, "ok", steps=8, samples_ns=_samples(rng, ms), data_source="synthetic",
                                flops_per_step=10**9, memory={"host_peak_rss_bytes": int((300 + b) * 2**20)},
                                versions={fw: "1.0"})
                storage.append_record(run_dir, m.to_dict())
    _env(run_dir, ["bench", "run", "--batch-size", *map(str, batches)])
    return run_dir


def compare_folder(run_dir: Path) -> Path:
    """bench compare --lrn both: LRN off and on in one worker per process, three processes each."""
    rng = np.random.default_rng(1)
    run_dir.mkdir(parents=True, exist_ok=True)
    for fw, cost in (("torch", 1.4), ("tensorflow", 2.1), ("jax", 1.1)):
        for rnd in range(3):
            for lrn in (False, True):
                key = dataclasses.replace(KEY, framework=fw, lrn=lrn)
                ms = BASE_MS[fw] * (cost if lrn else 1.0) * (1 + 0.03 * rnd)
                m = Measurement(key, rnd, "ok", steps=8, pair=True, samples_ns=_samples(rng, ms),
                                data_source="synthetic", memory={"host_peak_rss_bytes": 400 * 2**20})
                storage.append_record(run_dir, m.to_dict())
    layer = [{"framework": fw, "impl": impl, "layer": name, "shape": [64, 96, 27, 27], "direction": d,
              "max_err_forward": 1e-7, "max_err_backward": 1e-7, "exact": True, "first_call_s": 0.01,
              "samples_ns": list(_samples(rng, cost, 5))}
             for fw in ("torch", "jax") for impl, cost in (("module", 1.0), ("fused", 0.7))
             for name in ("lrn1", "lrn2") for d in ("forward", "forward_backward")]
    storage.append_record(run_dir, {**records.header("lrn_layer"), "status": "ok", "device": "cpu", "rows": layer})
    _env(run_dir, ["bench", "compare", "--lrn", "both"])
    return run_dir


def profile_folder(run_dir: Path) -> Path:
    """bench profile: a profiler's ops per scope and each scope timed alone, per framework."""
    rng = np.random.default_rng(2)
    run_dir.mkdir(parents=True, exist_ok=True)
    scopes = spec.scopes(False)
    for fw in FRAMEWORKS:
        cfg = {"mode": "train", "batch_size": 64, "model": {"lrn": False, "compile": "eager", "lrn_impl": "module",
                                                            "device": "cpu"}}
        ops, iso = [], []
        for i, s in enumerate(scopes):
            ms = BASE_MS[fw] / len(scopes) * (1 + 0.3 * (i % 3))
            for pass_ in (("update",) if s.kind == "optimizer" else ("forward", "backward")):
                ops.append({"name": f"op_{s.name}_{pass_}", "scope": s.name, "pass_": pass_,
                            "total_ns": int(ms * 1e6 * 3 / 2), "calls": 3})
            iso.append({"scope": s.name, "forward_ns": list(_samples(rng, ms / 2, 3)),
                        "forward_backward_ns": list(_samples(rng, ms, 3))})
        ops.append({"name": "memcpy", "scope": "", "pass_": "", "total_ns": 900_000, "calls": 3})
        rec = {**records.header("profile"), "framework": fw, "config": cfg, "status": "ok",
               "samples_ns": list(_samples(rng, BASE_MS[fw] * 1.1)), "tiny_batch": 1,
               "tiny_samples_ns": list(_samples(rng, 1.0, 4)), "dispatch_ns": list(_samples(rng, 0.2, 4)),
               "profile": {"ops": ops, "steps": 3, "traces": [], "clock": "synthetic"}, "isolated": iso}
        storage.append_record(run_dir, rec)
    _env(run_dir, ["bench", "profile"])
    return run_dir


def parity_folder(run_dir: Path) -> Path:
    """bench parity: two frameworks, three seeds, an evaluation every 20 steps."""
    rng = np.random.default_rng(3)
    run_dir.mkdir(parents=True, exist_ok=True)
    for seed in range(3):
        for fw in ("torch", "jax"):
            evals = [{"step": s, "epoch": s / 100, "test_acc": 99.0 - 8 * np.exp(-s / 25) + rng.normal(0, 0.05),
                      "test_loss": 0.03 + np.exp(-s / 30), "train_time_s": s * 0.05} for s in range(20, 101, 20)]
            losses = [float(2.3 * np.exp(-i / 30) + 0.02 + rng.normal(0, 0.01) ** 2) for i in range(100)]
            rec = {**records.header("parity"), "framework": fw, "seed": seed, "status": "ok", "evals": evals,
                   "losses": losses, "step_ns": [50_000_000] * 10, "train_time_s": 5.0, "steps_per_epoch": 100}
            storage.append_record(run_dir, rec)
    _env(run_dir, ["bench", "parity", "--quick"], parity={"target": 90.0, "max_gap": 3.0, "seeds": 3})
    return run_dir


def ab_folder(ab_dir: Path) -> Path:
    """bench ab: a base and a candidate run folder (the candidate's jax 15% slower) and ab.json."""
    run_folder(ab_dir / "base", batches=(64,), rounds=4, seed=4)
    cand = run_folder(ab_dir / "candidate", batches=(64,), rounds=4, seed=5)
    recs = storage.read_records(cand)
    (cand / storage.RESULTS).unlink()
    for rec in recs:  # plant the slowdown
        if rec["framework"] == "jax":
            rec["samples_ns"] = [int(s * 1.15) for s in rec["samples_ns"]]
        storage.append_record(cand, rec)
    storage.write_json(ab_dir / "ab.json", {"session": "synthetic", "base": {"commit": "a" * 40},
                                            "candidate": {"commit": "b" * 40}, "argv": ["bench", "ab", "main"]})
    return ab_dir


def history_store_folder(store: Path) -> Path:
    """A history store: two benchmarks over 12 commits, one with a 20% step change at commit 6."""
    rng = np.random.default_rng(6)
    entries = []
    for label, base in (("torch train batch 64", 9.0), ("jax train batch 64", 7.5)):
        for i in range(12):
            level = base * (1.2 if label.startswith("jax") and i >= 6 else 1.0)
            procs = list(rng.normal(level, 0.05, 3))
            est = float(np.median(procs))
            entries.append(Entry("host-a_cpu", f"{i:02d}" + "c0ffee" * 6 + "ab", f"2026-01-{i + 1:02d}T00:00:00Z",
                                 f"2026-01-{i + 1:02d}T01:00:00Z", label, {"framework": label.split()[0]}, est,
                                 est - 0.15, est + 0.15, 3, procs))
    history_store.append(store, entries)
    return store
