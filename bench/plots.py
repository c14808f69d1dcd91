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


def lrn_plots(rows: list[dict[str, Any]], run_dir: Path) -> list[str]:
    """lrn_slowdown.png (ratio with CI error bars) and lrn_times.png (off vs on per framework)."""
    if not rows:
        return []
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    labels = [f"{r['framework']}\n{r['mode']} b{r['batch_size']}" for r in rows]
    x = np.arange(len(rows))
    fig, ax = plt.subplots(figsize=(max(6, 1.3 * len(rows)), 4.5))
    ratio = np.array([r["slowdown"] for r in rows])
    err = np.array([[r["slowdown"] - r["ci_low"] for r in rows], [r["ci_high"] - r["slowdown"] for r in rows]])
    ax.bar(x, ratio, yerr=err, capsize=5, color="tab:blue", alpha=0.8)
    ax.axhline(1.0, color="black", lw=0.8)
    ax.axhline(3.0, color="tab:red", ls="--", lw=1, label="the book's claim (~3x)")
    ax.set_xticks(x, labels, fontsize=8)
    ax.set_ylabel("step time with LRN / without (95% CI)")
    ax.set_title("LRN slowdown per framework")
    ax.legend()
    storage.atomic_write(run_dir / "lrn_slowdown.png", _figure_bytes(fig))
    plt.close(fig)

    fig, ax = plt.subplots(figsize=(max(6, 1.3 * len(rows)), 4.5))
    w = 0.38
    ax.bar(x - w / 2, [r["off_ms"] for r in rows], w, label="LRN off")
    ax.bar(x + w / 2, [r["on_ms"] for r in rows], w, label="LRN on")
    ax.set_xticks(x, labels, fontsize=8)
    ax.set_ylabel("mean ms per step")
    ax.set_title("Time per step, LRN off vs on")
    ax.legend()
    storage.atomic_write(run_dir / "lrn_times.png", _figure_bytes(fig))
    plt.close(fig)
    return ["lrn_slowdown.png", "lrn_times.png"]


def parity_plots(curves: list[dict[str, Any]], run_dir: Path) -> None:
    """parity_accuracy.png (test accuracy vs step) and parity_loss.png (training loss, smoothed)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    series: dict[tuple[str, str, int, str], list[tuple[float, float]]] = {}
    for c in curves:
        series.setdefault((c["run"], c["framework"], c["seed"], c["metric"]), []).append((c["step"], c["value"]))
    for metric, name, ylabel in (("test_acc", "parity_accuracy.png", "test accuracy %"),
                                 ("train_loss", "parity_loss.png", "training loss (moving average of 10)")):
        keys = [k for k in series if k[3] == metric]
        if not keys:
            continue
        fig, ax = plt.subplots(figsize=(7, 4.5))
        for key in keys:
            xs, ys = (np.array(v) for v in zip(*series[key], strict=True))
            if metric == "train_loss" and len(ys) >= 10:
                ys = np.convolve(ys, np.ones(10) / 10, mode="valid")
                xs = xs[9:]
            ax.plot(xs, ys, marker="o" if metric == "test_acc" else None, ms=3, label=f"{key[1]} seed {key[2]}")
        ax.set_xlabel("training step")
        ax.set_ylabel(ylabel)
        if metric == "train_loss":
            ax.set_yscale("log")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
        ax.set_title(ylabel + " per framework")
        storage.atomic_write(run_dir / name, _figure_bytes(fig))
        plt.close(fig)
