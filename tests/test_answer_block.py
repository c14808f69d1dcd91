"""Issue 32: the answer first, tables that fit 120 columns, and warnings only where they change a
conclusion (a cluster note beside the interval, never in its place; an unstable flag only when step
noise makes the median's interval wider than the target)."""

from __future__ import annotations

import io
import math
import shutil
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console

from bench.analysis import clusters, lockstep_ratios, sanity, summary
from bench.analysis.intervals import TwoLevel
from bench.analysis.stats import Stats
from bench.output import answer, answer_verdicts, lockstep_report, report
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


def _copy(tmp_path: Path, stored: Path = STORED) -> report.Folder:
    if not stored.exists():
        pytest.fail(f"the stored suite run is missing: {stored}")
    run_dir = tmp_path / "copy"
    shutil.copytree(stored, run_dir)
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


# the second holds the widest verdicts ("inconclusive", "holds 3x"), which once squeezed the LRN table's cells
@pytest.mark.parametrize("stored", [STORED, STORED.parent / "suite-lockstep-20261208", STORED.parent /
                                    "suite-imagenet-20261208"], ids=["20261203", "20261208", "imagenet"])
def test_the_default_tables_fit_120_columns_without_wrapping(tmp_path: Path, stored: Path) -> None:
    folder = _copy(tmp_path, stored)
    at_120 = _rendered(folder, 120)
    assert max(len(line.rstrip()) for line in at_120) <= 120
    assert not [line for line in at_120 if "…" in line]  # no cell cut short to fit
    assert max(len(line) for line in answer.answer_lines(folder.rows, folder.run_dir)[:-1]) <= 120
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


# --- bench ab, bench profile, bench parity: their answer blocks ---------------------------------------------

GATE_STORED = Path(__file__).resolve().parent.parent / "benchmarks/results/gate-A/ab-0"
PROFILE_STORED = Path(__file__).resolve().parent.parent / "benchmarks/results/profile-cpu-b128/lrn-on"
LOCKSTEP = "t over lockstep pairs"


def _gate_row(label: str, ratio: float, lo: float, hi: float, verdict: str) -> Any:
    from bench.analysis.gate import GateRow

    return GateRow(label, {}, 10.0, 10.0 * ratio, 8, 8, LOCKSTEP, 8, ratio, lo, hi, 0.9875, 0.01, 0.04, 5.0, verdict,
                   "")


def test_the_gate_answer_names_each_rows_ratio_interval_and_bound() -> None:
    from bench.analysis.gate import GateResult, Settings

    rows = [_gate_row("torch train batch 32 LRN off (eager)", 1.152, 1.081, 1.228, "regression"),
            _gate_row("jax train batch 32 LRN off (jit)", 1.004, 0.981, 1.028, "no change"),
            _gate_row("tensorflow train batch 32 LRN off (graph)", 1.050, 0.960, 1.148, "inconclusive"),
            _gate_row("torch forward batch 32 LRN off (eager)", 0.900, 0.870, 0.931, "improvement")]
    result = GateResult(rows, [], [], Settings(), tested=4)
    # default settings: noise floor 3% (regression: low end > 1.030; improvement: high end < 1 / 1.03 = 0.971),
    # detect 10% (no change: inside [1 / 1.1, 1.1] = [0.909, 1.100]); 4 rows tested: Bonferroni 1 - 0.05 / 4
    # = 98.75% intervals. A regression among the rows makes the gate's verdict REGRESSION and its exit 1.
    # The inconclusive row's line with its bound would be 133 columns: the bound goes on a line of its own.
    assert answer_verdicts.gate_lines(result, "/r") == [
        "Gate verdict: REGRESSION (1 regression, 1 inconclusive, 1 improvement, 1 no change; 4 rows, exit 1); "
        "8 pairs per row",
        "Candidate / baseline step time per row [98.75% simultaneous CI], the verdict and the bound it was judged "
        "against:",
        "  torch train batch 32 LRN off (eager): 1.152x [1.081, 1.228], 8 pairs: regression (low end > 1.030, the 3% "
        "floor)",
        "  jax train batch 32 LRN off (jit): 1.004x [0.981, 1.028], 8 pairs: no change (inside [0.909, 1.100]: 10% "
        "ruled out)",
        "  tensorflow train batch 32 LRN off (graph): 1.050x [0.960, 1.148], 8 pairs: inconclusive",
        "    (not inside [0.909, 1.100]: 10% not ruled out)",
        "  torch forward batch 32 LRN off (eager): 0.900x [0.870, 0.931], 8 pairs: improvement (high end < 0.971, the "
        "3% floor)",
        "Report: /r/report.html"]
    # without a regression, an inconclusive row makes the gate inconclusive (exit 0)
    assert answer_verdicts.gate_lines(GateResult(rows[1:3], [], [], Settings(), tested=2))[0] == (
        "Gate verdict: INCONCLUSIVE (1 inconclusive, 1 no change; 2 rows, exit 0); 8 pairs per row")


