"""Lockstep groups, parent side: N contenders alive at once, taking turns one synchronised step at a
time. A contender is whatever differs between the workers: a revision of this project (``bench ab``,
:mod:`bench.execution.ab`) or a framework (``bench compare``, :mod:`bench.execution.lockstep_compare`).

Each worker (:mod:`bench.worker.tasks.lockstep`) is built, compiled and warmed up alone, the next one
started only once it says ready; then, for every variant it holds (one config, or several: LRN off
and on, train and forward), the workers step in turn (A B C, C B A, ...:
:func:`bench.analysis.lockstep_ratios.turn_order`), so step t of every contender ran moments apart and
a slow spell of the machine lands on all of them. Only one worker computes at any time. A group is
the unit: when one worker fails, every record of the group says so.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.analysis.lockstep_ratios import start_order, turn_order
from bench.core import storage
from bench.core.channel import Channel, ChannelClosed
from bench.core.config import RunConfig
from bench.core.records import Measurement
from bench.execution.planning import Job
from bench.execution.runner import Outcome, Running, Source, start_worker


@dataclass(frozen=True)
class Contender:
    """One worker of a group: its name, the configs it measures (all of one framework and batch size),
    the code it runs, where its records go, and what its records say about it (``info``)."""

    name: str
    configs: tuple[RunConfig, ...]
    source: Source
    run_dir: Path
    info: dict[str, Any] = field(default_factory=dict)
    check: bool = True  # the in-run equivalence check after its timed steps (bench.worker.equivalence_check)


@dataclass
class _Live:
    contender: Contender
    running: Running
    channel: Channel
    done: list[int]


def _stop(live: _Live) -> None:
    """Tell a healthy worker to finish: it writes its result and exits."""
    try:
        live.channel.send({"stop": True})
    except ChannelClosed:
        pass  # it exited on its own; its outcome says why


def _close(live: _Live, timeout: float | None) -> Outcome:
    """A stopped worker's outcome (its result)."""
    outcome = live.running.wait(timeout, from_now=True)  # it has been alive for the whole group
    live.channel.close()
    return outcome


def _lost(live: _Live, reason: str) -> Outcome:
    """The worker whose channel broke: what became of it (a hung one is killed)."""
    if live.running.alive():
        live.running.kill()
        outcome = live.running.wait(0)
        outcome = Outcome("timeout", error=f"lockstep worker stopped answering ({reason}) and was killed",
                          wall_s=outcome.wall_s)
    else:
        outcome = live.running.wait(0)
        if outcome.status == "ok":  # exited cleanly but early: not the protocol
            outcome = Outcome("failed", error=f"lockstep worker left the protocol early ({reason})",
                              wall_s=outcome.wall_s)
    live.channel.close()
    return outcome


def _start(c: Contender) -> _Live:
    channel, theirs = Channel.pair()
    first = c.configs[0]
    params: dict[str, Any] = {"fd": theirs.fileno()}
    if not c.check:  # only then: what every revision's worker accepts (bench ab's base may be older)
        params["check"] = False
    if len(c.configs) == 1:  # what every revision's worker accepts (bench ab's base may be older)
        params["config"] = first.to_minimal_dict()
    else:
        params["configs"] = [cfg.to_minimal_dict() for cfg in c.configs]
    running = start_worker("lockstep", params, threads=first.model.threads, device=first.model.device,
                           source=c.source, pass_fds=(theirs.fileno(),))
    theirs.close()
    return _Live(c, running, channel, [0] * len(c.configs))


def _variant_results(outcome: Outcome, n: int) -> list[dict[str, Any]]:
    if outcome.status != "ok":
        return [{} for _ in range(n)]
    if n == 1:
        return [outcome.result]
    # what the worker records once for all its configs belongs to each of them
    shared = {k: outcome.result[k] for k in ("identity", "worker_env", "fingerprint", "code", "source_root")
              if k in outcome.result}
    variants = [{**shared, **v} for v in outcome.result.get("variants") or []]
    return variants + [{} for _ in range(n - len(variants))]


def run_group(contenders: Sequence[Contender], slot: int, session: str, chunk: int, timeout: float | None,
              pair: bool = False, grouped: bool = False) -> list[Measurement]:
    """One group: every contender alive, taking turns ``chunk`` synchronised steps at a time, variant by
    variant, until each has its configs' ``steps``. Every contender must hold the same number of
    variants (variant i of each is what is compared). All records are appended at once, in
    ``contenders`` order then variant order; ``pair`` marks records of workers that hold LRN off and on,
    ``grouped`` gives every record the group's id (``session:slot``) and its contender's name, which is
    how :mod:`bench.analysis.lockstep_ratios` finds the turns that belong together."""
    if len({len(c.configs) for c in contenders}) != 1:
        raise ValueError("every contender of a group must hold the same variants")
    order = start_order(list(contenders), slot)
    steps = [cfg.steps for cfg in contenders[0].configs]
    live: list[_Live] = []
    current: _Live | None = None  # the worker being talked to
    reason = ""
    try:
        for c in order:  # one at a time: each builds and compiles with the machine to itself
            current = _start(c)
            live.append(current)
            current.channel.recv(timeout)
        turn = 0
        while any(min(w.done[v] for w in live) < steps[v] for v in range(len(steps))):
            for v, want in enumerate(steps):
                for current in turn_order(live, turn):
                    if current.done[v] >= want:
                        continue
                    msg: dict[str, Any] = {"steps": min(chunk, want - current.done[v])}
                    if len(steps) > 1:
                        msg["variant"] = v
                    current.channel.send(msg)
                    current.done[v] = int(current.channel.recv(timeout)["done"])
            turn += 1
        current = None
    except ChannelClosed as exc:
        reason = str(exc)
    except BaseException:
        for w in live:
            w.running.kill()
        raise
    healthy = [w for w in live if w is not current]
    for w in healthy:  # every stop first: nothing is timed any more, so the workers finish at once
        _stop(w)
    outcomes = {w.contender.name: _lost(w, reason) if w is current else _close(w, timeout) for w in live}
    failed = [o for o in outcomes.values() if o.status != "ok"]
    out = []
    for c in contenders:
        outcome = outcomes.get(c.name) or Outcome("failed", error="not started: another worker of the group failed")
        if failed and outcome.status == "ok":
            other = "the other side of the pair" if len(contenders) == 2 else "another worker of the lockstep group"
            outcome = Outcome("failed", error=f"{other} failed: {failed[0].error}", wall_s=outcome.wall_s)
        for cfg, result in zip(c.configs, _variant_results(outcome, len(c.configs)), strict=True):
            rec = Job(cfg, slot).record(outcome.status, result, outcome.error, outcome.wall_s, pair=pair)
            rec.extra["lockstep"] = {"session": session, "slot": slot, "order": [x.name for x in order],
                                     "chunk": chunk, **c.info}
            if grouped:
                rec.extra["lockstep"].update(group=f"{session}:{slot}", contender=c.name)
            storage.append_record(c.run_dir, rec.to_dict())
            out.append(rec)
    return out
