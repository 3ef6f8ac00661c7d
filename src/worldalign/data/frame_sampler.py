"""Endless resumable batches of single frames, what the frame autoencoder trains on."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np
from torch import Tensor

from worldalign.data.pixels import to_unit_range
from worldalign.errors import ConfigError


class FrameSampler:
    """Endless batches of single frames ``(N, 3, H, W)`` float32 in [-1, 1], drawn uniformly.

    ``frames`` is ``(M, 3, H, W)`` uint8 (every view of every frame, e.g. ``FrameCache.frames``).
    The same seed gives the same stream; ``state_dict``/``load_state_dict`` save and restore its
    position, so a resumed training run draws the batches the uninterrupted one would have.
    """

    def __init__(self, frames: np.ndarray, *, batch_size: int, seed: int = 0) -> None:
        if batch_size < 1 or len(frames) == 0:
            raise ConfigError(f"FrameSampler: batch_size={batch_size} with {len(frames)} frames; expected both >= 1")
        self.frames = frames
        self.batch_size = batch_size
        self.seed = seed
        self._rng = np.random.default_rng(seed)

    def __iter__(self) -> Iterator[Tensor]:
        while True:
            picked = self.frames[self._rng.integers(0, len(self.frames), self.batch_size)]
            yield to_unit_range(picked, channels_last=False)

    def state_dict(self) -> dict[str, Any]:
        """The stream's position (JSON-serialisable)."""
        return {"seed": self.seed, "rng": self._rng.bit_generator.state}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Continue the stream from a position saved by ``state_dict``."""
        if state.get("seed") != self.seed:
            raise ConfigError(
                f"FrameSampler: the saved stream was seeded {state.get('seed')}, this sampler {self.seed}"
            )
        self._rng.bit_generator.state = state["rng"]