def _layer(source: str, scope: str, pass_: str, ms: float, pct: float | None = None) -> dict[str, Any]:
    return {"source": source, "scope": scope, "pass": pass_, "ms": ms, "share_pct": 100 * ms / 20.0,
            "pct_of_peak": pct}


def test_the_profile_answer_names_the_top_scopes_coverage_peak_and_failed_checks() -> None:
    torch = {"framework": "torch", "mode": "train", "batch_size": 128, "lrn": True, "step_ms": 20.0,
             "coverage_pct": 93.75, "warnings": ""}
    torch_rows = [_layer("profiler", "conv2", "forward", 3.0, 50.0), _layer("profiler", "conv2", "backward", 5.0, 40.0),
                  _layer("profiler", "lrn1", "forward", 2.0), _layer("profiler", "lrn1", "backward", 4.0),
                  _layer("profiler", "fc1", "forward", 1.0, 30.0), _layer("profiler", "(unattributed)", "", 1.0)]
    tf = {"framework": "tensorflow", "mode": "forward", "batch_size": 64, "lrn": False, "step_ms": 20.0,
          "coverage_pct": None, "warnings": sanity.join_warnings([
              "fixed cost 130% of the step is more than the whole step",
              "layers timed alone sum to 2.1x the whole step (42.0 vs 20.0 ms), over the 1.5x a fused step allows"])}
    tf_rows = [_layer("isolated", "conv1", "forward", 6.0, 10.0), _layer("isolated", "pool1", "forward", 2.0)]
    failed = [{"framework": "jax", "status": "timeout", "error": "no result in 1800 s"}]
    # torch, passes summed, shares of the 20 ms step: conv2 (3 + 5) / 20 = 40%, lrn1 (2 + 4) / 20 = 30%, fc1
    # 1 / 20 = 5% (unattributed is not a scope). % of peak: sum of pct x ms over the profiler rows with a FLOP
    # count, over the step: (50 x 3 + 40 x 5 + 30 x 1) / 20 = 380 / 20 = 19%. Coverage 93.75 -> "93.8" (an exact
    # tie, to the even digit). tensorflow: no profiler: the scopes timed alone, conv1 6 / 20 = 30%, pool1 10%,
    # no % of peak (the isolated rows do not add up to the step); each failed check named by the words before
    # its figures' explanation
    assert answer_verdicts.profile_lines([torch, tf], [torch_rows, tf_rows], failed, "/p") == [
        "Where a step goes (share of the whole step by scope, passes summed; % of the GEMM peak of its worker):",
        "  torch train b128 LRN: 20.0 ms/step: conv2 40%, lrn1 30%, fc1 5%; 93.8% of op time attributed; 19% of peak",
        "  tensorflow forward b64: 20.0 ms/step: no profiler breakdown; timed alone: conv1 30%, pool1 10%",
        "  tensorflow forward b64: self-check failed: fixed cost 130% of the step is more than the whole step",
        "  tensorflow forward b64: self-check failed: layers timed alone sum to 2.1x the whole step",
        "  jax: timeout: no result in 1800 s",
        "Report: /p/report.html"]
    # a fourth scope (0.5 ms: 2.5%) would take the 107-column line past 120 (+ ", a_scope_with_a_long_name 2%",
    # 29 columns): it is left to the table
    many = [*torch_rows, _layer("profiler", "a_scope_with_a_long_name", "forward", 0.5)]
    assert answer_verdicts.profile_lines([torch], [many], top=4)[1] == (
        "  torch train b128 LRN: 20.0 ms/step: conv2 40%, lrn1 30%, fc1 5%; 93.8% of op time attributed; 19% of peak")


