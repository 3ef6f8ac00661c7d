"""Flow-GRPO's log-probability convention, pinned: a step's log-density is SUMMED over the latent
dimensions (the public Flow-GRPO code averages it; docs/benchmarks.md, issue 21 item 0, measures
what that does to the clip and the KL weight). Changing the convention must change this test."""

from __future__ import annotations

import copy

import torch
from align_setup import tiny_world_model
from test_flow_grpo import STEPS, advantages_of, group_rollout

from worldalign.algos.flow_grpo import grpo_step_loss
from worldalign.configs.align import FlowGRPOConfig
from worldalign.sampling.flow_math import gaussian_log_prob
from worldalign.sampling.samplers import FlowSDESampler, sde_step_log_prob


def test_the_step_log_density_is_a_sum_over_dimensions() -> None:
    generator = torch.Generator().manual_seed(0)
    mean, sample = torch.randn(2, 3, 4, 5, generator=generator), torch.randn(2, 3, 4, 5, generator=generator)
    per_dimension = torch.distributions.Normal(mean.double(), 0.3).log_prob(sample.double())
    torch.testing.assert_close(gaussian_log_prob(sample, mean, 0.3), per_dimension.flatten(1).sum(dim=1))


def test_the_grpo_ratio_is_the_ratio_of_summed_densities() -> None:
    model = tiny_world_model()
    chunk = group_rollout(model, FlowSDESampler(steps=STEPS))[0]
    assert chunk.trajectory is not None
    moved = copy.deepcopy(model)
    with torch.no_grad():
        for parameter in moved.parameters():
            parameter.add_(1e-3 * torch.randn(parameter.shape, generator=torch.Generator().manual_seed(1)))
    config = FlowGRPOConfig(kl_coef=0.0)
    _, stats = grpo_step_loss(moved, None, chunk, 1, advantages_of([chunk]), config)
    with torch.no_grad():
        new = sde_step_log_prob(chunk.velocity_fn(moved), chunk.trajectory, 1)
    expected_ratio = torch.exp(new - chunk.trajectory.log_probs[:, 1]).mean()
    torch.testing.assert_close(stats["ratio_mean"].double(), expected_ratio.double(), rtol=1e-5, atol=1e-8)
    # The summed log-ratio is D times the per-dimension mean one: far from 1 after a small move.
    assert float((new - chunk.trajectory.log_probs[:, 1]).abs().max()) > 1e-3
