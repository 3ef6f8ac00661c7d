"""Input checks shared by the frame metrics: pairs of frames ``(..., C, H, W)`` in [-1, 1].

Every metric scores one value per frame, so the leading dimensions (typically ``(B, V, T)``:
batch, camera view, time) are flattened into one batch for the computation and restored on the
result.
"""

from __future__ import annotations

import torch
from torch import Tensor


def flatten_frame_pairs(generated: Tensor, reference: Tensor, *, metric: str) -> tuple[Tensor, Tensor, torch.Size]:
    """Check a pair of frame tensors and flatten their leading dimensions.

    Args:
        generated: frames ``(..., C, H, W)``, floating point, in [-1, 1].
        reference: frames of the same shape.
        metric: the metric's name, used in error messages.

    Returns:
        ``(generated, reference, leading)`` with both tensors shaped ``(N, C, H, W)`` and
        ``leading`` the original leading shape, so that ``result.reshape(leading)`` restores it.

    Raises:
        ValueError: the shapes differ, there are fewer than three dimensions, or the frames are not
            floating point (uint8 frames would silently be scored on the wrong scale).
    """
    if generated.shape != reference.shape:
        raise ValueError(
            f"{metric}: generated and reference frames must have the same shape, got "
            f"{tuple(generated.shape)} and {tuple(reference.shape)}"
        )
    if generated.ndim < 3:
        raise ValueError(
            f"{metric}: expected frames shaped (..., C, H, W), e.g. (B, V, T, C, H, W); "
            f"got shape {tuple(generated.shape)}"
        )
    for role, frames in (("generated", generated), ("reference", reference)):
        if not frames.is_floating_point():
            raise ValueError(
                f"{metric}: expected floating-point {role} frames in [-1, 1], got dtype {frames.dtype}; "
                "convert uint8 frames with frames.float() / 127.5 - 1"
            )
    leading = generated.shape[:-3]
    frame_shape = generated.shape[-3:]
    return generated.reshape(-1, *frame_shape), reference.reshape(-1, *frame_shape), leading


def result_dtype(frames: Tensor) -> torch.dtype:
    """The dtype a metric returns: float64 for float64 frames, float32 for anything narrower."""
    return torch.float64 if frames.dtype == torch.float64 else torch.float32


def check_value_range(value_range: tuple[float, float], *, metric: str) -> tuple[float, float]:
    """Return ``(low, span)`` of a ``(low, high)`` pixel range after checking that low < high."""
    low, high = (float(bound) for bound in value_range)
    span = high - low
    if not (span > 0 and span != float("inf")):
        raise ValueError(
            f"{metric}: value_range must be finite (low, high) with low < high, e.g. (-1.0, 1.0) or "
            f"(0.0, 1.0); got {value_range!r}"
        )
    return low, span
