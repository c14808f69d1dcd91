"""What goes on each kind of report.html, from analysis rows: a run or compare folder
(:func:`run_page`), a profile (:func:`profile_page`), a parity run (:func:`parity_page`) and a gate
(``bench ab`` / ``bench check --out``: :func:`gate_page`). The history has its own
(:mod:`bench.output.html_history`). Verdicts first, then plots, then every table with its CSV, then
the provenance; :func:`bench.output.html.write` writes the page."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from bench.analysis import attribution
from bench.analysis.gate import GateResult
from bench.core import storage
from bench.output import answer, answer_verdicts, html
from bench.output import html_figures as figs
from bench.output.html import Page, Plot, Table, Verdicts
from bench.output.report import FRAMEWORKS_CSV, LAYER_CSV, LRN_CSV, Folder

REPORT_HTML = "report.html"


def write(page: Page, out_dir: Path) -> Path:
    """``out_dir``/report.html; returns its path."""
    path = out_dir / REPORT_HTML
    html.write(page, path)
    return path


def _ci(value: Any, low: Any, high: Any, spec: str = ".3g", unit: str = "") -> str:
    if value is None:
        return "-"
    bounds = f" [{low:{spec}}, {high:{spec}}]" if low is not None and high is not None else ""
    return f"{value:{spec}}{unit}{bounds}"


def provenance(env: dict[str, Any], extra: Sequence[tuple[str, str]] = ()) -> list[tuple[str, str]]:
    """Machine, versions, flags, data source and the command line, from a folder's env.json."""
    git = env.get("git") or {}
    gpus = ", ".join(g.get("name", "?") for g in env.get("gpus") or []) or "none"
    packages = ", ".join(f"{k} {v}" for k, v in (env.get("packages") or {}).items() if v)
    flags = ", ".join(f"{k}={v}" for k, v in (env.get("flags") or {}).items()) or "none set"
    argv = env.get("argv")
    return [("command line", " ".join(argv) if isinstance(argv, list) else str(argv or "unknown")),
            ("measured (UTC)", str(env.get("utc", "unknown"))),
            ("bench commit", f"{git.get('commit')}{' (dirty)' if git.get('dirty') else ''}"),
            ("machine", f"{env.get('hostname', '?')}: {env.get('cpu_model', '?')}, {env.get('cpu_affinity', '?')} "
                        f"usable cores; GPU: {gpus}"),
            ("platform", f"{env.get('platform', '?')}, Python {env.get('python', '?')}"),
            ("device", str(env.get("device", "?"))), ("data source", str(env.get("data", "unknown"))),
            ("versions", packages or "unknown"), ("flags (environment)", flags), *extra]


def _lrn_verdicts(rows: Sequence[dict[str, Any]]) -> Verdicts:
    return Verdicts("LRN's cost per framework, against the book's 3x",
                    "LRN on / off step time, one ratio per worker process, 95% interval over processes.",
                    ("framework", "config", "LRN on / off [95% CI]", "processes", "against the book"),
                    [(r["framework"], f"{r['mode']} batch {r['batch_size']}",
                      _ci(r["slowdown"], r["ci_low"], r["ci_high"], ".2f", "x"), str(r["processes"]),
                      str(r["vs_book"]).split(": ")[-1] + _wide(r)) for r in rows],
                    ["warn" if r["verdict"] == "inconclusive" or r.get("wide_reason") else "neutral" for r in rows])


def _wide(r: dict[str, Any]) -> str:
    """A ratio still wider than --target-ci: its reason, after the verdict."""
    return f"; {r['wide_reason']}" if r.get("wide_reason") else ""


def _framework_verdicts(rows: Sequence[dict[str, Any]]) -> Verdicts:
    configs = {(r["mode"], r["batch_size"], r["lrn"]) for r in rows}
    wins: dict[str, int] = {}
    for r in rows:
        if r["verdict"] == "fastest":
            wins[r["framework"]] = wins.get(r["framework"], 0) + 1
    head = "; ".join(f"{fw} fastest in {n} of {len(configs)} configs" for fw, n in sorted(wins.items(),
                                                                                      key=lambda kv: -kv[1]))
    return Verdicts("The frameworks side by side",
                    head + (" (ratio to the fastest, 95% interval: " + ("step-by-step ratios in lockstep, t over "
                            "groups)." if any(r.get("groups") for r in rows) else "Welch over processes).")),
                    ("config", "framework", "median ms [95% CI]", "ratio to fastest [95% CI]", "verdict"),
                    [(f"{r['mode']} b{r['batch_size']} LRN {'on' if r['lrn'] else 'off'}", r["framework"],
                      _ci(r["median_ms"], r.get("ci_low_ms"), r.get("ci_high_ms"), ".3g"),
                      _ci(r["ratio"], r["ratio_ci_low"], r["ratio_ci_high"], ".3f", "x"), r["verdict"] + _wide(r))
                     for r in rows],
                    [_framework_tone(str(r["verdict"])) for r in rows])


