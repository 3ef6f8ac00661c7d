"""ODE and SDE samplers: analytic endpoints, the SDE's marginals, log-probabilities recomputed."""

from __future__ import annotations

import pytest
import torch

from worldalign.sampling.samplers import (
    EulerODESampler,
    FlowSDESampler,
    SDETrajectory,
    recompute_log_probs,
    sde_step_log_prob,
)


def point_mass_velocity(target: torch.Tensor):
    """The exact velocity field when all data sit at ``target``: v = (x_t - target) / t."""

    def velocity(x_t: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        return (x_t - target) / t.reshape(-1, *[1] * (x_t.ndim - 1))

    return velocity


def gaussian_velocity(mean: float, std: float):
    """The exact velocity field for 1-D data N(mean, std^2) and noise N(0, 1)."""

    def velocity(x_t: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        t = t.reshape(-1, *[1] * (x_t.ndim - 1)).double()
        x = x_t.double()
        variance = (1 - t) ** 2 * std**2 + t**2
        centred = x - (1 - t) * mean
        expected_x0 = mean + (1 - t) * std**2 / variance * centred
        expected_noise = t / variance * centred
        return (expected_noise - expected_x0).float()

    return velocity


def test_ode_with_constant_velocity_reaches_the_analytic_endpoint() -> None:
    noise = torch.randn(4, 3)
    velocity = torch.tensor([0.5, -1.0, 2.0])
    result = EulerODESampler(steps=7).sample(lambda x, t: velocity.expand_as(x), noise)
    torch.testing.assert_close(result.sample, noise - velocity)  # x0 = x1 - v * 1
    assert result.trajectory is None


@pytest.mark.parametrize("steps,shift", [(1, 1.0), (5, 1.0), (12, 3.0)])
def test_ode_with_the_exact_field_lands_on_the_data(steps: int, shift: float) -> None:
    target = torch.tensor([[0.3, -0.7], [1.5, 0.0]])
    result = EulerODESampler(steps=steps, shift=shift).sample(point_mass_velocity(target), torch.randn(2, 2))
    torch.testing.assert_close(result.sample, target, atol=1e-5, rtol=0)


def test_sde_preserves_the_data_distribution() -> None:
    """Flow-GRPO's SDE has the ODE's marginals: with the exact field it samples N(2, 0.5^2)."""
    generator = torch.Generator().manual_seed(0)
    noise = torch.randn(20_000, 1, generator=generator)
    sampler = FlowSDESampler(steps=40, noise_level=0.7)
    samples = sampler.sample(gaussian_velocity(2.0, 0.5), noise, generator).sample
    assert float(samples.mean()) == pytest.approx(2.0, abs=0.03)
    assert float(samples.std()) == pytest.approx(0.5, abs=0.03)


def test_sde_records_the_trajectory_and_its_log_probs() -> None:
    generator = torch.Generator().manual_seed(0)
    noise = torch.randn(3, 2, 4, generator=generator)
    result = FlowSDESampler(steps=6, noise_level=0.5).sample(lambda x, t: -x, noise, generator)
    trajectory = result.trajectory
    assert isinstance(trajectory, SDETrajectory)
    assert trajectory.latents.shape == (3, 7, 2, 4)
    assert trajectory.log_probs.shape == (3, 6)
    torch.testing.assert_close(trajectory.latents[:, 0], noise)
    assert torch.equal(trajectory.latents[:, -1], result.sample)
    step = 2
    t, t_next = float(trajectory.timesteps[step]), float(trajectory.timesteps[step + 1])
    x_t = trajectory.latents[:, step].double()
    sigma = trajectory.step_sigma(step)
    velocity = -x_t
    mean = x_t + (velocity + sigma**2 / (2 * t) * (x_t + (1 - t) * velocity)) * (t_next - t)
    std = sigma * (t - t_next) ** 0.5
    closed_form = torch.distributions.Normal(mean, std).log_prob(trajectory.latents[:, step + 1].double())
    torch.testing.assert_close(trajectory.log_probs[:, step], closed_form.flatten(1).sum(1), rtol=1e-6, atol=1e-6)


def test_recomputed_log_probs_equal_the_recorded_ones_and_carry_gradients() -> None:
    generator = torch.Generator().manual_seed(0)
    weight = torch.nn.Parameter(torch.tensor(-0.8))
    velocity_fn = lambda x, t: weight * x  # noqa: E731
    result = FlowSDESampler(steps=5).sample(velocity_fn, torch.randn(4, 3, generator=generator), generator)
    recomputed = recompute_log_probs(velocity_fn, result.trajectory)
    assert torch.equal(recomputed.detach(), result.trajectory.log_probs)
    sde_step_log_prob(velocity_fn, result.trajectory, 1).sum().backward()
    assert weight.grad is not None and weight.grad != 0


def test_same_generator_seed_same_samples() -> None:
    def draw(seed: int) -> torch.Tensor:
        generator = torch.Generator().manual_seed(seed)
        noise = torch.randn(2, 3, generator=generator)
        return FlowSDESampler(steps=4).sample(lambda x, t: x, noise, generator).sample

    assert torch.equal(draw(1), draw(1))
    assert not torch.equal(draw(1), draw(2))
