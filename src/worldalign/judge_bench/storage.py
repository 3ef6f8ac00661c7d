"""The judge benchmark on disk: per-split safetensors shards, a parquet item table, JSON meta.

```
OUT/meta.json                       format, build config, dimensions + ranges, views, counts; written last
OUT/<split>/shard-000.safetensors   frames (N, V, T, H, W, 3) uint8, actions (N, T, 4) float32, scores (N, 6) float32
OUT/<split>/items.parquet           one row per item: shard, row, instruction, task, source, detail, unit, sim_seed, scores
OUT/score_distribution.md|.json     how many items have each score, per dimension and split
```

Readers (``worldalign.models.judge.bench_data``) take the dimensions and ranges from
``meta.json``, so the label rules (``worldalign.judge_bench.labels``) are their one source. Every file
is written atomically, ``meta.json`` last: a folder without it is an unfinished build.
"""

from __future__ import annotations

import dataclasses
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from safetensors.numpy import save_file
from tqdm import tqdm

from worldalign.judge_bench.labels import DIMENSIONS
from worldalign.utils.atomic import atomic_path, atomic_write_bytes, atomic_write_json

FORMAT = "worldalign.judge_bench/1"
META_FILE = "meta.json"
ITEMS_FILE = "items.parquet"
SHARD_ITEMS = 256
"""Items per shard (~150 MB at 3 views x 16 frames x 64 px)."""


@dataclass
class BenchItem:
    """One labelled benchmark item.

    Attributes:
        frames: ``(V, T, H, W, 3)`` uint8.
        actions: ``(T, 4)`` float32; ``actions[t]`` is the mean policy action from frame ``t`` to ``t + 1``.
        scores: ``(6,)`` float32 in ``worldalign.judge_bench.labels.DIMENSIONS`` order.
        instruction, task, source, detail: the instruction shown with the video, the video's
            task, the source that made the item and what exactly it did.
        split: ``train``, ``val``, ``test`` or ``heldout_test``.
        unit, sim_seed: the unit index within the task, and the simulation seed of the video.
    """

    frames: np.ndarray
    actions: np.ndarray
    scores: np.ndarray
    instruction: str
    task: str
    source: str
    detail: str
    split: str
    unit: int
    sim_seed: int


def score_distribution(items: list[BenchItem]) -> dict[str, dict[str, dict[str, int]]]:
    """``{split or "all": {dimension: {score: count}}}``."""
    table: dict[str, dict[str, dict[str, int]]] = {}
    for split in ["all", *sorted({item.split for item in items})]:
        chosen = [item for item in items if split in ("all", item.split)]
        table[split] = {}
        for column, dimension in enumerate(DIMENSIONS):
            counts = Counter(int(item.scores[column]) for item in chosen)
            table[split][dimension.key] = {str(score): counts.get(score, 0) for score in range(dimension.max_score + 1)}
    return table


def distribution_markdown(table: dict[str, dict[str, dict[str, int]]]) -> str:
    """The distribution as markdown tables: one row per dimension, one column per score."""
    lines = []
    for split, per_dimension in table.items():
        lines += [f"### {split}", "", "| dimension | 0 | 1 | 2 | 3 |", "|---|---:|---:|---:|---:|"]
        for dimension in DIMENSIONS:
            counts = per_dimension[dimension.key]
            cells = [str(counts.get(str(score), "")) if score <= dimension.max_score else "-" for score in range(4)]
            lines.append(f"| {dimension.title} (0-{dimension.max_score}) | " + " | ".join(cells) + " |")
        lines.append("")
    return "\n".join(lines)


def source_table(items: list[BenchItem]) -> dict[str, int]:
    """Items per source."""
    return dict(Counter(item.source for item in items))


def write_benchmark(out: str | Path, items: list[BenchItem], config: Any, *, progress: bool = True) -> dict[str, int]:
    """Write ``items`` under ``out`` (see the module docstring); returns the items per split."""
    out = Path(out)
    meta_path = out / META_FILE
    if meta_path.exists():
        meta_path.unlink()  # the folder is unfinished until the new meta.json lands
    counts: dict[str, int] = {}
    for split in sorted({item.split for item in items}):
        chosen = [item for item in items if item.split == split]
        counts[split] = len(chosen)
        rows = []
        shards = range(0, len(chosen), SHARD_ITEMS)
        for shard, begin in enumerate(tqdm(shards, desc=f"writing {split}", disable=not progress)):
            block = chosen[begin : begin + SHARD_ITEMS]
            tensors = {
                "frames": np.stack([item.frames for item in block]),
                "actions": np.stack([item.actions for item in block]).astype(np.float32),
                "scores": np.stack([item.scores for item in block]).astype(np.float32),
            }
            with atomic_path(out / split / f"shard-{shard:03d}.safetensors") as tmp:
                save_file(tensors, str(tmp))
            for row, item in enumerate(block):
                rows.append(
                    {
                        "shard": shard,
                        "row": row,
                        "instruction": item.instruction,
                        "task": item.task,
                        "source": item.source,
                        "detail": item.detail,
                        "unit": item.unit,
                        "sim_seed": item.sim_seed,
                        **{d.key: float(item.scores[i]) for i, d in enumerate(DIMENSIONS)},
                    }
                )
        with atomic_path(out / split / ITEMS_FILE) as tmp:
            pd.DataFrame(rows).to_parquet(tmp, index=False)
    table = score_distribution(items)
    atomic_write_json(out / "score_distribution.json", {"sources": source_table(items), "scores": table})
    atomic_write_bytes(out / "score_distribution.md", (distribution_markdown(table) + "\n").encode())
    first = items[0]
    atomic_write_json(
        meta_path,
        {
            "format": FORMAT,
            "config": dataclasses.asdict(config),
            "dimensions": [{"key": d.key, "title": d.title, "max_score": d.max_score} for d in DIMENSIONS],
            "views": list(config.views),
            "frame_shape": list(first.frames.shape),
            "action_dim": int(first.actions.shape[-1]),
            "splits": counts,
            "shard_items": SHARD_ITEMS,
        },
    )
    return counts