def _framework_tone(verdict: str) -> str:
    """The colour of a framework verdict by its first word: a note after it (interference, a cluster)
    keeps the tone ("slower; measured while ..." is still slower)."""
    word = verdict.split(";")[0].split(":")[0].strip()
    return {"fastest": "good", "slower": "bad", "processes in clusters": "warn"}.get(word, "neutral")


def _time_verdicts(folder: Folder) -> Verdicts:
    rows = folder.rows.summary
    return Verdicts("Time per step", "Median over worker processes, 95% two-level interval.",
                    ("config", "framework", "median ms [95% CI]", "processes", "status"),
                    [(f"{r.mode} b{r.batch_size} LRN {'on' if r.lrn else 'off'}", r.framework,
                      _ci(r.median_ms, r.median_ci_low_ms, r.median_ci_high_ms), str(r.rounds), r.status)
                     for r in rows], ["neutral" if r.status == "ok" else "bad" for r in rows])


def _layer_verdicts(layer: Sequence[dict[str, Any]], best: dict[str, str]) -> Verdicts:
    total = {(r["framework"], r["impl"]): 0.0 for r in layer}
    for r in layer:
        if r["direction"] == "forward_backward":
            total[(r["framework"], r["impl"])] += r["mean_ms"]
    return Verdicts("The LRN layer alone: the fastest exact implementation per framework",
                    "Forward + backward over both LRN layers, mean ms per call.",
                    ("framework", "implementation", "forward + backward ms"),
                    [(fw, impl, f"{total[(fw, impl)]:.3g}") for fw, impl in best.items()], ["neutral"] * len(best))


def run_page(folder: Folder, title: str) -> Page:
    """bench run / compare / report: LRN's cost and the frameworks side by side, then the plots."""
    rows = folder.rows
    verdicts = [v for v in ((_lrn_verdicts(rows.lrn) if rows.lrn else None),
                            (_framework_verdicts(rows.frameworks) if rows.frameworks else None)) if v]
    if rows.fastest_exact:
        verdicts.append(_layer_verdicts(rows.layer, rows.fastest_exact))
    if not verdicts and rows.summary:
        verdicts = [_time_verdicts(folder)]
    plots: list[Plot] = figs.step_times([p for p in rows.processes if p.status == "ok"])
    if rows.lrn:
        plots.append(figs.lrn_slowdown(rows.lrn))
    if rows.sweep:
        plots.append(figs.sweep(rows.summary))
    if any(r.status == "ok" for r in rows.summary):
        plots.append(figs.memory(rows.summary))
    tables = [Table("LRN off vs on", LRN_CSV, rows.lrn), Table("Frameworks against the fastest", FRAMEWORKS_CSV,
                                                                rows.frameworks),
              Table("LRN layer micro-benchmark", LAYER_CSV, rows.layer),
              Table("Summary (one row per config)", storage.SUMMARY_CSV, [r.to_dict() for r in rows.summary])]
    return Page(title, f"{folder.run_dir.name}: {len(rows.summary)} configs", verdicts, plots, tables,
                provenance(folder.env), answer.answer_lines(rows, folder.run_dir))


def profile_page(folder: Folder, title: str, layers: Sequence[Sequence[dict[str, Any]]],
                 summaries: Sequence[dict[str, Any]], ops: Sequence[dict[str, Any]],
                 failed: Sequence[dict[str, Any]] = ()) -> Page:
    """bench profile: where a step goes per framework (``layers``: each profiled config's layer rows;
    ``failed``: the records of workers that did not finish), opening with the terminal's answer block."""
    flat = [row for rows in layers for row in rows]
    verdicts = [Verdicts("Where a step goes", "The three layers with the most time (the framework's profiler), and "
                         "the fixed cost of a step (from the batch-1 step).",
                         ("framework", "config", "step ms", "top layers (ms, % of step)", "fixed ms per step"),
                         [(s["framework"], f"{s['mode']} b{s['batch_size']}{' LRN' if s['lrn'] else ''}",
                           f"{s['step_ms']:.3g}", ", ".join(f"{n} {ms:.2g} ({pct:.0f}%)" for n, ms, pct in
                                                            attribution.top_layers(rows)) or "-",
                           "-" if s["fixed_ms"] is None else f"{s['fixed_ms']:.3g}")
                          for s, rows in zip(summaries, layers, strict=True)], ["neutral"] * len(summaries))]
    plots = [figs.profile_layers(flat, summaries)] if flat else []
    tables = [Table("Per-layer profile", "profile_layers.csv", flat, attribution.LAYER_COLUMNS),
              Table("Profile summary", "profile_summary.csv", summaries),
              Table("Top ops", "profile_ops.csv", ops)]
    return Page(title, f"{folder.run_dir.name}: {len(summaries)} profiled configs", verdicts, plots, tables,
                provenance(folder.env), answer_verdicts.profile_lines(summaries, layers, failed, folder.run_dir))


