"""What an executor is: the :class:`Task` it is handed and the :class:`Executor` protocol it keeps.
The executors themselves are :mod:`bench.execution.executors` (local, GPU pool) and
:mod:`bench.execution.ray_executor`."""

from __future__ import annotations

from collections.abc import Callable, Generator, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from bench.execution.runner import Outcome


@dataclass(frozen=True)
class Task:
    """One worker job: what to run, and where it may run."""

    task: str
    params: dict[str, Any]
    threads: int | None
    device: str
    label: str
    accelerator_type: str | None = None  # Ray: the GPU type this job must run on


class Executor(Protocol):
    """What a sweep needs of an executor: a name, whether jobs may land on other machines, and ``map``."""

    name: str
    remote: bool  # jobs may land on another machine (resume must not insist on this host)

    def map(self, tasks: Sequence[Task], timeout: float | None,
            on_start: Callable[[int], None] | None = None) -> Generator[tuple[int, Outcome], None, None]:
        """Run every task; yield (index, outcome) in the parent as each one ends; closing it stops the rest."""
        ...
