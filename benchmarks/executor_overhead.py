"""What the Ray executor costs, and what a lost node does to a sweep, on this machine.

1. The same 12-job synthetic sweep (``bench run``, torch forward at batch 16, LRN off and on, 6 rounds,
   ``--threads 2`` so Ray too runs one job at a time on a 2-core machine) with ``--executor local`` and
   with ``--executor ray`` (a local Ray that bench starts), wall time of each command, alternated.
2. A local two-node cluster (Ray's ``cluster_utils.Cluster``: a head and a worker node, one CPU each);
   a 12-job sweep through it, the worker node removed once the first job has finished; every job's
   final status.

    python benchmarks/executor_overhead.py --repeats 2 --out benchmarks/results/executors.json
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.core import records, storage  # noqa: E402
from bench.core.config import ModelConfig, RunConfig  # noqa: E402
from bench.execution import planning, sweep  # noqa: E402

SWEEP = ["run", "--frameworks", "torch", "--mode", "forward", "--batch-size", "16", "--steps", "10", "--warmup",
         "2", "--lrn", "both", "--rounds", "6", "--threads", "2", "--data", "synthetic"]


def timed_sweep(executor: str, out: Path) -> dict[str, Any]:
    start = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "bench", *SWEEP, "--executor", executor, "--out", str(out)],
                          capture_output=True, text=True, cwd=ROOT)
    wall = time.perf_counter() - start
    ms = records.measurements(storage.read_records(out))
    return {"executor": executor, "exit_code": proc.returncode, "wall_s": round(wall, 1), "jobs": len(ms),
            "ok": sum(m.ok for m in ms), "worker_wall_s": round(sum(m.wall_s or 0 for m in ms), 1),
            "stderr": proc.stderr[-300:]}


def lost_node() -> dict[str, Any]:
    import ray
    from ray.cluster_utils import Cluster

    from bench.execution.ray_executor import RayExecutor

    cluster = Cluster(initialize_head=True, head_node_args={"num_cpus": 1})
    worker = cluster.add_node(num_cpus=1)
    ray.init(address=cluster.address, log_to_driver=False)
    cluster.wait_for_nodes()
    removed: dict[str, Any] = {}
    try:
        with tempfile.TemporaryDirectory() as tmp:
            run_dir = Path(tmp)
            base = RunConfig(ModelConfig("torch", threads=1), mode="forward", batch_size=16, steps=10, warmup=2,
                             data="synthetic")
            jobs = planning.plan(["torch"], ["forward"], [16], [False, True], base, rounds=6)

            def remove() -> None:
                while not storage.read_records(run_dir):
                    time.sleep(0.2)
                removed["after_records"] = len(storage.read_records(run_dir))
                removed["at_s"] = round(time.perf_counter() - start, 1)
                cluster.remove_node(worker)

            start = time.perf_counter()
            thread = threading.Thread(target=remove)
            thread.start()
            sweep.execute(jobs, run_dir, timeout=600, executor=RayExecutor(None))
            thread.join()
            final = records.latest_per_round(records.measurements(storage.read_records(run_dir)))
            return {"jobs": len(jobs), "records": len(final), "statuses": sorted(m.status for m in final),
                    "node_removed_after_records": removed.get("after_records"), "removed_at_s": removed.get("at_s"),
                    "wall_s": round(time.perf_counter() - start, 1),
                    "errors": sorted({m.error for m in final if m.error})}
    finally:
        ray.shutdown()
        cluster.shutdown()


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter,
                                allow_abbrev=False)
    p.add_argument("--repeats", type=int, default=2)
    p.add_argument("--out", required=True)
    args = p.parse_args()
    result: dict[str, Any] = {"sweep": SWEEP, "runs": []}
    with tempfile.TemporaryDirectory() as tmp:
        for r in range(args.repeats):
            for executor in ("local", "ray") if r % 2 == 0 else ("ray", "local"):
                run = timed_sweep(executor, Path(tmp) / f"{executor}-{r}")
                result["runs"].append(run)
                print(run, flush=True)
    for executor in ("local", "ray"):
        walls = [r["wall_s"] for r in result["runs"] if r["executor"] == executor]
        result[f"{executor}_mean_wall_s"] = round(sum(walls) / len(walls), 1)
    result["ray_overhead_per_job_s"] = round((result["ray_mean_wall_s"] - result["local_mean_wall_s"]) / 12, 2)
    result["lost_node"] = lost_node()
    print(json.dumps(result, indent=2))
    Path(args.out).write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
