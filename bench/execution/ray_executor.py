"""The Ray executor (``--executor ray [--address ADDR]``): each job a Ray task that launches the same
isolated worker subprocess on whatever node Ray picks. Imported only when chosen; Ray is the
optional extra ``bench[ray]``.

- Resources: a GPU job asks for one GPU (``num_gpus=1``, and an ``accelerator_type`` when the job names
  one, so one matrix can span GPU types); a CPU job for ``--threads`` cores (default 1; give a CPU node's
  whole core count to keep timed jobs from sharing a node).
- Data: MNIST is sent with the sweep through Ray's object store; a node uses its own verified cache
  when it has one, else writes the shipped files (each verified by MD5) into it.
- Code: the parent's ``bench`` and ``impls`` packages are shipped to the nodes (``py_modules``), so every
  node runs the parent's code against its own installed frameworks; bench's ``BENCH_*`` settings
  travel with each job.
- A node lost mid-sweep: Ray retries its task once elsewhere; a second loss is recorded as ``lost``.
  Records are written by the parent only, as each task returns, so nothing finished is lost.
"""

from __future__ import annotations

import dataclasses
import logging
import os
from collections.abc import Callable, Generator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bench.core import data
from bench.core.errors import DataNotFound, UsageError
from bench.execution import runner
from bench.execution.runner import Outcome

if TYPE_CHECKING:
    from bench.execution.executor import Task

RETRIES = 1  # a task whose node dies is run once more, then recorded as lost


def _ray() -> Any:
    try:
        import ray
    except ModuleNotFoundError as exc:
        raise UsageError("--executor ray needs Ray; install it with pip install 'bench[ray]'") from exc
    return ray


def run_on_node(task: dict[str, Any], timeout: float | None, mnist: dict[str, bytes] | None) -> dict[str, Any]:
    """Inside a Ray task: put MNIST where this node's worker can read it, then run the isolated worker."""
    params = dict(task["params"])
    config = params.get("config")
    if mnist and isinstance(config, dict) and config.get("data") == "mnist":
        try:
            local = data.locate_mnist(None, allow_download=False).location  # this node's own verified copy
        except DataNotFound:
            local = str(data.unpack(mnist, data.default_cache_dir()))
        params["config"] = {**config, "data_dir": local}
    out = runner.run_worker(task["task"], params, threads=task["threads"], device=task["device"], timeout=timeout,
                            env=task.get("env"))
    return dataclasses.asdict(out)


class RayExecutor:
    name = "ray"
    remote = True  # jobs land on other machines: a resumed sweep must not insist on this host

    def __init__(self, address: str | None) -> None:
        self.ray = _ray()
        if not self.ray.is_initialized():
            root = runner.source_root()
            self.ray.init(address=address, log_to_driver=False, include_dashboard=False, logging_level=logging.WARNING,
                          runtime_env={"py_modules": [str(root / "bench"), str(root / "impls")]})
        self._remote = self.ray.remote(max_retries=RETRIES, retry_exceptions=False)(run_on_node)

    def _mnist(self, tasks: Sequence[Task]) -> Any:
        dirs = {t.params.get("config", {}).get("data_dir") for t in tasks
                if t.params.get("config", {}).get("data") == "mnist"}
        dirs.discard(None)
        return self.ray.put(data.pack(Path(next(iter(dirs))))) if dirs else None

    def map(self, tasks: Sequence[Task], timeout: float | None,
            on_start: Callable[[int], None] | None = None) -> Generator[tuple[int, Outcome], None, None]:
        mnist = self._mnist(tasks)
        # bench's own settings travel with each job (a node's Ray worker does not inherit this shell)
        env = {k: v for k, v in os.environ.items() if k.startswith("BENCH_") and k != "BENCH_PARENT_PID"}
        pending: dict[Any, int] = {}
        for i, t in enumerate(tasks):
            options: dict[str, Any] = {"num_gpus": 1} if t.device == "gpu" else {"num_cpus": t.threads or 1}
            if t.accelerator_type:
                options["accelerator_type"] = t.accelerator_type
            ref = self._remote.options(**options).remote(
                {"task": t.task, "params": t.params, "threads": t.threads, "device": t.device, "env": env}, timeout,
                mnist)
            pending[ref] = i
            if on_start:
                on_start(i)
        try:
            while pending:
                done, _ = self.ray.wait(list(pending), num_returns=1)
                ref = done[0]
                i = pending.pop(ref)
                try:
                    yield i, Outcome(**self.ray.get(ref))
                except self.ray.exceptions.RayError as exc:  # the node (or its worker) died, twice
                    first = str(exc).strip().splitlines()[0][:300] if str(exc).strip() else type(exc).__name__
                    yield i, Outcome("lost", error=f"Ray task lost after {RETRIES} retry: {type(exc).__name__}: "
                                                   f"{first}")
        finally:
            for ref in pending:  # Ctrl-C: nothing more will be recorded from these
                self.ray.cancel(ref, force=True)
