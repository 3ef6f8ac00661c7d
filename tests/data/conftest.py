"""Shared fixtures of the data tests: one small dataset written once per session."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from synthetic_episodes import VIEWS, make_episode

from worldalign.data.lerobot_writer import LeRobotWriter
from worldalign.data.types import Episode

# Small size limits so that 6 episodes spread over several data files and video files.
DATA_MB = 0.002
VIDEO_MB = 0.004


def episodes_for_dataset() -> list[Episode]:
    """Six episodes of two tasks, lengths 10..15."""
    return [make_episode(seed, length=10 + seed, task=("reach-v3", "push-v3")[seed % 2]) for seed in range(6)]


@pytest.fixture(scope="session")
def dataset_episodes() -> list[Episode]:
    """The episodes written to ``written_dataset``."""
    return episodes_for_dataset()


@pytest.fixture(scope="session")
def written_dataset(tmp_path_factory: pytest.TempPathFactory, dataset_episodes: list[Episode]) -> Path:
    """A lossless dataset of ``dataset_episodes`` (read-only: copy it before changing it)."""
    root = tmp_path_factory.mktemp("lerobot") / "dataset"
    with LeRobotWriter(
        root,
        fps=10,
        views=VIEWS,
        image_size=(16, 16),
        action_dim=4,
        state_dim=5,
        data_files_size_in_mb=DATA_MB,
        video_files_size_in_mb=VIDEO_MB,
    ) as writer:
        for episode in dataset_episodes:
            writer.add_episode(episode)
    return root


@pytest.fixture
def dataset_copy(written_dataset: Path, tmp_path: Path) -> Path:
    """A private copy of ``written_dataset`` that a test may damage."""
    return Path(shutil.copytree(written_dataset, tmp_path / "dataset"))
