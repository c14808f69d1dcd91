"""report.html of ``bench history report --html``: each benchmark's trend by commit with its 95%
interval band, the step changes marked and linked to their commits (``--commit-url``, a template
with ``{commit}``; plain hashes when none is given), in one file that needs no server."""

from __future__ import annotations

from collections.abc import Sequence

from bench.analysis.changepoints import Trend, change_rows, framework_of, rows
from bench.output import palette
from bench.output.html import Page, Plot, Table, Verdicts, esc
from bench.output.html_figures import AUX, _axis, _layout


def commit_link(commit: str, url: str | None) -> str:
    """The short hash as plotly annotation markup: a link when a URL template is known."""
    short = esc(commit[:10])
    return f'<a href="{esc(url.format(commit=commit))}">{short}</a>' if url else short


def trend_plot(t: Trend, url: str | None) -> Plot:
    short = [e.commit[:7] for e in t.entries]
    x = short if len(set(short)) == len(short) else [f"{i + 1}: {s}" for i, s in enumerate(short)]
    colour = palette.colour(framework_of(t))
    band = {"type": "scatter", "mode": "lines", "meta": AUX, "name": "95% interval", "hoverinfo": "skip",
            "x": x + x[::-1], "y": [e.ci_high_ms for e in t.entries] + [e.ci_low_ms for e in t.entries][::-1],
            "fill": "toself", "fillcolor": "rgba(120,120,120,0.18)", "line": {"width": 0}}
    line = {"type": "scatter", "mode": "lines+markers", "name": "median", "x": x,
            "y": [e.estimate_ms for e in t.entries], "line": {"color": colour},
            "text": [e.commit for e in t.entries], "hovertemplate": "%{y:.3f} ms at %{text}<extra></extra>"}
    shapes, notes = [], []
    for c in t.changes:
        shapes.append({"type": "line", "xref": "x", "yref": "paper", "x0": x[c.index], "x1": x[c.index], "y0": 0,
                       "y1": 1, "line": {"color": "#b00020", "dash": "dash", "width": 1}})
        notes.append({"x": x[c.index], "yref": "paper", "y": 1.0, "yanchor": "bottom", "showarrow": False,
                      "text": f"{commit_link(t.entries[c.index].commit, url)} {100 * (c.ratio - 1):+.0f}%",
                      "font": {"size": 11, "color": "#b00020"}})
    return Plot(f"{t.label} on {t.machine}", [band, line],
                _layout("commit (in commit-time order)", "median ms per step (95% interval)", shapes=shapes,
                        annotations=notes, xaxis=_axis("commit (in commit-time order)", tickangle=-45,
                                                       type="category"), showlegend=False),
                "history.csv", {"machine": t.machine, "benchmark": t.label},
                f"{len(t.entries)} commits; dashed red: a step change, at the commit that starts the new level.")


def history_page(ts: Sequence[Trend], url: str | None, title: str, store: str) -> Page:
    changes = change_rows(ts)
    verdicts = [Verdicts("Step changes", f"{len(changes)} step change(s) in {len(ts)} benchmark(s)." if changes else
                         f"No step change in {len(ts)} benchmark(s).",
                         ("benchmark", "machine", "commit", "before ms", "after ms", "change"),
                         [(c["benchmark"], c["machine"], c["commit"][:10], f"{c['before_ms']:.3g}",
                           f"{c['after_ms']:.3g}", f"{100 * (c['ratio'] - 1):+.1f}% ({c['direction']})")
                          for c in changes],
                         ["bad" if c["direction"] == "slower" else "good" for c in changes])]
    return Page(title, f"store {store}", verdicts, [trend_plot(t, url) for t in ts],
                [Table("Step changes", "changes.csv", changes), Table("History", "history.csv", rows(ts))],
                [("store", store), ("commit links", url or "none (pass --commit-url)")])
