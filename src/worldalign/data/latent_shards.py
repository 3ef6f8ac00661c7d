"""A dataset's frames encoded once by a frozen autoencoder: latent shards on disk.

World-model training never looks at pixels: it trains on the autoencoder's latents. Encoding
them once, before training, takes the video decoder and the encoder out of every step (and
PyAV and MuJoCo out of the training machine), and a whole data set of latents fits in a few tens
of MB (``stages.latents.encode_latents`` writes them; ``data.latent_clips.LatentClipSampler``
trains from them).

Layout of a latent folder::

    latents.json                 the index: format, views, latent shape, storage dtype, the
                                 autoencoder's sha256, the source dataset, and every episode
                                 (index, task, instruction, length, shard, first row)
    action_stats.json            the source dataset's action statistics (a stats.json)
    shard-00000.safetensors      "latents" (n, V, C, h, w) int8 or float16, "actions" (n, A)
    ...                          float32 as recorded, and for int8 "scales" (n, V, C) float16

int8 storage is symmetric per (frame, view, channel): ``latent = int8 * scale`` with ``scale =
max |latent| / 127`` over the h × w positions, so the rounding error of a value is at most half
its scale; float16 keeps the values themselves (twice the size).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from worldalign.data import lerobot_format as fmt
from worldalign.data.stats import Normalizer
from worldalign.errors import ConfigError, DatasetError
from worldalign.utils.atomic import atomic_path, atomic_write_json, make_folder

INDEX_FILE = "latents.json"
ACTION_STATS_FILE = "action_stats.json"
FORMAT = "worldalign-latents"
FORMAT_VERSION = 1
StorageDtype = Literal["int8", "float16"]
STORAGE_DTYPES: tuple[str, ...] = ("int8", "float16")


def shard_name(number: int) -> str:
    """The file name of shard ``number``."""
    return f"shard-{number:05d}.safetensors"


def quantize_int8(latents: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """``(n, V, C, h, w)`` float latents → int8 values and ``(n, V, C)`` float16 scales."""
    scales = (latents.abs().amax(dim=(-2, -1)) / 127.0).half()
    safe = scales.float().clamp_min(torch.finfo(torch.float16).tiny)[..., None, None]
    return (latents / safe).round().clamp(-127, 127).to(torch.int8), scales


def dequantize(values: torch.Tensor, scales: torch.Tensor | None) -> torch.Tensor:
    """Stored latents ``(..., C, h, w)`` (int8 with ``(..., C)`` scales, or float16) → float32."""
    if scales is None:
        return values.float()
    return values.float() * scales.float()[..., None, None]


@dataclass(frozen=True)
class LatentEpisode:
    """Where one episode's latents are: shard ``shard``, rows ``first .. first + length - 1``."""

    index: int
    task: str
    instruction: str
    length: int
    shard: int
    first: int


class LatentShards:
    """A latent folder, read: its index at once, its shards when ``load`` asks for them."""

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)
        path = self.root / INDEX_FILE
        if not path.is_file():
            raise DatasetError(
                f"{path}: not found; expected a latent folder written by `worldalign data encode` "
                f"(pass a dataset folder with --dataset instead)"
            )
        try:
            index = json.loads(path.read_text())
        except (json.JSONDecodeError, UnicodeDecodeError) as error:
            raise DatasetError(f"{path}: not valid JSON (truncated or corrupt): {error}") from None
        if not isinstance(index, dict) or index.get("format") != FORMAT or index.get("version") != FORMAT_VERSION:
            found = (index.get("format"), index.get("version")) if isinstance(index, dict) else type(index).__name__
            raise DatasetError(f"{path}: format {found}; expected ({FORMAT!r}, {FORMAT_VERSION})")
        self.index: dict[str, Any] = index
        self.views: tuple[str, ...] = tuple(index["views"])
        self.latent_shape: tuple[int, int, int] = tuple(index["latent_shape"])  # type: ignore[assignment]
        self.dtype: StorageDtype = index["dtype"]
        self.action_dim: int = int(index["action_dim"])
        self.fps: int = int(index["fps"])
        self.autoencoder_sha256: str = index["autoencoder"]["sha256"]
        self.episodes = [LatentEpisode(**entry) for entry in index["episodes"]]
        if self.dtype not in STORAGE_DTYPES or [e.index for e in self.episodes] != list(range(len(self.episodes))):
            raise DatasetError(
                f"{path}: dtype {self.dtype!r} and episode indices {[e.index for e in self.episodes][:8]}...; "
                f"expected one of {STORAGE_DTYPES} and indices 0, 1, 2, ... in order"
            )

    @property
    def num_episodes(self) -> int:
        return len(self.episodes)

    @property
    def task_names(self) -> list[str]:
        """The task of every episode, by index (what ``data.clips.split_episodes`` splits)."""
        return [episode.task for episode in self.episodes]

    @property
    def episode_lengths(self) -> np.ndarray:
        """``(E,)`` int64 frames per episode."""
        return np.array([episode.length for episode in self.episodes], dtype=np.int64)

    def action_normalizer(self) -> Normalizer:
        """The source dataset's action statistics, as a run trained from these latents records them."""
        return Normalizer.from_file(self.root / ACTION_STATS_FILE, features=(fmt.ACTION,))

    def load(self, episodes: Sequence[int]) -> tuple[torch.Tensor, torch.Tensor | None, np.ndarray]:
        """The stored latents ``(N, V, C, h, w)``, their int8 scales ``(N, V, C)`` (None for
        float16) and the recorded actions ``(N, A)`` float32 of ``episodes``, concatenated in
        that order."""
        wanted = [self.episodes[i] for i in episodes]
        shards = {number: self._read_shard(number) for number in sorted({e.shard for e in wanted})}
        parts = {name: [] for name in ("latents", "scales", "actions")}
        for episode in wanted:
            rows = slice(episode.first, episode.first + episode.length)
            for name in parts:
                if name in shards[episode.shard]:
                    parts[name].append(shards[episode.shard][name][rows])
        latents = torch.cat(parts["latents"])
        scales = torch.cat(parts["scales"]) if parts["scales"] else None
        return latents, scales, torch.cat(parts["actions"]).numpy()

    def _read_shard(self, number: int) -> dict[str, torch.Tensor]:
        path = self.root / shard_name(number)
        try:
            tensors = load_file(path)
        except (SafetensorError, OSError, ValueError, RuntimeError) as error:
            raise DatasetError(f"{path}: cannot read the latent shard (missing, truncated or corrupt): {error}") from None
        stored = self.index["shards"][number]
        expected = {
            "latents": ((stored["rows"], len(self.views), *self.latent_shape), getattr(torch, self.dtype)),
            "actions": ((stored["rows"], self.action_dim), torch.float32),
        }
        if self.dtype == "int8":
            expected["scales"] = ((stored["rows"], len(self.views), self.latent_shape[0]), torch.float16)
        for name, (shape, dtype) in expected.items():
            found = tensors.get(name)
            if found is None or tuple(found.shape) != shape or found.dtype != dtype:
                got = None if found is None else (tuple(found.shape), found.dtype)
                raise DatasetError(f"{path}: tensor {name!r} is {got}; expected {shape} {dtype} per {INDEX_FILE}")
        return tensors


