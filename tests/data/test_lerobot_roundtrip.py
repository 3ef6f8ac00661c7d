"""LeRobotWriter -> LeRobotDataset: exact round trip and the on-disk layout of LeRobot v3.0."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from synthetic_episodes import VIEWS, make_episode

from worldalign.data.lerobot_reader import LeRobotDataset
from worldalign.data.lerobot_writer import LeRobotWriter
from worldalign.data.types import PRIVILEGED_FIELDS, Episode
from worldalign.errors import ConfigError, DatasetError


def assert_same_episode(read: Episode, written: Episode) -> None:
    assert read.task == written.task and read.instruction == written.instruction
    assert read.views == written.views and read.fps == written.fps
    assert np.array_equal(read.frames, written.frames)
    assert np.array_equal(read.actions, written.actions) and read.actions.dtype == np.float32
    assert np.array_equal(read.state, written.state)
    assert read.privileged.keys() == written.privileged.keys()
    for name, values in written.privileged.items():
        assert np.array_equal(read.privileged[name].reshape(values.shape), values)
    assert np.array_equal(read.snapshots, written.snapshots) and read.snapshots.dtype == np.float64
    assert np.array_equal(read.layout, written.layout)
    assert read.success == written.success and read.metadata == written.metadata


def test_round_trip_is_exact_across_several_files(written_dataset: Path, dataset_episodes: list[Episode]) -> None:
    data_files = sorted((written_dataset / "data").rglob("*.parquet"))
    video_files = sorted((written_dataset / "videos" / "observation.images.front").rglob("*.mp4"))
    assert len(data_files) >= 3 and len(video_files) >= 2  # the size limits split the episodes

    dataset = LeRobotDataset(written_dataset)
    assert dataset.num_episodes == 6 and dataset.fps == 10 and dataset.views == VIEWS
    assert (dataset.action_dim, dataset.state_dim) == (4, 5)
    assert dataset.episode_lengths.tolist() == [10, 11, 12, 13, 14, 15]
    assert dataset.instructions == [ep.instruction for ep in dataset_episodes]
    assert dataset.task_names == [ep.task for ep in dataset_episodes]
    for read, written in zip(dataset.iter_episodes(), dataset_episodes, strict=True):
        assert_same_episode(read, written)
    # Random access and a subset of cameras, in the requested order.
    wrist = dataset.episode(4, views=["wrist"])
    assert wrist.views == ("wrist",) and np.array_equal(wrist.frames[0], dataset_episodes[4].frames[1])
    backwards = list(dataset.iter_episodes([5, 0]))
    assert np.array_equal(backwards[1].frames, dataset_episodes[0].frames)


def test_layout_follows_lerobot_v3(written_dataset: Path, dataset_episodes: list[Episode]) -> None:
    info = json.loads((written_dataset / "meta/info.json").read_text())
    assert info["codebase_version"] == "v3.0" and info["fps"] == 10 and isinstance(info["fps"], int)
    assert info["total_episodes"] == 6 and info["total_frames"] == 75 and info["total_tasks"] == 2
    assert info["splits"] == {"train": "0:6"}
    assert info["data_path"] == "data/chunk-{chunk_index:03d}/file-{file_index:03d}.parquet"
    assert info["video_path"] == "videos/{video_key}/chunk-{chunk_index:03d}/file-{file_index:03d}.mp4"
    features = info["features"]
    assert list(features)[-5:] == ["timestamp", "frame_index", "episode_index", "index", "task_index"]
    camera = features["observation.images.front"]
    assert (
        camera["dtype"] == "video"
        and camera["shape"] == [16, 16, 3]
        and camera["names"] == ["height", "width", "channels"]
    )
    assert camera["info"]["video.codec"] == "h264" and camera["info"]["video.pix_fmt"] == "rgb24"
    assert features["action"] == {"dtype": "float32", "shape": [4], "names": None}
    assert features["sim.snapshot"]["dtype"] == "float64"
    assert {f"privileged.{name}" for name in PRIVILEGED_FIELDS} <= set(features)

    data = pq.read_table(written_dataset / "data/chunk-000/file-000.parquet")
    assert data.schema.field("action").type == pa.list_(pa.float32(), 4)  # fixed-size list
    assert data.schema.field("privileged.success").type == pa.float32()  # shape [1] is a scalar
    assert data.column("timestamp").to_pylist()[:3] == pytest.approx([0.0, 0.1, 0.2])

    episodes = pq.read_table(written_dataset / "meta/episodes/chunk-000/file-000.parquet").to_pylist()
    assert [row["dataset_from_index"] for row in episodes] == [0, 10, 21, 33, 46, 60]
    assert episodes[1]["tasks"] == [dataset_episodes[1].instruction]
    assert episodes[1]["worldalign/task_name"] == "push-v3" and episodes[1]["worldalign/success"] is True
    assert json.loads(episodes[1]["worldalign/metadata"]) == {"seed": 1, "noise": 0.1}
    assert episodes[1]["sim/layout"] == dataset_episodes[1].layout.tolist()
    for row in episodes:  # an episode's frames span [from, to) in its video file
        key = "videos/observation.images.front"
        assert row[f"{key}/to_timestamp"] - row[f"{key}/from_timestamp"] == pytest.approx(row["length"] / 10)
    assert np.asarray(episodes[0]["stats/observation.images.front/mean"]).shape == (3, 1, 1)

    tasks = pd.read_parquet(written_dataset / "meta/tasks.parquet")
    assert tasks.loc[dataset_episodes[0].instruction, "task_index"] == 0

    stats = json.loads((written_dataset / "meta/stats.json").read_text())
    image_mean = np.asarray(stats["observation.images.wrist"]["mean"])
    assert image_mean.shape == (3, 1, 1) and image_mean.min() >= 0 and image_mean.max() <= 1
    all_actions = np.concatenate([ep.actions for ep in dataset_episodes])
    assert np.allclose(stats["action"]["mean"], all_actions.mean(0), atol=1e-6)
    assert np.allclose(stats["action"]["std"], all_actions.std(0), atol=1e-6)
    assert stats["action"]["count"] == [75]
    assert {"min", "max", "q01", "q99"} <= set(stats["observation.state"])


def test_lossy_dataset_decodes_close(tmp_path: Path) -> None:
    episodes = [make_episode(seed, length=12 + seed, size=32) for seed in range(3)]
    with LeRobotWriter(
        tmp_path / "d", fps=10, views=VIEWS, image_size=(32, 32), action_dim=4, state_dim=5, lossless=False
    ) as writer:
        for episode in episodes:
            writer.add_episode(episode)
    dataset = LeRobotDataset(tmp_path / "d")
    assert dataset.features["observation.images.front"]["info"]["video.pix_fmt"] == "yuv420p"
    def psnr(a: np.ndarray, b: np.ndarray) -> float:
        return float(10 * np.log10(255**2 / np.mean((a.astype(np.float64) - b) ** 2)))

    for read, written in zip(dataset.iter_episodes(), episodes, strict=True):
        # crf 23 on these 32 px random-colour frames measures 35.8 / 30.0 / 31.4 dB (libx264's
        # thread timing can move it by a few hundredths); a frame shifted by one scores 25.8-28.5
        # and swapped colour channels about 9, so both the level and the alignment are checked.
        aligned = psnr(read.frames, written.frames)
        assert aligned > 29
        assert aligned > psnr(read.frames[:, 1:], written.frames[:, :-1]) + 1
        assert np.array_equal(read.actions, written.actions)


def test_real_robot_episode_without_extras(tmp_path: Path) -> None:
    episode = make_episode(0, simulated=False)
    with LeRobotWriter(tmp_path / "d", fps=10, views=VIEWS, image_size=(16, 16), action_dim=4, state_dim=5) as writer:
        writer.add_episode(episode)
    read = LeRobotDataset(tmp_path / "d").episode(0)
    assert read.privileged == {} and read.snapshots is None and read.layout is None and read.success is None
    assert "sim.snapshot" not in json.loads((tmp_path / "d/meta/info.json").read_text())["features"]


def test_interrupted_writer_leaves_no_info_json(tmp_path: Path) -> None:
    with (
        pytest.raises(RuntimeError),
        LeRobotWriter(tmp_path / "d", fps=10, views=VIEWS, image_size=(16, 16), action_dim=4, state_dim=5) as writer,
    ):
        writer.add_episode(make_episode(0))
        raise RuntimeError("generator crashed")
    assert not (tmp_path / "d/meta/info.json").exists()
    assert not list((tmp_path / "d").rglob("*.tmp*"))  # no half-written files either
    with pytest.raises(DatasetError, match=r"meta/info\.json: not found"):
        LeRobotDataset(tmp_path / "d")


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"views": ("wrist", "front")}, r"views \('wrist', 'front'\), expected \('front', 'wrist'\)"),
        ({"action_dim": 3}, r"actions have 3 dimensions, expected action_dim=4"),
        ({"fps": 5}, r"fps 5, expected the dataset's fps=10"),
        ({"size": 8}, r"frames are \(8, 8\) pixels, expected image_size \(16, 16\)"),
    ],
)
def test_writer_rejects_a_mismatching_episode(tmp_path: Path, change: dict, message: str) -> None:
    writer = LeRobotWriter(tmp_path / "d", fps=10, views=VIEWS, image_size=(16, 16), action_dim=4, state_dim=5)
    with pytest.raises(DatasetError, match=message):
        writer.add_episode(make_episode(0, **change))
    writer.abort()


def test_writer_refuses_an_existing_dataset_but_not_other_files(written_dataset: Path, tmp_path: Path) -> None:
    (tmp_path / "staging").mkdir()  # e.g. a generator's staged episodes beside the dataset
    with LeRobotWriter(tmp_path, fps=10, views=VIEWS, image_size=(16, 16), action_dim=4, state_dim=5) as writer:
        writer.add_episode(make_episode(0))
    assert LeRobotDataset(tmp_path).num_episodes == 1
    with pytest.raises(DatasetError, match=r"already holds dataset folder\(s\) \['meta', 'data', 'videos'\]"):
        LeRobotWriter(written_dataset, fps=10, views=VIEWS, image_size=(16, 16), action_dim=4, state_dim=5)
    with pytest.raises(ConfigError, match="fps=0"):
        LeRobotWriter(
            written_dataset.parent / "new", fps=0, views=VIEWS, image_size=(16, 16), action_dim=4, state_dim=5
        )


def test_episode_facts_without_decoding(written_dataset: Path, dataset_episodes: list[Episode]) -> None:
    dataset = LeRobotDataset(written_dataset)
    assert [dataset.episode_task(i) for i in range(6)] == [ep.task for ep in dataset_episodes]
    assert [dataset.episode_success(i) for i in range(6)] == [ep.success for ep in dataset_episodes]
    assert dataset.episodes_by_task() == {"reach-v3": [0, 2, 4], "push-v3": [1, 3, 5]}
    with pytest.raises(ConfigError, match=r"episode index 6 out of range: .* has episodes 0\.\.5"):
        dataset.episode_task(6)
