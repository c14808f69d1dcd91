"""The timed loop. Knows nothing of output or statistics: it returns raw nanosecond samples.

Protocol (README, "Timing"): the first step is timed alone as ``compile_s`` (trace, compile,
autotune); warm-up steps follow untimed; then every timed step is bracketed by a device
synchronisation and ``perf_counter_ns`` at both edges, with the garbage collector off and nothing
else (no logging, no host reads) inside. A second pass times a block of steps between just two
synchronisations, which shows what per-step syncing costs.
"""

from __future__ import annotations

import contextlib
import gc
import resource
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from bench.worker.interference import Stretches

Clock = Callable[[], int]


class Steppable(Protocol):
    def train_step(self, batch: Any) -> Any: ...
    def forward_step(self, batch: Any) -> Any: ...
    def synchronize(self) -> None: ...
    def prepare(self, images: Any, labels: Any) -> Any: ...


class Counters:
    """Page faults and involuntary context switches (preemptions) of every timed step, read with
    getrusage just outside the timed window: a step that re-faults freed activations or keeps being
    preempted shows it here, next to its time."""

    def __init__(self) -> None:
        self.page_faults: list[int] = []
        self.preemptions: list[int] = []
        self.interference = Stretches()  # what else the machine did during the timed stretches

    @staticmethod
    def read() -> tuple[int, int]:
        ru = resource.getrusage(resource.RUSAGE_SELF)  # every thread of the process
        return ru.ru_minflt + ru.ru_majflt, ru.ru_nivcsw

    def add(self, before: tuple[int, int]) -> None:
        after = self.read()
        self.page_faults.append(after[0] - before[0])
        self.preemptions.append(after[1] - before[1])


def counter_fields(counters: Counters | None) -> dict[str, Any]:
    """The per-step counters as a task's result fields (aligned with ``samples_ns``; none without counters),
    and what else the machine did during the timed stretches (kept in the record as ``interference``)."""
    if counters is None:
        return {}
    return {"page_faults": counters.page_faults, "preemptions": counters.preemptions,
            "interference": counters.interference.to_dict()}


@dataclass
class Timings:
    compile_ns: int
    samples_ns: list[int]
    block_ns: int | None = None  # total of the pipelined block
    block_steps: int = 0
    counters: Counters | None = None

    @property
    def block_mean_ns(self) -> float | None:
        return self.block_ns / self.block_steps if self.block_ns is not None and self.block_steps else None


def step_fn(adapter: Steppable, mode: str) -> Callable[[Any], Any]:
    if mode == "train":
        return adapter.train_step
    if mode == "forward":
        return adapter.forward_step
    raise ValueError(f"mode must be train or forward, got {mode!r}")


def measure(adapter: Steppable, batches: Sequence[Any], mode: str, steps: int, warmup: int,
            block_steps: int = 0, clock: Clock = time.perf_counter_ns,
            host_batches: Sequence[tuple[Any, Any]] | None = None,
            after_warmup: Callable[[], None] | None = None) -> Timings:
    """Time ``steps`` synchronised steps cycling through ``batches`` (already on the device).

    With ``host_batches`` the host-to-device copy (``adapter.prepare``) is inside each timed step.
    ``after_warmup`` runs once the warm-up has finished, just before the first timed step (the allocator
    peak is reset there, so it covers the measured steps only).
    """
    if steps < 1 or warmup < 0 or not batches:
        raise ValueError(f"need steps >= 1, warmup >= 0 and a batch; got {steps}, {warmup}, {len(batches)}")
    step = step_fn(adapter, mode)
    sync = adapter.synchronize
    k = len(batches)

    def one(i: int) -> Any:
        if host_batches is not None:
            return step(adapter.prepare(*host_batches[i % len(host_batches)]))
        return step(batches[i % k])

    sync()
    t0 = clock()
    one(0)
    sync()
    compile_ns = clock() - t0
    for i in range(warmup):
        one(i + 1)
    sync()
    if after_warmup is not None:
        after_warmup()

    gc.collect()
    counters = Counters()
    with gc_paused():
        samples = timed_region(one, sync, steps, clock, counters)
        block_ns = None
        if block_steps:
            sync()
            t0 = clock()
            for i in range(block_steps):
                one(i)
            sync()
            block_ns = clock() - t0
    return Timings(compile_ns, samples, block_ns, block_steps, counters)


