"""Training windows over episodes of known lengths: which windows exist, and a resumable stream of them.

A window is ``C + F`` consecutive frames of one episode (C context, F future) and the
``C + F - 1`` actions between them. With ``pad_start = P``, windows may also begin up to ``P``
frames before the episode: the missing frames repeat frame 0 and the missing actions are the
"hold still" action, so an episode's first frames become prediction targets too (without
padding, a model with 16 context frames never learns to predict frames 1..16, exactly where
rollouts from a real start begin).

``WindowSampler`` numbers every window once and draws them; what a batch holds (decoded frames,
or latents encoded once) is its subclasses' business (``data.clips.ClipSampler``,
``data.latent_clips.LatentClipSampler``). Because both number windows the same way from the same
episode lengths, the same seed draws the same windows from a dataset and from its latents.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterator, Sequence
from typing import Any, Generic, TypeVar

import numpy as np

from worldalign.errors import ConfigError

BatchT = TypeVar("BatchT")


def check_window_arguments(owner: str, context_frames: int, future_frames: int, batch_size: int, pad_start: int) -> None:
    """``ConfigError`` naming ``owner`` unless each count is >= 1 and ``0 <= pad_start < context_frames``
    (callers that load data first check before loading)."""
    if context_frames < 1 or future_frames < 1 or batch_size < 1 or not 0 <= pad_start < context_frames:
        raise ConfigError(
            f"{owner}: context_frames={context_frames}, future_frames={future_frames}, "
            f"batch_size={batch_size}, pad_start={pad_start}; expected each >= 1 and 0 <= pad_start < context_frames"
        )


class WindowSampler(ABC, Generic[BatchT]):
    """Batches of windows of episodes with ``lengths``, deterministic by seed.

    ``iter(sampler)`` is an endless stream of uniformly drawn windows (every window equally
    likely), the same stream for the same seed, resumable with ``state_dict()`` /
    ``load_state_dict()``; ``sample(rng)`` draws one batch with your own generator;
    ``all_windows()`` walks every window once in (episode, start) order, for evaluation;
    ``gather()`` builds the batch of given (episode, start) pairs. Subclasses build a batch from
    window numbers in ``_batch``, with ``window_frames`` telling them which frames it holds.
    """

    def __init__(
        self,
        lengths: np.ndarray,
        episode_index: np.ndarray,
        *,
        context_frames: int,
        future_frames: int,
        batch_size: int,
        seed: int,
        pad_start: int,
    ) -> None:
        """
        Args:
            lengths: ``(E,)`` frames of each selected episode, in the order its frames are stored.
            episode_index: ``(E,)`` the source (dataset) index of each selected episode.
        """
        name = type(self).__name__
        check_window_arguments(name, context_frames, future_frames, batch_size, pad_start)
        self.context_frames = context_frames
        self.future_frames = future_frames
        self.batch_size = batch_size
        self.seed = seed
        self.pad_start = pad_start
        self.lengths = np.asarray(lengths, dtype=np.int64)
        self.offsets = np.concatenate([[0], np.cumsum(self.lengths)]).astype(np.int64)
        self.episode_indices = np.asarray(episode_index, dtype=np.int64)
        windows_per_episode = np.maximum(self.lengths - self.clip_length + 1 + pad_start, 0)
        if windows_per_episode.sum() == 0:
            raise ConfigError(
                f"{name}: no episode has {self.clip_length} frames (context {context_frames} + future "
                f"{future_frames}); the longest of the {len(self.lengths)} selected has {self.lengths.max()}"
            )
        # Window w: stored episode _window_episode[w], first frame _window_start[w] within it;
        # the windows of stored episode e are numbered from _first_window[e].
        self._window_episode = np.repeat(np.arange(len(windows_per_episode)), windows_per_episode)
        self._first_window = np.cumsum(windows_per_episode) - windows_per_episode
        self._window_start = (
            np.arange(len(self._window_episode)) - self._first_window[self._window_episode] - pad_start
        )
        self._position = {int(index): position for position, index in enumerate(self.episode_indices)}
        self._rng = np.random.default_rng(seed)

    @property
    def clip_length(self) -> int:
        """C + F, frames per clip."""
        return self.context_frames + self.future_frames

    @property
    def num_windows(self) -> int:
        """Number of distinct windows."""
        return len(self._window_episode)

    def __iter__(self) -> Iterator[BatchT]:
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

    def sample(self, rng: np.random.Generator) -> BatchT:
        """``batch_size`` windows drawn uniformly with replacement using ``rng``."""
        return self._batch(rng.integers(0, self.num_windows, self.batch_size))

    def all_windows(self, *, stride: int = 1) -> Iterator[BatchT]:
        """Every window whose start frame is a multiple of ``stride``, in (episode, start)
        order, in batches of ``batch_size`` (the last may be smaller)."""
        if stride < 1:
            raise ConfigError(f"all_windows: stride={stride}; expected >= 1")
        selected = np.flatnonzero(self._window_start % stride == 0)
        for first in range(0, len(selected), self.batch_size):
            yield self._batch(selected[first : first + self.batch_size])

    def gather(self, episode_index: Sequence[int] | np.ndarray, start_frame: Sequence[int] | np.ndarray) -> BatchT:
        """The windows starting at ``start_frame[b]`` of source episode ``episode_index[b]``."""
        episode_index = np.asarray(episode_index, dtype=np.int64).reshape(-1)
        start_frame = np.asarray(start_frame, dtype=np.int64).reshape(-1)
        unknown = [int(e) for e in episode_index if int(e) not in self._position]
        if unknown or len(episode_index) != len(start_frame):
            raise ConfigError(
                f"gather: {len(episode_index)} episodes and {len(start_frame)} start frames; expected equal counts "
                f"of episodes among this sampler's {self.episode_indices.tolist()} (unknown: {unknown})"
            )
        stored = np.array([self._position[int(e)] for e in episode_index], dtype=np.int64)
        last_start = self.lengths[stored] - self.clip_length
        if ((start_frame < -self.pad_start) | (start_frame > last_start)).any():
            raise ConfigError(
                f"gather: start frames {start_frame.tolist()} for clips of {self.clip_length} frames; "
                f"expected {-self.pad_start}..{last_start.tolist()} for episodes {episode_index.tolist()}"
            )
        return self._batch(self._first_window[stored] + start_frame + self.pad_start)

    def window_frames(self, windows: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """For window numbers ``(B,)``: their stored episodes ``(B,)``, start frames ``(B,)`` (negative
        when padded), global frame rows ``(B, T)`` (a padded frame repeats frame 0) and the
        padding mask of the ``T - 1`` actions ``(B, T - 1)`` (True = before the episode)."""
        episodes = self._window_episode[windows]
        starts = self._window_start[windows]
        within = starts[:, None] + np.arange(self.clip_length)  # frame index in the episode; < 0 is padding
        rows = self.offsets[episodes, None] + np.maximum(within, 0)
        return episodes, starts, rows, within[:, :-1] < 0

    @abstractmethod
    def _batch(self, windows: np.ndarray) -> BatchT:
        """The batch of window numbers ``windows`` ``(B,)``: what it holds is the subclass's."""
