"""``bench compare --method lockstep``, parent side: the frameworks measured in lockstep groups, one
worker per framework alive at once (:func:`bench.execution.lockstep.run_group`), then more groups only
where a ratio's interval is still wider than the target, within a time budget.

A group's workers each hold every config of one batch size (LRN off and on, train and forward), so one
answer costs one process start per framework and group, not one per config. The first pass runs
``rounds`` groups per batch size, interleaved; then the stop rule
(:func:`bench.analysis.lockstep_ratios.more_groups`) grants groups to the ratios wider than
``target_pct``, the widest first, as many as the time left pays for at the cost seen per group, and
a new group's workers hold only the configs that still need it.
"""

from __future__ import annotations

import math
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from bench.analysis import comparisons, lockstep_ratios
from bench.core import records, registry, storage
from bench.core.config import RunConfig
from bench.execution.lockstep import Contender, run_group
from bench.execution.runner import Source

Variant = tuple[str, bool]  # (mode, lrn)
Clock = Callable[[], float]
CHUNK = 1  # steps per turn: step t of every framework within moments of each other


def variant(cfg: RunConfig) -> Variant:
    return (cfg.mode, cfg.model.lrn)


def units(configs: Sequence[RunConfig]) -> dict[int, dict[str, list[RunConfig]]]:
    """batch size -> framework -> its configs in variant order (every framework the same variants)."""
    out: dict[int, dict[str, list[RunConfig]]] = {}
    for cfg in configs:
        out.setdefault(cfg.batch_size, {}).setdefault(cfg.model.framework, []).append(cfg)
    for per_fw in out.values():
        for cfgs in per_fw.values():
            cfgs.sort(key=variant)
    return out


def schedule(grant: Mapping[tuple[Any, ...], int], pair: bool) -> dict[int, list[set[Variant]]]:
    """The groups to run for a grant ((mode, batch, lrn) -> groups): per batch size, one set of variants
    per group, the j-th holding every variant granted more than j groups. With ``pair`` (LRN off and on
    compared in one worker) a mode's other LRN variant comes along, so its LRN ratio gains a process too."""
    out: dict[int, list[set[Variant]]] = {}
    for (mode, batch, lrn), n in grant.items():
        groups = out.setdefault(batch, [])
        while len(groups) < n:
            groups.append(set())
        for j in range(n):
            groups[j].add((mode, lrn))
            if pair:
                groups[j].add((mode, not lrn))
    return out


def _next_slot(run_dir: Path, batch: int) -> int:
    slots = [m.round for m in records.measurements(storage.read_records(run_dir)) if m.key.batch_size == batch]
    return max(slots) + 1 if slots else 0


def _done_slots(run_dir: Path, batch: int, frameworks: Sequence[str]) -> set[int]:
    """Slots of this batch size where every framework's every record is ok (what ``--resume`` keeps)."""
    by_slot: dict[int, list[bool]] = {}
    for m in records.measurements(storage.read_records(run_dir)):
        if m.key.batch_size == batch and m.key.framework in frameworks:
            by_slot.setdefault(m.round, []).append(m.ok)
    return {s for s, oks in by_slot.items() if oks and all(oks)}


