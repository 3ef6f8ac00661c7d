"""Training clips decoded from episodes: ``ClipSampler`` and the train/held-out episode split.

Windows, padding and the resumable stream are ``data.windows.WindowSampler``'s. The sampler
decodes every needed video once into a ``FrameCache``, then builds each clip with one numpy
fancy-index into the cache (no per-frame Python work), so sampling costs a memory copy and the
uint8 -> float conversion.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable, Sequence

import numpy as np
import torch

from worldalign.data.frame_cache import EpisodeSource, FrameCache
from worldalign.data.lerobot_format import ACTION
from worldalign.data.stats import Normalizer
from worldalign.data.types import ClipBatch
from worldalign.data.windows import WindowSampler, check_window_arguments
from worldalign.errors import ConfigError


class ClipSampler(WindowSampler[ClipBatch]):
    """Batches of ``ClipBatch`` windows from a set of episodes, deterministic by seed (the
    stream, ``all_windows`` and ``gather`` of ``WindowSampler``)."""

    def __init__(
        self,
        source: EpisodeSource,
        *,
        context_frames: int,
        future_frames: int,
        batch_size: int,
        normalizer: Normalizer,
        seed: int = 0,
        views: Sequence[str] | None = None,
        episodes: Iterable[int] | None = None,
        pad_start: int = 0,
    ) -> None:
        check_window_arguments("ClipSampler", context_frames, future_frames, batch_size, pad_start)
        self.cache = FrameCache.build(source, normalizer=normalizer, views=views, episodes=episodes)
        self.views = self.cache.views
        super().__init__(
            self.cache.lengths,
            self.cache.episode_index,
            context_frames=context_frames,
            future_frames=future_frames,
            batch_size=batch_size,
            seed=seed,
            pad_start=pad_start,
        )
        # The hold-still action, normalised as the cached actions are.
        self._still_action = normalizer.normalize(ACTION, np.zeros(self.cache.actions.shape[1], np.float32))
        self._frame_buffers = _RecycledBuffers()

    def _batch(self, windows: np.ndarray) -> ClipBatch:
        episodes, starts, frame, padded = self.window_frames(windows)
        rows = np.arange(len(self.views))[None, :, None] * self.cache.num_frames + frame[:, None, :]  # (B, V, T)
        frames = self._frame_buffers.get((*rows.shape, *self.cache.frames.shape[1:]))  # (B, V, T, 3, H, W)
        # [0, 255] -> [-1, 1], clip by clip so that the second pass finds the clip still in the CPU
        # cache (25% faster than whole-batch passes; numpy here beats torch's uint8 -> float).
        for clip, clip_rows in zip(frames, rows, strict=True):
            np.multiply(self.cache.frames[clip_rows], np.float32(1 / 127.5), out=clip, dtype=np.float32)
            clip -= 1.0
        actions = self.cache.actions[frame[:, :-1]]  # (B, T - 1, A)
        actions[padded] = self._still_action
        return ClipBatch(
            frames=torch.from_numpy(frames),
            actions=torch.from_numpy(actions),
            context_frames=self.context_frames,
            instructions=[self.cache.instructions[e] for e in episodes],
            tasks=[self.cache.task_names[e] for e in episodes],
            episode_index=torch.from_numpy(self.cache.episode_index[episodes]),
            start_frame=torch.from_numpy(starts.astype(np.int64)),
        )


class _RecycledBuffers:
    """Float32 output arrays, reused once nothing outside this pool refers to them.

    A batch of 16 clips of 20 frames at 64 px is ~50 MB of float32; fresh memory of that size
    comes straight from the kernel, which zeroes it page by page on every batch (measured here:
    ~2,100 clips/s with fresh memory, ~3,800 with recycled buffers). A buffer whose only references are this pool's is unreachable for
    the caller (a tensor made by ``torch.from_numpy``, and all its views, hold a reference to
    the array), so overwriting it cannot change a batch anyone still holds.
    """

    _MAX_BUFFERS = 4  # a training loop holds one or two batches at a time

    def __init__(self) -> None:
        self._buffers: list[np.ndarray] = []

    def get(self, shape: tuple[int, ...]) -> np.ndarray:
        """A float32 array of ``shape`` that no one else references."""
        for i in range(len(self._buffers)):
            # References: the list slot and getrefcount's own argument.
            if self._buffers[i].shape == shape and sys.getrefcount(self._buffers[i]) <= 2:
                return self._buffers[i]
        buffer = np.empty(shape, np.float32)
        if len(self._buffers) >= self._MAX_BUFFERS:
            self._buffers.pop(0)
        self._buffers.append(buffer)
        return buffer


def split_episodes(task_names: Sequence[str], *, held_out_fraction: float) -> tuple[list[int], list[int]]:
    """Split episode indices into (train, held_out): the last ``held_out_fraction`` of each
    task's episodes (by index) are held out, rounded up, keeping at least one episode of each
    task for training. Deterministic: the same names give the same split."""
    if not 0.0 <= held_out_fraction < 1.0:
        raise ConfigError(f"held_out_fraction={held_out_fraction}; expected 0 <= fraction < 1")
    by_task: dict[str, list[int]] = {}
    for index, name in enumerate(task_names):
        by_task.setdefault(name, []).append(index)
    held_out: list[int] = []
    for indices in by_task.values():
        count = min(len(indices) - 1, int(np.ceil(held_out_fraction * len(indices))))
        held_out.extend(indices[len(indices) - count :] if count > 0 else [])
    held = set(held_out)
    return [i for i in range(len(task_names)) if i not in held], sorted(held_out)


def spread_evenly(indices: Sequence[int], count: int | None) -> list[int]:
    """``count`` of ``indices`` spread evenly over the list (all of them when ``count`` is None or
    larger): a few episodes of a task-major list still cover every task."""
    if count is None or count >= len(indices):
        return list(indices)
    return [indices[int(i * len(indices) / count)] for i in range(count)]