class LatentShardWriter:
    """Writes a latent folder episode by episode: ``add`` each episode, then ``close``.

    Shards are written atomically as they fill (``episodes_per_shard``) and the index last, so
    a folder with an index is complete.
    """

    def __init__(
        self,
        root: str | Path,
        *,
        views: Sequence[str],
        latent_shape: tuple[int, int, int],
        dtype: StorageDtype,
        action_dim: int,
        fps: int,
        action_stats: Normalizer,
        source: dict[str, Any],
        autoencoder: dict[str, Any],
        episodes_per_shard: int = 64,
    ) -> None:
        if dtype not in STORAGE_DTYPES or episodes_per_shard < 1:
            raise ConfigError(
                f"latent storage dtype {dtype!r}, {episodes_per_shard} episodes per shard; "
                f"expected one of {STORAGE_DTYPES} and >= 1"
            )
        self.root = Path(root)
        make_folder(self.root)
        self.episodes_per_shard = episodes_per_shard
        self.index: dict[str, Any] = {
            "format": FORMAT,
            "version": FORMAT_VERSION,
            "views": list(views),
            "latent_shape": list(latent_shape),
            "dtype": dtype,
            "action_dim": action_dim,
            "fps": fps,
            "source": source,
            "autoencoder": autoencoder,
            "shards": [],
            "episodes": [],
        }
        action_stats.save(self.root / ACTION_STATS_FILE)
        self._pending: list[tuple[torch.Tensor, np.ndarray]] = []
        self._error_sum = 0.0
        self._magnitude_sum = 0.0

    def add(self, task: str, instruction: str, latents: torch.Tensor, actions: np.ndarray) -> None:
        """One episode: ``latents (T, V, C, h, w)`` float, ``actions (T, A)`` as recorded."""
        shard = len(self.index["shards"])
        first = sum(len(pending) for pending, _ in self._pending)
        self.index["episodes"].append(
            {
                "index": len(self.index["episodes"]),
                "task": task,
                "instruction": instruction,
                "length": int(latents.shape[0]),
                "shard": shard,
                "first": first,
            }
        )
        self._pending.append((latents.detach().float().cpu(), np.asarray(actions, dtype=np.float32)))
        if len(self._pending) == self.episodes_per_shard:
            self._flush()

    @property
    def relative_error(self) -> float:
        """Mean absolute storage error over mean absolute latent value, of what was written."""
        return self._error_sum / max(self._magnitude_sum, 1e-12)

    def close(self) -> Path:
        """Write the last shard and the index; the folder."""
        if self._pending:
            self._flush()
        if not self.index["episodes"]:
            raise ConfigError(f"{self.root}: no episodes were added; a latent folder needs at least one")
        self.index["relative_error"] = self.relative_error
        atomic_write_json(self.root / INDEX_FILE, self.index)
        return self.root

    def _flush(self) -> None:
        latents = torch.cat([pending for pending, _ in self._pending])
        tensors = {"actions": torch.from_numpy(np.concatenate([actions for _, actions in self._pending]))}
        if self.index["dtype"] == "int8":
            tensors["latents"], tensors["scales"] = quantize_int8(latents)
            restored = dequantize(tensors["latents"], tensors["scales"])
        else:
            tensors["latents"] = latents.half()
            restored = tensors["latents"].float()
        self._error_sum += float((restored - latents).abs().sum())
        self._magnitude_sum += float(latents.abs().sum())
        number = len(self.index["shards"])
        with atomic_path(self.root / shard_name(number)) as tmp:
            save_file({name: tensor.contiguous() for name, tensor in tensors.items()}, str(tmp))
        self.index["shards"].append({"file": shard_name(number), "rows": int(latents.shape[0])})
        self._pending = []
