"""The report's figures, drawn with matplotlib (Agg, no display) and saved as PNG files.

Each function draws one figure and writes it atomically; none keeps global pyplot state
(``matplotlib.figure.Figure`` is used directly).
"""

from __future__ import annotations

import textwrap
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from worldalign.report.logs import Series
from worldalign.utils.atomic import atomic_path

METRIC_LABELS = {"psnr": "PSNR (dB) ↑", "ssim": "SSIM ↑", "lpips": "LPIPS ↓"}
BASELINE_LABELS = {"copy_last": "copy last frame", "mean_frame": "mean frame", "autoencoder_ceiling": "AE ceiling"}
DPI = 100
FIGURES_DIR = "figures"
"""Where a report keeps its figures, relative to its folder."""
TABLE_HORIZONS = (1, 2, 4, 8, 16, 24, 32, 48)
"""Horizons the tables beside the horizon curves show (those within the horizon, and the last)."""


def _save(figure: Figure, out: Path, bottom: float = 0.0) -> Path:
    """Lay ``figure`` out (keeping ``bottom`` inches free, e.g. for a legend) and write it atomically."""
    figure.tight_layout(rect=(0, bottom / figure.get_figheight(), 1, 1))
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
    groups = ([("before", before)] if before is not None else []) + [("after", after)]
    return grouped_bars(groups, names, out, colors=("#8c9bab", "#2f6db3")[-len(groups) :])


def grouped_bars(
    groups: Sequence[tuple[str, dict[str, float]]],
    names: Sequence[str],
    out: Path,
    spreads: Sequence[dict[str, float]] | None = None,
    colors: Sequence[str] | None = None,
) -> Path:
    """One small panel per term (the terms have their own scales), one bar per group that has it.

    Args:
        groups: (label, term -> value), e.g. one per model, or before and after.
        names: the terms drawn, one panel each.
        out: the PNG written.
        spreads: per group, term -> standard deviation, drawn as error bars.
        colors: one colour per group (default: matplotlib's cycle).
    """
    figure = Figure(figsize=(max(3.0, (1.2 + 0.5 * len(groups)) * len(names)), 3.0))
    palette = list(colors) if colors is not None else [f"C{i}" for i in range(len(groups))]
    for column, name in enumerate(names, start=1):
        axes = figure.add_subplot(1, len(names), column)
        present = [(g, label, values[name]) for g, (label, values) in enumerate(groups) if name in values]
        errors = None if spreads is None else [spreads[g].get(name, 0.0) for g, _, _ in present]
        axes.bar(
            [label for _, label, _ in present],
            [value for _, _, value in present],
            yerr=errors,
            capsize=3,
            color=[palette[g] for g, _, _ in present],
        )
        axes.set_title(name, fontsize=9)
        axes.tick_params(labelsize=8)
        axes.tick_params(axis="x", labelrotation=20 if len(groups) > 2 else 0)
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


@dataclass(frozen=True)
class LearningCurve:
    """One arm's held-out learning curve: at each evaluation, the updates done, the training
    wall-clock (minutes) and each metric's mean with its spread (std over training seeds)."""

    label: str
    updates: Sequence[float]
    minutes: Sequence[float]
    means: dict[str, Sequence[float]]
    spreads: dict[str, Sequence[float]]


def learning_curves(curves: Sequence[LearningCurve], panels: Sequence[tuple[str, str]], out: Path) -> Path:
    """One column per metric, against updates (top row) and training wall-clock (bottom row): a
    line per arm (the first drawn heavier) with a band of ± its spread.

    Args:
        curves: the arms; a metric an arm lacks is left out of its panel.
        panels: (metric, title) of each column.
        out: the PNG written.
    """
    legend_rows = sum(1 for curve in curves if any(metric in curve.means for metric, _ in panels))
    figure = Figure(figsize=(max(3.4 * len(panels), 7.5), 6.0 + 0.2 * legend_rows))
    for row, (axis, label) in enumerate((("updates", "updates"), ("minutes", "training wall-clock (min)"))):
        for column, (metric, title) in enumerate(panels):
            axes = figure.add_subplot(2, len(panels), row * len(panels) + column + 1)
            for index, curve in enumerate(curves):
                if metric not in curve.means:
                    continue
                x, mean, spread = getattr(curve, axis), curve.means[metric], curve.spreads[metric]
                width = 2.2 if index == 0 else 1.2
                axes.plot(x, mean, marker="o", markersize=3, linewidth=width, color=f"C{index}", label=curve.label)
                low = [m - s for m, s in zip(mean, spread, strict=True)]
                high = [m + s for m, s in zip(mean, spread, strict=True)]
                axes.fill_between(x, low, high, color=f"C{index}", alpha=0.15, linewidth=0)
            axes.set_xlabel(label, fontsize=8)
            axes.set_title(textwrap.fill(title, 36), fontsize=9)
            axes.tick_params(labelsize=7)
            axes.grid(alpha=0.3)
    handles, labels = figure.axes[0].get_legend_handles_labels()
    figure.legend(handles, labels, loc="lower center", ncol=1, fontsize=7, frameon=False)
    return _save(figure, out, bottom=0.2 * legend_rows + 0.15)
