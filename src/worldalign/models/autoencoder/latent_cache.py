"""Latents of training clips from a frozen autoencoder, encoded once per frame and cached.

World-model training sees every frame many times (overlapping clips, many epochs), and
encoding dominates a CPU step, so the latents of each (episode, frame) are kept in memory.
Frames are always encoded in micro-batches of one fixed size (the last one zero-padded), so a
frame's latents do not depend on which other frames shared its batch: cached or not, resumed or
not, training sees bit-identical latents.
"""

from __future__ import annotations

import torch
from torch import Tensor

from worldalign.data.types import ClipBatch, LatentClipBatch
from worldalign.models.autoencoder.modeling_autoencoder import Autoencoder


class ClipLatentEncoder:
    """``encode(clip) -> (B, V, T, C, h, w)`` latents of a ``ClipBatch``'s frames."""

    def __init__(
        self, autoencoder: Autoencoder, cache: bool = True, micro_batch: int = 64, max_cached_frames: int = 1_000_000
    ) -> None:
        """
        Args:
            autoencoder: the frozen autoencoder (put in eval mode, never trained here).
            cache: keep latents per (episode index, frame index).
            micro_batch: frames (one view each) per encoder call.
            max_cached_frames: stop adding to the cache beyond this many frames (all views).
        """
        self.autoencoder = autoencoder.eval()
        self.cache_enabled = cache
        self.micro_batch = micro_batch
        self.max_cached_frames = max_cached_frames
        self._cache: dict[tuple[int, int], Tensor] = {}

    @property
    def cached_frames(self) -> int:
        """Number of (episode, frame) entries cached."""
        return len(self._cache)

    @torch.no_grad()
    def encode_frames(self, frames: Tensor) -> Tensor:
        """``(N, 3, H, W)`` → ``(N, C, h, w)`` in fixed-size micro-batches."""
        device = self.autoencoder.latent_mean.device
        outputs = []
        for begin in range(0, frames.shape[0], self.micro_batch):
            part = frames[begin : begin + self.micro_batch].to(device)
            padding = self.micro_batch - part.shape[0]
            if padding:
                part = torch.cat([part, part.new_zeros(padding, *part.shape[1:])])
            outputs.append(self.autoencoder.encode(part)[: self.micro_batch - padding])
        return torch.cat(outputs)

    def prefill(self, episode_index: int, frames: Tensor) -> None:
        """Cache every frame of one episode, ``frames (V, T, 3, H, W)`` (e.g. before training, so
        the first epoch does not pay for encoding inside the training steps)."""
        views, length = frames.shape[:2]
        flat = frames.transpose(0, 1).reshape(-1, *frames.shape[2:])  # (T * V, 3, H, W), frame-major
        latents = self.encode_frames(flat).reshape(length, views, *self.autoencoder.latent_shape)
        for t in range(length):
            if len(self._cache) < self.max_cached_frames:
                self._cache[(episode_index, t)] = latents[t]

    def encode(self, clip: ClipBatch) -> Tensor:
        """The clip's frames ``(B, V, T, 3, H, W)`` → latents ``(B, V, T, C, h, w)``."""
        batch, views, frames = clip.frames.shape[:3]
        if not self.cache_enabled:
            flat = clip.frames.permute(0, 2, 1, 3, 4, 5).reshape(-1, *clip.frames.shape[3:])
            latents = self.encode_frames(flat)
            return latents.reshape(batch, frames, views, *latents.shape[1:]).transpose(1, 2)
        keys = [(int(clip.episode_index[b]), int(clip.start_frame[b]) + t) for b in range(batch) for t in range(frames)]
        positions: dict[tuple[int, int], tuple[int, int]] = {}
        for index, key in enumerate(keys):
            if key not in self._cache and key not in positions:
                positions[key] = divmod(index, frames)
        if positions:
            missing = torch.stack([clip.frames[b, :, t] for b, t in positions.values()])  # (M, V, 3, H, W)
            latents = self.encode_frames(missing.reshape(-1, *missing.shape[2:]))
            latents = latents.reshape(len(positions), views, *latents.shape[1:])
            fresh = dict(zip(positions, latents, strict=True))
        else:
            fresh = {}
        for key, value in fresh.items():
            if len(self._cache) < self.max_cached_frames:
                self._cache[key] = value
        stacked = torch.stack([self._cache[key] if key in self._cache else fresh[key] for key in keys])
        return stacked.reshape(batch, frames, views, *stacked.shape[2:]).transpose(1, 2)

    def latent_clips(self, clip: ClipBatch) -> LatentClipBatch:
        """The clip with its frames replaced by their latents (e.g. to keep fixed clips for
        measurements without keeping their float frames)."""
        return LatentClipBatch(
            latents=self.encode(clip),
            actions=clip.actions,
            context_frames=clip.context_frames,
            instructions=clip.instructions,
            tasks=clip.tasks,
            episode_index=clip.episode_index,
            start_frame=clip.start_frame,
        )
