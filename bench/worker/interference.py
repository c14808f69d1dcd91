"""What else the machine did during a timed stretch: other processes' CPU time and the hypervisor's
steal time, from ``/proc/stat`` (all CPUs' busy time, minus this process's own CPU time from
getrusage), and the load average. Read once at each edge of a stretch, outside every timed step.

On a system without ``/proc/stat`` (macOS) nothing is recorded: the record says so by lacking the
figures, rather than claiming a quiet machine.
"""

from __future__ import annotations

import os
import resource
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

PROC_STAT = Path("/proc/stat")
# /proc/stat "cpu" columns: user nice system idle iowait irq softirq steal guest guest_nice.
# guest and guest_nice are already counted in user and nice; idle and iowait are not busy.
_BUSY = (0, 1, 2, 5, 6)
_STEAL = 7


@dataclass(frozen=True)
class CpuTimes:
    """All CPUs together, in seconds: busy (not idle, not iowait, not steal) and stolen."""

    busy_s: float
    steal_s: float


def parse_proc_stat(text: str, ticks_per_s: float) -> CpuTimes | None:
    """The aggregate ``cpu`` line of a ``/proc/stat`` text, in seconds; None when it has none."""
    for line in text.splitlines():
        parts = line.split()
        if parts and parts[0] == "cpu":
            values = [int(v) for v in parts[1:]]
            values += [0] * (10 - len(values))
            return CpuTimes(sum(values[i] for i in _BUSY) / ticks_per_s, values[_STEAL] / ticks_per_s)
    return None


def _ticks() -> float:
    try:
        return float(os.sysconf("SC_CLK_TCK"))
    except (ValueError, OSError, AttributeError):
        return 100.0


def own_cpu_s() -> float:
    ru = resource.getrusage(resource.RUSAGE_SELF)
    return ru.ru_utime + ru.ru_stime


@dataclass(frozen=True)
class Snapshot:
    wall_s: float
    machine: CpuTimes | None
    own_s: float


def snapshot() -> Snapshot:
    try:
        machine = parse_proc_stat(PROC_STAT.read_text(), _ticks())
    except OSError:
        machine = None
    return Snapshot(time.monotonic(), machine, own_cpu_s())


class Stretches:
    """Sums over a worker's timed stretches: wall time, others' CPU, steal; the last 1-minute load."""

    def __init__(self) -> None:
        self.wall_s = 0.0
        self.others_cpu_s = 0.0
        self.steal_s = 0.0
        self.stretches = 0
        self.load_avg_1m: float | None = None
        self._start: Snapshot | None = None

    def begin(self) -> None:
        self._start = snapshot()

    def end(self) -> None:
        start, self._start = self._start, None
        if start is None:
            return
        self.add(start, snapshot())

    def add(self, start: Snapshot, stop: Snapshot) -> None:
        """One stretch between two snapshots (a machine without /proc/stat adds nothing)."""
        if start.machine is None or stop.machine is None:
            return
        self.wall_s += stop.wall_s - start.wall_s
        busy = stop.machine.busy_s - start.machine.busy_s
        self.others_cpu_s += max(0.0, busy - (stop.own_s - start.own_s))
        self.steal_s += max(0.0, stop.machine.steal_s - start.machine.steal_s)
        self.stretches += 1
        try:
            self.load_avg_1m = os.getloadavg()[0]
        except OSError:
            pass

    def to_dict(self) -> dict[str, Any]:
        if not self.stretches:
            return {}
        return {"wall_s": self.wall_s, "others_cpu_s": self.others_cpu_s, "steal_s": self.steal_s,
                "stretches": self.stretches, "load_avg_1m": self.load_avg_1m, "cpus": os.cpu_count()}
