"""Interference seen and named: what else the machine did while a row was timed. Pure: the
``interference`` dict each worker stores with its record (:mod:`bench.worker.interference`) in, a
share and a flag out.

``others_cpu_s`` is the CPU time every other process used during the timed stretches (all CPUs'
busy time from ``/proc/stat`` minus the worker's own), ``steal_s`` what the hypervisor gave to other
guests, ``wall_s`` the stretches' length. Their ratio is the average number of cores others kept
busy: above ``FLAG_SHARE`` (a quarter of one core) a row's times are flagged with the figure.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from bench.core.records import Measurement

FLAG_SHARE = 0.25  # cores' worth of others' CPU (plus steal) on average over the timed stretches


def _fields(m: Measurement | Mapping[str, Any]) -> Mapping[str, Any] | None:
    value = m.extra.get("interference") if isinstance(m, Measurement) else m.get("interference")
    return value if isinstance(value, Mapping) and value.get("wall_s") else None


def _share(ms: Iterable[Measurement | Mapping[str, Any]], names: tuple[str, ...]) -> float | None:
    busy = wall = 0.0
    for m in ms:
        f = _fields(m)
        if f is None:
            continue
        busy += sum(max(0.0, float(f.get(name) or 0.0)) for name in names)
        wall += float(f["wall_s"])
    return busy / wall if wall > 0 else None


def others_share(ms: Iterable[Measurement | Mapping[str, Any]]) -> float | None:
    """Others' CPU plus steal, in cores, averaged over the records' timed stretches (None: not recorded)."""
    return _share(ms, ("others_cpu_s", "steal_s"))


def steal_share(ms: Iterable[Measurement | Mapping[str, Any]]) -> float | None:
    """The hypervisor's steal alone, in cores, averaged over the timed stretches (None: not recorded)."""
    return _share(ms, ("steal_s",))


def load_average(ms: Iterable[Measurement | Mapping[str, Any]]) -> float | None:
    loads = [float(f["load_avg_1m"]) for m in ms if (f := _fields(m)) is not None and f.get("load_avg_1m") is not None]
    return max(loads) if loads else None


def describe(share: float, steal: float | None = None) -> str:
    """``share``: others' CPU plus steal, in cores; ``steal``: the steal part, named when it is there."""
    if steal is not None and steal >= 0.005:
        return (f"measured while other processes and the hypervisor (steal) took {100 * share:.0f}% of a core on "
                f"average ({100 * steal:.0f}% of a core of that was steal)")
    return f"measured while other processes used {100 * share:.0f}% of a core on average"


def flagged(ms: Iterable[Measurement | Mapping[str, Any]], threshold: float = FLAG_SHARE) -> str | None:
    """The flag's text for records measured under interference above ``threshold``, else None."""
    items = list(ms)
    share = others_share(items)
    if share is None or share <= threshold:
        return None
    load = load_average(items)
    return describe(share, steal_share(items)) + (f" (load average up to {load:.1f})" if load is not None else "")