def test_the_parity_answer_gives_each_pairs_verdict_difference_and_interval_against_the_margin() -> None:
    def pair(a: str, b: str, seeds: int, diff: float, lo: float, hi: float, verdict: str,
             needed: int | None = None) -> dict[str, Any]:
        return {"a": a, "b": b, "seeds": seeds, "diff_pp": diff, "ci90_low_pp": lo, "ci90_high_pp": hi,
                "margin_pp": 0.3, "verdict": verdict, "seeds_needed": needed}

    pairs = [pair("jax", "tensorflow", 3, -0.04, -0.12, 0.04, "PASS"),
             pair("jax", "torch", 3, 0.95, 0.80, 1.10, "FAIL"),
             pair("tensorflow", "torch", 3, 0.20, 0.05, 0.35, "INCONCLUSIVE", 7),
             pair("jax", "numpy", 1, 0.10, math.nan, math.nan, "INCONCLUSIVE")]
    summary = [{"framework": fw, "status": "ok", "seeds": 3} for fw in ("jax", "tensorflow", "torch")] + [
        {"framework": "mxnet", "status": "diverged", "error": "loss nan at step 7", "seeds": 0}]
    # PASS: the 90% interval inside ±0.3; FAIL: all of it beyond; INCONCLUSIVE: it reaches across the margin
    # (+0.35 > 0.3 > +0.05); one seed: no interval over seeds
    assert answer_verdicts.parity_lines("FAIL", summary, pairs, "/q") == [
        "Accuracy parity: FAIL (final test accuracy a - b per pair, paired by seed, 90% CI against the ±0.3 pp "
        "margin):",
        "  jax - tensorflow: PASS: -0.04 pp [-0.12, +0.04] inside ±0.3, 3 seeds",
        "  jax - torch: FAIL: +0.95 pp [+0.80, +1.10] beyond ±0.3, 3 seeds",
        "  tensorflow - torch: INCONCLUSIVE: +0.20 pp [+0.05, +0.35] across ±0.3, 3 seeds; about 7 seeds would "
        "settle it",
        "  jax - numpy: INCONCLUSIVE: +0.10 pp, 1 seed: no interval",
        "  mxnet: diverged: loss nan at step 7",
        "Report: /q/report.html"]


def _html_answer(path: Path) -> list[str]:
    import html as html_lib
    import re

    found = re.search(r"<pre id=answer class=answer>(.*?)</pre>", path.read_text(), re.S)
    assert found, f"{path} has no answer block"
    return html_lib.unescape(found.group(1)).splitlines()


def _first(out: io.StringIO, lines: list[str]) -> list[str]:
    """The printed lines, checked to open with the answer block (unwrapped, before any table)."""
    printed = out.getvalue().splitlines()
    assert lines and printed[: len(lines)] == lines, printed[: len(lines) + 2]
    assert all(len(line) <= 120 for line in lines[:-1])
    return printed


def test_bench_ab_prints_the_gate_answer_first(tmp_path: Path) -> None:
    from bench.cli import build_parser
    from bench.cli.commands import ab

    if not GATE_STORED.exists():
        pytest.fail(f"the stored gate run is missing: {GATE_STORED}")
    run_dir = tmp_path / "ab"
    shutil.copytree(GATE_STORED, run_dir)
    folders = [report.finalize(run_dir / side, f"bench ab {side}") for side in ("base", "candidate")]
    out = io.StringIO()
    result = ab.report_gate(build_parser().parse_args(["ab", "HEAD"]), run_dir, "bench ab: t", folders,
                            Console(file=out, width=120))
    lines = answer_verdicts.gate_lines(result, run_dir)
    printed = _first(out, lines)
    assert lines[0].startswith("Gate verdict: REGRESSION (1 regression; 1 row, exit 1); 6 pairs per row")
    assert "Gate: REGRESSION in 1 of 1 rows" in printed[len(lines):]  # every line it printed before stays, below
    assert _html_answer(run_dir / "report.html") == lines  # report.html opens with the same lines


