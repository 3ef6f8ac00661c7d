"""Samplers that turn a velocity function into samples: deterministic ODE and Flow-GRPO's SDE.

A sampler knows nothing of world models: it integrates any ``velocity_fn(x_t, t) -> v`` from
noise at t = 1 to data at t = 0 with the maths of ``flow_math``. The SDE sampler also records
its trajectory and the Gaussian log-probability of every step (Flow-GRPO, arXiv:2505.05470), and
``sde_step_log_prob`` recomputes any step's log-probability under new weights from that record,
which is what the GRPO ratio needs.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch
from torch import Tensor

from worldalign.sampling.flow_math import (
    gaussian_log_prob,
    ode_step,
    sde_sigma,
    sde_step_mean_std,
    time_schedule,
)

# (x_t (B, ...), t (B,)) -> velocity (B, ...)
VelocityFn = Callable[[Tensor, Tensor], Tensor]


@dataclass
class SDETrajectory:
    """Everything needed to recompute an SDE sample's per-step log-probabilities later.

    Attributes:
        latents: ``(B, S + 1, ...)``: ``latents[:, 0]`` is the initial noise, ``latents[:, i + 1]``
            the state after step ``i``, ``latents[:, -1]`` the sample.
        timesteps: ``(S + 1,)`` the flow times, from 1 down to 0.
        log_probs: ``(B, S)`` log-density of each step under the sampling model (float64).
        noise_level: the SDE's ``a``.
    """

    latents: Tensor
    timesteps: Tensor
    log_probs: Tensor
    noise_level: float

    @property
    def num_steps(self) -> int:
        """Number of denoising steps S."""
        return int(self.timesteps.shape[0] - 1)

    def step_sigma(self, step: int) -> float:
        """``sigma_t`` of step ``step`` (see ``flow_math.sde_sigma``)."""
        return sde_sigma(float(self.timesteps[step]), self.noise_level, float(self.timesteps[1]))


@dataclass
class SampleResult:
    """A sampler's output: the samples and, for the SDE sampler, its trajectory."""

    sample: Tensor
    trajectory: SDETrajectory | None = None


def _batch_time(t: float, x: Tensor) -> Tensor:
    return torch.full((x.shape[0],), t, dtype=x.dtype, device=x.device)


@dataclass(frozen=True)
class EulerODESampler:
    """Deterministic Euler integration of the probability-flow ODE ``dx = v dt`` from t=1 to t=0."""

    steps: int = 10
    """Number of Euler steps."""
    shift: float = 1.0
    """Timestep shift (> 1 spends more steps at high noise); see ``flow_math.time_schedule``."""

    @torch.no_grad()
    def sample(self, velocity_fn: VelocityFn, noise: Tensor, generator: torch.Generator | None = None) -> SampleResult:
        """``noise (B, ...)`` at t = 1 → ``SampleResult(sample (B, ...))``; ``generator`` is unused."""
        schedule = time_schedule(self.steps, self.shift).tolist()
        x = noise.float()
        for t, t_next in itertools.pairwise(schedule):
            x = ode_step(x, velocity_fn(x, _batch_time(t, x)).float(), t, t_next)
        return SampleResult(sample=x)


@dataclass(frozen=True)
class FlowSDESampler:
    """Flow-GRPO's marginal-preserving SDE sampler with per-step log-probabilities."""

    steps: int = 10
    """Number of Euler-Maruyama steps."""
    noise_level: float = 0.7
    """The SDE's ``a`` in ``sigma_t = a sqrt(t / (1 - t))`` (Flow-GRPO uses 0.7); 0 = the ODE."""
    shift: float = 1.0
    """Timestep shift; see ``flow_math.time_schedule``."""

    @torch.no_grad()
    def sample(self, velocity_fn: VelocityFn, noise: Tensor, generator: torch.Generator | None = None) -> SampleResult:
        """``noise (B, ...)`` → samples and their ``SDETrajectory``.

        Step noise is drawn on the CPU from ``generator`` (then moved), so a seed gives the same
        samples on every device.
        """
        schedule = time_schedule(self.steps, self.shift)
        times = schedule.tolist()
        x = noise.float()
        states, log_probs = [x], []
        for t, t_next in itertools.pairwise(times):
            velocity = velocity_fn(x, _batch_time(t, x)).float()
            sigma = sde_sigma(t, self.noise_level, times[1])
            mean, std = sde_step_mean_std(x, velocity, t, t_next, sigma)
            step_noise = torch.randn(x.shape, generator=generator, dtype=x.dtype).to(x.device)
            x = mean + std * step_noise
            log_probs.append(gaussian_log_prob(x, mean, std))
            states.append(x)
        trajectory = SDETrajectory(
            latents=torch.stack(states, dim=1),
            timesteps=schedule.to(noise.device),
            log_probs=torch.stack(log_probs, dim=1),
            noise_level=self.noise_level,
        )
        return SampleResult(sample=x, trajectory=trajectory)


def sde_step_log_prob(velocity_fn: VelocityFn, trajectory: SDETrajectory, step: int) -> Tensor:
    """``(B,)`` log-probability of the recorded step ``step`` under ``velocity_fn`` (e.g. new weights).

    Differentiable through ``velocity_fn``: the GRPO loss backpropagates through this.
    """
    x_t = trajectory.latents[:, step]
    x_next = trajectory.latents[:, step + 1]
    t = float(trajectory.timesteps[step])
    t_next = float(trajectory.timesteps[step + 1])
    velocity = velocity_fn(x_t, _batch_time(t, x_t)).float()
    mean, std = sde_step_mean_std(x_t, velocity, t, t_next, trajectory.step_sigma(step))
    return gaussian_log_prob(x_next, mean, std)


def recompute_log_probs(
    velocity_fn: VelocityFn, trajectory: SDETrajectory, steps: Sequence[int] | None = None
) -> Tensor:
    """``(B, len(steps))`` log-probabilities of recorded steps (all steps by default)."""
    chosen = range(trajectory.num_steps) if steps is None else steps
    return torch.stack([sde_step_log_prob(velocity_fn, trajectory, step) for step in chosen], dim=1)
