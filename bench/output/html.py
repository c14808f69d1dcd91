"""One self-contained HTML page: the verdicts first, then interactive plots, then every table (with
the CSV it came from) and the provenance. The page opens offline from ``file://``: plotly's script is
embedded once, in the head, and every figure's data is inline; nothing is fetched from anywhere.

Why plotly: its script embeds in the page (one file, no server, no CDN), unlike asv (a local server)
or github-action-benchmark (Chart.js from a CDN). What goes on a page is built by
:mod:`bench.output.html_pages` from analysis rows; this module only writes it. Every string from a
record, a config or the command line is HTML-escaped here, and figure data is JSON with ``<``, ``>``
and ``&`` escaped, so no value can end a script or inject markup.
"""

from __future__ import annotations

import html
import json
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.core import storage

MAX_BYTES = 5_000_000  # a page to mail to a colleague: plotly's script is ~4.8 MB of it
TONES = ("good", "bad", "warn", "neutral")
MAX_TABLE_ROWS = 200  # a long table (every step of a parity run) is shown in part; its CSV holds it all


@dataclass(frozen=True)
class Verdicts:
    """A block of verdicts: a title, a one-line headline, and one row of cells per verdict, each row
    with its tone (``good``, ``bad``, ``warn``, ``neutral``)."""

    title: str
    headline: str
    columns: Sequence[str]
    rows: Sequence[Sequence[str]]
    tones: Sequence[str]


@dataclass(frozen=True)
class Plot:
    """One plotly figure (``data`` traces and ``layout``) and the CSV its points come from: every trace
    not marked ``meta: "aux"`` draws one point per CSV row (the rows matching ``where``)."""

    title: str
    data: list[dict[str, Any]]
    layout: dict[str, Any]
    csv: str
    where: dict[str, str] = field(default_factory=dict)
    note: str = ""


@dataclass(frozen=True)
class Table:
    title: str
    csv: str
    rows: Sequence[dict[str, Any]]
    columns: Sequence[str] | None = None


@dataclass(frozen=True)
class Page:
    title: str
    subtitle: str
    verdicts: Sequence[Verdicts]
    plots: Sequence[Plot]
    tables: Sequence[Table]
    provenance: Sequence[tuple[str, str]]
    answer: Sequence[str] = ()  # the terminal's answer block, line for line (bench.output.answer), first


CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:0 auto;max-width:1240px;padding:12px 20px;
color:#222;font-size:14px}
h1{font-size:20px;margin:4px 0}h2{font-size:17px;margin:18px 0 6px;border-bottom:1px solid #ddd}
h3{font-size:14px;margin:10px 0 4px}.sub{color:#555;margin:0 0 8px}
table{border-collapse:collapse;font-size:12.5px;margin:2px 0 8px}th,td{padding:3px 8px;border-bottom:1px solid #e5e5e5;
text-align:left;white-space:nowrap}th{background:#f4f4f4}.scroll{overflow-x:auto;max-width:100%}
.verdicts td:first-child{font-weight:600}.headline{margin:2px 0 4px}
tr.good td.v{color:#116b2e;font-weight:600}tr.bad td.v{color:#b00020;font-weight:600}
tr.warn td.v{color:#8a5a00;font-weight:600}tr.neutral td.v{color:#333}
.verdicts td.v{white-space:normal;min-width:14em;max-width:48em}
.plot{width:100%;height:440px}.note{color:#555;font-size:12.5px;margin:0 0 4px}
dl{display:grid;grid-template-columns:max-content auto;gap:2px 14px;font-size:12.5px}dt{font-weight:600}
dd{margin:0;word-break:break-all}nav a{margin-right:12px}
.answer{font:13px/1.45 ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;background:#f7f9fc;border:1px solid #d8e0ec;
padding:8px 12px;margin:6px 0 10px;white-space:pre-wrap}
"""


def esc(value: Any) -> str:
    """``value`` as HTML text, escaped (quotes too: safe in attributes)."""
    return html.escape("" if value is None else str(value), quote=True)


def fmt(value: Any) -> str:
    """A table cell: 4 significant digits for floats, blank for missing."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def _clean(value: Any) -> Any:
    """JSON-safe figure data: NaN and infinities become null (a gap), floats keep 6 digits."""
    if isinstance(value, float):
        return round(value, 6) if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: _clean(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_clean(v) for v in value]
    return value


def script_json(value: Any) -> str:
    """JSON that is safe inside a <script> element."""
    text = json.dumps(_clean(value), separators=(",", ":"), default=str)
    return (text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
            .replace("\u2028", "\\u2028").replace("\u2029", "\\u2029"))


def _verdicts(v: Verdicts) -> str:
    head = "".join(f"<th>{esc(c)}</th>" for c in v.columns)
    body = "".join(f'<tr class="{tone if tone in TONES else "neutral"}">'
                   + "".join(f'<td{" class=v" if i == len(row) - 1 else ""}>{esc(c)}</td>' for i, c in enumerate(row))
                   + "</tr>" for row, tone in zip(v.rows, v.tones, strict=True))
    return (f"<h3>{esc(v.title)}</h3><p class=headline>{esc(v.headline)}</p>"
            f'<div class=scroll><table class=verdicts><tr>{head}</tr>{body}</table></div>')


def _plot(i: int, p: Plot) -> str:
    where = ";".join(f"{k}={v}" for k, v in p.where.items())
    layout = {"margin": {"t": 30, "l": 70, "r": 20, "b": 90}, "font": {"size": 12}, **p.layout}
    return (f"<h3>{esc(p.title)}</h3>" + (f"<p class=note>{esc(p.note)}</p>" if p.note else "")
            + f'<div class=plot id="plot-{i}" data-csv="{esc(p.csv)}" data-where="{esc(where)}"></div>'
            f'<script>Plotly.newPlot("plot-{i}",{script_json(p.data)},{script_json(layout)},'
            '{"displaylogo":false,"responsive":true});</script>')


def _table(t: Table) -> str:
    columns = list(t.columns or dict.fromkeys(k for r in t.rows for k in r))
    head = "".join(f"<th>{esc(c)}</th>" for c in columns)
    shown = t.rows[:MAX_TABLE_ROWS]
    body = "".join("<tr>" + "".join(f"<td>{esc(fmt(r.get(c)))}</td>" for c in columns) + "</tr>" for r in shown)
    count = f"{len(t.rows)} rows" if len(shown) == len(t.rows) else f"the first {len(shown)} of {len(t.rows)} rows"
    return (f'<h3>{esc(t.title)}</h3><p class=note>from <a href="{esc(t.csv)}">{esc(t.csv)}</a>, '
            f"{count}</p><div class=scroll><table><tr>{head}</tr>{body}</table></div>")


def render(page: Page) -> str:
    """The page as one HTML document, plotly's script embedded once."""
    import plotly.offline

    parts = ["<!DOCTYPE html><html lang=en><head><meta charset=utf-8>",
             '<meta name=viewport content="width=device-width,initial-scale=1">',
             f"<title>{esc(page.title)}</title><style>{CSS}</style>",
             f"<script>{plotly.offline.get_plotlyjs()}</script></head><body>",
             f"<h1>{esc(page.title)}</h1><p class=sub>{esc(page.subtitle)}</p>",
             *([f'<pre id=answer class=answer>{esc(chr(10).join(page.answer))}</pre>'] if page.answer else []),
             "<nav><a href=#verdicts>Verdicts</a><a href=#plots>Plots</a><a href=#tables>Tables</a>"
             "<a href=#provenance>Provenance</a></nav>", "<section id=verdicts><h2>Verdicts</h2>"]
    parts += [_verdicts(v) for v in page.verdicts] or ["<p>No verdict: the folder holds no finished result.</p>"]
    parts.append("</section><section id=plots><h2>Plots</h2>")
    parts += [_plot(i, p) for i, p in enumerate(page.plots)] or ["<p>Nothing to plot.</p>"]
    parts.append("</section><section id=tables><h2>Tables</h2>")
    parts += [_table(t) for t in page.tables if t.rows]
    parts.append("</section><section id=provenance><h2>Provenance</h2><dl>")
    parts += [f"<dt>{esc(k)}</dt><dd>{esc(v)}</dd>" for k, v in page.provenance]
    parts.append("</dl></section></body></html>\n")
    return "".join(parts)


def write(page: Page, path: Path) -> int:
    """Write ``page`` to ``path`` (atomically); returns its size in bytes."""
    text = render(page)
    storage.atomic_write(path, text)
    return len(text.encode())