def test_bench_profile_prints_where_a_step_goes_first(tmp_path: Path) -> None:
    from bench.analysis import attribution
    from bench.cli.commands import profile

    if not PROFILE_STORED.exists():
        pytest.fail(f"the stored profile run is missing: {PROFILE_STORED}")
    run_dir = tmp_path / "prof"
    shutil.copytree(PROFILE_STORED, run_dir)
    out = io.StringIO()
    assert profile.report(run_dir, Console(file=out, width=120))
    done = [r for r in report.read(run_dir).records if r.get("kind") == "profile" and r.get("status") == "ok"]
    layers = [attribution.layer_rows(r) for r in done]
    summaries = [attribution.summary_row(r, rows) for r, rows in zip(done, layers, strict=True)]
    lines = answer_verdicts.profile_lines(summaries, layers, [], run_dir)
    printed = _first(out, lines)
    assert len(lines) == 5 and lines[1].startswith("  torch train b128 LRN: ")  # three configs, then the report
    assert any("where a" in line and "step goes" in line for line in printed[len(lines):])  # the tables, below
    assert _html_answer(run_dir / "report.html") == lines


def _parity_rec(fw: str, seed: int, final: float) -> dict[str, Any]:
    ev = [{"step": 100, "epoch": 1, "test_acc": final, "test_loss": 0.05, "train_time_s": 10.0}]
    return {"kind": "parity", "framework": fw, "seed": seed, "status": "ok", "evals": ev, "losses": [2.3, 0.1],
            "step_ns": [100_000_000, 110_000_000], "train_time_s": 10.0, "steps_per_epoch": 2}


def test_bench_parity_prints_the_verdict_per_pair_first(tmp_path: Path) -> None:
    from bench.analysis import parity_stats
    from bench.cli.commands import parity
    from bench.core import storage

    run_dir = tmp_path / "parity"
    run_dir.mkdir()
    recs = [_parity_rec("torch", s, 99.10 + 0.02 * s) for s in range(4)] + [
        _parity_rec("jax", s, 99.15 + 0.01 * s) for s in range(4)]
    for rec in recs:
        storage.append_record(run_dir, rec)
    out = io.StringIO()
    assert parity.report_parity(run_dir, 99.0, 0.3, 4, Console(file=out, width=120)) == 0
    summary, pairs = parity_stats.summary_rows(recs), parity_stats.pair_rows(recs, 0.3)
    lines = answer_verdicts.parity_lines("PASS", summary, pairs, run_dir)
    printed = _first(out, lines)
    assert lines[1].startswith("  jax - torch: PASS: ")
    assert any(line.startswith("PASS: every pair of frameworks is within ±0.3 pp") for line in printed[len(lines):])
    assert _html_answer(run_dir / "report.html") == lines


def _stored_gate(run_dir: Path) -> Any:
    """The gate's result on a bench ab folder's halves, with the default settings (``bench check``'s and
    ``bench report``'s)."""
    from bench.analysis import gate
    from bench.store import series

    base, cand = (series.load([str(run_dir / side)], side) for side in ("base", "candidate"))
    return gate.check(base.series, cand.series, gate.Settings())


