"""The brightness reward: the mean pixel in [0, 1], per view and view-weighted, through the registry."""

from __future__ import annotations

import pytest
import torch

from worldalign.data.types import Rollout
from worldalign.errors import ConfigError
from worldalign.rewards.brightness import BrightnessReward
from worldalign.rewards.registry import available_rewards, build_rewards


def _rollout(levels: list[list[float]]) -> Rollout:
    """One sample per row, one view per column, each view uniformly at the given pixel in [-1, 1]."""
    values = torch.tensor(levels)  # (B, V)
    frames = values[:, :, None, None, None, None].expand(-1, -1, 3, 3, 8, 8).clone()
    return Rollout(frames=frames, views=("oblique", "front", "wrist")[: values.shape[1]], fps=10)


def test_black_is_zero_white_is_one_and_gray_is_half() -> None:
    out = BrightnessReward()(_rollout([[-1.0, -1.0], [1.0, 1.0], [0.0, 0.0], [-1.0, 1.0]]))
    assert out["brightness"].tolist() == pytest.approx([0.0, 1.0, 0.5, 0.5])
    assert out["brightness/view/oblique"].tolist() == pytest.approx([0.0, 1.0, 0.5, 0.0])
    assert out["brightness/view/front"].tolist() == pytest.approx([0.0, 1.0, 0.5, 1.0])


def test_a_brighter_pixel_anywhere_raises_it() -> None:
    frames = torch.full((2, 1, 4, 3, 8, 8), -0.5)
    frames[1, 0, 3, 1, 2, 5] = 0.5  # one channel of one pixel of the last frame
    out = BrightnessReward()(Rollout(frames=frames, views=("front",), fps=10))
    assert out["brightness"][1] - out["brightness"][0] == pytest.approx(0.5 / (4 * 3 * 8 * 8), rel=1e-4)


def test_view_weights_select_one_view() -> None:
    rollout = _rollout([[-1.0, 1.0, 0.0]])
    assert float(BrightnessReward({"front": 1, "oblique": 0, "wrist": 0})(rollout)["brightness"]) == pytest.approx(1.0)
    assert float(BrightnessReward({"front": 0})(rollout)["brightness"]) == pytest.approx(0.25)  # (0 + 0.5) / 2
    with pytest.raises(ConfigError, match="lacks"):
        BrightnessReward({"top": 1})(rollout)
    with pytest.raises(ConfigError, match="weight 0"):
        BrightnessReward({"oblique": 0, "front": 0, "wrist": 0})(rollout)
    with pytest.raises(ConfigError, match=">= 0"):
        BrightnessReward({"front": -1})


def test_the_registry_builds_it_with_the_view_weights_option() -> None:
    assert "brightness" in available_rewards()
    composer = build_rewards("brightness=2.0", view_weights={"wrist": 1, "oblique": 0, "front": 0}, idm="unused")
    output = composer(_rollout([[-1.0, -1.0, 1.0], [1.0, 1.0, -1.0]]))
    assert output.total.tolist() == pytest.approx([2.0, 0.0])
