"""The HTML report's interactive plots, as plotly figure data built from analysis rows. Every trace
not marked ``meta: "aux"`` draws exactly one point per row of the CSV named in its :class:`Plot`
(the rows matching its ``where``): the browser tests check that against the file. Colours per
framework come from :mod:`bench.output.palette`, the same as the PNGs."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from bench.analysis.run_rows import Process
from bench.core.records import SummaryRow
from bench.output import palette
from bench.output.html import Plot
from bench.output.plots import config_label

AUX = "aux"  # marks a trace that is no CSV row (a band, a reference marker)


def _axis(title: str, **kw: Any) -> dict[str, Any]:
    return {"title": {"text": title}, "automargin": True, "gridcolor": "#e8e8e8", "zeroline": False, **kw}


def _layout(x: str, y: str, **kw: Any) -> dict[str, Any]:
    return {"xaxis": _axis(x), "yaxis": _axis(y), "legend": {"orientation": "h", "y": -0.35},
            "plot_bgcolor": "white", **kw}


def wrap(label: str, width: int = 26) -> str:
    """A long category label over several lines (plotly breaks at ``<br>``), so labels never overlap."""
    lines: list[str] = []
    for word in label.split():
        if lines and len(lines[-1]) + 1 + len(word) <= width:
            lines[-1] += " " + word
        else:
            lines.append(word)
    return "<br>".join(lines)


def _hline(y: float, text: str, dash: str = "dash") -> tuple[dict[str, Any], dict[str, Any]]:
    shape = {"type": "line", "xref": "paper", "x0": 0, "x1": 1, "y0": y, "y1": y,
             "line": {"color": palette.NEUTRAL, "dash": dash, "width": 1}}
    note = {"xref": "paper", "x": 0, "y": y, "text": text, "showarrow": False, "xanchor": "left", "yanchor": "bottom",
            "font": {"size": 11, "color": palette.NEUTRAL}}
    return shape, note


def step_times(processes: Sequence[Process]) -> list[Plot]:
    """Per mode: one box per worker process with every step drawn, grouped by config, one colour per
    framework: the process-to-process spread the intervals are about."""
    plots = []
    for mode in sorted({p.key.mode for p in processes}):
        mine = [p for p in processes if p.key.mode == mode]
        traces, seen = [], set()
        for p in mine:
            fw = p.key.framework
            traces.append({"type": "box", "name": fw, "legendgroup": fw, "showlegend": fw not in seen,
                           "x": [f"{config_label(p.key)} · p{p.round}"] * len(p.samples_ms), "y": list(p.samples_ms),
                           "boxpoints": "all", "jitter": 0.4, "pointpos": 0, "marker": {"color": palette.colour(fw),
                                                                                       "size": 4, "opacity": 0.6},
                           "line": {"color": palette.colour(fw)}, "hovertemplate": "%{y:.3f} ms<extra>%{x}</extra>"})
            seen.add(fw)
        plots.append(Plot(f"Step times per worker process ({mode})", traces,
                          _layout("config · worker process (p0, p1, ...: one box per process)", "ms per step"),
                          "samples.csv", {"mode": mode},
                          "Each box is one worker process; the spread between a config's boxes is the process "
                          "effect the intervals account for."))
    return plots


def lrn_slowdown(rows: Sequence[dict[str, Any]]) -> Plot:
    """LRN on / off per framework and config with its 95% interval, against 1x and the book's 3x."""
    traces = []
    for fw in dict.fromkeys(r["framework"] for r in rows):
        mine = [r for r in rows if r["framework"] == fw]
        traces.append({"type": "bar", "name": fw, "marker": {"color": palette.colour(fw)},
                       "x": [f"{r['framework']} {r['mode']} b{r['batch_size']}" for r in mine],
                       "y": [r["slowdown"] for r in mine],
                       "error_y": {"type": "data", "array": [r["ci_high"] - r["slowdown"] for r in mine],
                                   "arrayminus": [r["slowdown"] - r["ci_low"] for r in mine], "color": "#222"},
                       "hovertemplate": "%{y:.3f}x<extra>%{x}</extra>"})
    shapes, notes = zip(_hline(1.0, "1x: no cost", "solid"), _hline(3.0, "the book's ~3x"), strict=True)
    return Plot("LRN slowdown per framework (95% interval over worker processes)", traces,
                _layout("framework, mode, batch size", "step time with LRN / without (ratio)", shapes=list(shapes),
                        annotations=list(notes)), "lrn_comparison.csv")


def _by_framework(rows: Sequence[SummaryRow], x: Callable[[SummaryRow], Any], y: Callable[[SummaryRow], Any],
                  **trace: Any) -> list[dict[str, Any]]:
    out = []
    for fw in dict.fromkeys(r.framework for r in rows):
        mine = [r for r in rows if r.framework == fw]
        out.append({"name": fw, "marker": {"color": palette.colour(fw)}, "x": [x(r) for r in mine],
                    "y": [y(r) for r in mine], **trace})
    return out


