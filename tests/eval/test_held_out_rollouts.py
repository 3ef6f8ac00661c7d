"""The held-out evaluation scores the same rollouts the same way in every run, even with a reward
that samples (the teacher judge's MC dropout), and leaves the training's random stream alone."""

from __future__ import annotations

import pytest
import torch
from moving_squares import tiny_runs
from torch import Tensor

from worldalign.data.lerobot_reader import LeRobotDataset
from worldalign.data.types import Rollout
from worldalign.eval.alignment import HeldOutRollouts
from worldalign.models.world_model import WorldModel
from worldalign.rewards.compose import RewardComposer
from worldalign.runs.loading import load_autoencoder, load_world_model_run
from worldalign.sampling.context_policies import context_policy_by_short_name
from worldalign.stages.align import episode_pool


class CoinReward:
    """Draws from the global random state, as MC dropout does."""

    name = "coin"

    def __call__(self, rollout: Rollout) -> dict[str, Tensor]:
        return {self.name: torch.rand(rollout.frames.shape[0])}


@pytest.fixture(scope="module")
def evaluation(tmp_path_factory: pytest.TempPathFactory) -> tuple[HeldOutRollouts, WorldModel]:
    runs = tiny_runs(tmp_path_factory.mktemp("held_out"))
    world_model = load_world_model_run(runs["wm"])
    dataset = LeRobotDataset(runs["dataset"])
    pool = episode_pool(dataset, [0, 1], tuple(dataset.views), world_model.normalizer)
    evaluator = HeldOutRollouts(
        pool=pool,
        autoencoder=load_autoencoder(runs["ae"]),
        rewards=RewardComposer({"coin": 1.0}, [CoinReward()]),
        policy=context_policy_by_short_name("full-history"),
        horizon=2,
        sampling_steps=2,
        seeds=(0, 1),
        instruction_encoder=world_model.instruction_encoder,
    )
    return evaluator, world_model.model


def test_a_sampling_reward_scores_alike_whatever_the_training_seed(
    evaluation: tuple[HeldOutRollouts, WorldModel],
) -> None:
    evaluator, model = evaluation
    torch.manual_seed(0)
    first = evaluator(model, iteration=0)
    torch.manual_seed(1)  # another training seed's random state
    after_first_state = torch.random.get_rng_state()
    second = evaluator(model, iteration=0)
    assert first == second
    assert first["coin/seed_std"] > 0, "the two sampling seeds draw different noise"
    assert torch.equal(torch.random.get_rng_state(), after_first_state), "the training's random stream is untouched"
