"""A run as pandas DataFrames: the summary rows of :mod:`bench.analysis.summary` and the raw steps in
long format. ``bench.load`` and the CSV files both come from here, so what a user loads is exactly
what the tables show."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import pandas as pd

from bench.analysis.summary import summarise
from bench.core.records import JobKey, SummaryRow, latest_per_round, measurements

SAMPLE_COLUMNS = (*JobKey.names(), "data_source", "round", "step", "time_ns")


@dataclass(frozen=True)
class RunFrames:
    """A run folder as DataFrames: one row per config, and one row per timed step (long format)."""

    summary: pd.DataFrame
    samples: pd.DataFrame


def summary_frame(rows: Sequence[SummaryRow]) -> pd.DataFrame:
    return pd.DataFrame([r.to_dict() for r in rows], columns=list(SummaryRow.columns()))


def samples_frame(records: list[dict[str, Any]]) -> pd.DataFrame:
    rows = [(*m.key.to_dict().values(), m.data_source, m.round, step, ns)
            for m in latest_per_round(measurements(records)) for step, ns in enumerate(m.samples_ns)]
    frame = pd.DataFrame(rows, columns=list(SAMPLE_COLUMNS))
    return frame.astype({"batch_size": "int64", "round": "int64", "step": "int64", "time_ns": "int64"})


def frames(records: list[dict[str, Any]], seed: int = 0) -> RunFrames:
    return RunFrames(summary_frame(summarise(records, seed)), samples_frame(records))
