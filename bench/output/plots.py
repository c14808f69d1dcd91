"""Matplotlib figures, built with the object API (``matplotlib.figure.Figure``), so importing or
calling this module never changes the global backend of the program that uses it. Plots draw
analysis rows (:mod:`bench.analysis.run_rows` and the like); colours come from :mod:`bench.output.palette`."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from bench.core import storage
from bench.output import palette


def _figure(width: float, height: float, ncols: int = 1) -> tuple[Any, Any]:
    """A standalone figure and its axes (one row of ``ncols``), attached to no pyplot state."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height))
    axes = fig.subplots(1, ncols, squeeze=False)
    return fig, axes[0]


def _figure_bytes(fig: Any) -> bytes:
    import io

    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110, bbox_inches="tight")
    return buf.getvalue()


def config_label(key: Any) -> str:
    """A short tick label for one config: framework and batch, LRN and compile mode only when set."""
    extra = [] if key.compile in ("eager", "none", "") else [key.compile]
    return " ".join([key.framework, f"b{key.batch_size}", *(["LRN"] if key.lrn else []), *extra])


def _legend_by_framework(ax: Any, frameworks: list[str], **kw: Any) -> None:
    from matplotlib.patches import Patch

    ax.legend([Patch(color=palette.colour(fw), alpha=0.7) for fw in frameworks], frameworks, fontsize=8, **kw)


def step_distributions(processes: list[Any], path: Path) -> bool:
    """One box per worker process (every sample overlaid), grouped by config, one panel per mode, each
    framework in its colour: the process-to-process spread the intervals are about stays visible.
    ``processes``: :class:`bench.analysis.run_rows.Process` items. False when nothing to plot."""
    import numpy as np

    ok = [p for p in processes if p.status == "ok" and p.samples_ms]
    if not ok:
        return False
    modes = sorted({p.key.mode for p in ok})
    per_mode = {mode: [p for p in ok if p.key.mode == mode] for mode in modes}
    widest = max(len(ps) + len({p.key for p in ps}) for ps in per_mode.values())
    fig, axes = _figure(max(6.0, 0.35 * widest + 2.5) * len(modes), 5.0, len(modes))
    rng = np.random.default_rng(0)
    for ax, mode in zip(axes, modes, strict=True):
        ps = per_mode[mode]
        keys = list(dict.fromkeys(p.key for p in ps))
        positions: list[float] = []
        centres: list[float] = []
        x = 0.0
        for key in keys:
            mine = [p for p in ps if p.key == key]
            centres.append(x + (len(mine) - 1) / 2)
            for p in mine:
                colour = palette.colour(key.framework)
                positions.append(x)
                box = ax.boxplot([p.samples_ms], positions=[x], widths=0.6, showfliers=False, patch_artist=True)
                for patch in box["boxes"]:
                    patch.set(facecolor=colour, alpha=0.3, edgecolor=colour)
                ax.scatter(x + rng.uniform(-0.2, 0.2, len(p.samples_ms)), p.samples_ms, s=6, alpha=0.6, color=colour)
                x += 1
            x += 0.8  # a gap between configs
        ax.set_xticks(centres, [config_label(k) for k in keys], fontsize=8, rotation=30, ha="right")
        ax.set_xlim(-0.8, x - 1.0)
        ax.set_title(f"{mode}: step time per worker process (one box each)")
        ax.set_xlabel("config (the boxes of one config: its worker processes)")
        ax.set_ylabel("ms per step")
        ax.grid(axis="y", alpha=0.3)
        _legend_by_framework(ax, list(dict.fromkeys(k.framework for k in keys)))
    storage.atomic_write(path, _figure_bytes(fig))
    return True


