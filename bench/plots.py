"""Matplotlib figures (Agg backend, imported lazily). Plots read stored records only."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from bench import storage


def _figure_bytes(fig: Any) -> bytes:
    import io

    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110, bbox_inches="tight")
    return buf.getvalue()


def step_distributions(records: list[dict[str, Any]], path: Path) -> bool:
    """Box plots with every sample overlaid, one panel per mode; False when nothing to plot."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    from bench.results import job_key, latest_per_round

    groups: dict[tuple[Any, ...], list[float]] = {}
    for rec in latest_per_round(records):
        if rec.get("status") == "ok" and rec.get("samples_ns"):
            groups.setdefault(job_key(rec), []).extend(s / 1e6 for s in rec["samples_ns"])
    if not groups:
        return False
    modes = sorted({k[1] for k in groups})
    fig, axes = plt.subplots(1, len(modes), figsize=(6 * len(modes), 4.5), squeeze=False)
    for ax, mode in zip(axes[0], modes, strict=True):
        keys = [k for k in groups if k[1] == mode]
        labels = [f"{k[0]}\nb{k[2]} LRN {'on' if k[3] else 'off'}\n{k[4]}" for k in keys]
        data = [groups[k] for k in keys]
        ax.boxplot(data, showfliers=False)
        ax.set_xticks(range(1, len(labels) + 1), labels, fontsize=8)
        rng = np.random.default_rng(0)
        for i, d in enumerate(data, start=1):
            ax.scatter(i + rng.uniform(-0.15, 0.15, len(d)), d, s=6, alpha=0.4)
        ax.set_title(f"{mode} step time (every synchronised sample)")
        ax.set_ylabel("ms per step")
        ax.grid(axis="y", alpha=0.3)
    storage.atomic_write(path, _figure_bytes(fig))
    plt.close(fig)
    return True
