"""The one conversion between stored pixels and the models' value range.

Stored frames (datasets, videos, judge pools) are uint8 in [0, 255] with the colour channels last,
``(..., H, W, 3)``; every model reads and writes float32 in [-1, 1] with the channels first,
``(..., 3, H, W)``.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import Tensor


def to_unit_range(pixels: np.ndarray | Tensor, *, channels_last: bool = True) -> Tensor:
    """uint8 frames → float32 ``(..., 3, H, W)`` in [-1, 1].

    ``channels_last``: the input is ``(..., H, W, 3)`` as stored; False for frames that are
    already ``(..., 3, H, W)``.
    """
    tensor = torch.from_numpy(pixels) if isinstance(pixels, np.ndarray) else pixels
    if channels_last:
        tensor = tensor.movedim(-1, -3)
    return tensor.float() / 127.5 - 1.0


def to_pixels(frames: Tensor, *, channels_last: bool = True) -> Tensor:
    """Float frames ``(..., 3, H, W)`` in [-1, 1] → uint8 (clamped, rounded), on their device,
    ``(..., H, W, 3)`` as stored (``channels_last``) or ``(..., 3, H, W)``."""
    pixels = ((frames.detach().float().clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8)
    return pixels.movedim(-3, -1).contiguous() if channels_last else pixels


def to_uint8_video(frames: Tensor) -> np.ndarray:
    """Float ``(..., 3, H, W)`` in [-1, 1] → a uint8 ``(..., H, W, 3)`` array, as video writers take."""
    return to_pixels(frames.cpu()).numpy()
