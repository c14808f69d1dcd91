"""``bench ab --budget MIN``: after the first ``--rounds`` pairs, more lockstep pairs only for the rows
the gate still calls inconclusive, within the budget (the same stop rule as ``bench compare``'s,
:func:`bench.analysis.lockstep_ratios.more_groups`, with each row's target from
:func:`bench.analysis.gate_extend.needs`). With ``--budget 0`` nothing is added: the gate runs
exactly its ``--rounds`` pairs per config."""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from typing import Any

from bench.analysis import gate, gate_extend, lockstep_ratios
from bench.core import records, storage
from bench.core.config import RunConfig
from bench.execution import ab, planning
from bench.output import series

Clock = Callable[[], float]


def _label(cfg: RunConfig) -> str:
    return series.label(planning.key_of(cfg))


def _next_slot(sides: Sequence[ab.ABSide], cfg: RunConfig) -> int:
    key = planning.key_of(cfg)
    slots = [m.round for s in sides for m in records.measurements(storage.read_records(s.run_dir))
             if m.key.label() == key.label()]
    return max(slots) + 1 if slots else 0


def run(work: Sequence[tuple[RunConfig, int]], configs: Sequence[RunConfig], sides: Sequence[ab.ABSide],
        session: str, args: Any, show: Callable[[str], None], after_each: Callable[[], None],
        say: Callable[[str], None], clock: Clock = time.monotonic) -> None:
    """The planned pairs (each one's wall time is what the budget is spent at), then the stop rule."""
    started = clock()
    marks = [started]

    def timed() -> None:
        marks.append(clock())
        after_each()

    ab.execute(work, sides, session, args.chunk, args.timeout, show, timed)
    cost: dict[str, float] = {}
    for (cfg, _), t0, t1 in zip(work, marks, marks[1:], strict=False):
        cost.setdefault(_label(cfg), t1 - t0)
    budget_s = 60 * float(args.budget or 0)
    if budget_s <= 0:
        return
    by_label = {_label(c): c for c in configs}
    settings = gate.Settings(args.alpha, args.noise_floor, args.detect)
    cap = int(args.max_rounds or max(4 * args.rounds, args.rounds))
    while True:
        base, cand = (series.load([str(s.run_dir)], s.name) for s in sides)
        rows = gate.check(base.series, cand.series, settings).rows
        need = {k: v for k, v in gate_extend.needs(rows, settings).items() if k in by_label}
        if not need:
            return
        left = budget_s - (clock() - started)
        grant = lockstep_ratios.more_groups({k: w for k, (w, _) in need.items()}, {k: t for k, (_, t) in need.items()},
                                            {k: cost.get(k, math.inf) for k in need}, left, cap)
        if not grant:
            say(f"{len(need)} row(s) still inconclusive ({', '.join(need)}); the --budget or --max-rounds leaves "
                "no pair to add")
            return
        say(f"{len(need)} row(s) inconclusive: {sum(grant.values())} more pair(s) for {', '.join(grant)}, about "
            f"{sum(cost.get(k, 0.0) * n for k, n in grant.items()) / 60:.1f} min ({max(0.0, left) / 60:.1f} min of "
            "the budget left)")
        for label, n in grant.items():
            cfg = by_label[label]
            for _ in range(n):
                if budget_s - (clock() - started) < cost.get(label, 0.0):
                    say("the budget is spent: no more pairs")
                    return
                ab.execute([(cfg, _next_slot(sides, cfg))], sides, session, args.chunk, args.timeout, show,
                           after_each)
