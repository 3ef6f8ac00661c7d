"""The brightness reward: the mean pixel value of the generated frames, a diagnostic for RL.

An easy, dense reward that any policy-gradient method must be able to climb: every candidate
gets a different value (no ties, no reference needed), the value moves smoothly with the
model's output, and a world model can raise it by changing what it draws (lighter table, arm,
or background). It is the check that comes before a hard reward: if Flow-GRPO
(Liu et al. 2025, arXiv:2505.05470) or DiffusionNFT (Zheng et al. 2025, arXiv:2509.16117) cannot
raise the brightness within tens of updates, a flat fidelity curve says nothing about the
fidelity reward. It is what "aesthetic"- or "compressibility"-style toy rewards are to image
diffusion RL (DDPO, Black et al. 2023, arXiv:2305.13301).

``brightness[b] = sum_v w_v mean_{t, c, h, w} (frames[b, v, t, c, h, w] + 1) / 2`` in [0, 1]
(frames are in [-1, 1]), with view weights ``w`` normalised over the rollout's views
(``view_weights={"front": 1, "wrist": 0, "oblique": 0}`` scores one view). Components
``brightness/view/<name>`` are each view's mean.
"""

from __future__ import annotations

from collections.abc import Mapping

import torch
from torch import Tensor

from worldalign.data.types import Rollout
from worldalign.errors import ConfigError
from worldalign.rewards.base import component_key, normalized_view_weights


class BrightnessReward:
    """Mean pixel value in [0, 1] of the generated frames, view-weighted (module docstring).

    Args:
        view_weights: weight per camera name (a view not named gets 1.0; normalised over the
            rollout's views); ``None``: every view equal.
    """

    name = "brightness"

    def __init__(self, view_weights: Mapping[str, float] | None = None) -> None:
        if view_weights is not None and any(weight < 0 for weight in view_weights.values()):
            raise ConfigError(f"brightness reward: view weights {dict(view_weights)} must be >= 0")
        self.view_weights = dict(view_weights) if view_weights is not None else None

    def weights(self, views: tuple[str, ...]) -> Tensor:
        """``(V,)`` normalised weights of the rollout's views."""
        return normalized_view_weights(self.view_weights, views, self.name)

    @torch.no_grad()
    def __call__(self, rollout: Rollout) -> dict[str, Tensor]:
        per_view = (rollout.frames.float().mean(dim=(2, 3, 4, 5)) + 1.0) / 2.0  # (B, V)
        weights = self.weights(rollout.views).to(per_view.device)
        out = {self.name: per_view @ weights}
        for index, view in enumerate(rollout.views):
            out[component_key(self.name, f"view/{view}")] = per_view[:, index]
        return out


def make_brightness_reward(view_weights: Mapping[str, float] | None = None) -> BrightnessReward:
    """Registry factory of ``BrightnessReward``; ``align --view-weights front=1,wrist=0,oblique=0``
    selects one view."""
    return BrightnessReward(view_weights)
