"""RL climbs an easy reward (issue 21, item 0): both algorithms, default hyper-parameters, 50 updates.

The tiny preset set-up of ``align_setup`` (random-init models, moving squares), the registered
``brightness`` reward, every ``AlignConfig`` option at its default except the small batch and
sampling budget that keep the test fast. The reward is measured on the training conditions
before and after with the same conditions and noise (common random numbers, 4 draws), so the
noise of the measurement is the spread of the per-draw changes; the rise must exceed it many
times over. The control: the same run with the reward's sign flipped must move the other way,
so the change is the reward's doing, not drift of the weights.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from align_setup import episode_pool, tiny_models

from worldalign.algos.align import align
from worldalign.algos.conditions import RolloutStateConditions
from worldalign.configs.align import AlignConfig
from worldalign.models.autoencoder import Autoencoder
from worldalign.models.world_model import WorldModel
from worldalign.rewards.registry import build_rewards
from worldalign.sampling.samplers import EulerODESampler

UPDATES = 50
DRAWS = 4


def conditions() -> RolloutStateConditions:
    return RolloutStateConditions(episode_pool(), context_frames=2, max_prefix_chunks=1, max_continuation_chunks=2)


def training_brightness(model: WorldModel, autoencoder: Autoencoder) -> torch.Tensor:
    """``(DRAWS,)`` mean brightness of 4 x 4 candidates on the training conditions, fixed draws."""
    reward = build_rewards("brightness=1")
    values = []
    for draw in range(DRAWS):
        with torch.no_grad():
            batch = conditions().sample(
                model.eval(), autoencoder, 4, 4, EulerODESampler(steps=4), torch.Generator().manual_seed(1000 + draw)
            )
        values.append(reward(batch.rollout).total.mean())
    return torch.stack(values)


def change_after_training(algorithm: str, weight: float, out: Path) -> torch.Tensor:
    """``(DRAWS,)`` change of the training brightness after ``UPDATES`` updates on ``weight * brightness``."""
    model, autoencoder = tiny_models()
    before = training_brightness(model, autoencoder)
    config = AlignConfig(
        algorithm=algorithm,
        iterations=UPDATES,
        conditions_per_iteration=2,
        group_size=4,
        sampling_steps=4,
        checkpoint_every=UPDATES,
        seed=0,
    )
    align(config, model, autoencoder, conditions(), build_rewards(f"brightness={weight}"), out, progress=False)
    return training_brightness(model, autoencoder) - before


@pytest.mark.parametrize("algorithm", ["grpo", "nft"])
def test_both_algorithms_climb_brightness_at_default_settings(algorithm: str, tmp_path: Path) -> None:
    up = change_after_training(algorithm, 1.0, tmp_path / "up")
    down = change_after_training(algorithm, -1.0, tmp_path / "down")
    noise = max(float(up.std()), float(down.std()), 1e-6)
    assert float(up.mean()) > 5 * noise, f"{algorithm}: brightness changes {up.tolist()} (noise {noise:.2e})"
    assert float(down.mean()) < -5 * noise, f"{algorithm}: darkness changes {down.tolist()} (noise {noise:.2e})"
