"""Damaged or inconsistent datasets: each is a DatasetError naming the file, field and expectation."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from worldalign.data.lerobot_reader import LeRobotDataset
from worldalign.errors import ConfigError, DatasetError


def first_episode_video(root: Path) -> Path:
    return root / "videos/observation.images.front/chunk-000/file-000.mp4"


def edit_info(root: Path, **changes: object) -> None:
    path = root / "meta/info.json"
    info = json.loads(path.read_text())
    info.update(changes)
    path.write_text(json.dumps(info))


def test_missing_info_json(dataset_copy: Path) -> None:
    (dataset_copy / "meta/info.json").unlink()
    with pytest.raises(DatasetError, match=r"meta/info\.json: not found"):
        LeRobotDataset(dataset_copy)


def test_missing_data_parquet(dataset_copy: Path) -> None:
    (dataset_copy / "data/chunk-000/file-001.parquet").unlink()
    with pytest.raises(
        DatasetError, match=r"data/chunk-000/file-001\.parquet: data file missing; meta/episodes places episodes \d"
    ):
        LeRobotDataset(dataset_copy)


def test_truncated_data_parquet(dataset_copy: Path) -> None:
    path = dataset_copy / "data/chunk-000/file-000.parquet"
    path.write_bytes(path.read_bytes()[:200])
    with pytest.raises(
        DatasetError, match=r"data/chunk-000/file-000\.parquet: cannot read the data parquet \(truncated or corrupt\)"
    ):
        LeRobotDataset(dataset_copy)


def test_missing_mp4(dataset_copy: Path) -> None:
    first_episode_video(dataset_copy).unlink()
    with pytest.raises(
        DatasetError,
        match=r"observation\.images\.front/chunk-000/file-000\.mp4: video file missing; "
        r"meta/episodes places episode \d",
    ):
        LeRobotDataset(dataset_copy)


def test_truncated_mp4_on_open(dataset_copy: Path) -> None:
    path = first_episode_video(dataset_copy)
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    with pytest.raises(
        DatasetError,
        match=r"file-000\.mp4: cannot open the video \(truncated or corrupt\)"
        r".*expects about \d+ frames in it .*found none readable",
    ):
        LeRobotDataset(dataset_copy)


def test_mp4_shorter_than_promised_on_read(dataset_copy: Path) -> None:
    # Move the last episode of the first front video one frame later: its last frame is missing.
    path = dataset_copy / "meta/episodes/chunk-000/file-000.parquet"
    table = pq.read_table(path)
    prefix = "videos/observation.images.front"
    last = max(i for i, file_index in enumerate(table.column(f"{prefix}/file_index").to_pylist()) if file_index == 0)
    for field in ("from_timestamp", "to_timestamp"):
        values = table.column(f"{prefix}/{field}").to_pylist()
        values[last] += 0.1
        table = table.set_column(
            table.schema.get_field_index(f"{prefix}/{field}"), f"{prefix}/{field}", pa.array(values, pa.float64())
        )
    pq.write_table(table, path)
    length = table.column("length")[last].as_py()
    dataset = LeRobotDataset(dataset_copy)  # one frame short passes the open-time check (containers vary)
    with pytest.raises(
        DatasetError,
        match=rf"episode {last}, observation\.images\.front: .*file-000\.mp4: "
        rf"expected {length} frames from t=\S+s, found {length - 1}",
    ):
        dataset.episode(last)


def test_info_total_frames_disagrees_with_files(dataset_copy: Path) -> None:
    edit_info(dataset_copy, total_frames=999)
    with pytest.raises(
        DatasetError, match=r"info\.json: total_frames is 999, the episode lengths in meta/episodes sum to 75"
    ):
        LeRobotDataset(dataset_copy)


def test_info_total_episodes_disagrees_with_files(dataset_copy: Path) -> None:
    edit_info(dataset_copy, total_episodes=7)
    with pytest.raises(DatasetError, match=r"info\.json: total_episodes is 7, meta/episodes lists 6 episodes"):
        LeRobotDataset(dataset_copy)


def test_feature_missing_from_parquet(dataset_copy: Path) -> None:
    info = json.loads((dataset_copy / "meta/info.json").read_text())
    edit_info(
        dataset_copy, features={"next.reward": {"dtype": "float32", "shape": [1], "names": None}, **info["features"]}
    )
    with pytest.raises(
        DatasetError,
        match=r"file-000\.parquet: no column for feature\(s\) \['next\.reward'\] declared in meta/info\.json",
    ):
        LeRobotDataset(dataset_copy)


def test_action_count_differs_from_frame_count(dataset_copy: Path) -> None:
    # Drop the first row (a frame and its action) of episode 0: meta/episodes still says 10 frames.
    path = dataset_copy / "data/chunk-000/file-000.parquet"
    table = pq.read_table(path)
    pq.write_table(table.slice(1), path)
    with pytest.raises(
        DatasetError, match=r"file-000\.parquet: episode 0 has 9 rows \(frames, actions\), meta/episodes says length 10"
    ):
        LeRobotDataset(dataset_copy)


def test_null_actions_are_named(dataset_copy: Path) -> None:
    path = dataset_copy / "data/chunk-000/file-000.parquet"
    table = pq.read_table(path)
    actions = table.column("action").to_pylist()
    actions[3] = None
    table = table.set_column(
        table.schema.get_field_index("action"), "action", pa.array(actions, table.schema.field("action").type)
    )
    pq.write_table(table, path)
    with pytest.raises(DatasetError, match=r"file-000\.parquet: column 'action' of episode 0: 1 of 10 rows are null"):
        LeRobotDataset(dataset_copy).episode(0)


def test_unknown_camera(written_dataset: Path) -> None:
    with pytest.raises(ConfigError, match=r"camera 'top' is not in .*; its cameras are \['front', 'wrist'\]"):
        LeRobotDataset(written_dataset).episode(0, views=["top"])