class Driver:
    """One comparison job: its groups, their cost, and the budget they spend."""

    def __init__(self, run_dir: Path, configs: Sequence[RunConfig], timeout: float | None, pair: bool,
                 progress: Callable[[str], None], after_each: Callable[[], None], say: Callable[[str], None],
                 clock: Clock = time.monotonic, started: float | None = None) -> None:
        self.run_dir, self.timeout, self.pair = run_dir, timeout, pair
        self.units = units(configs)
        self.progress, self.after_each, self.say, self.clock = progress, after_each, say, clock
        self.session = uuid.uuid4().hex[:12]
        self.cost_s: dict[int, float] = {}  # batch size -> seconds per group holding all its variants
        self.started = clock() if started is None else started  # where the budget counts from
        self.groups_run = 0
        self.cost_with_checks: set[int] = set()  # batch sizes whose cost_s came from a group that ran the checks
        self.checked: set[str] = set()  # configs whose in-run equivalence check a group's worker already ran
        self.checks_s = self.last_took = 0.0  # the last group's seconds, and its slowest worker's in-run checks'

    def group(self, batch: int, slot: int, only: set[Variant] | None = None) -> None:
        per_fw = self.units[batch]
        fws = [fw for fw in per_fw if registry.is_available(fw)]
        contenders = []
        for fw in fws:  # each config is checked against the reference once a run, by its first group's worker
            configs = tuple(c for c in per_fw[fw] if only is None or variant(c) in only)
            names = {repr(c) for c in configs}
            contenders.append(Contender(fw, configs, Source(), self.run_dir, check=not names <= self.checked))
            self.checked |= names
        n_var = len(contenders[0].configs) if contenders else 0
        self.progress(f"group {slot + 1}, batch {batch}: {', '.join(fws)} in lockstep, {n_var} configs each")
        t0 = self.clock()
        recs = run_group(contenders, slot, self.session, CHUNK, self.timeout, pair=self.pair, grouped=True)
        took = self.last_took = self.clock() - t0
        # the workers run their checks side by side after the timed steps: the slowest worker's checks are the
        # group's extra time, which the groups after it (no checks) do not pay
        self.checks_s = max((sum(float(m.equivalence["seconds"]) for m in recs
                                 if m.key.framework == fw and m.equivalence) for fw in fws), default=0.0)
        full = len(next(iter(per_fw.values())))
        if batch not in self.cost_s or (batch in self.cost_with_checks and not any(c.check for c in contenders)):
            # a group whose workers ran the in-run check costs more than the groups the stop rule adds
            self.cost_s[batch] = max(took - self.checks_s, took / 10) * full / max(n_var, 1)
            self.cost_with_checks.discard(batch)
            if any(c.check for c in contenders):
                self.cost_with_checks.add(batch)
        self.groups_run += 1
        self.after_each()

    def first_pass(self, rounds: int, budget_s: float | None = None) -> None:
        todo = [(slot, b) for slot in range(rounds) for b in self.units
                if slot not in _done_slots(self.run_dir, b, list(self.units[b]))]
        for i, (slot, batch) in enumerate(todo):
            self.group(batch, slot)
            if i == 0 and len(todo) > 1:
                est = sum(self.cost_s.get(b, self.cost_s[batch]) for _, b in todo[1:])
                past = ""
                if budget_s is not None and est > self.left_s(budget_s):
                    past = (f"; that is past the {budget_s / 60:g}-min --budget (the first pass always runs: each "
                            f"interval needs its --rounds groups), so the run ends about "
                            f"{(self.clock() - self.started + est) / 60:.1f} min after its first measurement")
                checks = f" ({self.checks_s:.0f} s of it the in-run checks, once a run)" if self.checks_s else ""
                self.say(f"first group took {self.last_took:.0f} s{checks}: the first pass of {len(todo)} groups "
                         f"takes about {(est + self.last_took) / 60:.1f} min{past}")

    def left_s(self, budget_s: float) -> float:
        return budget_s - (self.clock() - self.started)

    def widths(self, target_pct: float) -> dict[tuple[Any, ...], lockstep_ratios.RatioWidth]:
        """Where each (mode, batch, LRN) stands: its widest framework ratio, or (LRN off and on in one
        worker) its widest LRN slowdown when that is wider."""
        recs = storage.read_records(self.run_dir)
        need = lockstep_ratios.widths(lockstep_ratios.framework_rows(recs, target_pct))
        if self.pair:
            for k, w in lockstep_ratios.lrn_widths(comparisons.lrn_rows(recs)).items():
                if k not in need or w.half_pct > need[k].half_pct:
                    need[k] = w
        return need

    def stopped(self, reason: str, target_pct: float, budget_s: float, max_groups: int,
                wide: Sequence[tuple[Any, ...]]) -> None:
        """Store how the stop rule ended, so every report of the folder can say why a ratio is still wide."""
        storage.append_record(self.run_dir, {
            **records.header("stop_rule"), "reason": reason, "target_pct": target_pct, "budget_min": budget_s / 60,
            "max_groups": max_groups, "groups_run": self.groups_run, "wide": [_name(k) for k in wide],
            "elapsed_s": self.clock() - self.started})

    def extend(self, target_pct: float, budget_s: float, max_groups: int) -> None:
        """The stop rule, round after round, until every ratio is within the target or the budget is spent."""
        while True:
            need = self.widths(target_pct)
            cost = {k: self.cost_s.get(k[1], math.inf) / max(len(next(iter(self.units[k[1]].values()))), 1)
                    for k in need}
            wide = sorted(k for k, w in need.items() if w.half_pct > target_pct)
            grant = lockstep_ratios.more_groups(need, target_pct, cost, self.left_s(budget_s), max_groups)
            if not wide:
                self.say(f"every ratio is within +-{target_pct:g}%")
                self.stopped(lockstep_ratios.WITHIN, target_pct, budget_s, max_groups, wide)
                return
            if not grant:
                capped = all(need[k].groups >= max_groups for k in wide)
                self.say(f"{len(wide)} ratio(s) still wider than +-{target_pct:g}% "
                         f"({', '.join(_name(k) for k in wide)}): "
                         + ("--max-rounds leaves no group to add" if capped else "the budget leaves no group to add"))
                self.stopped(lockstep_ratios.MAX_GROUPS if capped else lockstep_ratios.BUDGET, target_pct,
                             budget_s, max_groups, wide)
                return
            plan = schedule(grant, self.pair)
            est = sum(cost[k] * n for k, n in grant.items())
            self.say(f"{len(wide)} ratio(s) wider than +-{target_pct:g}%: {sum(len(g) for g in plan.values())} more "
                     f"group(s) for {', '.join(_name(k) for k in grant)}, about {est / 60:.1f} min "
                     f"({max(0.0, self.left_s(budget_s)) / 60:.1f} min of the budget left)")
            for batch, groups in plan.items():
                for only in groups:
                    if self.left_s(budget_s) < self.cost_s.get(batch, 0.0) * len(only) / max(
                            len(next(iter(self.units[batch].values()))), 1):
                        self.say("the budget is spent: no more groups")
                        self.stopped(lockstep_ratios.BUDGET, target_pct, budget_s, max_groups, wide)
                        return
                    self.group(batch, _next_slot(self.run_dir, batch), only)


