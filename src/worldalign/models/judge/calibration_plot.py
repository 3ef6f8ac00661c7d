"""Calibration of judges, drawn with PIL: per dimension, the mean predicted score at each label.

A calibrated judge of RoboAlign-R1's six dimensions (arXiv:2605.03821) predicts, on average, the
score the rule gave: its points sit on the diagonal. One panel per dimension; one colour per
judge; a bar spans +-1 standard deviation of the predictions at that label. matplotlib is not a
dependency of worldalign, so the plot is drawn directly.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from worldalign.utils.atomic import atomic_path

PANEL = 220
MARGIN = 34
COLOURS = ((31, 119, 180), (214, 39, 40), (44, 160, 44), (148, 103, 189))


def calibration_points(prediction: np.ndarray, label: np.ndarray, max_score: int) -> list[tuple[int, float, float, int]]:
    """``(label value, mean prediction, std, count)`` for every label value present."""
    points = []
    for value in range(max_score + 1):
        chosen = prediction[label == value]
        if chosen.size:
            points.append((value, float(chosen.mean()), float(chosen.std()), int(chosen.size)))
    return points


def draw_calibration(
    out: str | os.PathLike[str],
    predictions: dict[str, np.ndarray],
    labels: np.ndarray,
    titles: tuple[str, ...],
    max_scores: tuple[int, ...],
    heading: str,
) -> Path:
    """Write a PNG: ``predictions`` maps judge name -> ``(N, D)`` raw scores; ``labels`` is ``(N, D)``."""
    columns = 3
    rows = int(np.ceil(len(titles) / columns))
    image = Image.new("RGB", (columns * PANEL, rows * PANEL + 40), "white")
    draw = ImageDraw.Draw(image)
    draw.text((8, 6), heading, fill="black")
    for index, (name, colour) in enumerate(zip(predictions, COLOURS)):
        draw.rectangle([8 + index * 110, 22, 18 + index * 110, 32], fill=colour)
        draw.text((22 + index * 110, 21), name, fill="black")
    for d, (title, top) in enumerate(zip(titles, max_scores)):
        x0, y0 = (d % columns) * PANEL, 40 + (d // columns) * PANEL
        left, right, bottom, upper = x0 + MARGIN, x0 + PANEL - 12, y0 + PANEL - MARGIN, y0 + 22

        def at(score_x: float, score_y: float) -> tuple[float, float]:
            return left + (right - left) * score_x / top, bottom - (bottom - upper) * np.clip(score_y, 0, top) / top

        draw.text((x0 + 8, y0 + 4), f"{title} (0-{top})", fill="black")
        draw.rectangle([left, upper, right, bottom], outline=(120, 120, 120))
        draw.line([at(0, 0), at(top, top)], fill=(190, 190, 190), width=1)
        for tick in range(top + 1):
            x, _ = at(tick, 0)
            _, y = at(0, tick)
            draw.text((x - 3, bottom + 4), str(tick), fill="black")
            draw.text((left - 12, y - 6), str(tick), fill="black")
        draw.text((left + 30, bottom + 18), "rule label -> mean prediction", fill=(90, 90, 90))
        for offset, (name, colour) in enumerate(zip(predictions, COLOURS)):
            shift = (offset - (len(predictions) - 1) / 2) * 0.06 * top
            points = calibration_points(predictions[name][:, d], labels[:, d], top)
            centres = [at(value + shift, mean) for value, mean, _, _ in points]
            if len(centres) > 1:
                draw.line(centres, fill=colour, width=2)
            for (value, mean, std, _), (x, y) in zip(points, centres):
                draw.line([at(value + shift, mean - std), at(value + shift, mean + std)], fill=colour, width=1)
                draw.ellipse([x - 3, y - 3, x + 3, y + 3], fill=colour)
    with atomic_path(out) as tmp:
        image.save(tmp, format="PNG")
    return Path(out)
