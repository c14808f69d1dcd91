"""Typed result records: a job's key, one measurement, one summary row.

One ``to_dict``/``from_dict`` pair each, the schema version here and nowhere else, key fields
declared once (:class:`JobKey`), and units declared with each summary field (``metadata``), never
inferred from a column's name. Records are stored flat in ``results.jsonl`` (key fields at the top
level) so they load straight into pandas.

Schema history: 1 had no host/gpu in the key and ``_mb`` memory columns (holding MiB); 2 adds
``host`` and ``gpu`` to the key (recorded by the worker) and renames the columns ``_mib``.
3 adds ``precision`` to the key (strict float32, the only mode before, or the framework's default)
and ``tuning`` (the exact tunings switched on; none before). ``model`` joined the key later without a
schema change: a record without it is mnist's (the only model before), so rows of two models never pool.
4 adds ``fingerprint`` and ``code`` to a measurement (:mod:`bench.core.fingerprint`: hashes of the
adapter, spec, timing-loop and task sources that measured) and a ``fingerprint`` summary column.
``equivalence`` joined a measurement later without a schema change (the in-run check of
:mod:`bench.worker.equivalence_check`: tier, every check, the worst, its seconds), with status ``not
equivalent`` for a config that failed it (its step times dropped: never reported) and the ``equiv_*``
summary columns; a record without it was not checked in its run (its ``equiv_*`` columns empty).
Version-1 and 2 records still load: host and GPU unknown (empty) for 1, precision ``strict``; records
before 4 load with no fingerprint ("unknown", pooled only with other unknowns).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from dataclasses import dataclass, field, fields
from typing import Any

SCHEMA_VERSION = 4
KINDS = ("measure", "gemm", "lrn_layer", "parity", "trajectory", "profile", "stop_rule")


def utc_now() -> str:
    return dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def header(kind: str) -> dict[str, Any]:
    """The fields every stored record starts with, whatever its kind."""
    if kind not in KINDS:
        raise ValueError(f"unknown record kind {kind!r}; known: {', '.join(KINDS)}")
    return {"schema_version": SCHEMA_VERSION, "kind": kind, "utc": utc_now()}


@dataclass(frozen=True, order=True)
class JobKey:
    """A job's key, its fields declared once: what makes two measurements poolable (same model config,
    same protocol, same machine). ``host`` and ``gpu`` (the GPU model; None on CPU) are recorded by the
    worker that measured, so rows from different machines or GPU models never pool. A
    :class:`SummaryRow` starts with these fields (its ``key`` gives them back as a JobKey)."""

    framework: str
    mode: str
    batch_size: int
    lrn: bool
    compile: str
    lrn_impl: str
    device: str
    threads: int | None
    host: str
    gpu: str | None
    precision: str = "strict"  # strict float32 (TF32 off, highest matmul precision) or each framework's default
    tuning: str = ""  # the exact tunings switched on ("+"-joined), empty for none
    model: str = "mnist"  # the model's name (bench.model.spec.MODELS); records without one are mnist's

    @staticmethod
    def names() -> tuple[str, ...]:
        """The key fields' names (a SummaryRow's first columns)."""
        return tuple(f.name for f in fields(JobKey))

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> JobKey:
        return cls(framework=str(d["framework"]), mode=str(d["mode"]), batch_size=int(d["batch_size"]),
                   lrn=bool(d["lrn"]), compile=str(d["compile"]), lrn_impl=str(d["lrn_impl"]),
                   device=str(d["device"]), threads=None if d.get("threads") is None else int(d["threads"]),
                   host=str(d.get("host") or ""), gpu=d.get("gpu") or None,
                   precision=str(d.get("precision") or "strict"), tuning=str(d.get("tuning") or ""),
                   model=str(d.get("model") or "mnist"))

    def label(self) -> str:
        default = " default precision" if self.precision != "strict" else ""
        tuned = f" +{self.tuning}" if self.tuning else ""
        model = f"{self.model} " if self.model != "mnist" else ""  # mnist's labels read as before models
        return (f"{model}{self.framework} {self.mode} batch {self.batch_size} LRN {'on' if self.lrn else 'off'}"
                f"{default}{tuned}")


# Result fields a worker returns for one measurement; anything else it returns is kept in ``extra``.
_RESULT_FIELDS = ("data_source", "compile_ns", "samples_ns", "page_faults", "preemptions", "target_ci",
                  "block_mean_ns", "block_steps", "flops_per_step", "final_loss", "memory", "versions", "describe",
                  "gemm_flops_per_s", "gemm_source", "worker_env", "fingerprint", "code", "equivalence")
NOT_EQUIVALENT = "not equivalent"  # the status of a config that failed its in-run equivalence check
# what a config that is not equivalent does not keep: its times (and what is counted per timed step)
_TIMED = ("samples_ns", "page_faults", "preemptions", "block_mean_ns")


@dataclass(frozen=True)
class Measurement:
    """One worker's timing of one config (``kind: measure`` in results.jsonl)."""

    key: JobKey
    round: int
    status: str  # ok, failed, oom, timeout, skipped
    error: str | None = None
    utc: str = field(default_factory=utc_now)
    wall_s: float | None = None
    steps: int = 0
    warmup: int = 0
    include_transfer: bool = False
    config: dict[str, Any] = field(default_factory=dict)
    pair: bool = False  # measured as one half of an LRN off/on pair in one process
    data_source: str | None = None
    compile_ns: int | None = None
    samples_ns: tuple[int, ...] = ()
    page_faults: tuple[int, ...] = ()  # per timed step (minor + major), aligned with samples_ns
    preemptions: tuple[int, ...] = ()  # involuntary context switches per timed step
    target_ci: float | None = None
    block_mean_ns: float | None = None
    block_steps: int = 0
    flops_per_step: int | None = None
    final_loss: float | None = None
    memory: dict[str, int | None] = field(default_factory=dict)
    versions: dict[str, str] = field(default_factory=dict)
    describe: dict[str, str] = field(default_factory=dict)
    gemm_flops_per_s: float | None = None
    gemm_source: str | None = None
    worker_env: dict[str, str] = field(default_factory=dict)
    fingerprint: str | None = None  # hash of the measuring code (None: recorded before schema 4, unknown)
    code: dict[str, str] = field(default_factory=dict)  # module -> hash of its source, behind the fingerprint
    # the in-run check against the float64 reference (bench.worker.equivalence_check); empty: not checked
    equivalence: dict[str, Any] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.status == "ok" and bool(self.samples_ns)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"schema_version": SCHEMA_VERSION, "kind": "measure", "utc": self.utc,
                               **self.key.to_dict()}
        for f in fields(self):
            if f.name not in ("key", "utc", "extra"):
                value = getattr(self, f.name)
                out[f.name] = list(value) if isinstance(value, tuple) else value
        out.update(self.extra)
        return out

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Measurement:
        known = {f.name for f in fields(cls)} | set(JobKey.names()) | {"schema_version", "kind"}
        kw: dict[str, Any] = {f.name: d[f.name] for f in fields(cls) if f.name in d and f.name not in ("key", "extra")}
        for name in ("samples_ns", "page_faults", "preemptions"):
            kw[name] = tuple(int(s) for s in d.get(name) or ())
        kw["round"] = int(d.get("round", 0))
        for name in ("memory", "versions", "describe", "worker_env", "config", "code", "equivalence"):
            kw[name] = dict(d.get(name) or {})
        return cls(key=JobKey.from_dict(d), extra={k: v for k, v in d.items() if k not in known}, **kw)

    @classmethod
    def from_result(cls, key: JobKey, round: int, status: str, result: dict[str, Any] | None = None,
                    error: str | None = None, **protocol: Any) -> Measurement:
        """A record from a worker's result: the machine identity the worker saw replaces the parent's."""
        result = dict(result or {})
        identity = result.pop("identity", None) or {}
        if identity:
            key = dataclasses.replace(key, host=str(identity.get("host") or key.host), gpu=identity.get("gpu"))
        kw = {k: result.pop(k) for k in _RESULT_FIELDS if k in result}
        for name in ("samples_ns", "page_faults", "preemptions"):
            if name in kw:
                kw[name] = tuple(int(s) for s in kw[name])
        for name in ("memory", "versions", "describe", "worker_env", "code", "equivalence"):
            if name in kw and kw[name] is None:
                del kw[name]
        for k in ("status", "error", "traceback", "lrn", "kind"):
            result.pop(k, None)
        if status == "ok" and kw.get("equivalence", {}).get("passed") is False:  # timed, but not this model
            status, error = NOT_EQUIVALENT, str(kw["equivalence"].get("message") or NOT_EQUIVALENT)
            for name in _TIMED:
                kw.pop(name, None)
        return cls(key=key, round=round, status=status, error=error, extra=result, **kw, **protocol)


