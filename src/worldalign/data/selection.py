"""Choosing a dataset's views and checking that its frames fit a model."""

from __future__ import annotations

from collections.abc import Sequence

from worldalign.data.latent_shards import LatentShards
from worldalign.data.lerobot_reader import LeRobotDataset
from worldalign.errors import ConfigError


def select_views(dataset: LeRobotDataset | LatentShards, views: Sequence[str] | None) -> tuple[str, ...]:
    """``views`` checked to be the dataset's, or its latents' (all of its views when None)."""
    if views is None:
        return dataset.views
    chosen = tuple(views)
    unknown = [view for view in chosen if view not in dataset.views]
    if unknown or not chosen:
        raise ConfigError(
            f"--views {','.join(chosen)!r}: unknown view(s) {unknown}; {dataset.root} has {list(dataset.views)}"
        )
    return chosen


def check_image_size(dataset: LeRobotDataset, views: Sequence[str], size: int, expected_by: str) -> None:
    """``ConfigError`` unless every view in ``views`` has ``size`` x ``size`` frames (what ``expected_by`` takes)."""
    for view in views:
        height, width = dataset.image_size(view)
        if (height, width) != (size, size):
            raise ConfigError(
                f"{dataset.root} view {view!r} has {height}x{width} frames, {expected_by} expects {size}x{size}: "
                "choose a preset of the dataset's size or generate the dataset at that size"
            )
