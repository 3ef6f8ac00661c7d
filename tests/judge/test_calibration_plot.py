"""The calibration plot: mean prediction per label value, drawn to a PNG."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

from worldalign.models.judge.calibration_plot import calibration_points, draw_calibration


def test_calibration_points_average_predictions_per_label() -> None:
    label = np.array([0, 0, 2, 2, 2])
    prediction = np.array([0.0, 1.0, 2.0, 2.0, 2.0])
    assert calibration_points(prediction, label, 2) == [(0, 0.5, 0.5, 2), (2, 2.0, 0.0, 3)]


def test_plot_has_a_panel_per_dimension(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 2, size=(20, 6)).astype(float)
    predictions = {"teacher": labels + 0.1, "student": labels * 0.8}
    path = draw_calibration(
        tmp_path / "calibration.png", predictions, labels, tuple(f"d{i}" for i in range(6)), (1,) * 6, "test"
    )
    image = Image.open(path)
    assert image.size == (3 * 220, 2 * 220 + 40)
    assert len(set(np.asarray(image).reshape(-1, 3).view("u1,u1,u1").ravel().tolist())) > 3  # more than background
