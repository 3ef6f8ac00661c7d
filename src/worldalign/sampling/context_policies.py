"""Which latents an autoregressive rollout feeds back as context: three policies to compare.

- ``FullHistory``: every latent so far, up to the model's maximum context, like the growing KV
  cache of a token-based video model (the baseline of RoboAlign-R1's SWR comparison).
- ``FixedWindow``: the last ``frames`` latents, never refreshed.
- ``SlidingWindowReencode`` (RoboAlign-R1's Sliding Window Re-encoding, SWR): the context is
  bounded to a window of ``window`` frames; when the window fills, the latest
  ``reencode_frames`` predicted frames are decoded to pixels and re-encoded, and these fresh
  latents become the whole context of the next segment. Latent-space errors do not compound
  across segments, and the sequence length stays O(window). Training-free.

A policy is a frozen description; ``ContextWindow`` is the mutable state a rollout keeps.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import Tensor

from worldalign.errors import ConfigError


@dataclass
class ContextWindow:
    """The latents a rollout may draw its context from.

    Attributes:
        latents: ``(B, V, n, C, h, w)`` latents, oldest first.
        first_frame: rollout frame index of ``latents[:, :, 0]`` (the real start is frames
            ``0..C0-1``), used to line up the per-step actions.
        recent_frames: ``(B, V, k, 3, H, W)`` decoded pixels of the last ``k`` latents, kept only
            by re-encoding policies; ``None`` otherwise.
    """

    latents: Tensor
    first_frame: int
    recent_frames: Tensor | None = None

    @property
    def length(self) -> int:
        """Number of frames held."""
        return int(self.latents.shape[2])


# Pixels (B, V, k, 3, H, W) -> latents (B, V, k, C, h, w)
Encoder = Callable[[Tensor], Tensor]


def _last_frames(window: ContextWindow, frames: int) -> tuple[Tensor, int]:
    """The last ``frames`` latents of the window and the rollout index of the first of them."""
    keep = min(window.length, frames)
    return window.latents[:, :, window.length - keep :], window.first_frame + window.length - keep


def _append_bounded(window: ContextWindow, new_latents: Tensor, frames: int) -> None:
    """Append a chunk and drop what can never be context again (all but the last ``frames``)."""
    latents = torch.cat([window.latents, new_latents], dim=2)
    excess = max(0, latents.shape[2] - frames)
    window.latents = latents[:, :, excess:]
    window.first_frame += excess


@dataclass(frozen=True)
class FullHistory:
    """All generated latents as context, up to ``max_frames`` (default: the model's maximum)."""

    max_frames: int | None = None
    """Cap on context frames; ``None`` uses ``WorldModelConfig.max_context_frames``."""

    name = "full_history"

    def resolved(self, model_max: int) -> FullHistory:
        """This policy with the cap made explicit for a model accepting ``model_max`` frames."""
        return FullHistory(max_frames=model_max if self.max_frames is None else self.max_frames)

    @property
    def limit(self) -> int:
        """Most context frames this policy uses (resolve it first)."""
        assert self.max_frames is not None, "call resolved(model_max) first"
        return self.max_frames

    def context(self, window: ContextWindow) -> tuple[Tensor, int]:
        """``(latents (B, V, Tc, C, h, w), rollout index of their first frame)``."""
        return _last_frames(window, self.limit)

    def update(self, window: ContextWindow, new_latents: Tensor, new_frames: Tensor | None, encode: Encoder) -> None:
        """Append the chunk ``(B, V, Tf, C, h, w)``."""
        _append_bounded(window, new_latents, self.limit)


@dataclass(frozen=True)
class FixedWindow:
    """The last ``frames`` latents as context, never refreshed."""

    frames: int = 2
    """Context frames."""

    name = "fixed_window"

    def resolved(self, model_max: int) -> FixedWindow:
        """This policy (it has no model-dependent setting)."""
        return self

    @property
    def limit(self) -> int:
        """Most context frames this policy uses."""
        return self.frames

    def context(self, window: ContextWindow) -> tuple[Tensor, int]:
        """``(latents (B, V, Tc, C, h, w), rollout index of their first frame)``."""
        return _last_frames(window, self.frames)

    def update(self, window: ContextWindow, new_latents: Tensor, new_frames: Tensor | None, encode: Encoder) -> None:
        """Append the chunk ``(B, V, Tf, C, h, w)`` and keep the last ``frames`` latents."""
        _append_bounded(window, new_latents, self.frames)


@dataclass(frozen=True)
class SlidingWindowReencode:
    """Sliding Window Re-encoding (RoboAlign-R1): bounded context, refreshed through pixels.

    A segment starts from ``reencode_frames`` re-encoded frames (the real start frames for the
    first segment) and grows by one predicted chunk per world-model call; once it holds
    ``window`` frames or more, its latest ``reencode_frames`` predicted frames are decoded,
    re-encoded, and start the next segment. The context of a call is at most ``window`` frames.
    With chunks of F frames, a segment generates ``ceil((window - reencode_frames) / F) * F``
    frames: window 6, 1 re-encoded frame, F = 4 re-encodes every 8 frames.
    """

    window: int = 6
    """Most context frames W (the paper uses 6); reaching it ends a segment."""
    reencode_frames: int = 1
    """Latest predicted frames decoded and re-encoded at a segment boundary (the paper: 1)."""

    name = "sliding_window_reencode"

    def resolved(self, model_max: int) -> SlidingWindowReencode:
        """This policy (it has no model-dependent setting)."""
        return self

    @property
    def limit(self) -> int:
        """Most context frames this policy uses."""
        return self.window

    def context(self, window: ContextWindow) -> tuple[Tensor, int]:
        """``(latents (B, V, Tc, C, h, w), rollout index of their first frame)``."""
        return _last_frames(window, self.window)

    def update(self, window: ContextWindow, new_latents: Tensor, new_frames: Tensor | None, encode: Encoder) -> None:
        """Append the chunk; when the window is full, restart it from re-encoded pixels.

        ``new_frames`` ``(B, V, Tf, 3, H, W)`` are the chunk's decoded pixels (the rollout decodes
        every chunk it streams out, so a boundary costs one encoder pass of ``reencode_frames``).
        """
        if new_frames is None:
            raise ConfigError("sliding_window_reencode needs the decoded frames of every chunk")
        recent = new_frames if window.recent_frames is None else torch.cat([window.recent_frames, new_frames], dim=2)
        window.recent_frames = recent[:, :, -self.reencode_frames :]
        _append_bounded(window, new_latents, self.window)
        if window.length >= self.window:
            end = window.first_frame + window.length
            window.latents = encode(window.recent_frames)
            window.first_frame = end - window.latents.shape[2]


ContextPolicy = FullHistory | FixedWindow | SlidingWindowReencode

POLICY_NAMES = (FullHistory.name, FixedWindow.name, SlidingWindowReencode.name)
# The short names commands and stage setups use for the three policies.
SHORT_POLICY_NAMES = {"full-history": FullHistory.name, "fixed-window": FixedWindow.name, "swr": SlidingWindowReencode.name}


def context_policy(name: str, frames: int | None = None, reencode_frames: int = 1) -> ContextPolicy:
    """Build a policy by name; ``frames`` is the cap (full history), the window (fixed, SWR)."""
    if name == FullHistory.name:
        return FullHistory(max_frames=frames)
    if name == FixedWindow.name:
        return FixedWindow(frames=2 if frames is None else frames)
    if name == SlidingWindowReencode.name:
        return SlidingWindowReencode(window=6 if frames is None else frames, reencode_frames=reencode_frames)
    raise ConfigError(f"unknown context policy {name!r}; choose one of {', '.join(POLICY_NAMES)}")


def context_policy_by_short_name(short_name: str, frames: int | None = None) -> ContextPolicy:
    """``context_policy`` of a short name (full-history, fixed-window, swr), as commands and stage
    setups give it."""
    if short_name not in SHORT_POLICY_NAMES:
        raise ConfigError(f"context policy {short_name!r}: choose one of {', '.join(SHORT_POLICY_NAMES)}")
    return context_policy(SHORT_POLICY_NAMES[short_name], frames=frames)


def check_policy(policy: ContextPolicy, max_context_frames: int, future_frames: int) -> None:
    """Raise ``ConfigError`` if ``policy`` (resolved) does not fit the world model's config."""
    if not 1 <= policy.limit <= max_context_frames:
        raise ConfigError(
            f"context policy {policy.name} uses {policy.limit} context frames; the world model accepts "
            f"1..{max_context_frames} (WorldModelConfig.max_context_frames)"
        )
    if isinstance(policy, SlidingWindowReencode) and not 1 <= policy.reencode_frames <= min(
        policy.window, future_frames
    ):
        raise ConfigError(
            f"sliding_window_reencode: reencode_frames={policy.reencode_frames} must be in 1..min(window="
            f"{policy.window}, future_frames={future_frames})"
        )