def parity_page(folder: Folder, title: str, outcome: str, head: str, summary: Sequence[dict[str, Any]],
                pairs: Sequence[dict[str, Any]], curves: Sequence[dict[str, Any]],
                answer_block: Sequence[str] = ()) -> Page:
    """bench parity: the verdict per pair, the curves and the tables, opening with ``answer_block`` (the
    terminal's, :func:`bench.output.answer_verdicts.parity_lines` or ``trajectory_lines``)."""
    tone = {"PASS": "good", "FAIL": "bad"}.get(outcome, "warn")
    verdicts = [Verdicts(f"Accuracy parity: {outcome}", head,
                         ("pair", "seeds", "difference pp [90% CI]", "margin pp", "verdict"),
                         [(f"{p['a']} - {p['b']}", str(p["seeds"]), _ci(p["diff_pp"], p.get("ci90_low_pp"),
                                                                         p.get("ci90_high_pp"), "+.2f"),
                           f"±{p['margin_pp']:g}", p["verdict"]) for p in pairs] or [("-", "-", "-", "-", outcome)],
                         [{"PASS": "good", "FAIL": "bad"}.get(p["verdict"], "warn") for p in pairs] or [tone])]
    plots = [figs.parity_curves(curves, "test_acc", "Test accuracy per evaluation", "test accuracy (%)"),
             figs.parity_curves(curves, "train_loss", "Training loss per step", "training loss (cross-entropy)")]
    tables = [Table("Parity summary", "parity_summary.csv", summary), Table("Pairs", "parity_pairs.csv", pairs),
              Table("Curves", "parity_curves.csv", curves)]
    return Page(title, folder.run_dir.name, verdicts, [p for p in plots if p.data], tables, provenance(folder.env),
                answer_block)


def gate_page(result: GateResult, overall: str, out_dir: Path, sides: Sequence[Folder],
              differences: Sequence[tuple[str, Any, Any]], title: str) -> Page:
    """The gate's verdict per row, its ratios, and each side's step times per process (when the sides are
    run folders under ``out_dir``: bench ab); it opens with ``bench ab``'s answer block."""
    tone = {"regression": "bad", "improvement": "good", "no change": "good"}
    verdicts = [Verdicts("The gate's verdict per row", overall,
                         ("benchmark", "baseline ms", "candidate ms", "ratio [simultaneous CI]", "verdict"),
                         [(r.label, f"{r.baseline_ms:.3g}", f"{r.candidate_ms:.3g}",
                           _ci(r.ratio, r.ci_low, r.ci_high, ".3f", "x"), r.verdict) for r in result.rows],
                         [tone.get(r.verdict, "warn") for r in result.rows])]
    plots = [figs.gate_ratios(result.rows, lambda r: str(r.key.get("framework", "?")))] if result.rows else []
    tables = [Table("Gate", "gate.csv", [r.to_dict() for r in result.rows])]
    for side in sides:
        name = side.run_dir.relative_to(out_dir).as_posix()
        for p in figs.step_times([p for p in side.rows.processes if p.status == "ok"]):
            plots.append(Plot(f"{name}: {p.title}", p.data, p.layout, f"{name}/{p.csv}", p.where, p.note))
        tables.append(Table(f"{name}: summary", f"{name}/{storage.SUMMARY_CSV}",
                            [r.to_dict() for r in side.rows.summary]))
    extra = [("sides differ in", "; ".join(f"{n}: {a!r} vs {b!r}" for n, a, b in differences) or "nothing recorded")]
    env = sides[-1].env if sides else {}
    return Page(title, out_dir.name, verdicts, plots, tables, provenance(env, extra),
                answer_verdicts.gate_lines(result, out_dir))
