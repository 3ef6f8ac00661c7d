"""The stills and grids that rollouts and previews write for a person to look at."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

from worldalign.viz.video_grid import CAPTION_HEIGHT, compose_filmstrip, filmstrip_frames, write_image


def test_filmstrip_frames_spread_over_the_video_with_both_ends() -> None:
    assert filmstrip_frames(48) == [0, 8, 16, 24, 31, 39, 47]
    assert filmstrip_frames(3) == [0, 1, 2]
    assert filmstrip_frames(1) == [0]
    assert filmstrip_frames(0) == []


def test_filmstrip_places_each_chosen_frame_in_its_row_and_column(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    videos = [rng.integers(0, 256, (10, 4, 5, 3), dtype=np.uint8) for _ in range(2)]  # (T, H, W, 3)
    frames, scale = [0, 4, 9], 2
    strip = compose_filmstrip(videos, frames=frames, row_labels=["real", "gen."], title="t", scale=scale)
    cell_h, cell_w = 4 * scale, 5 * scale
    assert strip.shape == (CAPTION_HEIGHT + 2 * (CAPTION_HEIGHT + cell_h), 3 * cell_w, 3)
    for row, video in enumerate(videos):
        top = CAPTION_HEIGHT + row * (CAPTION_HEIGHT + cell_h) + CAPTION_HEIGHT
        for column, index in enumerate(frames):
            cell = strip[top : top + cell_h, column * cell_w : (column + 1) * cell_w]
            np.testing.assert_array_equal(cell[::scale, ::scale], video[index])
    path = write_image(strip, tmp_path / "strip.png")
    np.testing.assert_array_equal(np.asarray(Image.open(path)), strip)  # PNG: lossless
    assert [p.name for p in tmp_path.iterdir()] == ["strip.png"]  # no temporary left
