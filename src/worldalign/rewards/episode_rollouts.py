"""Rollouts cut from recorded episodes: what the rewards score when the "generated" video is real.

Scoring real episodes checks a reward before any world model exists (a real expert video must
look executable), and gives the reference point that generated videos are compared with.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

from worldalign.data.pixels import to_unit_range
from worldalign.data.types import Episode, Rollout, SimulatorStart
from worldalign.errors import ConfigError


def episode_frames(episode: Episode, views: Sequence[str] | None = None) -> torch.Tensor:
    """``(V, T, 3, H, W)`` float32 in [-1, 1] of an episode's (selected) views."""
    names = tuple(views or episode.views)
    missing = [v for v in names if v not in episode.views]
    if missing:
        raise ConfigError(f"episode of {episode.task!r} has views {list(episode.views)}; asked for {missing}")
    frames = episode.frames[[episode.views.index(v) for v in names]]  # (V, T, H, W, 3) uint8
    return to_unit_range(frames)


def episode_rollout(
    episode: Episode,
    *,
    start: int,
    length: int,
    context_frames: int = 1,
    views: Sequence[str] | None = None,
    frames: torch.Tensor | None = None,
) -> Rollout:
    """A one-sample rollout whose future is frames ``start .. start + length - 1`` of ``episode``.

    The context is the ``context_frames`` frames before ``start``; the commanded actions are the
    recorded ones leading into each future frame; the reference is the real future; the start
    state is the snapshot of the last context frame.

    Args:
        frames: ``(V, T, 3, H, W)`` replacement for the episode's frames (e.g. a corrupted copy);
            the reference stays the real episode.
    """
    if context_frames < 1 or start < context_frames or start + length > episode.length or length < 1:
        raise ConfigError(
            f"episode_rollout: start={start}, length={length}, context_frames={context_frames} do not fit an "
            f"episode of {episode.length} frames (need context_frames <= start and start + length <= length)"
        )
    names = tuple(views or episode.views)
    real = episode_frames(episode, names)
    video = real if frames is None else frames
    starts = None
    if episode.snapshots is not None and episode.layout is not None:
        starts = [SimulatorStart(episode.task, np.asarray(episode.snapshots[start - 1]), np.asarray(episode.layout))]
    return Rollout(
        frames=video[None, :, start : start + length],
        views=names,
        fps=episode.fps,
        instructions=[episode.instruction],
        tasks=[episode.task],
        actions=torch.from_numpy(episode.actions[start - 1 : start - 1 + length]).float()[None],
        context=video[None, :, start - context_frames : start],
        reference=real[None, :, start : start + length],
        starts=starts,
    )


def stack_rollouts(rollouts: Sequence[Rollout]) -> Rollout:
    """One batched rollout from one-sample rollouts of equal shapes (same views and fields)."""
    first = rollouts[0]

    def cat(name: str) -> torch.Tensor | None:
        values = [getattr(r, name) for r in rollouts]
        return None if any(v is None for v in values) else torch.cat(values)

    def join(name: str) -> list | None:
        values = [getattr(r, name) for r in rollouts]
        return None if any(v is None for v in values) else [item for value in values for item in value]

    return Rollout(
        frames=torch.cat([r.frames for r in rollouts]),
        views=first.views,
        fps=first.fps,
        instructions=join("instructions"),
        tasks=join("tasks"),
        actions=cat("actions"),
        context=cat("context"),
        reference=cat("reference"),
        starts=join("starts"),
    )
