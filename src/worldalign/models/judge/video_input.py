"""Videos into the judge: shape checks with clear errors, resampling, and motion channels.

Judges read ``(B, V, T, 3, H, W)`` float videos in [-1, 1] (the ``Rollout`` layout). Each model
sees a fixed number of frames at a fixed size, so any clip length is resampled uniformly in time
and resized; every frame is paired with its difference to the previous one (square-root
amplified), which makes motion (and its absence, or its reversal) visible to a per-frame encoder.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from worldalign.errors import ConfigError


def frames_from_storage(frames: Tensor) -> Tensor:
    """``(B, V, T, H, W, 3)`` uint8 -> ``(B, V, T, 3, H, W)`` float32 in [-1, 1]."""
    if frames.dtype != torch.uint8 or frames.ndim != 6 or frames.shape[-1] != 3:
        raise ConfigError(f"stored frames must be (B, V, T, H, W, 3) uint8, got {tuple(frames.shape)} {frames.dtype}")
    return frames.permute(0, 1, 2, 5, 3, 4).float().div(127.5).sub(1.0)


def check_video(video: Tensor, views: int, where: str = "video") -> None:
    """``ConfigError`` unless ``video`` is ``(B, views, T >= 2, 3, H, W)`` with square frames."""
    if video.ndim != 6 or video.shape[3] != 3:
        raise ConfigError(f"{where} must be (B, V, T, 3, H, W) frames, got shape {tuple(video.shape)}")
    if video.shape[1] != views:
        raise ConfigError(f"{where} has {video.shape[1]} views; this judge was trained on {views} views")
    if video.shape[2] < 2:
        raise ConfigError(f"{where} has {video.shape[2]} frames; a judge needs at least 2")
    if video.shape[4] != video.shape[5] or video.shape[4] < 16:
        raise ConfigError(f"{where} frames are {video.shape[4]}x{video.shape[5]}; expected square frames of at least 16 px")


def frame_positions(length: int, num_frames: int) -> Tensor:
    """``(num_frames,)`` int64 frame indices spread uniformly over a clip of ``length`` frames."""
    return torch.linspace(0, length - 1, num_frames).round().long()


def prepare_video(video: Tensor, num_frames: int, size: int) -> Tensor:
    """``(B, V, T, 3, H, W)`` in [-1, 1] -> ``(B, V, num_frames, 6, size, size)``: frames + differences."""
    batch, views, length = video.shape[:3]
    picked = video[:, :, frame_positions(length, num_frames).to(video.device)]
    flat = picked.reshape(batch * views * num_frames, 3, *video.shape[-2:])
    if flat.shape[-1] != size:
        flat = F.interpolate(flat, size=(size, size), mode="area")
    frames = flat.reshape(batch, views, num_frames, 3, size, size)
    difference = torch.cat([torch.zeros_like(frames[:, :, :1]), frames[:, :, 1:] - frames[:, :, :-1]], dim=2)
    return torch.cat([frames, signed_sqrt(difference)], dim=3)


def signed_sqrt(difference: Tensor) -> Tensor:
    """``sign(d) * sqrt(|d|)``: frame differences with small motions amplified.

    A robot that moves a little changes a few pixels by 1-2 levels (0.008-0.016 in [-1, 1]); a
    frozen frame changes none. The square root makes a one-level change 0.09, eleven times its
    raw size, so stalls, gaps and small objects moving stand out from the static scene.
    """
    return torch.sign(difference) * difference.abs().sqrt()


def pool_actions(actions: Tensor | None, batch: int, num_frames: int, action_dim: int) -> tuple[Tensor, Tensor]:
    """``(B, T, A)`` actions (or ``None``) -> ``(B, num_frames, A)`` window means and ``(B, 1)`` presence."""
    if actions is None:
        return torch.zeros(batch, num_frames, action_dim), torch.zeros(batch, 1)
    if actions.ndim != 3 or actions.shape[0] != batch or actions.shape[2] != action_dim:
        raise ConfigError(f"actions must be ({batch}, T, {action_dim}), got {tuple(actions.shape)}")
    bounds = torch.linspace(0, actions.shape[1], num_frames + 1).round().long().tolist()
    windows = [actions[:, lo : max(hi, lo + 1)].mean(dim=1) for lo, hi in zip(bounds[:-1], bounds[1:])]
    return torch.stack(windows, dim=1).float(), torch.ones(batch, 1, device=actions.device)
