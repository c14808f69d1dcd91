"""One colour per framework, for every plot of every report: the matplotlib PNGs and the HTML
report's plotly figures both take their colours from :func:`colour`, so a framework is the same
colour wherever a reader meets it.

The three frameworks this project compares have fixed colours (close to their own brand colours);
any other registered framework gets one from a colour-blind-friendly list, chosen by a checksum
of its name: stable across runs and reports, never by the order frameworks happen to appear in.
"""

from __future__ import annotations

import zlib

FIXED = {"torch": "#EE4C2C", "tensorflow": "#FF8F00", "jax": "#3367D6"}
# Okabe-Ito's colour-blind-safe set (less the orange and blue taken above), then a few more.
OTHERS = ("#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#6A3D9A", "#8C6D31", "#117733", "#882255")
NEUTRAL = "#555555"  # reference lines, bands and anything that is no framework


def colour(framework: str) -> str:
    """The hex colour of ``framework``: the same in every plot and every report."""
    if framework in FIXED:
        return FIXED[framework]
    return OTHERS[zlib.crc32(framework.encode()) % len(OTHERS)]


def colours(frameworks: list[str]) -> list[str]:
    return [colour(fw) for fw in frameworks]
