"""The report's figures, drawn with matplotlib (Agg, no display) and saved as PNG files.

Each function draws one figure and writes it atomically; none keeps global pyplot state
(``matplotlib.figure.Figure`` is used directly).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from worldalign.report.logs import Series
from worldalign.utils.atomic import atomic_path

METRIC_LABELS = {"psnr": "PSNR (dB) ↑", "ssim": "SSIM ↑", "lpips": "LPIPS ↓"}
BASELINE_LABELS = {"copy_last": "copy last frame", "mean_frame": "mean frame", "autoencoder_ceiling": "AE ceiling"}
DPI = 100


def _save(figure: Figure, out: Path) -> Path:
    figure.tight_layout()
    with atomic_path(out) as tmp:
        figure.savefig(tmp, format="png", dpi=DPI)
    return out


def horizon_curves(
    curves: Sequence[tuple[str, dict[str, list[float]]]],
    baselines: Sequence[tuple[str, dict[str, list[float]]]],
    metrics: Sequence[str],
    out: Path,
) -> Path:
    """One panel per metric: score vs horizon, a solid line per context policy, dashed baselines.

    Args:
        curves: (label, metric -> per-horizon values) of each rollout.
        baselines: the same for each baseline (drawn grey and dashed).
        metrics: the metrics drawn, one panel each.
        out: the PNG written.
    """
    figure = Figure(figsize=(4.2 * len(metrics), 3.4))
    for column, metric in enumerate(metrics, start=1):
        axes = figure.add_subplot(1, len(metrics), column)
        for label, values in curves:
            if metric in values:
                axes.plot(range(1, len(values[metric]) + 1), values[metric], marker="o", markersize=3, label=label)
        for index, (label, values) in enumerate(baselines):
            if metric in values:
                style = ("--", ":", "-.")[index % 3]
                axes.plot(range(1, len(values[metric]) + 1), values[metric], style, color="0.45", label=label)
        axes.set_xlabel("horizon (frames generated)")
        axes.xaxis.set_major_locator(MaxNLocator(integer=True))
        axes.set_title(METRIC_LABELS.get(metric, metric))
        axes.grid(alpha=0.3)
    figure.axes[0].legend(fontsize=7)
    return _save(figure, out)


def before_after_bars(before: dict[str, float] | None, after: dict[str, float], names: Sequence[str], out: Path) -> Path:
    """One small bar pair (before, after) per evaluated term: the terms have their own scales."""
    figure = Figure(figsize=(max(3.0, 1.9 * len(names)), 3.0))
    for column, name in enumerate(names, start=1):
        axes = figure.add_subplot(1, len(names), column)
        bars = [("before", before[name], "#8c9bab")] if before is not None and name in before else []
        bars.append(("after", after[name], "#2f6db3"))
        axes.bar([bar[0] for bar in bars], [bar[1] for bar in bars], color=[bar[2] for bar in bars])
        axes.set_title(name, fontsize=9)
        axes.tick_params(labelsize=8)
        axes.grid(axis="y", alpha=0.3)
    return _save(figure, out)


def training_curves(panels: dict[str, list[Series]], out: Path) -> Path:
    """One panel per group of logged scalars (``logs.PANELS``): value vs step."""
    figure = Figure(figsize=(4.2 * len(panels), 3.2))
    for column, (title, series) in enumerate(panels.items(), start=1):
        axes = figure.add_subplot(1, len(panels), column)
        for line in series:
            axes.plot(line.steps, line.values, marker="o" if len(line.steps) < 30 else None, markersize=3, label=line.tag)
        axes.set_title(title)
        axes.set_xlabel("step / iteration")
        axes.xaxis.set_major_locator(MaxNLocator(integer=True))
        axes.grid(alpha=0.3)
        axes.legend(fontsize=7)
    return _save(figure, out)
