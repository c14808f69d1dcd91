"""``bench bisect``, the decisions: what one probe's pairs say, how many pairs to add, and which commit
to probe next. Pure: gate rows and the probe history in, a step out (running probes is
:mod:`bench.execution.bisect`).

A probe is a lockstep comparison (``bench ab``'s pairs, the gate's statistic) of one commit against
the nearest commit known to be good. It has three outcomes:

- **different**: some row is a regression by the gate's rule (significant, and its interval clears
  1 + the noise floor);
- **same**: every row is "no change" or an improvement (the interval rules out a slowdown of
  ``detect`` or more);
- **not yet**: neither; the probe gets more pairs, doubling, up to its budget. The search never moves
  on a "not yet": when the budget is spent the probe is decided by its point estimate against the
  middle of the undecided band (between the noise floor and ``detect``) and marked *forced*, so a
  reader sees which steps rested on less than the gate's evidence.

Looking at a probe after each batch is a sequential test; the gate's alpha is divided by the number
of looks a probe can take (Bonferroni over looks), so the chance that some look calls a false
"different" stays within alpha.

The search is over the first-parent commits between GOOD and BAD (oldest first, BAD last), with GOOD
at index -1. BAD against GOOD comes first (when it is "same", no regression lies between them); then
the usual halving between the last good and the first bad index, probing the runnable commit nearest
the middle; and last the boundary is confirmed (the culprit against the last good commit, its parent
unless the commits between were skipped), which must be "different" again.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, replace

from bench.analysis.gate import GateRow, Settings

SAME, DIFFERENT, NOT_YET, SKIPPED = "same", "different", "not yet", "skipped"
SEARCH, CONFIRM = "search", "confirm"
# What next_step can say
PROBE, FOUND, NO_REGRESSION, UNCONFIRMED, BAD_DOES_NOT_RUN = (
    "probe", "found", "no regression", "unconfirmed", "bad does not run")
GOOD_INDEX = -1


def outcome(rows: Sequence[GateRow]) -> str:
    """same / different / not yet from the gate's rows of one probe (any regressed row makes it different)."""
    verdicts = [r.verdict for r in rows]
    if "regression" in verdicts:
        return DIFFERENT
    if verdicts and all(v in ("no change", "improvement") for v in verdicts):
        return SAME
    return NOT_YET


def forced(rows: Sequence[GateRow], settings: Settings) -> str:
    """The decision when the budget is spent on a "not yet": the largest point estimate against the middle
    of the band the gate could not decide (between 1 + noise floor and 1 + detect)."""
    threshold = 1 + (settings.noise_floor + settings.detect) / 2
    return DIFFERENT if any(math.isfinite(r.ratio) and r.ratio > threshold for r in rows) else SAME


def looks(first: int, budget: int) -> int:
    """How many times a probe is judged: after ``first`` pairs, then each time the pairs double, up to
    ``budget``."""
    n, done = 1, first
    while done < budget:
        done += next_batch(done, first, budget)
        n += 1
    return n


def probe_settings(settings: Settings, first: int, budget: int) -> Settings:
    """The gate's settings for one look of a probe: alpha shared over the looks it can take."""
    return replace(settings, alpha=settings.alpha / looks(first, budget))


def next_batch(done: int, first: int, budget: int) -> int:
    """Pairs to add to a probe that has ``done``: ``first`` to begin with, then as many again (doubling),
    never beyond ``budget``; 0 when the budget is spent."""
    if done >= budget:
        return 0
    return min(budget - done, first if done == 0 else done)


@dataclass(frozen=True)
class Done:
    """One finished probe as the search sees it: which commit (index), against which (index), why, and
    what it said (same, different or skipped; a forced decision counts as what it decided)."""

    index: int
    base: int
    kind: str  # SEARCH or CONFIRM
    outcome: str


@dataclass(frozen=True)
class Step:
    """What to do next. ``probe``: compare ``index`` against ``base`` (``kind`` search or confirm);
    ``found``: ``index`` is the culprit (``suspects``: skipped commits just before it that could hold
    the change instead); ``no regression``: BAD is the same as GOOD; ``unconfirmed``: the boundary did
    not hold up against its parent; ``bad does not run``: BAD was skipped, so nothing can be said."""

    action: str
    index: int | None = None
    base: int = GOOD_INDEX
    kind: str = SEARCH
    suspects: tuple[int, ...] = ()


def _nearest(middle: int, candidates: Sequence[int]) -> int:
    """The candidate nearest the middle; of two as near, the later (the later commit splits the rest
    as well and moves the good end further)."""
    return min(candidates, key=lambda i: (abs(i - middle), -i))


def bounds(n: int, history: Sequence[Done]) -> tuple[int, int, set[int]]:
    """(last good, first bad, skipped) after the search probes so far, BAD's first probe included."""
    good, bad, skipped = GOOD_INDEX, n - 1, set()
    for d in history:
        if d.kind != SEARCH:
            continue
        if d.outcome == SKIPPED:
            skipped.add(d.index)
        elif d.outcome == SAME:
            good = max(good, d.index)
        elif d.outcome == DIFFERENT:
            bad = min(bad, d.index)
    return good, bad, skipped


def next_step(n: int, history: Sequence[Done]) -> Step:
    """The next step of a bisection over ``n`` commits (index n - 1 is BAD) given the finished probes."""
    if n < 1:
        raise ValueError("a bisection needs at least one commit between GOOD and BAD")
    first = [d for d in history if d.kind == SEARCH and d.index == n - 1]
    if not first:
        return Step(PROBE, n - 1, GOOD_INDEX)
    if first[0].outcome == SKIPPED:
        return Step(BAD_DOES_NOT_RUN, n - 1)
    if first[0].outcome == SAME:
        return Step(NO_REGRESSION)
    good, bad, skipped = bounds(n, history)
    candidates = [i for i in range(good + 1, bad) if i not in skipped]
    if candidates:
        return Step(PROBE, _nearest((good + bad) // 2, candidates), good)
    suspects = tuple(i for i in range(good + 1, bad) if i in skipped)
    confirms = [d for d in history if d.kind == CONFIRM and d.index == bad]
    if not confirms:
        return Step(PROBE, bad, good, CONFIRM, suspects)
    if confirms[-1].outcome == DIFFERENT:
        return Step(FOUND, bad, good, CONFIRM, suspects)
    return Step(UNCONFIRMED, bad, good, CONFIRM, suspects)
