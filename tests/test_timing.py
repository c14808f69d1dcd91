"""The timing protocol, with a fake adapter and a fake clock (no framework, no real time)."""

from __future__ import annotations

import gc
from typing import Any

import pytest

from bench.worker import timing


class FakeClock:
    def __init__(self) -> None:
        self.t = 0
        self.log: list[str] | None = None

    def __call__(self) -> int:
        if self.log is not None:
            self.log.append("clock")
        return self.t


class FakeAdapter:
    """Each step advances the clock by a known cost; the log records the exact call order."""

    def __init__(self, clock: FakeClock, costs: list[int]) -> None:
        self.clock, self.costs, self.calls = clock, costs, 0
        self.log: list[str] = []
        clock.log = self.log
        self.gc_during_steps: list[bool] = []

    def _step(self, batch: Any) -> str:
        self.log.append(f"step:{batch}")
        self.gc_during_steps.append(gc.isenabled())
        self.clock.t += self.costs[min(self.calls, len(self.costs) - 1)]
        self.calls += 1
        return "loss"

    train_step = forward_step = _step

    def synchronize(self) -> None:
        self.log.append("sync")

    def prepare(self, images: Any, labels: Any) -> Any:
        self.log.append("prepare")
        return images


def test_compile_warmup_and_samples_are_separated() -> None:
    clock = FakeClock()
    costs = [1000, 50, 50, 7, 8, 9]  # compile, 2 warm-up, then 3 timed
    adapter = FakeAdapter(clock, costs)
    t = timing.measure(adapter, ["b0", "b1"], "train", steps=3, warmup=2, clock=clock)
    assert t.compile_ns == 1000
    assert t.samples_ns == [7, 8, 9]  # warm-up excluded
    assert adapter.calls == 6


def test_every_timed_step_is_synced_at_both_edges() -> None:
    clock = FakeClock()
    adapter = FakeAdapter(clock, [5])
    timing.measure(adapter, ["b0", "b1"], "forward", steps=4, warmup=0, clock=clock)
    log = adapter.log
    assert log[:5] == ["sync", "clock", "step:b0", "sync", "clock"]  # the compile step, timed alone
    timed = log[-20:]  # no warm-up and no block: the last 4 x 5 entries are the timed steps
    # each timed step: sync, clock, step, sync, clock
    for i in range(4):
        chunk = timed[5 * i: 5 * i + 5]
        assert chunk[0] == "sync" and chunk[1] == "clock" and chunk[2].startswith("step:")
        assert chunk[3] == "sync" and chunk[4] == "clock"
    assert [c for c in timed[:20] if c.startswith("step")] == ["step:b0", "step:b1", "step:b0", "step:b1"]


def test_gc_off_only_inside_timed_region() -> None:
    assert gc.isenabled()
    clock = FakeClock()
    adapter = FakeAdapter(clock, [3])
    timing.measure(adapter, ["b"], "train", steps=3, warmup=1, clock=clock)
    assert adapter.gc_during_steps == [True, True, False, False, False]
    assert gc.isenabled()


def test_block_is_timed_between_two_syncs() -> None:
    clock = FakeClock()
    adapter = FakeAdapter(clock, [4])
    t = timing.measure(adapter, ["b"], "train", steps=2, warmup=0, block_steps=5, clock=clock)
    assert t.block_ns == 20 and t.block_mean_ns == 4
    tail = adapter.log[-9:]
    assert tail[:2] == ["sync", "clock"] and tail[-2:] == ["sync", "clock"]
    assert tail[2:-2] == ["step:b"] * 5  # no sync between block steps


def test_transfer_inside_the_step_when_asked() -> None:
    clock = FakeClock()
    adapter = FakeAdapter(clock, [1])
    timing.measure(adapter, ["staged"], "train", steps=1, warmup=0, clock=clock, host_batches=[("host", 0)])
    assert adapter.log[-4:] == ["prepare", "step:host", "sync", "clock"]


def test_bad_arguments() -> None:
    with pytest.raises(ValueError):
        timing.measure(FakeAdapter(FakeClock(), [1]), [], "train", 1, 0)
    with pytest.raises(ValueError, match="mode"):
        timing.step_fn(FakeAdapter(FakeClock(), [1]), "eval")


