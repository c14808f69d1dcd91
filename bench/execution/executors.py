"""Where a sweep's worker jobs run: the seam between a sweep (:mod:`bench.execution.sweep`) and the workers.

An executor takes :class:`Task` s and yields each one's :class:`~bench.execution.runner.Outcome` in the parent
as it finishes; the caller turns outcomes into records and appends them, so the parent stays the
only writer of the results file, whichever executor ran the job. Every executor launches the same
isolated worker subprocess (:mod:`bench.execution.runner`).

- ``local`` (default): one job at a time on this machine, as bench always did.
- a GPU pool (``--gpus all|0,1,...``): one timed job per GPU at a time, each worker seeing only its GPU
  (``CUDA_VISIBLE_DEVICES=<uuid>``) and its own share of the CPU cores, never another job's.
- ``ray`` (:mod:`bench.execution.ray_executor`): each job a Ray task, on whatever nodes the cluster has.

Timed CPU jobs always run one at a time on a machine: two of them at once would share its cores and
memory bandwidth and corrupt both timings.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Generator, Sequence
from dataclasses import dataclass, field
from typing import Any

from bench.core import gpus
from bench.core.errors import UsageError
from bench.execution.executor import Executor, Task
from bench.execution.runner import Outcome, Running, start_worker
from bench.worker.process import CPU_SET_ENV

EXECUTORS = ("local", "ray")
POLL_S = 0.2  # how often the pool looks at its running workers (a parent doing nothing else)


@dataclass(frozen=True)
class Slot:
    """Where a pooled job runs: a GPU (by UUID, so NVML and every framework agree on which) and cores."""

    gpu_uuid: str | None = None
    gpu_index: int | None = None
    cpus: tuple[int, ...] = ()

    def env(self) -> dict[str, str]:
        out: dict[str, str] = {}
        if self.gpu_uuid is not None:
            out["CUDA_VISIBLE_DEVICES"] = self.gpu_uuid
            out["CUDA_DEVICE_ORDER"] = gpus.PCI_ORDER
        if self.cpus:
            out[CPU_SET_ENV] = ",".join(map(str, self.cpus))
        return out


@dataclass
class PoolExecutor:
    """Up to one job per slot at a time; ``local`` is the pool of one slot (serial, unpinned)."""

    slots: list[Slot] = field(default_factory=lambda: [Slot()])
    name: str = "local"
    remote: bool = False  # jobs may land on another machine (resume must not insist on this host)

    def map(self, tasks: Sequence[Task], timeout: float | None,
            on_start: Callable[[int], None] | None = None) -> Generator[tuple[int, Outcome], None, None]:
        """Run every task; yield (index, outcome) in the parent as each one ends (any order)."""
        queue = list(enumerate(tasks))
        free = list(self.slots)
        running: dict[int, tuple[Running, Slot]] = {}
        try:
            while queue or running:
                while queue and free:
                    i, task = queue.pop(0)
                    slot = free.pop(0)
                    if on_start:
                        on_start(i)
                    running[i] = (start_worker(task.task, task.params, threads=task.threads, device=task.device,
                                               env=slot.env()), slot)
                finished = False
                for i, (run, slot) in list(running.items()):
                    # one slot: block on the worker (the parent idles, as it must beside a timed CPU job)
                    outcome = run.wait(timeout) if len(self.slots) == 1 else run.poll(timeout)
                    if outcome is not None:
                        del running[i]
                        free.append(slot)
                        finished = True
                        if slot.gpu_uuid is not None:
                            outcome.result.setdefault("gpu_slot", {"uuid": slot.gpu_uuid, "index": slot.gpu_index})
                        yield i, outcome
                if running and not finished:
                    time.sleep(POLL_S)
        finally:
            for run, _ in running.values():  # Ctrl-C, or the caller stopped listening
                run.kill()


def usable_cpus() -> list[int]:
    try:
        return sorted(os.sched_getaffinity(0))
    except AttributeError:
        return list(range(os.cpu_count() or 1))


def gpu_slots(spec_text: str, inventory: list[dict[str, Any]] | None = None,
              cpus: list[int] | None = None) -> list[Slot]:
    """``--gpus all`` or ``0,2``: one slot per GPU, by UUID, each with a disjoint share of the cores (CPU 0,
    which takes most interrupts, left out when there are cores to spare)."""
    found = gpus.gpu_inventory() if inventory is None else inventory
    if not found:
        raise UsageError(f"--gpus {spec_text}: NVML sees no GPU on this machine; drop --gpus (CPU jobs run one at "
                         "a time: concurrent CPU jobs would share cores and corrupt every timing)")
    by_index = {int(g["index"]): g for g in found}
    if spec_text == "all":
        chosen = sorted(by_index)
    else:
        try:
            chosen = [int(x) for x in spec_text.split(",") if x.strip()]
        except ValueError:
            chosen = []
        bad = [c for c in chosen if c not in by_index]
        if not chosen or bad or len(set(chosen)) != len(chosen):
            raise UsageError(f"invalid --gpus {spec_text!r}; expected 'all' or distinct indices among "
                             f"{', '.join(map(str, sorted(by_index)))}")
    cores = usable_cpus() if cpus is None else cpus
    if len(cores) > len(chosen):
        cores = [c for c in cores if c != 0] or cores
    share = max(1, len(cores) // len(chosen))
    return [Slot(str(by_index[g]["uuid"]), g, tuple(cores[k * share:(k + 1) * share]) if len(cores) >= len(chosen)
                 else ()) for k, g in enumerate(chosen)]


def make(kind: str, device: str, gpus: str | None, address: str | None) -> Executor:
    """The executor the options ask for, refusing combinations that would corrupt timings or do nothing."""
    if kind not in EXECUTORS:
        raise UsageError(f"invalid --executor {kind!r}; allowed: {', '.join(EXECUTORS)}")
    if address is not None and kind != "ray":
        raise UsageError("--address has no effect without --executor ray")
    if kind == "ray":
        if gpus is not None:
            raise UsageError("--gpus is for the local GPU pool; with --executor ray each GPU job asks Ray for one GPU")
        from bench.execution.ray_executor import RayExecutor

        return RayExecutor(address)
    if gpus is None:
        return PoolExecutor()
    if device != "gpu":
        raise UsageError(f"--gpus needs GPU jobs (--device gpu or auto on a GPU machine), got --device {device}: timed "
                         "CPU jobs run one at a time, since two at once would share the cores and corrupt both")
    slots = gpu_slots(gpus)
    return PoolExecutor(slots, name=f"GPU pool ({len(slots)} GPUs)")
