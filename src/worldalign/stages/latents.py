"""Encode a dataset's frames once into latent shards (``data.latent_shards``), for training
the world model without decoding a video or running the autoencoder again.

The frozen autoencoder encodes every frame of every view of the chosen episodes (all of them by
default: the held-out episodes' latents serve for held-out losses), in the fixed micro-batches
of ``ClipLatentEncoder``, so each frame's latents are those a video-path training run computes.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from worldalign.data.latent_shards import LatentShardWriter, StorageDtype
from worldalign.data.lerobot_reader import LeRobotDataset
from worldalign.data.pixels import to_unit_range
from worldalign.data.selection import check_image_size, select_views
from worldalign.models.autoencoder.latent_cache import ClipLatentEncoder
from worldalign.models.checkpoint import MODEL_FILE
from worldalign.runs.loading import autoencoder_folder, load_autoencoder
from worldalign.runs.side_files import dataset_action_normalizer
from worldalign.utils.hashing import file_sha256


@dataclass(frozen=True)
class LatentEncoding:
    """What ``encode_latents`` wrote."""

    folder: Path
    episodes: int
    frames: int
    bytes_written: int
    relative_error: float


def encode_latents(
    dataset: LeRobotDataset,
    autoencoder: Path,
    out: Path,
    *,
    views: Sequence[str] | None = None,
    episodes: Sequence[int] | None = None,
    dtype: StorageDtype = "int8",
    episodes_per_shard: int = 64,
    progress: bool = True,
) -> LatentEncoding:
    """Encode ``episodes`` (default all) of ``dataset``'s ``views`` (default all) with the
    autoencoder of ``autoencoder`` (its run or model folder) into the latent folder ``out``."""
    views = select_views(dataset, views)
    folder = autoencoder_folder(autoencoder)
    model = load_autoencoder(folder)
    check_image_size(dataset, views, model.config.image_size, f"the autoencoder {folder}")
    selected = list(range(dataset.num_episodes)) if episodes is None else sorted(set(episodes))
    writer = LatentShardWriter(
        out,
        views=views,
        latent_shape=tuple(model.latent_shape),
        dtype=dtype,
        action_dim=dataset.action_dim,
        fps=dataset.fps,
        action_stats=dataset_action_normalizer(dataset),
        source={"dataset": str(dataset.root), "episodes": selected},
        autoencoder={"folder": str(folder), "sha256": file_sha256(folder / MODEL_FILE)},
        episodes_per_shard=episodes_per_shard,
    )
    encoder = ClipLatentEncoder(model, cache=False)
    frames = 0
    stream = tqdm(dataset.iter_episodes(selected, views), total=len(selected), desc="encoding", disable=not progress)
    for episode in stream:
        num_views, length = episode.frames.shape[:2]
        pixels = to_unit_range(np.ascontiguousarray(episode.frames.swapaxes(0, 1)))  # (T, V, 3, H, W)
        with torch.no_grad():
            latents = encoder.encode_frames(pixels.flatten(0, 1)).unflatten(0, (length, num_views))
        writer.add(episode.task, episode.instruction, latents, episode.actions)
        frames += length
    written = writer.close()
    size = sum(path.stat().st_size for path in written.iterdir())
    return LatentEncoding(written, len(selected), frames, size, writer.relative_error)
