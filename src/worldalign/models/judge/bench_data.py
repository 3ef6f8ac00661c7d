"""Read the judge benchmark that ``worldalign judge-bench build`` writes (``worldalign.judge_bench.storage``).

The dimensions, their ranges and the views come from the folder's ``meta.json``, so this reader
holds no copy of the label rules.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from safetensors.torch import load_file
from torch import Tensor

from worldalign.data.lerobot_reader import LeRobotDataset
from worldalign.errors import DatasetError

FORMAT = "worldalign.judge_bench/1"


@dataclass
class JudgeData:
    """Labelled (or teacher-labelled) videos in storage layout.

    Attributes:
        frames: ``(N, V, T, H, W, 3)`` uint8.
        actions: ``(N, T, A)`` float32 or ``None`` when the videos have no actions.
        scores: ``(N, 6)`` float32 raw scores (``0..max_scores``).
        instructions: the N instructions.
        items: one row per item (task, source, detail, ...); empty columns for unlabelled data.
    """

    frames: Tensor
    actions: Tensor | None
    scores: Tensor
    instructions: list[str]
    items: pd.DataFrame

    def __len__(self) -> int:
        return int(self.frames.shape[0])


@dataclass(frozen=True)
class BenchMeta:
    """What ``meta.json`` says: dimension keys and ranges, views, frame shape, item counts."""

    keys: tuple[str, ...]
    titles: tuple[str, ...]
    max_scores: tuple[int, ...]
    views: tuple[str, ...]
    frame_shape: tuple[int, ...]
    splits: dict[str, int]


def read_meta(folder: str | Path) -> BenchMeta:
    """The benchmark's ``meta.json``; ``DatasetError`` for a missing or foreign folder."""
    path = Path(folder) / "meta.json"
    if not path.is_file():
        raise DatasetError(f"{path} not found: {folder} is not a finished judge benchmark (run `worldalign judge-bench build`)")
    meta = json.loads(path.read_text())
    if meta.get("format") != FORMAT:
        raise DatasetError(f"{path}: format {meta.get('format')!r}, expected {FORMAT!r}")
    dims = meta["dimensions"]
    return BenchMeta(
        keys=tuple(d["key"] for d in dims),
        titles=tuple(d["title"] for d in dims),
        max_scores=tuple(int(d["max_score"]) for d in dims),
        views=tuple(meta["views"]),
        frame_shape=tuple(meta["frame_shape"]),
        splits={str(k): int(v) for k, v in meta["splits"].items()},
    )


def load_split(folder: str | Path, split: str) -> JudgeData:
    """All items of ``split`` (``train``, ``val``, ``test``, ``heldout_test``)."""
    folder = Path(folder)
    meta = read_meta(folder)
    if split not in meta.splits:
        raise DatasetError(f"{folder}: no split {split!r}; it has {sorted(meta.splits)}")
    table_path = folder / split / "items.parquet"
    if not table_path.is_file():
        raise DatasetError(f"{table_path} not found although meta.json lists split {split!r}")
    items = pd.read_parquet(table_path)
    frames, actions, scores = [], [], []
    for shard in sorted(items["shard"].unique()):
        path = folder / split / f"shard-{int(shard):03d}.safetensors"
        if not path.is_file():
            raise DatasetError(f"{path} not found (listed in {table_path})")
        tensors = load_file(path)
        frames.append(tensors["frames"])
        actions.append(tensors["actions"])
        scores.append(tensors["scores"])
    data = JudgeData(
        frames=torch.cat(frames),
        actions=torch.cat(actions),
        scores=torch.cat(scores),
        instructions=items["instruction"].tolist(),
        items=items,
    )
    if len(data) != meta.splits[split] or len(items) != len(data):
        raise DatasetError(
            f"{folder}/{split}: meta.json says {meta.splits[split]} items, the table has {len(items)}, the shards {len(data)}"
        )
    return data


def dataset_as_judge_data(folder: Path, views: tuple[str, ...]) -> JudgeData:
    """Every episode of a LeRobot dataset as an unlabelled ``JudgeData`` (scores NaN)."""
    dataset = LeRobotDataset(folder)
    missing = sorted(set(views) - set(dataset.views))
    if missing:
        raise DatasetError(f"{folder}: the judge needs views {list(views)}, the dataset lacks {missing} (it has {list(dataset.views)})")
    episodes = [dataset.episode(i, views=views) for i in range(dataset.num_episodes)]
    length = min(e.length for e in episodes)
    frames = torch.from_numpy(np.stack([e.frames[:, :length] for e in episodes]))
    actions = torch.from_numpy(np.stack([e.actions[:length] for e in episodes])).float()
    return JudgeData(
        frames=frames,
        actions=actions,
        scores=torch.full((len(episodes), 6), float("nan")),
        instructions=[e.instruction for e in episodes],
        items=pd.DataFrame({"task": [e.task for e in episodes], "episode": list(range(len(episodes)))}),
    )
