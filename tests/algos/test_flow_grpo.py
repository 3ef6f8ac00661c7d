"""Flow-GRPO's loss on SDE rollouts of the tiny world model: ratio 1 before an update, a step helps."""

from __future__ import annotations

import copy
import dataclasses

import pytest
import torch
from align_setup import tiny_world_model

from worldalign.algos.advantages import group_advantages
from worldalign.algos.flow_grpo import grpo_loss, grpo_step_loss, select_train_steps
from worldalign.configs.align import FlowGRPOConfig
from worldalign.configs.presets import get_preset
from worldalign.errors import ConfigError
from worldalign.models.autoencoder import Autoencoder
from worldalign.models.world_model import WorldModel
from worldalign.sampling.context_policies import FullHistory
from worldalign.sampling.rollout import RolloutChunk, rollout
from worldalign.sampling.samplers import EulerODESampler, FlowSDESampler, sde_step_log_prob

CONDITIONS, GROUP, START, HORIZON, STEPS = 2, 4, 2, 4, 4


def group_rollout(model: WorldModel, sampler: FlowSDESampler | EulerODESampler) -> list[RolloutChunk]:
    """2 conditions x a group of 4 samples each, 4 frames in 2 chunks, chunks recorded."""
    autoencoder = Autoencoder(get_preset("tiny").autoencoder.model).eval()
    generator = torch.Generator().manual_seed(1)
    start = torch.randn(CONDITIONS, 1, START, 4, 2, 2, generator=generator).repeat_interleave(GROUP, dim=0)
    actions = torch.randn(CONDITIONS, START + HORIZON - 1, 4, generator=generator).repeat_interleave(GROUP, dim=0)
    result = rollout(
        model, autoencoder, start, HORIZON, FullHistory(), sampler=sampler, actions=actions,
        generator=generator, decode=False, record_chunks=True,
    )
    return result.chunks


@pytest.fixture(scope="module")
def model() -> WorldModel:
    return tiny_world_model()


@pytest.fixture(scope="module")
def chunks(model: WorldModel) -> list[RolloutChunk]:
    return group_rollout(model, FlowSDESampler(steps=STEPS))


def advantages_of(chunks: list[RolloutChunk]) -> torch.Tensor:
    rewards = -torch.cat([chunk.latents for chunk in chunks], dim=2).square().flatten(1).mean(dim=1)
    return group_advantages(rewards, GROUP)


def test_ratio_is_one_before_any_update(model: WorldModel, chunks: list[RolloutChunk]) -> None:
    config = FlowGRPOConfig(kl_coef=0.04)
    reference = copy.deepcopy(model)
    advantages = advantages_of(chunks)
    assert len(chunks) == 2 and advantages.abs().sum() > 0
    for chunk in chunks:
        for step in range(STEPS):
            _, stats = grpo_step_loss(model, reference, chunk, step, advantages, config)
            assert abs(stats["ratio_mean"].item() - 1.0) < 1e-6
            assert stats["clip_fraction"].item() == 0.0
            assert stats["approx_kl"].item() < 1e-12
            assert stats["kl"].item() == 0.0


def test_step_log_prob_matches_the_sampler(model: WorldModel, chunks: list[RolloutChunk]) -> None:
    """grpo_step_loss's single-forward log-prob is the sampler's own recomputation."""
    chunk = chunks[1]
    assert chunk.trajectory is not None
    expected = sde_step_log_prob(chunk.velocity_fn(model), chunk.trajectory, 2)
    torch.testing.assert_close(expected, chunk.trajectory.log_probs[:, 2], rtol=0, atol=1e-6)


def test_one_adam_step_changes_weights_and_lowers_the_loss(chunks: list[RolloutChunk]) -> None:
    policy = tiny_world_model()
    reference = copy.deepcopy(policy)
    config = FlowGRPOConfig(clip_range=0.2, kl_coef=0.04)
    advantages = advantages_of(chunks)
    steps = list(range(STEPS))
    before_weights = [parameter.detach().clone() for parameter in policy.parameters()]
    optimizer = torch.optim.Adam(policy.parameters(), lr=1e-3)
    loss, _ = grpo_loss(policy, reference, chunks, steps, advantages, config)
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()
    changed = any(not torch.equal(a, b.detach()) for a, b in zip(before_weights, policy.parameters(), strict=True))
    assert changed
    after, after_stats = grpo_loss(policy, reference, chunks, steps, advantages, config)
    assert after.item() < loss.item() - 1e-4
    assert abs(after_stats["ratio_mean"].item() - 1.0) > 1e-6
    assert after_stats["kl"].item() > 0


def test_kl_is_off_without_a_reference(model: WorldModel, chunks: list[RolloutChunk]) -> None:
    advantages = advantages_of(chunks)
    loss, stats = grpo_step_loss(model, None, chunks[0], 0, advantages, FlowGRPOConfig(kl_coef=0.0))
    assert stats["kl"].item() == 0.0 and torch.isfinite(loss)
    with pytest.raises(ConfigError, match="reference"):
        grpo_step_loss(model, None, chunks[0], 0, advantages, FlowGRPOConfig(kl_coef=0.1))


def test_ode_chunks_are_refused(model: WorldModel) -> None:
    ode_chunks = group_rollout(model, EulerODESampler(steps=2))
    with pytest.raises(ConfigError, match="FlowSDESampler"):
        grpo_step_loss(model, None, ode_chunks[0], 0, torch.zeros(CONDITIONS * GROUP), FlowGRPOConfig(kl_coef=0.0))


def test_select_train_steps() -> None:
    first = select_train_steps(10, 0.5, torch.Generator().manual_seed(3))
    assert first == select_train_steps(10, 0.5, torch.Generator().manual_seed(3))
    assert len(first) == 5 and len(set(first)) == 5 and first == sorted(first)
    assert all(0 <= step < 10 for step in first)
    assert select_train_steps(10, 1.0, torch.Generator().manual_seed(0)) == list(range(10))
    assert len(select_train_steps(10, 0.3, torch.Generator().manual_seed(0))) == 3
    assert len(select_train_steps(4, 0.01, torch.Generator().manual_seed(0))) == 1
    draws = {tuple(select_train_steps(10, 0.3, torch.Generator().manual_seed(seed))) for seed in range(5)}
    assert len(draws) > 1


@pytest.mark.parametrize(
    "field, value",
    [("clip_range", 0.0), ("kl_coef", -1.0), ("adv_clip_max", 0.0), ("train_timestep_fraction", 0.0),
     ("train_timestep_fraction", 1.5), ("inner_epochs", 0)],
)
def test_config_validation(field: str, value: float) -> None:
    with pytest.raises(ConfigError, match=field):
        dataclasses.replace(FlowGRPOConfig(), **{field: value})
