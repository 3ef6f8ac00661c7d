"""Replay from a dataset on disk: snapshots read back from a multi-task LeRobot dataset restore
the simulator exactly, so stored episodes can be re-executed (the executability evaluation
and the rollout-state RL of later issues start from them)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from worldalign.data.lerobot_reader import LeRobotDataset
from worldalign.envs.generate import GenerationConfig, generate_dataset
from worldalign.envs.metaworld_env import MetaWorldEnv
from worldalign.envs.snapshot import Snapshot


def test_snapshots_read_from_a_multi_task_dataset_replay_exactly(tmp_path: Path) -> None:
    # reach-v3 and drawer-close-v3 have simulator states of different sizes, so one of them
    # is stored NaN-padded to the dataset's snapshot width.
    config = GenerationConfig(
        tasks=("reach-v3", "drawer-close-v3"), episodes_per_task=1, noise=0.3, views=("oblique",),
        image_size=32, action_repeat=2, max_steps=16, seed=3,
    )
    generate_dataset(config, tmp_path / "ds", workers=1, progress=False)
    dataset = LeRobotDataset(tmp_path / "ds")
    widths = set()
    for index in range(dataset.num_episodes):
        episode = dataset.episode(index)
        assert episode.snapshots is not None and episode.layout is not None
        widths.add(int(np.isfinite(episode.snapshots[0]).sum()))
        start = 5
        snapshot = Snapshot.from_vector(episode.snapshots[start], episode.layout)
        with MetaWorldEnv(episode.task, views=episode.views, image_size=32) as env:
            result = env.execute(episode.actions[start:-1], from_snapshot=snapshot)
        np.testing.assert_array_equal(result.frames, episode.frames[:, start + 1 :])
        for name, values in result.privileged.items():
            np.testing.assert_array_equal(values, episode.privileged[name][start + 1 :].reshape(values.shape), err_msg=name)
    assert len(widths) == 2, "the two tasks' states differ in size, exercising the padding"
