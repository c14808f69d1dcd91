"""One colour per framework, for every plot of every report: the matplotlib PNGs and the HTML
report's plotly figures both take their colours from :func:`colour`, so a framework is the same
colour wherever a reader meets it.

A registered framework takes the colour at its place in the registry (a fixed order, so the same
in every run and report; bench/ names no framework itself); a name the registry does not know (a
framework from an older record, a test double) gets one by a checksum of its name, never by the
order frameworks happen to appear in a report.
"""

from __future__ import annotations

import zlib

from bench.core import registry

# Red-orange, amber, blue first (the three frameworks this project compares, in registry order),
# then Okabe-Ito's colour-blind-safe set and a few more.
COLOURS = ("#EE4C2C", "#FF8F00", "#3367D6", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#6A3D9A", "#8C6D31",
           "#117733", "#882255")
NEUTRAL = "#555555"  # reference lines, bands and anything that is no framework


def colour(framework: str) -> str:
    """The hex colour of ``framework``: the same in every plot and every report."""
    names = registry.names()
    if framework in names and names.index(framework) < len(COLOURS):
        return COLOURS[names.index(framework)]
    return COLOURS[zlib.crc32(framework.encode()) % len(COLOURS)]


def colours(frameworks: list[str]) -> list[str]:
    return [colour(fw) for fw in frameworks]
