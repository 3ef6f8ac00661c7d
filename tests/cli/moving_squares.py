"""A synthetic LeRobot dataset for the CLI tests: a square moving over a gradient (no simulator)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from worldalign.data.lerobot_writer import LeRobotWriter
from worldalign.data.types import Episode

SIZE, LENGTH, EPISODES = 16, 12, 3


def moving_square_episode(seed: int, size: int = SIZE) -> Episode:
    """A 4x4 square moving diagonally over a gradient, with random actions."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[:size, :size]
    frames = np.empty((1, LENGTH, size, size, 3), np.uint8)
    for t in range(LENGTH):
        image = np.stack([xx * (255 // size), yy * (255 // size), np.full_like(xx, 40)], axis=-1)
        y = x = (seed + t) % (size - 4)
        image[y : y + 4, x : x + 4] = (250, 200, 60)
        frames[0, t] = image
    return Episode(
        task="reach-v3",
        instruction="reach the goal",
        views=("front",),
        frames=frames,
        actions=rng.normal(size=(LENGTH, 4)).astype(np.float32),
        state=rng.normal(size=(LENGTH, 5)).astype(np.float32),
    )


def write_dataset(root: Path, size: int = SIZE) -> Path:
    with LeRobotWriter(root, fps=10, views=("front",), image_size=(size, size), action_dim=4, state_dim=5) as writer:
        for seed in range(EPISODES):
            writer.add_episode(moving_square_episode(seed, size))
    return root
