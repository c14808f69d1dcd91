"""Where jobs run: the local executor, the one-job-per-GPU pool (device assignment and
CUDA_VISIBLE_DEVICES with a fake GPU inventory), and Ray on a local two-node cluster (a head and a
worker node on this machine, Ray's own ``cluster_utils.Cluster``). With each, the parent is the only
writer and resume, Ctrl-C and crash rows behave the same."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from bench.analysis import summary
from bench.core import records, storage
from bench.core.config import ModelConfig, RunConfig
from bench.core.errors import UsageError
from bench.execution import executors, planning, runner, sweep
from bench.execution.executor import Task
from bench.execution.executors import PoolExecutor, Slot
from bench.output import frames

FAKE_GPUS = [{"index": 0, "uuid": "GPU-0000aaaa", "name": "Fake A100"},
             {"index": 1, "uuid": "GPU-1111bbbb", "name": "Fake H100"}]


def test_gpu_slots_by_uuid_with_disjoint_cores() -> None:
    slots = executors.gpu_slots("all", FAKE_GPUS, cpus=list(range(8)))
    assert [s.gpu_uuid for s in slots] == ["GPU-0000aaaa", "GPU-1111bbbb"]
    assert slots[0].cpus == (1, 2, 3) and slots[1].cpus == (4, 5, 6)  # CPU 0 left to the interrupts
    assert slots[0].env() == {"CUDA_VISIBLE_DEVICES": "GPU-0000aaaa", "CUDA_DEVICE_ORDER": "PCI_BUS_ID",
                              "BENCH_CPU_SET": "1,2,3"}
    (only,) = executors.gpu_slots("1", FAKE_GPUS, cpus=[0, 1])
    assert only.gpu_uuid == "GPU-1111bbbb" and only.gpu_index == 1 and only.cpus == (1,)
    for bad in ("2", "0,0", "x", ""):
        with pytest.raises(UsageError, match="invalid --gpus"):
            executors.gpu_slots(bad, FAKE_GPUS, cpus=[0, 1])
    with pytest.raises(UsageError, match="NVML sees no GPU.*one at a time"):
        executors.gpu_slots("all", [], cpus=[0, 1])


def test_concurrent_cpu_jobs_are_refused() -> None:
    with pytest.raises(UsageError, match="timed CPU jobs run one at a time"):
        executors.make("local", "cpu", "all", None)
    with pytest.raises(UsageError, match="--address has no effect without --executor ray"):
        executors.make("local", "cpu", None, "auto")
    assert isinstance(executors.make("local", "cpu", None, None), PoolExecutor)


def test_the_pool_runs_one_job_per_gpu_at_a_time_each_seeing_its_own(tmp_path: Path) -> None:
    slots = executors.gpu_slots("all", FAKE_GPUS, cpus=[0, 1])
    pool = PoolExecutor(slots, name="test pool")
    # jobs 0 and 1 (then 2 and 3) wait for each other before they end: they can only finish if the pool
    # runs two at once, and then they overlapped however slowly each started
    tasks = [Task("crash", {"how": "sleep", "seconds": 0.0, "meet": str(tmp_path / f"meet-{i // 2}"), "count": 2},
                  None, "gpu", f"job {i}") for i in range(4)]
    outcomes = dict(pool.map(tasks, timeout=600))  # reached only if the pool ran them one at a time (a deadlock)
    assert sorted(outcomes) == [0, 1, 2, 3] and all(o.status == "ok" for o in outcomes.values())
    seen = {(o.result["environ"]["CUDA_VISIBLE_DEVICES"], tuple(o.result["affinity"])) for o in outcomes.values()}
    assert seen == {("GPU-0000aaaa", (0,)), ("GPU-1111bbbb", (1,))}
    spans = sorted((o.result["started"], o.result["ended"], o.result["gpu_slot"]["uuid"]) for o in outcomes.values())
    for gpu in ("GPU-0000aaaa", "GPU-1111bbbb"):  # never two jobs on one GPU at once
        mine = [s for s in spans if s[2] == gpu]
        assert len(mine) == 2 and mine[0][1] <= mine[1][0]
    assert spans[0][1] > spans[1][0]  # but the two GPUs' jobs overlapped


def _jobs(framework: str, n: int) -> list[planning.Job]:
    base = RunConfig(ModelConfig(framework), steps=2, warmup=0, batch_size=1, data="synthetic")
    return planning.plan([framework], ["forward"], [1], [False], base, rounds=n)


class _Interrupt:
    """after_each that raises Ctrl-C once ``n`` records are on disk."""

    def __init__(self, run_dir: Path, n: int) -> None:
        self.run_dir, self.n = run_dir, n

    def __call__(self) -> None:
        if len(storage.read_records(self.run_dir)) >= self.n:
            raise KeyboardInterrupt


def _behaves(executor: Any, framework: str, run_dir: Path) -> list[records.Measurement]:
    """Crash rows, Ctrl-C keeping what finished, and resume running only what is missing."""
    run_dir.mkdir(parents=True)
    jobs = _jobs(framework, 4)
    with pytest.raises(KeyboardInterrupt):
        sweep.execute(jobs, run_dir, timeout=None, executor=executor, after_each=_Interrupt(run_dir, 2))
    kept = records.measurements(storage.read_records(run_dir))
    assert 2 <= len(kept) < 4 and all(m.status == "ok" for m in kept)
    said: list[str] = []
    rest = sweep.execute(jobs, run_dir, timeout=None, executor=executor, notify=said.append)
    assert len(rest) == 4 - len(kept) and said and said[0].startswith(f"resume: {len(kept)} of 4 jobs")
    final = records.latest_per_round(records.measurements(storage.read_records(run_dir)))
    assert sorted(m.round for m in final) == [0, 1, 2, 3] and all(m.status == "ok" for m in final)
    return final


def test_local_and_pool_executors_keep_resume_interrupt_and_crash_rows(tmp_path: Path, numpy_framework: str,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    local = _behaves(PoolExecutor(), numpy_framework, tmp_path / "local")
    pool = _behaves(PoolExecutor([Slot("GPU-fake-0", 0, (0,)), Slot("GPU-fake-1", 1, (1,))]), numpy_framework,
                    tmp_path / "pool")
    assert {m.key for m in local} == {m.key for m in pool}
    real = executors.start_worker

    def crashing(task: str, params: dict[str, Any], **kw: Any) -> runner.Running:
        return real("crash", {"how": "signal"}, **kw)

    monkeypatch.setattr(executors, "start_worker", crashing)
    for name, ex in (("local", PoolExecutor()), ("pool", PoolExecutor([Slot("GPU-fake-0", 0, (0,))] * 2))):
        (tmp_path / f"crash-{name}").mkdir()
        recs = sweep.execute(_jobs(numpy_framework, 2), tmp_path / f"crash-{name}", timeout=None, executor=ex)
        assert [r.status for r in recs] == ["oom", "oom"] and all("SIGKILL" in (r.error or "") for r in recs)


# --- Ray ----------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def ray_cluster() -> Iterator[Any]:
    ray = pytest.importorskip("ray", exc_type=ModuleNotFoundError)
    from ray.cluster_utils import Cluster

    cluster = Cluster(initialize_head=True, head_node_args={"num_cpus": 1})
    worker = cluster.add_node(num_cpus=1)
    ray.init(address=cluster.address, log_to_driver=False)
    cluster.wait_for_nodes()
    try:
        yield cluster, worker
    finally:
        ray.shutdown()
        cluster.shutdown()


@pytest.mark.slow
def test_ray_sweep_matches_local_resumes_and_survives_a_lost_node(ray_cluster: Any, tmp_path: Path,
                                                                  numpy_framework: str) -> None:
    from bench.execution.ray_executor import RayExecutor

    cluster, worker = ray_cluster
    ray_ex = RayExecutor(None)
    via_ray = _behaves(ray_ex, numpy_framework, tmp_path / "ray")
    (tmp_path / "local").mkdir()
    local = sweep.execute(_jobs(numpy_framework, 4), tmp_path / "local", timeout=None)
    assert {m.key for m in via_ray} == {m.key for m in local} and {m.status for m in via_ray} == {"ok"}
    def columns(run: str) -> list[str]:
        return list(frames.summary_frame(summary.summarise(storage.read_records(tmp_path / run))).columns)

    assert columns("ray") == columns("local")
    # A worker node removed while a job certainly runs on it: Ray runs that job again elsewhere and its result
    # arrives. Two jobs of one CPU each on two one-CPU nodes run one per node; each says it started by a file in
    # ``meet`` and then waits until 3 have arrived there. Two jobs can only make a third arrival by a retry, so
    # neither finishes unless the lost job was run again; the retry lands on a node added after the removal.
    meet = tmp_path / "meet"
    tasks = [Task("crash", {"how": "sleep", "seconds": 0.0, "meet": str(meet), "count": 3}, 1, "cpu", f"job {i}")
             for i in range(2)]
    outcomes: dict[int, runner.Outcome] = {}

    def collect() -> None:  # the sweep's side, in a thread: Ray's nodes are added from the main thread only
        for i, outcome in ray_ex.map(tasks, timeout=600):
            outcomes[i] = outcome
            if outcome.status != "ok":
                break  # the lost job came back as a failure: the other one would wait for good

    collector = threading.Thread(target=collect)
    collector.start()
    deadline = time.monotonic() + 600  # a failure of the test if reached, never a step of it
    while time.monotonic() < deadline and len(list(meet.glob("*"))) < 2 and collector.is_alive():
        time.sleep(0.1)
    both_ran = len(list(meet.glob("*"))) == 2  # both jobs started: one of them on the worker node
    if both_ran:
        cluster.remove_node(worker)
        cluster.add_node(num_cpus=1)
    collector.join(timeout=900)
    assert both_ran, "the two jobs never ran at the same time"
    assert {i: o.status for i, o in outcomes.items()} == {0: "ok", 1: "ok"}, outcomes
    arrivals = {int(f.name) for f in meet.iterdir()}  # each process's pid: two jobs, three processes
    finished = {o.result["pid"] for o in outcomes.values()}
    assert len(arrivals) == 3 and finished < arrivals, (arrivals, finished)  # one attempt was lost and retried


def test_a_missing_ray_is_one_line_naming_the_extra(monkeypatch: pytest.MonkeyPatch,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    import sys

    from bench.cli import main

    monkeypatch.setitem(sys.modules, "ray", None)  # import ray -> ModuleNotFoundError
    code = main(["run", "--executor", "ray", "--frameworks", "torch", "--data", "synthetic"])
    err = capsys.readouterr().err
    assert code == 2 and len(err.strip().splitlines()) == 1
    assert "--executor ray needs Ray; install it with pip install 'bench[ray]'" in err