def _name(k: tuple[Any, ...]) -> str:
    mode, batch, lrn = k
    return f"{mode} batch {batch}{' LRN' if lrn else ''}"


def execute(run_dir: Path, configs: Sequence[RunConfig], rounds: int, timeout: float | None, *, pair: bool,
            target_pct: float | None, budget_s: float, max_groups: int, progress: Callable[[str], None],
            after_each: Callable[[], None], say: Callable[[str], None], clock: Clock = time.monotonic,
            started: float | None = None) -> Driver:
    """The first pass, then (with ``target_pct``) the stop rule within ``budget_s`` seconds from
    ``started`` (a ``clock`` reading: the command's first measurement; default now)."""
    d = Driver(run_dir, configs, timeout, pair, progress, after_each, say, clock, started)
    n_fw = max(len(u) for u in d.units.values())
    n_var = max(len(v) for u in d.units.values() for v in u.values())
    extra = (f"; then more groups only for ratios wider than +-{target_pct:g}%, until {budget_s / 60:g} min "
             f"from the first measurement ({max(0.0, d.left_s(budget_s)) / 60:.1f} min left)"
             if target_pct is not None else "")
    say(f"plan: {rounds * len(d.units)} lockstep groups first, {n_fw} workers each (one per framework, taking "
        f"turns step by step), {n_var} configs per worker{extra}")
    d.first_pass(rounds, budget_s if target_pct is not None else None)
    if target_pct is not None:
        d.extend(target_pct, budget_s, max_groups)
    return d
