"""TensorFlow's profile as the XSpace its profiler writes (``*.xplane.pb``), read without TensorFlow:
the ops attributed to the model's scopes, and a Chrome trace for Perfetto.

The layout is tsl's (tsl/profiler/utils/xplane_schema.cc, xla/backends/profiler/gpu/cupti_collector.cc):
a host plane ``/host:CPU`` with one line per thread, whose op events are named ``scope/op:OpType``; on a
GPU one plane ``/device:GPU:<n>`` with a line ``Stream #<id>(...)`` per stream holding the kernels and
memcpys, each with a ``tf_op`` stat naming the TF op whose annotation was open when it was launched
(the host's launch events carry it too, and derived lines such as "Framework Ops" repeat the kernels).
"""

from __future__ import annotations

from typing import Any


def scope_of(op: str, scopes: dict[str, str]) -> tuple[str | None, str]:
    """(scope, pass) from a TensorFlow op name: ``conv1/Relu``, ``gradient_tape/conv1/...``,
    ``optimizer/...``; the name scope may sit below the function's own prefix."""
    parts = op.split("/")
    scope = next((scopes[p] for p in parts if p in scopes), None)
    if scope is None:
        return None, ""
    if scope == "optimizer":
        return scope, "update"
    return scope, "backward" if "gradient_tape" in parts else "forward"


GPU_PLANE_PREFIX = "/device:GPU:"  # XPlane names (tsl/profiler/utils/xplane_schema.cc)
STREAM_LINE_PREFIX = "Stream #"  # the CUPTI collector's line per stream; derived lines ("Framework Ops", ...) repeat it
TF_OP_STAT = "tf_op"  # on a device event: the TF op ("scope/op:Type") whose annotation was open at launch


def _stat_text(ev: Any, metadata: Any, stat_names: dict[int, str], key: str) -> str:
    """The string value of stat ``key`` on an event or its metadata: inline (``str_value``) or, as the
    CUPTI collector writes it, a ``ref_value`` naming a stat metadata entry."""
    for stat in (*ev.stats, *(metadata.stats if metadata is not None else ())):
        if stat_names.get(stat.metadata_id) == key:
            return str(stat.str_value) if stat.HasField("str_value") else stat_names.get(stat.ref_value, "")
    return ""


def xspace_ops(space: Any, scope_names: tuple[str, ...], gpu: bool) -> list[tuple[str, str | None, str, int]]:
    """(op, scope, pass, ns) of a TensorFlow XSpace. CPU: the executor threads' op events, named
    ``scope/op:OpType``. GPU: the kernels (and memcpys) on the device planes' stream lines, each named by
    its kernel and attributed by its ``tf_op`` stat; host events time the launch, not the kernel."""
    scopes = {name.replace(".", "_"): name for name in scope_names}
    out: list[tuple[str, str | None, str, int]] = []
    for plane in space.planes:
        if gpu and not plane.name.startswith(GPU_PLANE_PREFIX):
            continue
        names = {k: m.name for k, m in plane.event_metadata.items()}
        stat_names = {k: m.name for k, m in plane.stat_metadata.items()}
        for line in plane.lines:
            if gpu and not line.name.startswith(STREAM_LINE_PREFIX):
                continue
            for ev in line.events:
                name = names.get(ev.metadata_id, "")
                if gpu:
                    tf_op = _stat_text(ev, plane.event_metadata.get(ev.metadata_id), stat_names, TF_OP_STAT)
                    out.append((name, *scope_of(tf_op.rpartition(":")[0] or tf_op, scopes), ev.duration_ps // 1000))
                    continue
                op, sep, kind = name.rpartition(":")
                if not sep or "::" in name or " " in name or not op:  # not "scope/op:OpType"
                    continue
                out.append((kind, *scope_of(op, scopes), ev.duration_ps // 1000))
    return out


def chrome_events(space: Any) -> list[dict[str, Any]]:
    """Every XPlane event as a Chrome trace event (pid: plane, tid: line), for Perfetto."""
    chrome = []
    for plane in space.planes:
        names = {k: m.name for k, m in plane.event_metadata.items()}
        for line in plane.lines:
            for ev in line.events:
                start_us = (line.timestamp_ns * 1000 + ev.offset_ps) / 1e6
                chrome.append({"ph": "X", "name": names.get(ev.metadata_id, ""), "pid": plane.id, "tid": line.id,
                               "ts": start_us, "dur": ev.duration_ps / 1e6})
    return chrome
