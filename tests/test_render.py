from __future__ import annotations

import io
from typing import Any

from rich.console import Console

from bench.core.records import SummaryRow
from bench.output.tables import runs


def _row(**kw: Any) -> SummaryRow:
    row: dict[str, Any] = dict(framework="torch", mode="train", batch_size=128, lrn=False, compile="eager",
                               lrn_impl="module", device="cpu", threads=None, host="h", gpu=None, status="ok",
                               data_source="mnist", mean_ms=400.0, std_ms=10.0, median_ms=399.0, p95_ms=420.0,
                               mean_ci_low_ms=398.0, mean_ci_high_ms=402.0, ci_half_width_pct=0.5,
                               median_ci_low_ms=397.0, median_ci_high_ms=401.0, rounds=3,
                               between_process_pct=1.2, within_process_pct=3.4,
                               images_per_s=320.0, achieved_gflops=145.0, pct_of_peak=60.0, compile_s=1.5,
                               host_peak_rss_mib=900.0, relative_to_fastest=1.0, cv=0.025, unstable=False)
    row.update(kw)
    return SummaryRow(**row)


def _render(rows: list[SummaryRow], width: int = 100) -> str:
    buf = io.StringIO()
    runs.run_table(rows, Console(file=buf, width=width))
    return buf.getvalue()


def test_run_table_shows_numbers_and_units() -> None:
    out = _render([_row(), _row(framework="jax", mean_ms=800.0, relative_to_fastest=2.0)])
    assert "399.0 [397.0, 401.0]" in out and "2.00x" in out and "±0.5%" in out
    assert "1.2%" in out and "3.4%" in out  # between and within, apart
    assert "…" not in out  # nothing a reader needs is truncated at 100 columns
    assert "SYNTHETIC" not in out and "unstable" not in out


def test_unstable_rows_are_flagged_with_a_remedy() -> None:
    out = _render([_row(unstable=True, cv=0.14)])
    assert "CV 14%" in out and "pin --threads" in out


def test_failed_rows_and_synthetic_data_are_loud() -> None:
    out = _render([_row(status="timeout", error="worker exceeded --timeout", mean_ms=None, data_source="synthetic")])
    assert "timeout" in out and "SYNTHETIC" in out


def test_a_row_without_a_median_fills_every_column_at_any_width() -> None:
    """A failed config (no median) has a cell per header: its status lands in the status column, and the
    narrow table (which picks columns by header) renders it instead of raising."""
    failed = _row(status="failed", error="worker exited with code 3", median_ms=None, mean_ms=None)
    cells = runs.run_rows([failed])[0]
    assert len(cells) == len(runs.RUN_HEADERS)
    assert dict(zip(runs.RUN_HEADERS, cells, strict=True))["status"].startswith("failed: worker exited")
    for width in (100, runs.FULL_WIDTH):
        assert "failed:" in _render([_row(), failed], width=width)  # the status column may wrap the rest


def test_gpu_memory_shown_when_present() -> None:
    assert "GPU 512" in _render([_row(alloc_peak_mib=512.0)], width=runs.FULL_WIDTH)
    assert "RSS 900" in _render([_row()], width=runs.FULL_WIDTH)


def test_one_process_rows_say_their_interval_covers_that_process_only() -> None:
    out = _render([_row(rounds=1)])
    assert "(1 process)" in out
