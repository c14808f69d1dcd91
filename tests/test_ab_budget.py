"""``bench ab --budget``: more lockstep pairs only for the rows still inconclusive, within the budget
(issue 19 item 2). ab.execute is replaced by one that stores synthetic pairs and advances a fake clock."""

from __future__ import annotations

import dataclasses
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from bench.analysis import gate, gate_extend
from bench.core import storage
from bench.core.config import ModelConfig, RunConfig
from bench.execution import ab, planning, runner


def _row(label: str, ratio: float, lo: float, hi: float, units: int = 8, verdict: str = "inconclusive") -> gate.GateRow:
    return gate.GateRow(label, {}, 10.0, 10.0 * ratio, units, units, "t over lockstep pairs", units, ratio, lo, hi,
                        0.975, 0.5, 0.5, None, verdict, "")


def test_only_inconclusive_rows_need_pairs_and_each_its_own_width() -> None:
    s = gate.Settings()
    rows = [_row("wide", 1.02, 0.88, 1.18), _row("done", 1.0, 0.99, 1.01, verdict="no change"),
            _row("near floor", 1.07, 1.01, 1.13)]
    need = gate_extend.needs(rows, s)
    assert set(need) == {"wide", "near floor"}
    width, target = need["wide"]
    assert width.groups == 8 and 15 < width.half_pct < 16 and width.confidence == 0.975
    assert target == pytest.approx(100 * (1.10 / 1.02 - 1), rel=1e-6)  # inside +-10% for "no change"
    assert need["near floor"][1] == pytest.approx(100 * (1.07 / 1.03 - 1), rel=1e-6)  # clearing the 3% floor


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_pairs_are_added_while_inconclusive_and_stop_at_the_budget(tmp_path: Path,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    clock = FakeClock()
    rng = np.random.default_rng(3)
    cfg = RunConfig(ModelConfig("torch"), mode="train", batch_size=32, steps=5)
    sides = []
    for name in ("base", "candidate"):
        (tmp_path / name).mkdir()
        sides.append(ab.ABSide(name, ab.Revision(ab.WORKING_TREE, "0" * 40), runner.Source(), tmp_path / name))
    executed: list[int] = []

    def fake_execute(work: Any, sides: Any, session: str, chunk: int, timeout: Any, progress: Any,
                     after_each: Any) -> None:
        for c, slot in work:
            clock.now += 30.0
            executed.append(slot)
            noise = float(np.exp(0.2 * rng.standard_normal()))  # pairs far too noisy for a verdict
            for side in sides:
                factor = noise if side.name == "candidate" else 1.0
                m = planning.Job(c, slot).record("ok", {"samples_ns": [int(1e7 * factor)] * 5})
                m.extra["lockstep"] = {"session": session, "slot": slot}
                storage.append_record(side.run_dir, m.to_dict())
            after_each()

    monkeypatch.setattr(ab, "execute", fake_execute)
    opts = ab.Options(rounds=4, chunk=1, timeout=None, budget=4.0, max_rounds=None,
                      settings=gate.Settings(gate.ALPHA, gate.REGRESSION_FLOOR, gate.DETECT))
    said: list[str] = []
    ab.measure(ab.plan([cfg], 4), [cfg], sides, "s", opts, lambda _: None, lambda: None, said.append, clock)
    assert executed[:4] == [0, 1, 2, 3] and executed == list(range(len(executed)))  # fresh slots, in order
    assert 4 < len(executed) <= 8 and clock.now <= 4 * 60  # what four minutes pay for at 30 s a pair
    assert any("inconclusive" in s for s in said)
    # no budget: exactly the planned pairs, as before --budget existed
    executed.clear()
    for side in sides:
        (side.run_dir / storage.RESULTS).unlink()
    ab.measure(ab.plan([cfg], 4), [cfg], sides, "t", dataclasses.replace(opts, budget=0.0),
               lambda _: None, lambda: None, said.append, clock)
    assert executed == [0, 1, 2, 3]


def test_max_rounds_needs_a_budget(tmp_path: Path) -> None:
    import subprocess

    out = subprocess.run([sys.executable, "-m", "bench", "ab", "HEAD", "--budget", "0", "--max-rounds", "12"],
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 2 and "--max-rounds has no effect without --budget" in out.stderr
