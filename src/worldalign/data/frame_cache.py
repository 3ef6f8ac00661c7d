"""A set of episodes decoded once into contiguous arrays, for fast random access to windows.

Frames are stored view-major and channels-first, ``(V * N, 3, H, W)`` uint8 with row
``v * N + n`` = view ``v`` of frame ``n`` (frames of all episodes concatenated), so one numpy
fancy-index with a ``(B, V, T)`` row array yields a batch already in model layout
``(B, V, T, 3, H, W)``. Actions are stored normalised, ``(N, A)`` float32; the proprioceptive
state as recorded, ``(N, S)`` float32.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, replace

import numpy as np
from tqdm import tqdm

from worldalign.data import lerobot_format as fmt
from worldalign.data.lerobot_reader import LeRobotDataset
from worldalign.data.stats import Normalizer
from worldalign.data.types import Episode
from worldalign.errors import ConfigError, DatasetError

EpisodeSource = LeRobotDataset | Sequence[Episode]
"""Where episodes come from: a dataset on disk, or episodes in memory (indexed by position)."""


@dataclass(frozen=True)
class FrameCache:
    """Episodes in contiguous memory.

    Attributes:
        views: camera names, in the order of the view axis.
        frames: ``(V * N, 3, H, W)`` uint8, view-major (see the module docstring).
        actions: ``(N, A)`` float32, normalised.
        state: ``(N, S)`` float32 ``observation.state`` as recorded (``S = 0`` if there is none).
        offsets: ``(E + 1,)`` int64; cached episode ``e`` is frames ``offsets[e]:offsets[e+1]``.
        episode_index: ``(E,)`` int64 index of each cached episode in its source.
        task_names, instructions: per cached episode.
    """

    views: tuple[str, ...]
    frames: np.ndarray
    actions: np.ndarray
    state: np.ndarray
    offsets: np.ndarray
    episode_index: np.ndarray
    task_names: list[str]
    instructions: list[str]

    @property
    def num_frames(self) -> int:
        """N, frames per view over all cached episodes."""
        return int(self.offsets[-1])

    @property
    def lengths(self) -> np.ndarray:
        """``(E,)`` frames per cached episode."""
        return np.diff(self.offsets)

    @classmethod
    def build(
        cls,
        source: EpisodeSource,
        *,
        normalizer: Normalizer,
        views: Sequence[str] | None = None,
        episodes: Iterable[int] | None = None,
    ) -> FrameCache:
        """Decode ``episodes`` (indices into ``source``; default all) of cameras ``views``
        (default all) once, each video file in order, and normalise their actions."""
        num_episodes = source.num_episodes if isinstance(source, LeRobotDataset) else len(source)
        indices = np.arange(num_episodes) if episodes is None else np.unique(np.asarray(list(episodes), dtype=np.int64))
        if len(indices) == 0:
            raise ConfigError("FrameCache: no episodes selected; expected at least one episode index")
        if indices[0] < 0 or indices[-1] >= num_episodes:
            raise ConfigError(f"FrameCache: episode indices {indices.tolist()} out of range 0..{num_episodes - 1}")
        if isinstance(source, LeRobotDataset):
            views = tuple(source.views if views is None else views)
            lengths = source.episode_lengths[indices]
            stream: Iterator[Episode] = source.iter_episodes(indices.tolist(), views)
        else:
            views = tuple(source[int(indices[0])].views if views is None else views)
            lengths = np.array([source[int(i)].length for i in indices], dtype=np.int64)
            stream = (_select_views(source[int(i)], views, int(i)) for i in indices)
        offsets = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)
        first = next(stream)  # fixes the image size and action size of the cache
        height, width = first.frames.shape[2:4]
        frames = np.empty((len(views), offsets[-1], 3, height, width), np.uint8)
        actions = np.empty((offsets[-1], first.actions.shape[1]), np.float32)
        state = np.empty((offsets[-1], first.state.shape[1]), np.float32)
        task_names, instructions = [], []
        episodes_in_order = zip(indices, itertools.chain([first], stream), strict=True)
        progress = tqdm(episodes_in_order, total=len(indices), desc="decoding episodes", unit="episode", disable=None)
        for position, (index, episode) in enumerate(progress):
            start, end = offsets[position], offsets[position + 1]
            if (
                episode.frames.shape[2:4] != frames.shape[3:5]
                or episode.actions.shape[1] != actions.shape[1]
                or episode.state.shape[1] != state.shape[1]
            ):
                raise DatasetError(
                    f"episode {index}: frames {episode.frames.shape[2:4]}, {episode.actions.shape[1]} action dims and "
                    f"{episode.state.shape[1]} state dims, expected {frames.shape[3:5]}, {actions.shape[1]} and "
                    f"{state.shape[1]} as in episode {indices[0]}"
                )
            frames[:, start:end] = episode.frames.transpose(0, 1, 4, 2, 3)
            actions[start:end] = normalizer.normalize(fmt.ACTION, episode.actions.astype(np.float32))
            state[start:end] = episode.state
            task_names.append(episode.task)
            instructions.append(episode.instruction)
        return cls(
            views=views,
            frames=frames.reshape(-1, *frames.shape[2:]),
            actions=actions,
            state=state,
            offsets=offsets,
            episode_index=indices,
            task_names=task_names,
            instructions=instructions,
        )


def _select_views(episode: Episode, views: tuple[str, ...], index: int) -> Episode:
    """``episode`` restricted to ``views``, in that order; ``ConfigError`` for an unknown camera."""
    if episode.views == views:
        return episode
    unknown = [view for view in views if view not in episode.views]
    if unknown:
        raise ConfigError(f"camera(s) {unknown} not in episode {index}; its cameras are {list(episode.views)}")
    order = [episode.views.index(view) for view in views]
    return replace(episode, views=views, frames=episode.frames[order])