def test_bench_check_prints_the_gate_answer_first(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from bench.cli import main

    if not GATE_STORED.exists():
        pytest.fail(f"the stored gate run is missing: {GATE_STORED}")
    sides = [str(GATE_STORED / side) for side in ("base", "candidate")]
    result = _stored_gate(GATE_STORED)
    # in the terminal (stdout a pipe: 120 columns), no --out: no report to point at
    assert main(["check", "--baseline", sides[0], "--candidate", sides[1]]) == 1
    lines = answer_verdicts.gate_lines(result)
    printed = _first(io.StringIO(capsys.readouterr().out), lines)
    assert lines[0].startswith("Gate verdict: REGRESSION (1 regression; 1 row, exit 1)")
    assert "Gate: REGRESSION in 1 of 1 rows" in printed[len(lines):]  # the table and its verdict, below
    # with --out: the block names report.html, which opens with the very same lines
    out_dir = tmp_path / "g"
    assert main(["check", "--baseline", sides[0], "--candidate", sides[1], "--out", str(out_dir)]) == 1
    lines = answer_verdicts.gate_lines(result, out_dir)
    _first(io.StringIO(capsys.readouterr().out), lines)
    assert lines[-1] == f"Report: {out_dir / 'report.html'}" and _html_answer(out_dir / "report.html") == lines


@pytest.mark.parametrize("html", [False, True])
def test_bench_report_of_an_ab_folder_prints_the_gate_answer_first(tmp_path: Path, html: bool) -> None:
    from bench.cli.commands import report as report_cmd

    if not GATE_STORED.exists():
        pytest.fail(f"the stored gate run is missing: {GATE_STORED}")
    run_dir = tmp_path / "ab"
    shutil.copytree(GATE_STORED, run_dir)
    out = io.StringIO()
    assert report_cmd._report_ab(run_dir, Console(file=out, width=120), html) == 1
    lines = answer_verdicts.gate_lines(_stored_gate(run_dir), run_dir if html else None)
    printed = _first(out, lines)
    assert lines[0].startswith("Gate verdict: REGRESSION (1 regression; 1 row, exit 1)")
    assert "Gate: REGRESSION in 1 of 1 rows" in printed[len(lines):]
    if html:  # the block's last line points at report.html, which opens with the same lines
        assert lines[-1] == f"Report: {run_dir / 'report.html'}" and _html_answer(run_dir / "report.html") == lines


def test_a_long_answer_line_breaks_after_a_comma_outside_an_interval_and_keeps_every_word() -> None:
    cells = ", ".join(f"framework{i} 2.50x [2.04, 3.05] holds 3x" for i in range(4))  # 4 x 38 + 3 x 2 = 158
    lines = answer.fit(f"  train: {cells}")  # 9 + 158 = 167 characters
    # the ", " after each cell: at 9 + 38 = 47, 87 and 127 (past 119), so the break is at 87; the ", " inside the
    # third cell's "[2.04, 3.05]" at 111 is nearer the edge but never a break
    assert lines == ["  train: framework0 2.50x [2.04, 3.05] holds 3x, framework1 2.50x [2.04, 3.05] holds 3x,",
                     "    framework2 2.50x [2.04, 3.05] holds 3x, framework3 2.50x [2.04, 3.05] holds 3x"]
    assert answer.fit("short") == ["short"]


def test_a_warning_holding_a_semicolon_stays_one_warning() -> None:
    # a batch-1 step of 26.0 ms slower than the batch-128 step of 20.0 ms: the fit's per-image cost is negative,
    # and that message has a clause of its own after "; ". Fixed cost 130% > 100% of the step; layers timed alone
    # 42.0 / 20.0 = 2.1x the step > 1.5x. Three warnings, each whole: none is split at its "; "
    row = {"framework": "torch", "mode": "train", "batch_size": 128, "lrn": False, "step_ms": 20.0,
           "coverage_pct": None, "per_image_ms": -0.05, "tiny_step_ms": 26.0, "tiny_batch": 1,
           "fixed_share_pct": 130.0, "isolated_sum_ms": 42.0}
    busy = ("per-image cost -0.05 ms is negative: the batch-1 step (26.0 ms) was slower than the batch-128 step "
            "(20.0 ms); the machine was probably busy")
    fixed = "fixed cost 130% of the step is more than the whole step"
    layers = "layers timed alone sum to 2.1x the whole step (42.0 vs 20.0 ms), over the 1.5x a fused step allows"
    checked = sanity.checked(row)
    assert sanity.warning_list(checked) == [busy, fixed, layers]
    assert sanity.warning_list({"warnings": sanity.join_warnings(["a; b", "c"])}) == ["a; b", "c"]
    assert sanity.warning_list({"warnings": ""}) == sanity.warning_list({}) == []
    with pytest.raises(ValueError, match="free of ' \\| '"):
        sanity.join_warnings(["a | b"])  # a message holding the separator would come back as two
    # the answer block names each failed check once; no bogus "the machine was probably busy" check
    assert answer_verdicts.profile_lines([checked], [[]])[2:] == [
        "  torch train b128: self-check failed: per-image cost -0.05 ms is negative",
        "  torch train b128: self-check failed: fixed cost 130% of the step is more than the whole step",
        "  torch train b128: self-check failed: layers timed alone sum to 2.1x the whole step"]
    # and the warnings below the tables: one line each, the first whole
    assert lockstep_report.profile_warnings([checked], Console(file=io.StringIO(), width=120)) == [
        f"torch train batch 128: {busy}", f"torch train batch 128: {fixed}", f"torch train batch 128: {layers}"]