def sweep(rows: Sequence[SummaryRow]) -> Plot:
    """Median step time against batch size, one line per framework, mode and LRN setting."""
    ok = [r for r in rows if r.status == "ok"]
    traces = []
    for key in dict.fromkeys((r.framework, r.mode, r.lrn, r.compile) for r in ok):
        mine = sorted((r for r in ok if (r.framework, r.mode, r.lrn, r.compile) == key), key=lambda r: r.batch_size)
        fw = key[0]
        traces.append({"type": "scatter", "mode": "lines+markers", "name": f"{fw} {key[1]}{' LRN' if key[2] else ''}",
                       "line": {"color": palette.colour(fw), "dash": "dot" if key[2] else "solid"},
                       "x": [r.batch_size for r in mine], "y": [r.median_ms for r in mine],
                       "error_y": {"type": "data", "array": [(r.median_ci_high_ms or 0) - (r.median_ms or 0)
                                                             for r in mine],
                                   "arrayminus": [(r.median_ms or 0) - (r.median_ci_low_ms or 0) for r in mine]}})
    return Plot("Step time against batch size (median, 95% interval)", traces,
                _layout("batch size (images per step)", "median ms per step", xaxis=_axis(
                    "batch size (images per step)", type="log")), "summary.csv", {"status": "ok"})


def memory(rows: Sequence[SummaryRow]) -> Plot:
    """Peak memory per config, one colour per framework: the allocator's peak on a GPU, else the
    worker's peak resident set."""
    ok = [r for r in rows if r.status == "ok"]
    gpu = any(r.alloc_peak_mib is not None for r in ok)
    what = "allocator peak MiB (GPU)" if gpu else "worker peak resident set, MiB"
    traces = _by_framework(ok, lambda r: f"{config_label(r.key)} {r.mode}",
                           (lambda r: r.alloc_peak_mib) if gpu else (lambda r: r.host_peak_rss_mib), type="bar")
    return Plot("Memory per framework", traces, _layout("config", what), "summary.csv", {"status": "ok"})


def profile_layers(rows: Sequence[dict[str, Any]], summaries: Sequence[dict[str, Any]]) -> Plot:
    """Stacked bars per framework and source (its profiler; each layer alone): ms per step by scope
    and pass, with the measured whole step as a black marker."""
    from matplotlib import colormaps

    cmap = colormaps["tab20"]
    scopes = list(dict.fromkeys(r["scope"] for r in rows))
    colour = {s: "#" + "".join(f"{int(255 * c):02x}" for c in cmap(i % 20)[:3]) for i, s in enumerate(scopes)}

    def where(r: dict[str, Any]) -> str:
        return f"{r['framework']} b{r['batch_size']}{' LRN' if r['lrn'] else ''} · {r['source']}"

    traces = []
    for scope, pass_ in dict.fromkeys((r["scope"], r["pass"]) for r in rows):
        mine = [r for r in rows if (r["scope"], r["pass"]) == (scope, pass_)]
        traces.append({"type": "bar", "name": f"{scope} {pass_}".strip(), "x": [where(r) for r in mine],
                       "y": [r["ms"] for r in mine], "marker": {"color": colour[scope], "pattern": {
                           "shape": "/" if pass_ == "backward" else ""}},
                       "hovertemplate": "%{y:.3f} ms<extra>" + f"{scope} {pass_}" + "</extra>"})
    whole_x = [f"{s['framework']} b{s['batch_size']}{' LRN' if s['lrn'] else ''} · {src}" for s in summaries
               for src in ("profiler", "isolated")]
    traces.append({"type": "scatter", "mode": "markers", "name": "whole step (measured)", "meta": AUX, "x": whole_x,
                   "y": [s["step_ms"] for s in summaries for _ in (0, 1)],
                   "marker": {"symbol": "line-ew-open", "size": 40, "color": "black", "line": {"width": 2}}})
    return Plot("Per-layer profile of a step (hatched: backward)", traces,
                _layout("framework · source (its profiler, or each layer timed alone)", "ms per step",
                        barmode="stack", legend={"font": {"size": 10}}), "profile_layers.csv")


def parity_curves(curves: Sequence[dict[str, Any]], metric: str, title: str, y: str) -> Plot:
    traces = []
    for fw, seed in dict.fromkeys((c["framework"], c["seed"]) for c in curves if c["metric"] == metric):
        mine = [c for c in curves if (c["framework"], c["seed"], c["metric"]) == (fw, seed, metric)]
        traces.append({"type": "scatter", "mode": "lines+markers" if metric == "test_acc" else "lines",
                       "name": f"{fw} seed {seed}", "x": [c["step"] for c in mine], "y": [c["value"] for c in mine],
                       "line": {"color": palette.colour(fw), "dash": ("solid", "dash", "dot", "dashdot")[seed % 4]}})
    return Plot(title, traces, _layout("training step", y, yaxis=_axis(y, type="log" if metric == "train_loss"
                                                                        else "linear")),
                "parity_curves.csv", {"metric": metric})


def gate_ratios(rows: Sequence[Any], framework: Callable[[Any], str]) -> Plot:
    """Candidate / baseline per row with its simultaneous interval, coloured by framework."""
    traces = []
    for fw in dict.fromkeys(framework(r) for r in rows):
        mine = [r for r in rows if framework(r) == fw]
        traces.append({"type": "scatter", "mode": "markers", "name": fw, "x": [wrap(r.label) for r in mine],
                       "y": [r.ratio for r in mine], "marker": {"color": palette.colour(fw), "size": 10},
                       "error_y": {"type": "data", "array": [r.ci_high - r.ratio for r in mine],
                                   "arrayminus": [r.ratio - r.ci_low for r in mine]},
                       "text": [r.verdict for r in mine], "hovertemplate": "%{y:.3f}x: %{text}<extra>%{x}</extra>"})
    shape, note = _hline(1.0, "1x: no change", "solid")
    return Plot("Candidate / baseline per benchmark (simultaneous interval)", traces,
                _layout("benchmark", "candidate / baseline median step time (ratio)", shapes=[shape],
                        annotations=[note]), "gate.csv")
