"""The motion-matching reward: 0 for the real future, negative for a frozen or an over-moving one."""

from __future__ import annotations

import pytest
import torch

from worldalign.data.types import Rollout
from worldalign.errors import ConfigError
from worldalign.rewards.registry import build_rewards


def _moving_square(speed: int, frames: int = 4) -> torch.Tensor:
    """``(1, 3, 16, 16)`` start and ``(frames, 3, 16, 16)`` future of a white square moving ``speed`` px."""
    video = torch.full((frames + 1, 3, 16, 16), -1.0)
    for t in range(frames + 1):
        video[t, :, 4:8, 2 + speed * t : 6 + speed * t] = 1.0
    return video


def test_the_real_future_scores_zero_and_stillness_and_haste_lose() -> None:
    real = _moving_square(1)
    frozen = real[:1].expand(5, -1, -1, -1)
    hasty = _moving_square(2)
    frames = torch.stack([real[1:], frozen[1:], hasty[1:]])[:, None]  # (3, 1, 4, 3, 16, 16)
    rollout = Rollout(
        frames=frames,
        views=("front",),
        fps=10,
        context=real[:1][None, None].expand(3, 1, 1, 3, 16, 16),
        reference=real[1:][None, None].expand(3, 1, 4, 3, 16, 16).clone(),
    )
    output = build_rewards("motion_match=1")(rollout)
    value = output.terms["motion_match"]
    assert value[0] == pytest.approx(0.0)
    assert value[1] < 0 and value[2] < 0
    real_motion = output.terms["motion_match/real"][0]
    assert output.terms["motion_match/generated"][1] == pytest.approx(0.0)
    assert value[1] == pytest.approx(-float(real_motion))  # frozen: minus all of the real motion


def test_it_needs_the_reference_and_the_context() -> None:
    rollout = Rollout(frames=torch.zeros(1, 1, 2, 3, 8, 8), views=("front",), fps=10)
    with pytest.raises(ConfigError, match="reference"):
        build_rewards("motion_match=1")(rollout)
