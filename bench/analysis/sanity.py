"""Self-contradicting figures flagged, not printed as results. Pure.

A profile measured while something else used the machine can give a batch-1 step slower than the
whole batch, so the fit t(batch) = fixed + batch x per-image comes out with a negative per-image cost
and a fixed cost above the whole step; layers timed alone can sum to several whole steps. None of
these can be true of the model: they say the measurement was disturbed. Each such figure is removed
from the row (None) and named in its ``warnings``, so no table prints it as a finding.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

ISOLATED_MAX = 1.5  # layers timed alone may sum to somewhat more than a step (no fusion), not to this many
# between the messages of a row's ``warnings`` field (one CSV cell); a message may hold "; " (its own clauses)
# but never this (:func:`join_warnings` refuses one that does), so :func:`warning_list` gives each back whole
SEPARATOR = " | "


def _num(row: Mapping[str, Any], name: str) -> float | None:
    value = row.get(name)
    return float(value) if isinstance(value, (int, float)) and value == value else None


def contradictions(row: Mapping[str, Any]) -> dict[str, str]:
    """Field -> why its figure cannot be right, for a ``profile_summary`` row."""
    out: dict[str, str] = {}
    per_image, step = _num(row, "per_image_ms"), _num(row, "step_ms")
    fixed_share, iso = _num(row, "fixed_share_pct"), _num(row, "isolated_sum_ms")
    tiny = _num(row, "tiny_step_ms")
    if per_image is not None and per_image < 0:
        out["per_image_ms"] = (f"per-image cost {per_image:.2f} ms is negative: the batch-{row.get('tiny_batch', 1)} "
                               f"step ({tiny if tiny is not None else float('nan'):.1f} ms) was slower than the "
                               f"batch-{row.get('batch_size')} step ({step or float('nan'):.1f} ms); the machine "
                               "was probably busy")
    if fixed_share is not None and fixed_share > 100:
        out["fixed_ms"] = f"fixed cost {fixed_share:.0f}% of the step is more than the whole step"
    if iso is not None and step and iso > ISOLATED_MAX * step:
        out["isolated_sum_ms"] = (f"layers timed alone sum to {iso / step:.1f}x the whole step "
                                  f"({iso:.1f} vs {step:.1f} ms), over the {ISOLATED_MAX:g}x a fused step allows")
    return out


# the figures that are derived from a contradicted one go with it
_DERIVED = {"per_image_ms": ("per_image_ms", "fixed_ms", "fixed_share_pct"),
            "fixed_ms": ("fixed_ms", "fixed_share_pct"),
            "isolated_sum_ms": ("isolated_sum_ms", "isolated_remainder_ms")}


def checked(row: dict[str, Any]) -> dict[str, Any]:
    """The row with every contradicted figure (and what is derived from it) set to None, and a
    ``warnings`` field naming each (:func:`join_warnings`; empty when none)."""
    found = contradictions(row)
    out = dict(row)
    for name in found:
        for derived in _DERIVED[name]:
            out[derived] = None
    out["warnings"] = join_warnings(found.values())
    return out


def join_warnings(messages: Iterable[str]) -> str:
    """Warnings as one ``warnings`` field: joined by ``SEPARATOR``, which no message may contain."""
    out = list(messages)
    for m in out:
        if SEPARATOR in m or not m:
            raise ValueError(f"a warning must be non-empty and free of {SEPARATOR!r}; got {m!r}")
    return SEPARATOR.join(out)


def warning_list(row: Mapping[str, Any]) -> list[str]:
    """A row's warnings, each message whole (the inverse of :func:`join_warnings`); [] when none."""
    text = row.get("warnings") or ""
    return str(text).split(SEPARATOR) if text else []
