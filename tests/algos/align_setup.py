"""A tiny, seeded alignment set-up shared by the align tests and their two-process script.

Random-init tiny-preset autoencoder and world model (16 px, 1 view, actions), episodes of a
square moving over a gradient, and a reward that prefers brighter frames: a real learning
signal that a few updates can follow on a CPU in seconds.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import Tensor

from worldalign.algos.conditions import EpisodePool
from worldalign.configs.presets import get_preset
from worldalign.data.stats import Normalizer, compute_stats
from worldalign.data.types import Episode, Rollout
from worldalign.models.autoencoder import Autoencoder
from worldalign.models.world_model import WorldModel
from worldalign.rewards.compose import RewardComposer

SIZE, LENGTH = 16, 16


def square_episode(seed: int) -> Episode:
    """A 4x4 square moving diagonally over a gradient, with random actions."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[:SIZE, :SIZE]
    frames = np.empty((1, LENGTH, SIZE, SIZE, 3), np.uint8)
    for t in range(LENGTH):
        image = np.stack([xx * 12, yy * 12, np.full_like(xx, 40 + 10 * seed)], axis=-1)
        y = x = (seed + t) % (SIZE - 4)
        image[y : y + 4, x : x + 4] = (250, 200, 60)
        frames[0, t] = image
    return Episode(
        task="reach-v3",
        instruction="reach the goal",
        views=("front",),
        frames=frames,
        actions=rng.normal(size=(LENGTH, 4)).astype(np.float32),
        state=rng.normal(size=(LENGTH, 5)).astype(np.float32),
    )


def episode_pool(count: int = 4) -> EpisodePool:
    episodes = [square_episode(seed) for seed in range(count)]
    return EpisodePool(
        episodes=episodes,
        indices=list(range(count)),
        views=("front",),
        normalizer=Normalizer(compute_stats(episodes)),
        fps=10,
    )


def tiny_models(seed: int = 0) -> tuple[WorldModel, Autoencoder]:
    preset = get_preset("tiny").with_dataset(num_views=1, action_dim=4, instruction_dim=0)
    torch.manual_seed(seed)
    autoencoder = Autoencoder(preset.autoencoder.model).eval()
    model = WorldModel(preset.world_model.model)
    # The zero-initialised output layer makes every velocity 0 at first; a small random output
    # layer gives the candidates of one group something to differ by.
    torch.nn.init.normal_(model.final.linear.weight, std=0.02)
    return model, autoencoder


class BrightnessReward:
    """Mean pixel value of the generated frames: higher is brighter."""

    name = "brightness"

    def __call__(self, rollout: Rollout) -> dict[str, Tensor]:
        return {self.name: rollout.frames.float().mean(dim=(1, 2, 3, 4, 5))}


def brightness_rewards() -> RewardComposer:
    return RewardComposer({"brightness": 1.0}, [BrightnessReward()])
