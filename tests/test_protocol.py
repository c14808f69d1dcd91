"""The adaptive parts of the measurement protocol, with fake adapters and a fake clock: the stop
rule of ``target_ci`` (extend_to_target), and the LRN pair worker's interleaving, stop rule and
options (include_transfer, block_steps)."""

from __future__ import annotations

from typing import Any

import numpy as np

from bench.core.config import ModelConfig, RunConfig
from bench.worker import timing
from bench.worker.tasks import pair
from bench.worker.tasks.measure import EXTEND_CHUNK, extend_to_target
from tests.test_timing import FakeAdapter, FakeClock


def _cfg(**kw: Any) -> RunConfig:
    return RunConfig(ModelConfig("torch"), data="synthetic", **kw)


def test_extend_to_target_adds_chunks_until_the_ci_is_tight() -> None:
    clock = FakeClock()
    # noisy first samples, then steady ones: the CI narrows as chunks are added
    rng = np.random.default_rng(0)
    costs = [int(c) for c in rng.normal(1000, 5, 500)]
    adapter = FakeAdapter(clock, costs)
    start = [500, 1500, 800, 1200]
    out = extend_to_target(adapter, ["b"], _cfg(steps=4, target_ci=2.0, max_steps=400), start, clock=clock)
    assert out[:4] == start and len(out) > 4 and (len(out) - 4) % EXTEND_CHUNK == 0
    from bench.analysis.stats import approx_ci_half_width_pct, precise_enough

    assert precise_enough(out, 2.0, "median") and not precise_enough(out[:-EXTEND_CHUNK], 2.0, "median")
    assert approx_ci_half_width_pct(out, "median") <= 2.0


def test_extend_to_target_stops_at_the_cap_and_does_nothing_without_a_target() -> None:
    clock = FakeClock()
    adapter = FakeAdapter(clock, [100, 10_000] * 200)  # never precise
    out = extend_to_target(adapter, ["b"], _cfg(steps=5, target_ci=0.1, max_steps=23), [1, 2, 3, 4, 5], clock=clock)
    assert len(out) == 23
    assert extend_to_target(adapter, ["b"], _cfg(steps=5), [1, 2], clock=clock) == [1, 2]


class PairAdapter(FakeAdapter):
    can_reset_peak = True

    def __init__(self, clock: FakeClock, costs: list[int], name: str, peak: int) -> None:
        super().__init__(clock, costs)
        self.name, self.peak = name, peak

    def _step(self, batch: Any) -> str:
        self.log.append(f"{self.name}:{batch}")
        return super()._step(batch)

    train_step = forward_step = _step

    def reset_peak_memory(self) -> None:
        self.log.append(f"{self.name}:reset")

    def memory(self) -> dict[str, int | None]:
        return {"alloc_peak_bytes": self.peak}


def _pair(costs_off: list[int], costs_on: list[int]) -> tuple[dict[bool, Any], list[str]]:
    clock = FakeClock()
    log: list[str] = []
    variants = {False: PairAdapter(clock, costs_off, "off", 10), True: PairAdapter(clock, costs_on, "on", 30)}
    for v in variants.values():
        v.log = log
    clock.log = None
    return variants, log


def test_pair_interleaves_a_b_b_a_and_stops_when_both_are_precise() -> None:
    variants, log = _pair([100], [300])  # constant costs: precise after the first chunks
    samples, peaks, rounds = pair.interleave(variants, {False: ["x"], True: ["y"]}, _cfg(steps=10, target_ci=3.0),
                                             chunk=5, clock=variants[False].clock)
    assert rounds == 2 and samples[False] == [100] * 10 and samples[True] == [300] * 10
    order = [e.split(":")[0] for e in log if e in ("off:x", "on:y")]
    assert order == ["off"] * 5 + ["on"] * 10 + ["off"] * 5  # A B, then B A
    assert peaks == {False: 10, True: 30}


def test_pair_keeps_sampling_until_the_cap_when_noisy() -> None:
    variants, _ = _pair([100, 900, 500] * 40, [300])
    samples, _, rounds = pair.interleave(variants, {False: ["x"], True: ["y"]},
                                         _cfg(steps=5, target_ci=1.0, max_steps=30), chunk=5,
                                         clock=variants[False].clock)
    assert len(samples[False]) == len(samples[True]) == 30 and rounds == 6


def test_pair_with_transfer_prepares_inside_each_timed_step() -> None:
    variants, log = _pair([100], [300])
    pair.interleave(variants, {False: ["x"], True: ["y"]}, _cfg(steps=5, include_transfer=True),
                    host=[("h0", 0), ("h1", 1)], chunk=5, clock=variants[False].clock)
    steps = [e for e in log if e.startswith("off:h")]
    assert steps == ["off:h0", "off:h1", "off:h0", "off:h1", "off:h0"]  # host batches, cycled
    assert log.count("prepare") == 10


def test_pair_fills_the_callers_counters_one_entry_per_step() -> None:
    variants, _ = _pair([100], [300])
    counters = {lrn: timing.Counters() for lrn in variants}
    samples, _, _ = pair.interleave(variants, {False: ["x"], True: ["y"]}, _cfg(steps=10, target_ci=3.0),
                                    chunk=5, clock=variants[False].clock, counters=counters)
    for lrn in variants:  # the records of bench compare --lrn carry these lists
        assert len(counters[lrn].page_faults) == len(counters[lrn].preemptions) == len(samples[lrn]) == 10
