"""Synthetic episodes without a simulator: a square moving over a gradient; a LeRobot dataset of
them for the CLI tests, and tiny trained runs on it.

At the root of tests/ (beside the root conftest, so on ``sys.path`` for every test file)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from worldalign.data.lerobot_writer import LeRobotWriter
from worldalign.data.types import Episode

SIZE, LENGTH, EPISODES = 16, 12, 3


def moving_square_episode(seed: int, size: int = SIZE, length: int = LENGTH, shade: int = 40) -> Episode:
    """A 4x4 square moving diagonally over a gradient (blue channel ``shade``), random actions."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[:size, :size]
    frames = np.empty((1, length, size, size, 3), np.uint8)
    for t in range(length):
        image = np.stack([xx * (255 // size), yy * (255 // size), np.full_like(xx, shade)], axis=-1)
        y = x = (seed + t) % (size - 4)
        image[y : y + 4, x : x + 4] = (250, 200, 60)
        frames[0, t] = image
    return Episode(
        task="reach-v3",
        instruction="reach the goal",
        views=("front",),
        frames=frames,
        actions=rng.normal(size=(length, 4)).astype(np.float32),
        state=rng.normal(size=(length, 5)).astype(np.float32),
    )


def write_dataset(root: Path, size: int = SIZE) -> Path:
    with LeRobotWriter(root, fps=10, views=("front",), image_size=(size, size), action_dim=4, state_dim=5) as writer:
        for seed in range(EPISODES):
            writer.add_episode(moving_square_episode(seed, size))
    return root


def run_cli(argv: list[str]) -> int:
    """Run ``worldalign ARGV`` in-process, letting errors raise (``main`` would turn them into
    exit codes)."""
    from worldalign.cli.main import build_parser

    args = build_parser().parse_args(argv)
    return int(args.handler(args) or 0)


def tiny_runs(root: Path) -> dict[str, Path]:
    """A moving-squares dataset and tiny-preset autoencoder and world-model runs trained for 2
    steps each on it: ``{"dataset", "ae", "wm"}``."""
    dataset = write_dataset(root / "data")
    common = ["--dataset", str(dataset), "--preset", "tiny", "--steps", "2", "--batch-size", "2"]
    assert run_cli(["train", "autoencoder", *common, "--out", str(root / "ae"), "--held-out", "0"]) == 0
    argv = ["train", "world-model", *common, "--autoencoder", str(root / "ae"), "--out", str(root / "wm")]
    assert run_cli([*argv, "--preview-every", "0"]) == 0
    return {"dataset": dataset, "ae": root / "ae", "wm": root / "wm"}
