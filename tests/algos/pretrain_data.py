"""Synthetic, resumable data sources for the pretraining tests (tiny preset: 16 px frames)."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from typing import Any

import numpy as np
import torch

from worldalign.data.types import ClipBatch


def square_frames(positions: np.ndarray, size: int = 16) -> np.ndarray:
    """``(T, 2)`` square positions in [0, 1] → ``(T, 3, size, size)`` frames in [-1, 1]."""
    frames = np.full((len(positions), 3, size, size), -1.0, dtype=np.float32)
    for t, (y, x) in enumerate(positions):
        row, col = int(y * (size - 4)), int(x * (size - 4))
        frames[t, 0, row : row + 4, col : col + 4] = 1.0
        frames[t, 2, :, : size // 4] = 0.2
    return frames


class SyntheticClips:
    """Endless ``ClipBatch`` es from fixed episodes of a square moved by its actions.

    Every (episode, frame) always has the same pixels (the latent cache relies on it); which
    windows are drawn comes from a numpy generator whose state ``state_dict`` exposes, so a
    resumed run continues the same stream.
    """

    def __init__(
        self, views: int = 1, context: int = 4, future: int = 2, batch: int = 4, seed: int = 0, episodes: int = 3
    ) -> None:
        setup = np.random.default_rng(1234)
        self.length = 14
        self.views, self.context, self.future, self.batch = views, context, future, batch
        self.actions = setup.uniform(-1, 1, (episodes, self.length, 4)).astype(np.float32)
        positions = 0.5 + 0.4 * np.tanh(np.cumsum(self.actions[..., :2] * 0.3, axis=1))
        frames = np.stack([square_frames(p) for p in positions])  # (E, T, 3, 16, 16)
        self.frames = np.stack([np.roll(frames, shift=v, axis=-1) for v in range(views)], axis=1)  # (E, V, T, ...)
        self.rng = np.random.default_rng(seed)

    def __iter__(self) -> Iterator[ClipBatch]:
        span = self.context + self.future
        while True:
            episode = self.rng.integers(0, len(self.frames), self.batch)
            start = self.rng.integers(0, self.length - span + 1, self.batch)
            frames = np.stack([self.frames[e, :, s : s + span] for e, s in zip(episode, start, strict=True)])
            actions = np.stack([self.actions[e, s : s + span - 1] for e, s in zip(episode, start, strict=True)])
            yield ClipBatch(
                frames=torch.from_numpy(frames),
                actions=torch.from_numpy(actions),
                context_frames=self.context,
                instructions=[f"move the square in episode {e}" for e in episode],
                tasks=["square"] * self.batch,
                episode_index=torch.from_numpy(episode),
                start_frame=torch.from_numpy(start),
            )

    def state_dict(self) -> dict[str, Any]:
        return {"rng": self.rng.bit_generator.state}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.rng.bit_generator.state = state["rng"]


class SyntheticFrames:
    """Endless ``(N, 3, 16, 16)`` batches of single frames cut from ``SyntheticClips`` episodes."""

    def __init__(self, batch: int = 8, seed: int = 0) -> None:
        self.pool = torch.from_numpy(SyntheticClips().frames[:, 0].reshape(-1, 3, 16, 16))
        self.batch = batch
        self.rng = np.random.default_rng(seed)

    def __iter__(self) -> Iterator[torch.Tensor]:
        while True:
            yield self.pool[self.rng.integers(0, len(self.pool), self.batch)]

    def state_dict(self) -> dict[str, Any]:
        return {"rng": self.rng.bit_generator.state}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.rng.bit_generator.state = state["rng"]


class KilledAfter:
    """A data source that dies after ``batches`` batches, like a run killed mid-training."""

    def __init__(self, source: Any, batches: int) -> None:
        self.source, self.batches = source, batches

    def __iter__(self) -> Iterator[Any]:
        for index, batch in enumerate(self.source):
            if index == self.batches:
                raise KeyboardInterrupt("killed")
            yield batch

    def state_dict(self) -> dict[str, Any]:
        return self.source.state_dict()

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.source.load_state_dict(state)


def hashed_instruction_embeddings(instructions: list[str], dim: int = 16) -> torch.Tensor:
    """A deterministic stand-in for the MiniLM encoder: unit vectors seeded by the text."""
    rows = []
    for text in instructions:
        seed = int(hashlib.sha256(text.encode()).hexdigest()[:8], 16)
        row = torch.randn(dim, generator=torch.Generator().manual_seed(seed))
        rows.append(row / row.norm())
    return torch.stack(rows)
