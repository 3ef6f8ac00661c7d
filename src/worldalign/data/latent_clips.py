"""Training clips from latent shards: ``LatentClipSampler``, the latent twin of ``ClipSampler``.

Same windows, same padding, same stream for the same seed as ``data.clips.ClipSampler`` on the
dataset the shards were encoded from (both are ``data.windows.WindowSampler``), so a run can move
between the two without changing what it trains on; the batches hold latents instead of frames.
The stored latents stay int8 (or float16) in memory, on the device the sampler was put on, and a
batch is dequantised after one gather: a GPU run keeps the whole data set in GPU memory and
copies nothing per step.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np
import torch

from worldalign.data.latent_shards import LatentShards, dequantize
from worldalign.data.lerobot_format import ACTION
from worldalign.data.stats import Normalizer
from worldalign.data.types import LatentClipBatch
from worldalign.data.windows import WindowSampler
from worldalign.errors import ConfigError


class LatentClipSampler(WindowSampler[LatentClipBatch]):
    """Batches of ``LatentClipBatch`` windows from the episodes of a latent folder."""

    def __init__(
        self,
        shards: LatentShards,
        *,
        context_frames: int,
        future_frames: int,
        batch_size: int,
        normalizer: Normalizer,
        seed: int = 0,
        views: Sequence[str] | None = None,
        episodes: Iterable[int] | None = None,
        pad_start: int = 0,
        device: str | torch.device = "cpu",
    ) -> None:
        indices = np.arange(shards.num_episodes) if episodes is None else np.unique(np.asarray(list(episodes), int))
        if len(indices) == 0 or indices[0] < 0 or indices[-1] >= shards.num_episodes:
            raise ConfigError(
                f"LatentClipSampler: episodes {indices.tolist()}; expected at least one of 0..{shards.num_episodes - 1} "
                f"({shards.root})"
            )
        views = tuple(shards.views if views is None else views)
        unknown = [view for view in views if view not in shards.views]
        if unknown:
            raise ConfigError(f"camera(s) {unknown} not in {shards.root}; its cameras are {list(shards.views)}")
        super().__init__(
            shards.episode_lengths[indices],
            indices,
            context_frames=context_frames,
            future_frames=future_frames,
            batch_size=batch_size,
            seed=seed,
            pad_start=pad_start,
        )
        self.views = views
        self.device = torch.device(device)
        latents, scales, actions = shards.load(indices.tolist())
        view_order = [shards.views.index(view) for view in views]
        self._latents = latents[:, view_order].to(self.device)  # (N, V, C, h, w) as stored
        self._scales = None if scales is None else scales[:, view_order].to(self.device)  # (N, V, C)
        self._actions = torch.from_numpy(normalizer.normalize(ACTION, actions)).to(self.device)  # (N, A)
        still = normalizer.normalize(ACTION, np.zeros(actions.shape[1], np.float32))
        self._still_action = torch.from_numpy(still).to(self.device)
        self._tasks = [shards.episodes[i].task for i in indices]
        self._instructions = [shards.episodes[i].instruction for i in indices]

    def _batch(self, windows: np.ndarray) -> LatentClipBatch:
        episodes, starts, frame, padded = self.window_frames(windows)
        rows = torch.from_numpy(frame).to(self.device)  # (B, T)
        scales = None if self._scales is None else self._scales[rows]
        latents = dequantize(self._latents[rows], scales).transpose(1, 2)  # (B, V, T, C, h, w)
        actions = self._actions[rows[:, :-1]]  # (B, T - 1, A)
        actions[torch.from_numpy(padded).to(self.device)] = self._still_action
        return LatentClipBatch(
            latents=latents,
            actions=actions,
            context_frames=self.context_frames,
            instructions=[self._instructions[e] for e in episodes],
            tasks=[self._tasks[e] for e in episodes],
            episode_index=torch.from_numpy(self.episode_indices[episodes]),
            start_frame=torch.from_numpy(starts.astype(np.int64)),
        )
