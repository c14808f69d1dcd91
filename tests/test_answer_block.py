"""Issue 32: the answer first, tables that fit 120 columns, and warnings only where they change a
conclusion (a cluster note beside the interval, never in its place; an unstable flag only when step
noise makes the median's interval wider than the target)."""

from __future__ import annotations

import io
import shutil
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console

from bench.analysis import clusters, lockstep_ratios, summary
from bench.analysis.intervals import TwoLevel
from bench.analysis.stats import Stats
from bench.output import answer, lockstep_report, report
from tests.test_lockstep_frameworks import _rec as group_rec

STORED = Path(__file__).resolve().parent.parent / "benchmarks/results/suite-lockstep-20261203-steps16-venv-built"


def test_a_two_percent_cluster_does_not_replace_an_interval() -> None:
    # the case: clusters at 1.00x and 1.02x are 100 x (1.02 / 1.00 - 1) = 2% apart, inside both the
    # ratio's ±7.8% interval and the ±3% target: no note
    assert not clusters.changes_conclusion([1.00, 1.02], 7.8, 3.0)
    # 2% apart under a ±1% interval is still inside the ±3% target: no note either
    assert not clusters.changes_conclusion([1.00, 1.02], 1.0, 3.0)
    # 1.59x and 1.80x: 100 x (1.80 / 1.59 - 1) = 13.2% apart, beyond a ±6.8% interval and the ±3% target
    assert clusters.changes_conclusion([1.59, 1.80], 6.8, 3.0)


def _cluster_groups(slow: list[tuple[float, int]]) -> list[dict[str, Any]]:
    recs = []
    for g, (ratio, faults) in enumerate(slow):
        recs += [group_rec("torch", g, [10.0] * 5, faults=[0] * 5),
                 group_rec("jax", g, [10.0 * ratio] * 5, faults=[faults] * 5)]
    return recs


def test_clusters_close_together_keep_the_interval_and_get_no_note() -> None:
    # jax's groups at 1.50x (20,000 faults/step) and 1.53x (0 faults): 2% apart; six groups of log ratios
    # log 1.50 = 0.4055 x3 and log 1.53 = 0.4253 x3: sd 0.01085, half-width t(5) x 0.01085 / sqrt(6)
    # = 2.571 x 0.00443 = 0.0114, ±1.1%: inside the 3% target too, so no note, and the interval stays
    recs = _cluster_groups([(1.5, 20_000), (1.5, 21_000), (1.5, 20_500), (1.53, 0), (1.53, 5), (1.53, 3)])
    jax = next(r for r in lockstep_ratios.framework_rows(recs, 3.0) if r["framework"] == "jax")
    assert jax["clusters"] == "" and jax["verdict"] == "slower"
    assert 1.4 < jax["ratio_ci_low"] < jax["ratio"] < jax["ratio_ci_high"] < 1.6


def test_clusters_further_apart_than_the_interval_get_a_note_beside_it() -> None:
    # groups at 1.1x x3 and 1.5x x3: 36% apart; the log ratios' sd is 0.170, half-width
    # 2.571 x 0.170 / sqrt(6) = 0.178, ±19.5%: the clusters lie further apart than the interval reaches
    recs = _cluster_groups([(1.5, 20_000), (1.5, 21_000), (1.5, 20_500), (1.1, 0), (1.1, 5), (1.1, 3)])
    rows = lockstep_ratios.framework_rows(recs, 3.0)
    jax = next(r for r in rows if r["framework"] == "jax")
    assert jax["clusters"].startswith("jax's processes in clusters (36.4% apart): ")
    assert jax["verdict"] == "slower"  # the interval's verdict, not the clusters
    out = io.StringIO()
    lockstep_report.framework_table(rows, Console(file=out, width=120))
    text = out.getvalue()
    assert "1.28x [" in text  # the ratio keeps its interval in the table
    assert "jax / torch, forward batch 2 LRN off: jax's processes in clusters" in text  # the note, below


def test_a_note_on_the_baselines_processes_names_the_baseline() -> None:
    # torch (the fastest) splits on page faults, jax does not: the note describes torch's processes
    recs = []
    for g, (torch_ms, faults) in enumerate([(10.0, 20_000), (10.0, 21_000), (10.0, 20_500), (7.0, 0), (7.0, 2),
                                            (7.0, 1)]):
        recs += [group_rec("torch", g, [torch_ms] * 5, faults=[faults] * 5),
                 group_rec("jax", g, [20.0] * 5, faults=[0] * 5)]
    jax = next(r for r in lockstep_ratios.framework_rows(recs, 3.0) if r["framework"] == "jax")
    assert jax["fastest"] == "torch"
    assert jax["clusters"].startswith("the baseline torch's processes in clusters")


def _three(process_steps: list[list[float]]) -> tuple[float, TwoLevel]:
    every = [s for p in process_steps for s in p]
    return Stats.from_samples(every, intervals=False).cv, TwoLevel.of(process_steps)


