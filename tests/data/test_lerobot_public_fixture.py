"""Our reader on a dataset written by hand to the public LeRobot v3 layout (AV1, variants)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from public_lerobot_fixture import write_public_dataset
from synthetic_episodes import make_episode

from worldalign.data.lerobot_reader import LeRobotDataset
from worldalign.errors import ConfigError


@pytest.fixture(scope="module")
def public_dataset(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[dict]]:
    episodes = []
    for seed, length in enumerate((24, 30, 18, 27)):
        episode = make_episode(
            seed, length=length, size=32, views=("top",), task=("pick", "place")[seed % 2], simulated=False
        )
        episodes.append(
            {
                "frames": episode.frames[0],
                "actions": episode.actions,
                "state": episode.state,
                "instruction": episode.instruction,
            }
        )
    root = tmp_path_factory.mktemp("public") / "dataset"
    write_public_dataset(root, episodes)
    return root, episodes


def test_reads_a_dataset_from_another_writer(public_dataset: tuple[Path, list[dict]]) -> None:
    root, written = public_dataset
    dataset = LeRobotDataset(root)
    assert dataset.num_episodes == 4 and dataset.views == ("top",) and dataset.fps == 10
    assert (dataset.action_dim, dataset.state_dim) == (4, 5)
    assert dataset.instructions == [ep["instruction"] for ep in written]
    assert dataset.task_names == dataset.instructions  # no worldalign/task_name: the instruction
    # Reverse order forces seeks into the middle of AV1 groups of pictures.
    for index in (3, 1, 2, 0):
        episode = dataset.episode(index)
        assert (
            episode.success is None
            and episode.privileged == {}
            and episode.snapshots is None
            and episode.layout is None
        )
        assert np.array_equal(episode.actions, written[index]["actions"])
        assert np.array_equal(episode.state, written[index]["state"])
        assert episode.frames.shape == (1, len(written[index]["frames"]), 32, 32, 3)
        mse = np.mean((episode.frames[0].astype(np.float64) - written[index]["frames"]) ** 2)
        assert 10 * np.log10(255**2 / mse) > 30


def test_unknown_camera_names_the_cameras(public_dataset: tuple[Path, list[dict]]) -> None:
    dataset = LeRobotDataset(public_dataset[0])
    with pytest.raises(ConfigError, match=r"camera 'wrist' is not in .*; its cameras are \['top'\]"):
        dataset.episode(0, views=["wrist"])
