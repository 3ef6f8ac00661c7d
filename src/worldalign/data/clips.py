"""Training windows cut from episodes: ``ClipSampler`` and the train/held-out episode split.

A window is ``C + F`` consecutive frames of one episode (C context, F future) and the
``C + F - 1`` actions between them. With ``pad_start = P``, windows may also begin up to ``P``
frames before the episode: the missing frames repeat frame 0 and the missing actions are the
"hold still" action (zero in the embodiment's units), so an episode's first frames become
prediction targets too (without padding, a model with 16 context frames never learns to predict
frames 1..16, exactly where rollouts from a real start begin). The sampler decodes every needed video once into a
``FrameCache``, then builds each clip with one numpy fancy-index into the cache (no per-frame
Python work), so sampling costs a memory copy and the uint8 -> float conversion.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

import numpy as np
import torch

from worldalign.data.frame_cache import EpisodeSource, FrameCache
from worldalign.data.lerobot_format import ACTION
from worldalign.data.stats import Normalizer
from worldalign.data.types import ClipBatch
from worldalign.errors import ConfigError


class ClipSampler:
    """Batches of ``ClipBatch`` windows from a set of episodes, deterministic by seed.

    ``iter(sampler)`` is an endless stream of uniformly drawn windows (every window equally
    likely), the same stream for the same seed, resumable with ``state_dict()`` /
    ``load_state_dict()``; ``sample(rng)`` draws one batch with your own
    generator; ``all_windows()`` walks every window once in (episode, start) order, for
    evaluation; ``gather()`` builds the batch of given (episode, start) pairs.
    """

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
        if context_frames < 1 or future_frames < 1 or batch_size < 1 or not 0 <= pad_start < context_frames:
            raise ConfigError(
                f"ClipSampler: context_frames={context_frames}, future_frames={future_frames}, "
                f"batch_size={batch_size}, pad_start={pad_start}; expected each >= 1 and 0 <= pad_start < context_frames"
            )
        self.pad_start = pad_start
        self.context_frames = context_frames
        self.future_frames = future_frames
        self.batch_size = batch_size
        self.seed = seed
        self.cache = FrameCache.build(source, normalizer=normalizer, views=views, episodes=episodes)
        self.views = self.cache.views
        # The hold-still action, normalised as the cached actions are.
        self._still_action = normalizer.normalize(ACTION, np.zeros(self.cache.actions.shape[1], np.float32))
        span = self.clip_length
        windows_per_episode = np.maximum(self.cache.lengths - span + 1 + pad_start, 0)
        if windows_per_episode.sum() == 0:
            raise ConfigError(
                f"ClipSampler: no episode has {span} frames (context {context_frames} + future {future_frames}); "
                f"the longest of the {len(self.cache.lengths)} selected has {self.cache.lengths.max()}"
            )
        # Window w: cached episode _window_episode[w], first frame _window_start[w] within it;
        # the windows of cached episode e are numbered from _first_window[e].
        self._window_episode = np.repeat(np.arange(len(windows_per_episode)), windows_per_episode)
        self._first_window = np.cumsum(windows_per_episode) - windows_per_episode
        self._window_start = (
            np.arange(len(self._window_episode)) - self._first_window[self._window_episode] - pad_start
        )
        self._cached_position = {int(index): position for position, index in enumerate(self.cache.episode_index)}
        self._frame_buffers = _RecycledBuffers()
        self._rng = np.random.default_rng(seed)

    @property
    def clip_length(self) -> int:
        """C + F, frames per clip."""
        return self.context_frames + self.future_frames

    @property
    def num_windows(self) -> int:
        """Number of distinct windows."""
        return len(self._window_episode)

    @property
    def episode_indices(self) -> np.ndarray:
        """Source indices of the episodes windows are cut from."""
        return self.cache.episode_index

    def __iter__(self) -> Iterator[ClipBatch]:
        """The endless stream, continuing from where the sampler's own generator stands."""
        while True:
            yield self.sample(self._rng)

    def state_dict(self) -> dict[str, Any]:
        """The stream's position (JSON-serialisable), for an exact resume of training."""
        return {"seed": self.seed, "rng": self._rng.bit_generator.state}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Continue the stream from a position saved by ``state_dict``."""
        if state.get("seed") != self.seed:
            raise ConfigError(
                f"the checkpoint's data stream was seeded {state.get('seed')}, this run's seed (--seed) is {self.seed}: "
                f"resume with --seed {state.get('seed')}, or run with --no-resume or a new --out to start afresh"
            )
        self._rng.bit_generator.state = state["rng"]

    def sample(self, rng: np.random.Generator) -> ClipBatch:
        """``batch_size`` windows drawn uniformly with replacement using ``rng``."""
        return self._batch(rng.integers(0, self.num_windows, self.batch_size))

    def all_windows(self, *, stride: int = 1) -> Iterator[ClipBatch]:
        """Every window whose start frame is a multiple of ``stride``, in (episode, start)
        order, in batches of ``batch_size`` (the last may be smaller)."""
        if stride < 1:
            raise ConfigError(f"all_windows: stride={stride}; expected >= 1")
        selected = np.flatnonzero(self._window_start % stride == 0)
        for first in range(0, len(selected), self.batch_size):
            yield self._batch(selected[first : first + self.batch_size])

    def gather(self, episode_index: Sequence[int] | np.ndarray, start_frame: Sequence[int] | np.ndarray) -> ClipBatch:
        """The windows starting at ``start_frame[b]`` of source episode ``episode_index[b]``."""
        episode_index = np.asarray(episode_index, dtype=np.int64).reshape(-1)
        start_frame = np.asarray(start_frame, dtype=np.int64).reshape(-1)
        unknown = [int(e) for e in episode_index if int(e) not in self._cached_position]
        if unknown or len(episode_index) != len(start_frame):
            raise ConfigError(
                f"gather: {len(episode_index)} episodes and {len(start_frame)} start frames; expected equal counts "
                f"of episodes among this sampler's {self.episode_indices.tolist()} (unknown: {unknown})"
            )
        cached = np.array([self._cached_position[int(e)] for e in episode_index], dtype=np.int64)
        last_start = self.cache.lengths[cached] - self.clip_length
        if ((start_frame < -self.pad_start) | (start_frame > last_start)).any():
            raise ConfigError(
                f"gather: start frames {start_frame.tolist()} for clips of {self.clip_length} frames; "
                f"expected {-self.pad_start}..{last_start.tolist()} for episodes {episode_index.tolist()}"
            )
        return self._batch(self._first_window[cached] + start_frame + self.pad_start)

    def _batch(self, windows: np.ndarray) -> ClipBatch:
        episodes = self._window_episode[windows]
        starts = self._window_start[windows]
        within = starts[:, None] + np.arange(self.clip_length)  # (B, T) frame index in the episode; < 0 is padding
        frame = self.cache.offsets[episodes, None] + np.maximum(within, 0)
        rows = np.arange(len(self.views))[None, :, None] * self.cache.num_frames + frame[:, None, :]  # (B, V, T)
        frames = self._frame_buffers.get((*rows.shape, *self.cache.frames.shape[1:]))  # (B, V, T, 3, H, W)
        # [0, 255] -> [-1, 1], clip by clip so that the second pass finds the clip still in the CPU
        # cache (25% faster than whole-batch passes; numpy here beats torch's uint8 -> float).
        for clip, clip_rows in zip(frames, rows, strict=True):
            np.multiply(self.cache.frames[clip_rows], np.float32(1 / 127.5), out=clip, dtype=np.float32)
            clip -= 1.0
        actions = self.cache.actions[frame[:, :-1]]  # (B, T - 1, A)
        actions[within[:, :-1] < 0] = self._still_action
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