def test_a_noisy_mean_under_a_tight_median_interval_is_not_flagged() -> None:
    # three processes of 19 steps at 100 ms and one at 300: over all 60 steps the mean is 6600 / 60 = 110,
    # sd = sqrt((57 x 10^2 + 3 x 190^2) / 59) = sqrt(114000 / 59) = 43.96, CV 40%; each process's median
    # is 100 and its quartiles 100, so the median's interval is 100 ± 0: within any target
    cv, med = _three([[100.0] * 19 + [300.0]] * 3)
    assert round(cv, 3) == 0.400 and med.half_width_pct == 0.0
    assert not summary.unstable(cv, med, 3.0)
    assert not summary.unstable(cv, med, None)


def test_step_noise_that_widens_the_median_interval_past_the_target_is_flagged() -> None:
    # medians 100, 102, 98: sd 2, half-width t(2) x 2 / sqrt(3) = 4.303 x 1.155 = 4.97%, wider than 3%.
    # Each process's IQR is 20 (quartiles at 90 and 110 of five steps 10 apart): robust sd 20 / 1.349 =
    # 14.83, median se 14.83 x sqrt(pi / 2) / sqrt(5) = 8.31, per-process se^2 69.1 > sd^2 = 4: no process
    # effect beyond step noise (between 0), so the steps are what widen it. CV over the 15 steps:
    # squared deviations from 100 sum to 1000 + 1020 + 1020 = 3040, sd sqrt(3040 / 14) = 14.7, CV 14.7%
    cv, med = _three([[80.0, 90, 100, 110, 120], [82.0, 92, 102, 112, 122], [78.0, 88, 98, 108, 118]])
    assert round(med.half_width_pct, 2) == 4.97 and round(cv, 3) == 0.147 and not med.between_dominates
    assert summary.unstable(cv, med, 3.0)
    assert not summary.unstable(cv, med, 5.0)  # ±4.97% is within a 5% target: no flag


def _copy(tmp_path: Path) -> report.Folder:
    if not STORED.exists():
        pytest.fail(f"the stored suite run is missing: {STORED}")
    run_dir = tmp_path / "copy"
    shutil.copytree(STORED, run_dir)
    return report.read(run_dir)


def test_the_answer_block_of_the_stored_suite(tmp_path: Path) -> None:
    folder = _copy(tmp_path)
    lines = answer.answer_lines(folder.rows, folder.run_dir)
    assert len(lines) <= answer.MAX_LINES and max(len(line) for line in lines[:-1]) <= 120  # the last: a path
    assert lines[1] == ("  train: torch 2.41x [2.16, 2.69], tensorflow 1.23x [1.14, 1.34], jax 1.15x [1.09, 1.22]: "
                        "none is 3x")
    assert "  train, LRN off: tensorflow fastest; torch 1.05x [0.97, 1.13] (not separable), jax 2.06x [1.91, 2.22]" \
        in lines
    assert lines[-3].startswith("Wider than the ±3% asked: 7/8 framework ratios ±6.8-18.7%, 6/6 LRN slowdowns")
    assert lines[-1].startswith(f"Report: {folder.run_dir / 'report.html'}")
    out = io.StringIO()
    assert report.print_answer(folder, Console(file=out, width=120)) == lines
    assert out.getvalue().splitlines()[: len(lines)] == lines  # printed first, unwrapped
    from bench.output import html_pages

    page = html_pages.run_page(folder, "t")
    assert list(page.answer) == lines  # report.html opens with the very same lines


def _rendered(folder: report.Folder, width: int) -> list[str]:
    from bench.output.tables import runs

    out = io.StringIO()
    console = Console(file=out, width=width)
    if width <= 120:
        runs.run_table(folder.rows.summary, console, wide=False)
    report.print_comparisons(folder, console)
    return [line for line in out.getvalue().splitlines() if line.strip() and ("─" in line or line.startswith(" "))]


def test_the_default_tables_fit_120_columns_without_wrapping(tmp_path: Path) -> None:
    folder = _copy(tmp_path)
    at_120 = _rendered(folder, 120)
    assert max(len(line.rstrip()) for line in at_120) <= 120
    # the run table's 12 rows: one line each after its rule (its two-line header is by design)
    rule = next(i for i, line in enumerate(at_120) if "─" in line)
    assert all(line.startswith((" torch", " tensorflow", " jax")) for line in at_120[rule + 1: rule + 13])
    # the comparison tables' lines (titles aside: rules, headers, rows) are as many at 120 columns as at 400
    comparisons = at_120[rule + 13:]
    assert len(comparisons) == len(_rendered(folder, 400))
    assert sum(1 for line in at_120 if "★" in line) == 12  # the fastest variant per framework, not all 32


@pytest.mark.browser
def test_report_html_opens_with_the_answer(tmp_path: Path) -> None:
    playwright = pytest.importorskip("playwright.sync_api", exc_type=ModuleNotFoundError)
    from bench.output import html_pages

    folder = _copy(tmp_path)
    path = html_pages.write(html_pages.run_page(folder, "t"), folder.run_dir)
    with playwright.sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=["--no-sandbox"])
        page = browser.new_page()
        page.goto(Path(path).resolve().as_uri())
        first = page.locator("body > *:not(h1):not(p)").first
        assert first.get_attribute("id") == "answer"
        assert first.inner_text().splitlines() == answer.answer_lines(folder.rows, folder.run_dir)
        browser.close()