def measurements(records: list[dict[str, Any]]) -> list[Measurement]:
    """The measurement records of a run, typed (other kinds are skipped)."""
    return [Measurement.from_dict(r) for r in records if r.get("kind", "measure") == "measure"]


def latest_per_round(ms: list[Measurement]) -> list[Measurement]:
    """The last record of each (key, round): a resumed or retried job replaces its earlier try."""
    latest: dict[tuple[JobKey, int], Measurement] = {}
    for m in ms:
        latest[(m.key, m.round)] = m
    return list(latest.values())


def done(ms: list[Measurement]) -> set[tuple[JobKey, int]]:
    """(key, round) of every finished measurement: what ``--resume`` skips."""
    return {(m.key, m.round) for m in ms if m.status == "ok"}


# --- summary rows --------------------------------------------------------------------------------
def _col(unit: str, doc: str = "") -> Any:
    return field(default=None, metadata={"unit": unit, "doc": doc})


@dataclass(frozen=True)
class SummaryRow(JobKey):
    """One row of summary.csv per key, pooling every round: the key fields, then the figures. Field
    order is column order; each figure declares its unit ("" for text and flags). ``None`` means the
    figure does not exist."""

    data_source: str | None = _col("")
    status: str = field(default="ok", metadata={"unit": ""})
    error: str | None = _col("")
    rounds: int = field(default=0, metadata={"unit": "count"})  # worker processes that succeeded
    n: int | None = _col("count")
    mean_ms: float | None = _col("ms")
    std_ms: float | None = _col("ms")
    min_ms: float | None = _col("ms")
    median_ms: float | None = _col("ms")
    p5_ms: float | None = _col("ms")
    p95_ms: float | None = _col("ms")
    iqr_ms: float | None = _col("ms")
    cv: float | None = _col("ratio")
    mean_ci_low_ms: float | None = _col("ms")
    mean_ci_high_ms: float | None = _col("ms")
    median_ci_low_ms: float | None = _col("ms")
    median_ci_high_ms: float | None = _col("ms")
    ci_half_width_pct: float | None = _col("%")  # of the median's two-level interval: the headline
    between_process_pct: float | None = _col("%")
    within_process_pct: float | None = _col("%")
    ci_method: str | None = _col("")
    target_ci_pct: float | None = _col("%")
    processes_needed: int | None = _col("count")
    unstable: bool | None = _col("")
    images_per_s: float | None = _col("images/s")
    flops_per_step: int | None = _col("FLOP")
    achieved_gflops: float | None = _col("GFLOP/s")
    peak_gflops: float | None = _col("GFLOP/s")
    pct_of_peak: float | None = _col("%")
    relative_to_fastest: float | None = _col("ratio")
    compile_s: float | None = _col("s")
    page_faults_per_step: float | None = _col("count")
    preemptions_per_step: float | None = _col("count")
    others_cpu_pct: float | None = _col("%", "other processes' CPU + steal while timed, % of one core")
    block_mean_ms: float | None = _col("ms")
    sync_overhead_pct: float | None = _col("%")
    host_peak_rss_mib: float | None = _col("MiB")
    alloc_peak_mib: float | None = _col("MiB")
    alloc_reserved_mib: float | None = _col("MiB")
    nvml_process_mib: float | None = _col("MiB")
    nvml_device_used_mib: float | None = _col("MiB")
    alloc_peak_scope: str | None = _col("")  # what alloc_peak_mib covers (measured steps, or the whole process)
    nvml_process_source: str | None = _col("")  # how nvml_process_mib was found (PID entry or device-used delta)
    versions: str | None = _col("")
    fingerprint: str | None = _col("")  # of the measuring code its rounds share ("unknown" before schema 4)
    equiv_tier: str | None = _col("", "in-run check against the float64 reference: tolerance tier (strict, tf32)")
    equiv_worst: str | None = _col("", "the check nearest its tolerance (logits, loss, grad LAYER, adam step, lrn op)")
    equiv_error: float | None = _col("", "that check's error, in its own measure (see equivalence.py)")
    equiv_tolerance: float | None = _col("", "that check's tolerance")
    equiv_check_s: float | None = _col("s", "the check's time, outside the timed region (mean over rounds)")

    @classmethod
    def columns(cls) -> tuple[str, ...]:
        return tuple(f.name for f in fields(cls))

    @classmethod
    def units(cls) -> dict[str, str]:
        return {f.name: str(f.metadata.get("unit", "")) for f in fields(cls)}  # key fields: text ""

    @property
    def key(self) -> JobKey:
        return JobKey(**{name: getattr(self, name) for name in JobKey.names()})

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> SummaryRow:
        names = set(cls.columns())
        return cls(**{k: v for k, v in d.items() if k in names})
