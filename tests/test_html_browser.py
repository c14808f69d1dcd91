"""Every kind of report.html (run, compare, profile, parity, ab, history), built from synthetic folders
(:mod:`report_fixtures`: no timing) and opened in a real browser: Debian's chromium, driven by
playwright (``executable_path``; playwright's own browser download is never used), from ``file://``
with the network blocked. A report fails when the page logs a console error or throws, when any
request leaves the file, or when a plot did not draw one point per row of the CSV it names.

Without /usr/bin/chromium the tests skip, or fail with a clear message under
``BENCH_REQUIRE_BROWSER=1`` (CI sets it). Screenshots (1280x800) go to a temporary folder, or to
``BENCH_SCREENSHOTS=DIR`` / ``pytest --screenshots DIR`` to keep them."""

from __future__ import annotations

import csv
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import report_fixtures as fixtures

from bench.cli import main
from bench.output.html import MAX_BYTES
from tests.conftest import CHROMIUM, require_browser

pytestmark = pytest.mark.browser
VIEWPORT = {"width": 1280, "height": 800}


def _build_run(root: Path, kind: str) -> Path:
    folder = {"run": fixtures.run_folder, "compare": fixtures.compare_folder, "profile": fixtures.profile_folder,
              "parity": fixtures.parity_folder, "ab": fixtures.ab_folder}[kind](root / kind)
    assert main(["report", str(folder), "--html"]) == 0  # no fixture holds a regression (test_html.py says why)
    return folder / "report.html"


def _build_history(root: Path) -> Path:
    store = fixtures.history_store_folder(root / "store")
    assert main(["history", "report", "--store", str(store), "--out", str(root / "history"), "--html",
                 "--commit-url", "https://github.com/OWNER/REPO/commit/{commit}"]) == 0
    return root / "history" / "report.html"


KINDS: dict[str, Callable[[Path], Path]] = {
    **{k: (lambda root, k=k: _build_run(root, k)) for k in ("run", "compare", "profile", "parity", "ab")},
    "history": _build_history}


@pytest.fixture(scope="module")
def browser() -> Any:
    sync_api = require_browser(CHROMIUM)  # skips with the reason, or fails under BENCH_REQUIRE_BROWSER=1
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM), args=["--no-sandbox"])
        yield b
        b.close()


@pytest.fixture(scope="module")
def shots(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Path:
    kept = request.config.getoption("--screenshots", None) or os.environ.get("BENCH_SCREENSHOTS")
    folder = Path(kept) if kept else tmp_path_factory.mktemp("screenshots")
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def _csv_count(path: Path, where: dict[str, str]) -> int:
    with open(path, newline="") as fh:
        return sum(all(row.get(k) == v for k, v in where.items()) for row in csv.DictReader(fh))


PLOTS_JS = """() => Array.from(document.querySelectorAll('.js-plotly-plot')).map(gd => ({
  id: gd.id, csv: gd.dataset.csv, where: gd.dataset.where,
  points: gd.data.filter(t => t.meta !== 'aux').reduce((n, t) => n + t.x.length, 0),
  drawn: gd.querySelectorAll('.main-svg').length, title: (gd.layout.title || {}).text || '',
  axes: [((gd.layout.xaxis || {}).title || {}).text || '', ((gd.layout.yaxis || {}).title || {}).text || '']}))"""


@pytest.mark.parametrize("kind", list(KINDS))
def test_report_opens_offline_and_draws_every_csv_row(kind: str, browser: Any, shots: Path,
                                                      tmp_path: Path) -> None:
    page_path = KINDS[kind](tmp_path)
    size = page_path.stat().st_size
    assert size < MAX_BYTES, f"{kind}: report.html is {size} bytes"
    text = page_path.read_text()
    assert text.count("Plotly=") + text.count("plotly.js v") >= 1 and text.count("<script src") == 0
    context = browser.new_context(viewport=VIEWPORT)
    left: list[str] = []

    def block(route: Any) -> None:
        if route.request.url.startswith("file://"):
            route.continue_()
        else:
            left.append(route.request.url)
            route.abort()

    context.route("**/*", block)
    page = context.new_page()
    errors: list[str] = []
    page.on("console", lambda m: errors.append(f"console {m.type}: {m.text}") if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(f"page error: {e}"))
    page.on("request", lambda r: None if r.url.startswith("file://") else left.append(r.url))
    page.goto(page_path.as_uri(), wait_until="load")
    page.wait_for_function("() => document.querySelectorAll('.js-plotly-plot').length === "
                           "document.querySelectorAll('.plot').length")
    plots = page.evaluate(PLOTS_JS)
    page.screenshot(path=str(shots / f"{kind}.png"))
    verdicts_box = page.locator("#verdicts table").first.bounding_box()
    context.close()
    assert not errors, errors
    assert not left, f"requests that left the file: {left}"
    assert plots, f"{kind}: no plot drawn"
    for p in plots:
        where = dict(item.split("=", 1) for item in p["where"].split(";") if item)
        expected = _csv_count(page_path.parent / p["csv"], where)
        assert p["drawn"] > 0, p
        assert p["points"] == expected, f"{kind} {p['title']}: {p['points']} points drawn, {p['csv']} {where} " \
                                        f"holds {expected}"
        assert all(p["axes"]), f"{kind} {p['title']}: an axis has no title (and so no unit): {p['axes']}"
    assert verdicts_box is not None and verdicts_box["y"] < VIEWPORT["height"], "the verdicts start below the fold"