@contextlib.contextmanager
def gc_paused() -> Iterator[None]:
    """The cyclic garbage collector off for a timed region (a collection inside a step would be
    timed as the framework's), back as it was after."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def timed_region(one: Callable[[int], Any], sync: Callable[[], None], steps: int, clock: Clock,
                 counters: Counters | None = None) -> list[int]:
    """The timed region: sync, clock, step, sync, clock; nothing else (the counters are read before
    the first clock read and after the second)."""
    samples = [0] * steps
    if counters is not None:
        counters.interference.begin()
    for i in range(steps):
        sync()
        before = counters.read() if counters is not None else None
        t0 = clock()
        one(i)
        sync()
        samples[i] = clock() - t0
        if counters is not None and before is not None:  # both or neither
            counters.add(before)
    if counters is not None:
        counters.interference.end()
    return samples


def timed_steps(adapter: Steppable, batches: Sequence[Any], mode: str, steps: int,
                clock: Clock = time.perf_counter_ns, host_batches: Sequence[tuple[Any, Any]] | None = None,
                offset: int = 0, counters: Counters | None = None) -> list[int]:
    """Per-step synchronised samples without compile or warm-up (the caller has warmed up). With
    ``host_batches`` each timed step includes its host-to-device copy; ``offset`` continues the cycle
    through the batches across calls."""
    step = step_fn(adapter, mode)
    k = len(batches)

    def one(i: int) -> Any:
        if host_batches is not None:
            return step(adapter.prepare(*host_batches[(offset + i) % len(host_batches)]))
        return step(batches[(offset + i) % k])

    with gc_paused():
        return timed_region(one, adapter.synchronize, steps, clock, counters)


def timed_block(adapter: Steppable, batches: Sequence[Any], mode: str, steps: int,
                clock: Clock = time.perf_counter_ns) -> int:
    """``steps`` steps back to back between just two synchronisations; total ns."""
    step = step_fn(adapter, mode)
    adapter.synchronize()
    t0 = clock()
    for i in range(steps):
        step(batches[i % len(batches)])
    adapter.synchronize()
    return clock() - t0


def bare_loop(adapter: Steppable, batches: Sequence[Any], mode: str, steps: int,
              clock: Clock = time.perf_counter_ns) -> float:
    """The hand-written loop a user would write: steps back to back, one sync at the end.

    Returns mean ns per step; used by ``calibrate`` to measure the harness's own overhead.
    """
    step = step_fn(adapter, mode)
    k = len(batches)
    adapter.synchronize()
    t0 = clock()
    for i in range(steps):
        step(batches[i % k])
    adapter.synchronize()
    return (clock() - t0) / steps


def dispatch_split(adapter: Steppable, batches: Sequence[Any], mode: str, steps: int,
                   clock: Clock = time.perf_counter_ns) -> tuple[list[int], list[int]]:
    """Per step: the host time until the step call returns (dispatch; the framework may still be
    computing), and the time until the device is idle. A synchronous framework returns late; an
    asynchronous one early, and the gap is device time the host did not wait for."""
    step = step_fn(adapter, mode)
    host, total = [0] * steps, [0] * steps
    with gc_paused():
        for i in range(steps):
            adapter.synchronize()
            t0 = clock()
            step(batches[i % len(batches)])
            t1 = clock()
            adapter.synchronize()
            total[i] = clock() - t0
            host[i] = t1 - t0
    return host, total
