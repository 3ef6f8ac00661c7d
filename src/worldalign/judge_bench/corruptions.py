"""Temporal corruptions (which rendered frames a video shows, in which order) and nuisances.

The RoboAlign-R1 benchmark (arXiv:2605.03821) scores Temporal Consistency; its negatives here
are frame orders that no camera could record: a stall (frozen frames), a gap (dropped frames),
time running backwards (reversed) and a shuffle. Nuisances (slight blur, sensor noise,
brightness) change pixels but not what happened, so they must not change any score.
"""

from __future__ import annotations

from typing import Literal

import numpy as np

from worldalign.errors import ConfigError

TemporalKind = Literal["frozen", "dropped", "reversed", "shuffled"]
TEMPORAL_KINDS: tuple[TemporalKind, ...] = ("frozen", "dropped", "reversed", "shuffled")
NuisanceKind = Literal["blur", "noise", "brightness"]
NUISANCE_KINDS: tuple[NuisanceKind, ...] = ("blur", "noise", "brightness")

DROPPED_FRAMES = 4
"""Rendered frames a gap skips; a clip with gaps needs this many frames rendered beyond it."""
FROZEN_REPEATS = (5, 8)
"""Range of extra copies of the stalled frame."""


def temporal_indices(kind: TemporalKind, shown: int, rng: np.random.Generator) -> np.ndarray:
    """``(shown,)`` int64 indices into ``shown + DROPPED_FRAMES`` rendered frames, corrupted by ``kind``."""
    if shown < 4:
        raise ConfigError(f"temporal corruptions need at least 4 shown frames, got {shown}")
    if kind == "reversed":
        return np.arange(shown)[::-1].copy()
    if kind == "shuffled":
        while True:
            order = rng.permutation(shown)
            if np.any(np.diff(order) != 1):
                return order
    if kind == "frozen":
        start = int(rng.integers(1, shown // 2))
        repeats = int(rng.integers(FROZEN_REPEATS[0], FROZEN_REPEATS[1] + 1))
        order = np.concatenate([np.arange(start + 1), np.full(repeats, start), np.arange(start + 1, shown)])
        return order[:shown]
    if kind == "dropped":
        gap_at = int(rng.integers(2, shown - 2))
        return np.concatenate([np.arange(gap_at), np.arange(gap_at + DROPPED_FRAMES, shown + DROPPED_FRAMES)])
    raise ConfigError(f"unknown temporal corruption {kind!r}; expected one of {TEMPORAL_KINDS}")


def apply_nuisance(frames: np.ndarray, kind: NuisanceKind, rng: np.random.Generator) -> np.ndarray:
    """``frames`` ``(..., H, W, 3)`` uint8 with a slight blur, Gaussian noise or brightness change."""
    pixels = frames.astype(np.float32)
    if kind == "blur":
        # 3x3 box blur with edge padding: softens edges without moving anything.
        padded = np.pad(pixels, [(0, 0)] * (pixels.ndim - 3) + [(1, 1), (1, 1), (0, 0)], mode="edge")
        height, width = pixels.shape[-3:-1]
        pixels = sum(padded[..., dy : dy + height, dx : dx + width, :] for dy in range(3) for dx in range(3)) / 9.0
    elif kind == "noise":
        pixels = pixels + rng.normal(0.0, 4.0, size=pixels.shape)
    elif kind == "brightness":
        pixels = pixels * float(rng.uniform(0.85, 1.15))
    else:
        raise ConfigError(f"unknown nuisance {kind!r}; expected one of {NUISANCE_KINDS}")
    return np.clip(np.rint(pixels), 0, 255).astype(np.uint8)
