"""A LeRobot v3.0 dataset written by hand from the public layout, independently of our writer.

It uses the variants another writer produces (docs/LEROBOT_V3.md, "varies"): a
``video_info`` dict instead of ``info``, plain (not fixed-size) lists, the tasks string column
``__index_level_0__``, info.json keys in another order, one AV1 (libsvtav1, yuv420p) mp4 for
all episodes, and an extra ``next.done`` feature that worldalign does not use.
"""

from __future__ import annotations

import fractions
import json
from pathlib import Path

import av
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

CAMERA = "observation.images.top"


def write_public_dataset(root: Path, episodes: list[dict], *, fps: int = 10) -> None:
    """Write ``episodes`` (dicts with ``frames`` (T, H, W, 3) uint8, ``actions`` (T, A),
    ``state`` (T, S), ``instruction``) as a LeRobot v3.0 dataset at ``root``."""
    lengths = [len(ep["frames"]) for ep in episodes]
    height, width = episodes[0]["frames"].shape[1:3]
    action_dim, state_dim = episodes[0]["actions"].shape[1], episodes[0]["state"].shape[1]
    instructions = list(dict.fromkeys(ep["instruction"] for ep in episodes))

    video = root / "videos" / CAMERA / "chunk-000" / "file-000.mp4"
    video.parent.mkdir(parents=True)
    _write_av1(video, np.concatenate([ep["frames"] for ep in episodes]), fps)

    rows: dict[str, list] = {
        name: []
        for name in (
            "observation.state",
            "action",
            "next.done",
            "timestamp",
            "frame_index",
            "episode_index",
            "index",
            "task_index",
        )
    }
    global_index = 0
    for e, ep in enumerate(episodes):
        for t in range(lengths[e]):
            rows["observation.state"].append(ep["state"][t].tolist())
            rows["action"].append(ep["actions"][t].tolist())
            rows["next.done"].append(t == lengths[e] - 1)
            rows["timestamp"].append(t / fps)
            rows["frame_index"].append(t)
            rows["episode_index"].append(e)
            rows["index"].append(global_index)
            rows["task_index"].append(instructions.index(ep["instruction"]))
            global_index += 1
    data = pa.table(
        {
            "observation.state": pa.array(rows["observation.state"], pa.list_(pa.float32())),
            "action": pa.array(rows["action"], pa.list_(pa.float32())),
            "next.done": pa.array(rows["next.done"], pa.bool_()),
            "timestamp": pa.array(rows["timestamp"], pa.float32()),
            "frame_index": pa.array(rows["frame_index"], pa.int64()),
            "episode_index": pa.array(rows["episode_index"], pa.int64()),
            "index": pa.array(rows["index"], pa.int64()),
            "task_index": pa.array(rows["task_index"], pa.int64()),
        }
    )
    (root / "data" / "chunk-000").mkdir(parents=True)
    pq.write_table(data, root / "data" / "chunk-000" / "file-000.parquet")

    starts = np.concatenate([[0], np.cumsum(lengths)])
    episodes_table = pa.table(
        {
            "episode_index": list(range(len(episodes))),
            "tasks": [[ep["instruction"]] for ep in episodes],
            "length": lengths,
            "data/chunk_index": [0] * len(episodes),
            "data/file_index": [0] * len(episodes),
            "dataset_from_index": starts[:-1].tolist(),
            "dataset_to_index": starts[1:].tolist(),
            f"videos/{CAMERA}/chunk_index": [0] * len(episodes),
            f"videos/{CAMERA}/file_index": [0] * len(episodes),
            f"videos/{CAMERA}/from_timestamp": (starts[:-1] / fps).tolist(),
            f"videos/{CAMERA}/to_timestamp": (starts[1:] / fps).tolist(),
            "meta/episodes/chunk_index": [0] * len(episodes),
            "meta/episodes/file_index": [0] * len(episodes),
        }
    )
    (root / "meta" / "episodes" / "chunk-000").mkdir(parents=True)
    pq.write_table(episodes_table, root / "meta" / "episodes" / "chunk-000" / "file-000.parquet")
    # An unnamed pandas index is stored as the column __index_level_0__ (LeRobot v0.4).
    pd.DataFrame({"task_index": range(len(instructions))}, index=instructions).to_parquet(
        root / "meta" / "tasks.parquet"
    )

    scalar = {"shape": [1], "names": None}
    info = {
        "features": {
            CAMERA: {
                "dtype": "video",
                "shape": [height, width, 3],
                "names": ["height", "width", "channels"],
                "video_info": {
                    "video.fps": float(fps),
                    "video.codec": "av1",
                    "video.pix_fmt": "yuv420p",
                    "video.is_depth_map": False,
                    "has_audio": False,
                },
            },
            "observation.state": {
                "dtype": "float32",
                "shape": [state_dim],
                "names": {"motors": [f"m{i}" for i in range(state_dim)]},
            },
            "action": {"dtype": "float32", "shape": [action_dim], "names": [f"a{i}" for i in range(action_dim)]},
            "next.done": {"dtype": "bool", **scalar},
            "timestamp": {"dtype": "float32", **scalar},
            "frame_index": {"dtype": "int64", **scalar},
            "episode_index": {"dtype": "int64", **scalar},
            "index": {"dtype": "int64", **scalar},
            "task_index": {"dtype": "int64", **scalar},
        },
        "fps": fps,
        "total_frames": int(starts[-1]),
        "total_episodes": len(episodes),
        "video_path": "videos/{video_key}/chunk-{chunk_index:03d}/file-{file_index:03d}.mp4",
        "data_path": "data/chunk-{chunk_index:03d}/file-{file_index:03d}.parquet",
        "splits": {"train": f"0:{len(episodes)}"},
        "total_tasks": len(instructions),
        "robot_type": "koch",
        "codebase_version": "v3.0",
        "chunks_size": 1000,
        "data_files_size_in_mb": 100,
        "video_files_size_in_mb": 500,
    }
    (root / "meta" / "info.json").write_text(json.dumps(info, indent=4))


def _write_av1(path: Path, frames: np.ndarray, fps: int) -> None:
    """One continuous AV1 stream (keyframes only where the encoder puts them)."""
    with av.open(str(path), mode="w") as container:
        stream = container.add_stream("libsvtav1", rate=fps)
        stream.width, stream.height = frames.shape[2], frames.shape[1]
        stream.pix_fmt = "yuv420p"
        stream.options = {"crf": "20", "preset": "10"}
        stream.codec_context.time_base = fractions.Fraction(1, fps)
        for i, image in enumerate(frames):
            frame = av.VideoFrame.from_ndarray(image, format="rgb24")
            frame.pts = i
            container.mux(stream.encode(frame))
        container.mux(stream.encode(None))
