"""Videos into the judge: shape checks with clear errors, resampling, and motion channels.

Judges read ``(B, V, T, 3, H, W)`` float videos in [-1, 1] (the ``Rollout`` layout). Each model
sees a fixed number of frames at a fixed size, so any clip length is resampled uniformly in time
and resized; every frame is paired with its difference to the previous one (square-root
amplified), which makes motion (and its absence, or its reversal) visible to a per-frame encoder;
``motion_statistics`` summarises each step's motion in three numbers per view.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from worldalign.data.pixels import to_unit_range
from worldalign.errors import ConfigError


def frames_from_storage(frames: Tensor) -> Tensor:
    """``(B, V, T, H, W, 3)`` uint8 -> ``(B, V, T, 3, H, W)`` float32 in [-1, 1]."""
    if frames.dtype != torch.uint8 or frames.ndim != 6 or frames.shape[-1] != 3:
        raise ConfigError(f"stored frames must be (B, V, T, H, W, 3) uint8, got {tuple(frames.shape)} {frames.dtype}")
    return to_unit_range(frames)


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


def resample_video(video: Tensor, num_frames: int, size: int) -> Tensor:
    """``(B, V, T, 3, H, W)`` -> ``(B, V, num_frames, 3, size, size)``: frames spread uniformly in time, area-resized."""
    batch, views, length = video.shape[:3]
    picked = video if length == num_frames else video[:, :, frame_positions(length, num_frames).to(video.device)]
    if video.shape[-1] == size:
        return picked
    flat = F.interpolate(picked.reshape(batch * views * num_frames, 3, *video.shape[-2:]), size=(size, size), mode="area")
    return flat.reshape(batch, views, num_frames, 3, size, size)


def prepare_video(video: Tensor, num_frames: int, size: int) -> Tensor:
    """``(B, V, T, 3, H, W)`` in [-1, 1] -> ``(B, V, num_frames, 6, size, size)``: frames + differences."""
    frames = resample_video(video, num_frames, size)
    difference = torch.cat([torch.zeros_like(frames[:, :, :1]), frames[:, :, 1:] - frames[:, :, :-1]], dim=2)
    return torch.cat([frames, signed_sqrt(difference)], dim=3)


def signed_sqrt(difference: Tensor) -> Tensor:
    """``sign(d) * sqrt(|d|)``: frame differences with small motions amplified.

    A robot that moves a little changes a few pixels by 1-2 levels (0.008-0.016 in [-1, 1]); a
    frozen frame changes none. The square root makes a one-level change 0.09, eleven times its
    raw size, so stalls, gaps and small objects moving stand out from the static scene.
    """
    return torch.sign(difference) * difference.abs().sqrt()


CHANGED_PIXEL = 0.01
"""A pixel counts as changed when it moved by more than one of 256 levels (0.0078 in [-1, 1])."""


def motion_statistics(frames: Tensor) -> Tensor:
    """``(B, V, F, 3, S, S)`` frames in [-1, 1] -> ``(B, F, 3 V)`` explicit per-step motion of every view.

    For each view and step: the log mean absolute frame difference (how much moved), the fraction
    of changed pixels (how much of the image moved) and the step's log energy minus the mean of
    its two neighbours' (a stall reads strongly negative, a dropped frame or a teleport positive,
    smooth motion near zero). A learned encoder has to discover these from a few thousand
    training videos; given explicitly, a frozen or dropped frame is one number away. Log energies
    are centred and scaled to about unit range (motion is 10^-3.5..10^-1.5 per pixel); the first
    step, which has no previous frame, reads as a stall with zero contrast.
    """
    magnitude = torch.cat([torch.zeros_like(frames[:, :, :1]), frames[:, :, 1:] - frames[:, :, :-1]], dim=2).abs()
    log_energy = torch.log10(magnitude.mean(dim=(3, 4, 5)) + 1e-5)
    changed = (magnitude > CHANGED_PIXEL).float().mean(dim=(3, 4, 5))
    steps = log_energy[:, :, 1:]
    before = torch.cat([steps[:, :, 1:2], steps[:, :, :-1]], dim=2)  # the edges mirror their one neighbour
    after = torch.cat([steps[:, :, 1:], steps[:, :, -2:-1]], dim=2)
    contrast = F.pad(steps - 0.5 * (before + after), (1, 0))
    return torch.cat([(log_energy + 2.5) / 1.5, changed, contrast], dim=1).transpose(1, 2)


def pool_actions(actions: Tensor | None, batch: int, num_frames: int, action_dim: int) -> tuple[Tensor, Tensor]:
    """``(B, T, A)`` actions (or ``None``) -> ``(B, num_frames, A)`` window means and ``(B, 1)`` presence."""
    if actions is None:
        return torch.zeros(batch, num_frames, action_dim), torch.zeros(batch, 1)
    if actions.ndim != 3 or actions.shape[0] != batch or actions.shape[2] != action_dim:
        raise ConfigError(f"actions must be ({batch}, T, {action_dim}), got {tuple(actions.shape)}")
    bounds = torch.linspace(0, actions.shape[1], num_frames + 1).round().long().tolist()
    windows = [actions[:, lo : max(hi, lo + 1)].mean(dim=1) for lo, hi in zip(bounds[:-1], bounds[1:])]
    return torch.stack(windows, dim=1).float(), torch.ones(batch, 1, device=actions.device)