def _bar_chart(path: Path, labels: list[str], title: str, ylabel: str, bars: list[dict[str, Any]],
               lines: tuple[tuple[float, str, str | None], ...] = (), frameworks: list[str] | None = None) -> None:
    """Bars side by side per label (each ``bars`` item: values, label, optional yerr, alpha, hatch), with
    horizontal reference lines (value, style, legend label). ``frameworks``: the framework of each label,
    which colours its bars."""
    import numpy as np

    fig, axes = _figure(max(6, 1.1 * len(labels) + 2), 4.8)
    ax = axes[0]
    x = np.arange(len(labels))
    width = 0.8 / len(bars)
    colours = palette.colours(frameworks) if frameworks else None
    for i, bar in enumerate(bars):
        ax.bar(x + (i - (len(bars) - 1) / 2) * width, bar["values"], width, yerr=bar.get("yerr"), capsize=5,
               label=bar.get("label"), alpha=bar.get("alpha", 0.85), color=colours, hatch=bar.get("hatch"),
               edgecolor="white")
    for value, style, label in lines:
        ax.axhline(value, color="black" if label is None else "tab:red", ls=style, lw=0.8 if label is None else 1,
                   label=label)
    ax.set_xticks(x, labels, fontsize=8, rotation=30 if len(labels) > 4 else 0,
                  ha="right" if len(labels) > 4 else "center")
    ax.set_xlabel("framework, mode, batch size")
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    if any(b.get("label") for b in bars) or any(label for _, _, label in lines):
        ax.legend(fontsize=8)
    storage.atomic_write(path, _figure_bytes(fig))


def lrn_plots(rows: list[dict[str, Any]], run_dir: Path) -> list[str]:
    """lrn_slowdown.png (ratio with CI error bars) and lrn_times.png (off vs on per framework)."""
    if not rows:
        return []
    labels = [f"{r['framework']} {r['mode']} b{r['batch_size']}" for r in rows]
    fws = [str(r["framework"]) for r in rows]
    err = [[r["slowdown"] - r["ci_low"] for r in rows], [r["ci_high"] - r["slowdown"] for r in rows]]
    _bar_chart(run_dir / "lrn_slowdown.png", labels, "LRN slowdown per framework",
               "step time with LRN / without (ratio, 95% CI)",
               [{"values": [r["slowdown"] for r in rows], "yerr": err}],
               lines=((1.0, "-", None), (3.0, "--", "the book's claim (~3x)")), frameworks=fws)
    _bar_chart(run_dir / "lrn_times.png", labels, "Time per step, LRN off vs on", "mean ms per step",
               [{"values": [r["off_ms"] for r in rows], "label": "LRN off (light)", "alpha": 0.4},
                {"values": [r["on_ms"] for r in rows], "label": "LRN on (hatched)", "hatch": "//"}], frameworks=fws)
    return ["lrn_slowdown.png", "lrn_times.png"]


def parity_plots(curves: list[dict[str, Any]], run_dir: Path) -> None:
    """parity_accuracy.png (test accuracy vs step) and parity_loss.png (training loss, smoothed)."""
    import numpy as np

    series: dict[tuple[str, str, int, str], list[tuple[float, float]]] = {}
    for c in curves:
        series.setdefault((c["run"], c["framework"], c["seed"], c["metric"]), []).append((c["step"], c["value"]))
    for metric, name, ylabel in (("test_acc", "parity_accuracy.png", "test accuracy %"),
                                 ("train_loss", "parity_loss.png", "training loss (moving average of 10)")):
        keys = [k for k in series if k[3] == metric]
        if not keys:
            continue
        fig, axes = _figure(7, 4.5)
        ax = axes[0]
        for key in keys:
            xs, ys = (np.array(v) for v in zip(*series[key], strict=True))
            if metric == "train_loss" and len(ys) >= 10:
                ys = np.convolve(ys, np.ones(10) / 10, mode="valid")
                xs = xs[9:]
            ax.plot(xs, ys, marker="o" if metric == "test_acc" else None, ms=3, label=f"{key[1]} seed {key[2]}",
                    color=palette.colour(key[1]), ls=("-", "--", ":", "-.")[key[2] % 4])
        ax.set_xlabel("training step")
        ax.set_ylabel(ylabel)
        if metric == "train_loss":
            ax.set_yscale("log")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
        ax.set_title(ylabel + " per framework")
        storage.atomic_write(run_dir / name, _figure_bytes(fig))


