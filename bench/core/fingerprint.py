"""A fingerprint of the code that measured, and the stamp (framework versions + fingerprint) that
decides which records may be pooled.

Two rows of one key measured under two framework versions, or under two revisions of an adapter or
of the timing loop, are two different experiments: pooled, their spread would pass for process noise.
pyperf refuses to add a run whose metadata differ; asv drops results whose benchmark version changed.
Here every measurement record carries ``code`` (module name -> short hash of its source file) and
``fingerprint`` (one short hash over those), computed by the worker from the files it ran:

- the framework's adapter module (``impls/<fw>_alexnet.py``, or an extra framework's module),
- ``bench/model/spec.py`` (the models every adapter builds),
- ``bench/worker/timing.py`` (the timing loop),
- the task module (``bench/worker/tasks/measure.py`` ...).

The parent recomputes the same hashes from the files a record names (``--resume``), without
importing any framework. A record made before fingerprints (schema < 4) has none: its code is
"unknown", which agrees only with another unknown.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import importlib.util
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from bench.core.records import Measurement

ROOT = Path(__file__).resolve().parents[2]  # the checkout holding bench/ and impls/
HASH_CHARS = 12
# the code every timing task runs besides its own module and the adapter: what changes a measurement
SHARED_MODULES = ("bench.model.spec", "bench.worker.timing", "bench.worker.batches", "bench.worker.matmul",
                  "bench.worker.memory", "bench.worker.interference")
UNKNOWN = "unknown"


def module_file(name: str) -> Path | None:
    """The source file of module ``name``, found without importing it (bench and impls by path, so a
    fingerprint never imports a framework; others through their finder)."""
    if name.split(".")[0] in ("bench", "impls", "tests"):
        path = ROOT.joinpath(*name.split(".")).with_suffix(".py")
        return path if path.exists() else None
    try:
        spec = importlib.util.find_spec(name)
    except (ImportError, ValueError):
        return None
    return Path(spec.origin) if spec is not None and spec.origin and spec.origin.endswith(".py") else None


def file_hash(name: str) -> str:
    """A short hash of module ``name``'s source bytes; ``missing`` when it cannot be found."""
    path = module_file(name)
    if path is None:
        return "missing"
    return hashlib.sha256(path.read_bytes()).hexdigest()[:HASH_CHARS]


def combine(code: Mapping[str, str]) -> str:
    """One short hash over every module's hash (in name order)."""
    text = "".join(f"{name}={digest}\n" for name, digest in sorted(code.items()))
    return hashlib.sha256(text.encode()).hexdigest()[:HASH_CHARS]


def modules(adapter_module: str, task_module: str) -> tuple[str, ...]:
    return (adapter_module, *SHARED_MODULES, f"bench.worker.tasks.{task_module}")


def of(adapter_module: str, task_module: str) -> dict[str, object]:
    """The record fields a worker adds: ``code`` (module -> hash) and ``fingerprint``."""
    code = {name: file_hash(name) for name in modules(adapter_module, task_module)}
    return {"code": code, "fingerprint": combine(code)}


def current_code(code: Mapping[str, str]) -> dict[str, str]:
    """The hashes the modules a record names have in this checkout now."""
    return {name: file_hash(name) for name in code}


def installed_versions(packages: Sequence[str]) -> dict[str, str]:
    """The installed versions of ``packages`` (package metadata, as the adapters report them)."""
    out = {}
    for name in packages:
        try:
            out[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            out[name] = "not installed"
    return out


@dataclass(frozen=True, order=True)
class Stamp:
    """What must agree for two records of one key to pool: framework versions and code fingerprint."""

    versions: tuple[tuple[str, str], ...]
    fingerprint: str = UNKNOWN

    @classmethod
    def of(cls, m: Measurement) -> Stamp:
        return cls(tuple(sorted((k, str(v)) for k, v in m.versions.items())), m.fingerprint or UNKNOWN)

    def versions_text(self) -> str:
        return ", ".join(f"{k} {v}" for k, v in self.versions) or "versions unknown"

    def text(self) -> str:
        return f"{self.versions_text()}; code {self.fingerprint}"


def version_changes(old: Mapping[str, str], new: Mapping[str, str]) -> list[str]:
    """``name old -> new`` for every package whose version differs (a missing side reads "none")."""
    return [f"{k} {old.get(k, 'none')} -> {new.get(k, 'none')}" for k in sorted(set(old) | set(new))
            if old.get(k) != new.get(k)]


def code_changes(old: Mapping[str, str], new: Mapping[str, str]) -> list[str]:
    """Which modules' sources differ between two ``code`` maps."""
    changed = [k for k in sorted(set(old) | set(new)) if old.get(k) != new.get(k)]
    return [f"{', '.join(changed)} changed"] if changed else []


def difference(a: Measurement, b: Measurement) -> str:
    """One phrase naming how two records' stamps differ, or "" when they agree."""
    parts = version_changes({k: str(v) for k, v in a.versions.items()}, {k: str(v) for k, v in b.versions.items()})
    fa, fb = a.fingerprint or UNKNOWN, b.fingerprint or UNKNOWN
    if fa != fb:
        detail = code_changes(a.code, b.code) if a.code and b.code else []
        parts.append(f"code {fa} -> {fb}" + (f" ({detail[0]})" if detail else ""))
    return "; ".join(parts)


def resume_difference(m: Measurement, packages: Sequence[str]) -> str:
    """How this checkout and installation differ from what measured record ``m`` ("" if not at all):
    the versions of the framework's ``packages`` and the hashes of the modules ``m`` names. A record
    with no fingerprint (before schema 4) has only its versions checked; the summary then keeps its
    rows apart from the new ones (code "unknown" against a fingerprint)."""
    recorded = {k: str(v) for k, v in m.versions.items() if k in packages}
    parts = version_changes(recorded, {k: v for k, v in installed_versions(packages).items() if k in recorded})
    if not m.fingerprint or not m.code:  # recorded before fingerprints: nothing to check it against
        return "; ".join(parts)
    now = current_code(m.code)
    if combine(now) != m.fingerprint:
        detail = code_changes(m.code, now)
        parts.append(f"code {m.fingerprint} -> {combine(now)}" + (f" ({detail[0]})" if detail else ""))
    return "; ".join(parts)
