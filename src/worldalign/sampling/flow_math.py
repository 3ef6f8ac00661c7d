"""The rectified-flow maths every sampler, loss and RL algorithm of worldalign shares.

One convention, stated once (rectified flow, Liu et al. 2022, arXiv:2209.03003; flow matching,
Lipman et al. 2022, arXiv:2210.02747; the same orientation as Stable Diffusion 3 and Flow-GRPO):

    x_t = (1 - t) * x0 + t * eps,        t in [0, 1],  t = 0 data, t = 1 pure noise
    v   = d x_t / d t = eps - x0         (the velocity the world model predicts)

so sampling integrates ``dx = v dt`` from t = 1 down to t = 0 (``dt < 0``), and from any
``(x_t, v)``: ``x0 = x_t - t * v`` and ``eps = x_t + (1 - t) * v``.

The stochastic sampler is Flow-GRPO's (Liu et al. 2025, arXiv:2505.05470, Eq. 9-10): the
reverse-time SDE with the same marginals as the ODE,

    dx_t = [v(x_t, t) + sigma_t^2 / (2 t) * (x_t + (1 - t) v(x_t, t))] dt + sigma_t dw,
    sigma_t = a * sqrt(t / (1 - t)),

discretised with Euler-Maruyama, so one step from ``t`` to ``t_next = t + dt`` is Gaussian with

    mean = x_t + [v + sigma_t^2 / (2 t) * (x_t + (1 - t) v)] * dt,   std = sigma_t * sqrt(-dt).

``a`` is the noise level. ``sigma_t`` is infinite at t = 1; like the Flow-GRPO reference code
we evaluate the ``1 - t`` of its denominator at the schedule's second time point there. The
log-probability of a step is the Gaussian log-density summed over every latent dimension.
DiffusionNFT (Zheng et al. 2025, arXiv:2509.16117) uses ``interpolate`` and ``x0_from_velocity``.
"""

from __future__ import annotations

import math

import torch


def broadcast_time(t: torch.Tensor | float, like: torch.Tensor) -> torch.Tensor:
    """``t`` of shape () or (B,) reshaped to broadcast against ``like`` (B, ...)."""
    t = torch.as_tensor(t, dtype=like.dtype, device=like.device)
    if t.ndim == 0:
        return t
    return t.reshape(t.shape[0], *([1] * (like.ndim - 1)))


def interpolate(x0: torch.Tensor, noise: torch.Tensor, t: torch.Tensor | float) -> torch.Tensor:
    """The forward process ``x_t = (1 - t) x0 + t eps``; ``t`` is () or (B,)."""
    t = broadcast_time(t, x0)
    return (1 - t) * x0 + t * noise


def velocity_target(x0: torch.Tensor, noise: torch.Tensor) -> torch.Tensor:
    """The regression target of flow matching, ``v = eps - x0``."""
    return noise - x0


def x0_from_velocity(x_t: torch.Tensor, velocity: torch.Tensor, t: torch.Tensor | float) -> torch.Tensor:
    """The clean sample implied by a velocity at time ``t``: ``x0 = x_t - t v``."""
    return x_t - broadcast_time(t, x_t) * velocity


def noise_from_velocity(x_t: torch.Tensor, velocity: torch.Tensor, t: torch.Tensor | float) -> torch.Tensor:
    """The noise implied by a velocity at time ``t``: ``eps = x_t + (1 - t) v``."""
    return x_t + (1 - broadcast_time(t, x_t)) * velocity


def time_schedule(steps: int, shift: float = 1.0) -> torch.Tensor:
    """``(steps + 1,)`` decreasing times from 1 to 0 for ``steps`` sampling steps.

    ``shift`` > 1 spends more steps at high noise (SD3's timestep shift,
    ``t' = shift t / (1 + (shift - 1) t)``); 1 gives a uniform grid.
    """
    if steps < 1:
        raise ValueError(f"sampling needs at least 1 step, got {steps}")
    t = torch.linspace(1.0, 0.0, steps + 1, dtype=torch.float64)
    t = shift * t / (1 + (shift - 1) * t)
    return t.to(torch.float32)


def ode_step(x_t: torch.Tensor, velocity: torch.Tensor, t: float, t_next: float) -> torch.Tensor:
    """One Euler step of ``dx = v dt`` from ``t`` to ``t_next`` (``t_next < t``)."""
    return x_t + (t_next - t) * velocity


def sde_sigma(t: float, noise_level: float, t_at_one: float) -> float:
    """Flow-GRPO's ``sigma_t = a sqrt(t / (1 - t))``, with ``1 - t`` taken at ``t_at_one`` when t = 1."""
    denominator_t = t_at_one if t >= 1.0 else t
    return noise_level * math.sqrt(t / (1.0 - denominator_t))


def sde_step_mean_std(
    x_t: torch.Tensor, velocity: torch.Tensor, t: float, t_next: float, sigma: float
) -> tuple[torch.Tensor, float]:
    """Mean and std of the Euler-Maruyama step of Flow-GRPO's SDE from ``t`` to ``t_next``.

    Returns ``(mean (like x_t), std)``; ``std = sigma * sqrt(t - t_next)``.
    """
    dt = t_next - t
    score_term = (sigma**2 / (2.0 * t)) * (x_t + (1.0 - t) * velocity)
    mean = x_t + (velocity + score_term) * dt
    return mean, sigma * math.sqrt(-dt)


def gaussian_log_prob(sample: torch.Tensor, mean: torch.Tensor, std: float) -> torch.Tensor:
    """``(B,)`` log-density of ``sample`` under N(mean, std^2 I), summed over all non-batch dims.

    Computed in float64 so that recomputing a stored step's log-probability is reproducible to
    well below the differences a policy update makes.
    """
    diff = sample.double() - mean.double()
    per_dim = -(diff**2) / (2.0 * std**2) - math.log(std) - 0.5 * math.log(2.0 * math.pi)
    return per_dim.flatten(1).sum(dim=1)