def history_plots(trends: list[Any], out_dir: Path) -> list[Path]:
    """history-<framework>.png: median step time per commit with its 95% interval, one line per
    benchmark and machine, step changes marked with their commit."""
    from bench.analysis.changepoints import framework_of

    by_fw: dict[str, list[Any]] = {}
    for t in trends:
        by_fw.setdefault(framework_of(t), []).append(t)
    paths = []
    for fw, ts in sorted(by_fw.items()):
        fig, axes = _figure(max(7.0, 0.25 * max(len(t.entries) for t in ts)), 4.5)
        ax = axes[0]
        for t in ts:
            xs = list(range(len(t.entries)))
            ys = [e.estimate_ms for e in t.entries]
            line = ax.plot(xs, ys, marker="o", ms=3, label=f"{t.label} ({t.machine[:30]})", color=palette.colour(fw),
                           ls=("-", "--", ":", "-.")[ts.index(t) % 4])[0]
            ax.fill_between(xs, [e.ci_low_ms for e in t.entries], [e.ci_high_ms for e in t.entries],
                            color=line.get_color(), alpha=0.15)
            for c in t.changes:
                ax.axvline(c.index - 0.5, color=line.get_color(), ls="--", lw=1)
                ax.annotate(f"{t.entries[c.index].commit[:7]} {100 * (c.ratio - 1):+.0f}%",
                            (c.index - 0.5, ys[c.index]), fontsize=7, rotation=90, va="bottom", ha="right",
                            color=line.get_color())
        longest = max(ts, key=lambda t: len(t.entries))
        ax.set_xticks(range(len(longest.entries)), [e.commit[:7] for e in longest.entries], fontsize=6, rotation=90)
        ax.set_xlabel("commit (in commit-time order)")
        ax.set_ylabel("median ms per step (95% CI)")
        ax.set_title(f"{fw}: step time by commit; dashed: a step change")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
        path = out_dir / f"history-{fw}.png"
        storage.atomic_write(path, _figure_bytes(fig))
        paths.append(path)
    return paths


def profile_breakdown(rows: list[dict[str, Any]], summaries: list[dict[str, Any]], path: Path) -> None:
    """Stacked bars, two per framework (its profiler; each layer alone): ms per step by scope, the
    backward pass hatched, with the measured whole step marked."""
    from matplotlib import colormaps

    configs = [(s["framework"], s["mode"], s["batch_size"], s["lrn"]) for s in summaries]
    scopes = list(dict.fromkeys(r["scope"] for r in rows))
    cmap = colormaps["tab20"]
    colours = {sc: cmap(i % 20) for i, sc in enumerate(scopes)}
    fig, axes = _figure(max(6.0, 2.2 * len(configs)), 5.5)
    ax = axes[0]
    labels = []
    for ci, cfg in enumerate(configs):
        for si, source in enumerate(("profiler", "isolated")):
            x = ci * 2.6 + si
            bottom = 0.0
            for r in rows:
                if (r["framework"], r["mode"], r["batch_size"], r["lrn"]) == cfg and r["source"] == source:
                    ax.bar(x, r["ms"], bottom=bottom, color=colours[r["scope"]], hatch="//" if r["pass"] == "backward"
                           else None, edgecolor="white", lw=0.3, label=r["scope"])
                    bottom += r["ms"]
            labels.append((x, f"{cfg[0]}\n{source}"))
        ax.hlines(summaries[ci]["step_ms"], ci * 2.6 - 0.5, ci * 2.6 + 1.5, colors="black", linestyles="--", lw=1)
    handles, names = ax.get_legend_handles_labels()
    unique = dict(zip(names, handles, strict=True))
    ax.legend(list(unique.values()), list(unique.keys()), fontsize=7, ncol=2, loc="upper left",
              bbox_to_anchor=(1.0, 1.0))
    ax.set_xticks([x for x, _ in labels], [t for _, t in labels], fontsize=8)
    ax.set_ylabel("ms per step (hatched: backward)")
    ax.set_title("Per-layer breakdown of a step; dashed: the whole step measured")
    ax.grid(axis="y", alpha=0.3)
    storage.atomic_write(path, _figure_bytes(fig))