def test_bare_loop_syncs_once() -> None:
    clock = FakeClock()
    adapter = FakeAdapter(clock, [10])
    assert timing.bare_loop(adapter, ["b"], "train", 4, clock=clock) == 10
    assert adapter.log.count("sync") == 2


class AsyncAdapter:
    """An asynchronous framework on a fake clock: a step call returns after its host (dispatch) cost and leaves
    its device cost queued; ``synchronize`` waits out the queue. ``pending`` is device work queued before the
    code under test starts (an earlier step), which no timed window may include."""

    def __init__(self, clock: FakeClock, dispatch: list[int], device: list[int], pending: int = 0) -> None:
        self.clock, self.dispatch, self.device, self.pending, self.calls = clock, dispatch, device, pending, 0
        self.log: list[str] = []
        clock.log = self.log
        self.gc_during_steps: list[bool] = []

    def _step(self, batch: Any) -> str:
        self.log.append(f"step:{batch}")
        self.gc_during_steps.append(gc.isenabled())
        self.clock.t += self.dispatch[self.calls]
        self.pending += self.device[self.calls]
        self.calls += 1
        return "loss"

    train_step = forward_step = _step

    def synchronize(self) -> None:
        self.log.append("sync")
        self.clock.t += self.pending
        self.pending = 0

    def prepare(self, images: Any, labels: Any) -> Any:
        raise AssertionError("nothing here times a host-to-device copy")


def test_dispatch_split_separates_host_dispatch_from_device_time() -> None:
    clock = FakeClock()
    # 1000 ns of an earlier step still queued: the first step's window starts after it is drained.
    adapter = AsyncAdapter(clock, dispatch=[3, 5, 7], device=[100, 200, 300], pending=1000)
    host, total = timing.dispatch_split(adapter, ["b0", "b1"], "train", 3, clock=clock)
    assert host == [3, 5, 7]  # until the step call returned: dispatch only
    assert total == [3 + 100, 5 + 200, 7 + 300]  # until the device was idle: dispatch + that step's device time
    assert adapter.log == ["sync", "clock", "step:b0", "clock", "sync", "clock",
                           "sync", "clock", "step:b1", "clock", "sync", "clock",
                           "sync", "clock", "step:b0", "clock", "sync", "clock"]
    assert adapter.gc_during_steps == [False, False, False] and gc.isenabled()


def test_dispatch_split_of_a_synchronous_framework_has_no_gap() -> None:
    clock = FakeClock()
    adapter = FakeAdapter(clock, [40, 60])  # the step call returns when the work is done
    host, total = timing.dispatch_split(adapter, ["b"], "forward", 2, clock=clock)
    assert host == total == [40, 60]


def test_gc_paused_leaves_an_already_disabled_collector_off() -> None:
    gc.disable()
    try:
        with timing.gc_paused():
            assert not gc.isenabled()
        assert not gc.isenabled()  # it was off before: the region must not switch it on
        with pytest.raises(RuntimeError), timing.gc_paused():
            raise RuntimeError("a step failed")
        assert not gc.isenabled()
    finally:
        gc.enable()


def test_gc_paused_turns_an_enabled_collector_back_on_even_after_an_error() -> None:
    assert gc.isenabled()
    with pytest.raises(RuntimeError), timing.gc_paused():
        assert not gc.isenabled()
        raise RuntimeError("a step failed")
    assert gc.isenabled()


def test_timed_block_times_the_steps_between_two_syncs_with_their_device_time() -> None:
    clock = FakeClock()
    adapter = AsyncAdapter(clock, dispatch=[2, 3, 4, 5], device=[10, 20, 30, 40], pending=500)
    total = timing.timed_block(adapter, ["b0", "b1", "b2"], "forward", 4, clock=clock)
    # the earlier 500 ns are drained before the first clock read; the last sync waits out all 4 steps' device
    # work: (2 + 3 + 4 + 5) + (10 + 20 + 30 + 40) = 14 + 100 = 114
    assert total == 114
    assert adapter.log == ["sync", "clock", "step:b0", "step:b1", "step:b2", "step:b0", "sync", "clock"]
