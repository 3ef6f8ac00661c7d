"""A tiny, seeded alignment set-up shared by the align tests and their two-process script.

Random-init tiny-preset autoencoder and world model (16 px, 1 view, actions), episodes of a
square moving over a gradient, and a reward that prefers brighter frames: a real learning
signal that a few updates can follow on a CPU in seconds.
"""

from __future__ import annotations

import torch
from moving_squares import moving_square_episode
from torch import Tensor, nn

from worldalign.algos.conditions import EpisodePool
from worldalign.configs.presets import get_preset
from worldalign.data.stats import Normalizer, compute_stats
from worldalign.data.types import Rollout
from worldalign.models.autoencoder import Autoencoder
from worldalign.models.world_model import WorldModel
from worldalign.rewards.compose import RewardComposer

LENGTH = 16


def episode_pool(count: int = 4) -> EpisodePool:
    episodes = [moving_square_episode(seed, length=LENGTH, shade=40 + 10 * seed) for seed in range(count)]
    return EpisodePool(
        episodes=episodes,
        indices=list(range(count)),
        views=("front",),
        normalizer=Normalizer(compute_stats(episodes)),
        fps=10,
    )


def tiny_world_model() -> WorldModel:
    """The tiny preset (1 view, 4-d actions), its zero-initialised layers randomised so that the
    candidates of one group differ from the first update on; eval mode (no dropout anywhere)."""
    torch.manual_seed(0)
    preset = get_preset("tiny").with_dataset(num_views=1, action_dim=4, instruction_dim=0)
    model = WorldModel(preset.world_model.model)
    with torch.no_grad():
        for module in model.modules():
            if isinstance(module, nn.Linear) and module.weight.abs().sum() == 0:
                module.weight.normal_(0, 0.05)
    return model.eval()


def tiny_models() -> tuple[WorldModel, Autoencoder]:
    """``tiny_world_model()`` and a random-init tiny autoencoder (16 px frames)."""
    model = tiny_world_model()
    return model, Autoencoder(get_preset("tiny").autoencoder.model).eval()


class BrightnessReward:
    """Mean pixel value of the generated frames: higher is brighter."""

    name = "brightness"

    def __call__(self, rollout: Rollout) -> dict[str, Tensor]:
        return {self.name: rollout.frames.float().mean(dim=(1, 2, 3, 4, 5))}


def brightness_rewards() -> RewardComposer:
    return RewardComposer({"brightness": 1.0}, [BrightnessReward()])
