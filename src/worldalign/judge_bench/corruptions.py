"""Temporal corruptions (which rendered frames a video shows, in which order), nuisances and
generator artifacts.

The RoboAlign-R1 benchmark (arXiv:2605.03821) scores Temporal Consistency; its negatives here
are frame orders that no camera could record: a stall (frozen frames), a gap (dropped frames),
time running backwards (reversed) and a shuffle. Nuisances (slight blur, sensor noise,
brightness) change pixels but not what happened, so they must not change any score.

Artifacts are what a video generator paints that no scene holds: matter appearing from nowhere
(a red blob growing in a view) and a swelling arm (the robot's red pixels dilating). A world
model aligned to the judge learnt to paint both, because in real clips a red object in the
wrist camera means the object is held (docs/benchmarks.md, RoboAlign-R1 seed 0). They change
what the video shows, not what the simulator did.
"""

from __future__ import annotations

from typing import Literal

import numpy as np

from worldalign.errors import ConfigError

TemporalKind = Literal["frozen", "dropped", "reversed", "shuffled"]
TEMPORAL_KINDS: tuple[TemporalKind, ...] = ("frozen", "dropped", "reversed", "shuffled")
NuisanceKind = Literal["blur", "noise", "brightness"]
NUISANCE_KINDS: tuple[NuisanceKind, ...] = ("blur", "noise", "brightness")
ArtifactKind = Literal["blob", "swelling"]
ARTIFACT_KINDS: tuple[ArtifactKind, ...] = ("blob", "swelling")

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


def apply_artifact(
    frames: np.ndarray, kind: ArtifactKind, rng: np.random.Generator, view: int | None = None
) -> np.ndarray:
    """``frames`` ``(V, T, H, W, 3)`` uint8 with a generator artifact growing over the clip in one
    view (``view``, default a random one): a red blob, or the red robot swelling."""
    if frames.ndim != 5 or frames.shape[-1] != 3:
        raise ConfigError(f"artifacts need frames of shape (V, T, H, W, 3), got {frames.shape}")
    views, shown, height, width, _ = frames.shape
    view = int(rng.integers(views)) if view is None else view
    out = frames.copy()
    onset = int(rng.integers(0, shown // 2))
    # The artifact grows linearly from the onset frame to its full size at the last frame.
    growth = np.clip((np.arange(shown) - onset + 1) / (shown - onset), 0.0, 1.0)
    if kind == "blob":
        centre = (rng.uniform(0.4, 0.85) * height, rng.uniform(0.25, 0.75) * width)
        radius = rng.uniform(0.15, 0.3) * height
        aspect = rng.uniform(0.7, 1.3)
        colour = np.array([rng.uniform(110, 200), rng.uniform(5, 40), rng.uniform(5, 40)])
        rows, cols = np.ogrid[:height, :width]
        distance = np.sqrt(((rows - centre[0]) * aspect) ** 2 + ((cols - centre[1]) / aspect) ** 2)
        for t in np.flatnonzero(growth > 0):
            out[view, t][distance <= radius * growth[t]] = np.rint(colour).astype(np.uint8)
    elif kind == "swelling":
        if not can_swell(frames[view]):
            raise ConfigError(f"view {view} shows no red (robot) pixels to swell; paint a blob instead")
        reach = int(rng.integers(2, 5)) * max(1, height // 64)
        for t in np.flatnonzero(growth > 0):
            frame = out[view, t]
            red = _red_mask(frame)
            if not red.any():
                continue
            swollen = _dilate(red, max(1, int(round(reach * growth[t]))))
            frame[swollen & ~red] = np.median(frame[red], axis=0).astype(np.uint8)
    else:
        raise ConfigError(f"unknown artifact {kind!r}; expected one of {ARTIFACT_KINDS}")
    return out


def can_swell(frames: np.ndarray) -> bool:
    """Whether ``(T, H, W, 3)`` uint8 frames of one view show red (robot) pixels to swell in their
    last frame, where the swelling is full-grown: then it changes the clip."""
    return bool(_red_mask(frames[-1]).any())


def _red_mask(frame: np.ndarray) -> np.ndarray:
    """``(..., H, W)`` bool: the saturated red pixels of ``(..., H, W, 3)`` uint8 frames (the Sawyer arm)."""
    red, green, blue = (frame[..., c].astype(np.int32) for c in range(3))
    return (red > 90) & (red > 2 * green) & (red > 2 * blue)


def _dilate(mask: np.ndarray, reach: int) -> np.ndarray:
    """``mask`` grown by ``reach`` pixels (a square structuring element)."""
    height, width = mask.shape
    padded = np.pad(mask, reach)
    grown = np.zeros_like(mask)
    for dy in range(2 * reach + 1):
        for dx in range(2 * reach + 1):
            grown |= padded[dy : dy + height, dx : dx + width]
    return grown
