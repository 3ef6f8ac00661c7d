"""The shared rectified-flow maths against closed forms."""

from __future__ import annotations

import math

import pytest
import torch

from worldalign.sampling import flow_math


def test_interpolation_endpoints_and_inverses() -> None:
    generator = torch.Generator().manual_seed(0)
    x0, noise = torch.randn(4, 3, 2, generator=generator), torch.randn(4, 3, 2, generator=generator)
    t = torch.tensor([0.0, 0.25, 0.5, 1.0])
    x_t = flow_math.interpolate(x0, noise, t)
    torch.testing.assert_close(x_t[0], x0[0])
    torch.testing.assert_close(x_t[3], noise[3])
    v = flow_math.velocity_target(x0, noise)
    torch.testing.assert_close(flow_math.x0_from_velocity(x_t, v, t), x0)
    torch.testing.assert_close(flow_math.noise_from_velocity(x_t, v, t), noise)


def test_time_schedule_runs_from_noise_to_data() -> None:
    uniform = flow_math.time_schedule(4)
    torch.testing.assert_close(uniform, torch.tensor([1.0, 0.75, 0.5, 0.25, 0.0]))
    shifted = flow_math.time_schedule(4, shift=3.0)
    assert shifted[0] == 1 and shifted[-1] == 0 and bool((shifted[1:-1] > uniform[1:-1]).all())


def test_sde_step_matches_flow_grpo_formula() -> None:
    generator = torch.Generator().manual_seed(0)
    x, v = torch.randn(2, 5, generator=generator), torch.randn(2, 5, generator=generator)
    t, t_next, a = 0.6, 0.4, 0.7
    sigma = flow_math.sde_sigma(t, a, t_at_one=0.9)
    assert sigma == pytest.approx(a * math.sqrt(t / (1 - t)))
    mean, std = flow_math.sde_step_mean_std(x, v, t, t_next, sigma)
    dt = t_next - t
    # Flow-GRPO's reference implementation, written out.
    expected = x * (1 + sigma**2 / (2 * t) * dt) + v * (1 + sigma**2 * (1 - t) / (2 * t)) * dt
    torch.testing.assert_close(mean, expected)
    assert std == pytest.approx(sigma * math.sqrt(-dt))


def test_sigma_at_t_one_uses_the_next_time_point() -> None:
    assert flow_math.sde_sigma(1.0, 0.7, t_at_one=0.9) == pytest.approx(0.7 * math.sqrt(1.0 / 0.1))


def test_zero_noise_level_gives_the_ode_step() -> None:
    x, v = torch.randn(3, 4), torch.randn(3, 4)
    mean, std = flow_math.sde_step_mean_std(x, v, 0.5, 0.3, sigma=0.0)
    torch.testing.assert_close(mean, flow_math.ode_step(x, v, 0.5, 0.3))
    assert std == 0


def test_log_prob_is_the_gaussian_density_summed_over_dims() -> None:
    generator = torch.Generator().manual_seed(0)
    mean = torch.randn(3, 2, 4, 4, generator=generator)
    sample = mean + 0.3 * torch.randn(3, 2, 4, 4, generator=generator)
    log_prob = flow_math.gaussian_log_prob(sample, mean, 0.3)
    reference = torch.distributions.Normal(mean.double(), 0.3).log_prob(sample.double()).flatten(1).sum(1)
    assert log_prob.shape == (3,)
    torch.testing.assert_close(log_prob, reference, rtol=1e-12, atol=1e-10)
