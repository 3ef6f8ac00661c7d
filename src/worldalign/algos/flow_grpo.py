"""Flow-GRPO: clipped GRPO on the Gaussian steps of a flow model's SDE sampler (arXiv:2505.05470).

Flow-GRPO (Liu et al. 2025) turns the deterministic flow ODE into a marginal-preserving SDE
(``sampling.flow_math``), so every denoising step of a rollout is a Gaussian policy step with a
tractable log-probability. With group-relative advantages ``A`` (GRPO, Shao et al. 2024,
arXiv:2402.03300) the objective of one step is PPO's clipped surrogate (Schulman et al. 2017,
arXiv:1707.06347) on the per-step ratio ``rho = p_theta(x_{t-1} | x_t) / p_old(x_{t-1} | x_t)``,

    L_clip = mean_i max(-A_i rho_i, -A_i clip(rho_i, 1 - eps, 1 + eps)),

plus ``beta`` times the KL between the step Gaussians of the policy and of the frozen reference,
which share their std ``s``: ``KL = ||mu_theta - mu_ref||^2 / (2 s^2)``, averaged (not summed)
over the latent dimensions as in Flow-GRPO.

``grpo_update`` is one update, as the alignment loop (``algos.align``) runs it: it draws the
denoising steps to train on, back-propagates ``grpo_step_loss`` once per (chunk, step) term (one
backward per forward, as DDP requires; gradients are exchanged on the last) and steps the
optimizer, ``inner_epochs`` times. The loss functions compute a loss and nothing else: the caller
puts the policy and the reference in ``eval()`` mode, so the recomputed log-probabilities equal
the recorded ones and the ratio is exactly 1 before the first update.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import Tensor, nn

from worldalign.algos.conditions import CandidateBatch
from worldalign.algos.update_loop import UpdateLoop, mean_stats
from worldalign.configs.align import FlowGRPOConfig
from worldalign.errors import ConfigError
from worldalign.sampling.flow_math import gaussian_log_prob, sde_step_mean_std
from worldalign.sampling.rollout import RolloutChunk
from worldalign.sampling.samplers import SDETrajectory, VelocityFn


def select_train_steps(num_steps: int, fraction: float, generator: torch.Generator) -> list[int]:
    """The sorted denoising steps one update trains on: ``max(1, floor(num_steps * fraction))``
    distinct steps of ``0..num_steps-1`` drawn without replacement from ``generator`` (CPU)."""
    if num_steps < 1:
        raise ConfigError(f"num_steps must be >= 1, got {num_steps}")
    if not 0 < fraction <= 1:
        raise ConfigError(f"fraction must be in (0, 1], got {fraction}")
    count = max(1, math.floor(num_steps * fraction + 1e-9))
    return sorted(torch.randperm(num_steps, generator=generator)[:count].tolist())


def _step_gaussian(velocity_fn: VelocityFn, trajectory: SDETrajectory, step: int) -> tuple[Tensor, float]:
    """Mean and std of the SDE step ``step`` of ``trajectory`` under ``velocity_fn`` (one forward)."""
    x_t = trajectory.latents[:, step]
    t = float(trajectory.timesteps[step])
    t_next = float(trajectory.timesteps[step + 1])
    times = torch.full((x_t.shape[0],), t, dtype=x_t.dtype, device=x_t.device)
    velocity = velocity_fn(x_t, times).float()
    return sde_step_mean_std(x_t, velocity, t, t_next, trajectory.step_sigma(step))


def _require_trajectory(chunk: RolloutChunk) -> SDETrajectory:
    if chunk.trajectory is None:
        raise ConfigError(
            "Flow-GRPO needs SDE samples: this chunk has no trajectory; roll out with "
            "sampler=FlowSDESampler(...) and record_chunks=True"
        )
    return chunk.trajectory


def grpo_step_loss(
    policy: nn.Module,
    reference: nn.Module | None,
    chunk: RolloutChunk,
    step: int,
    advantages: Tensor,
    config: FlowGRPOConfig,
) -> tuple[Tensor, dict[str, Tensor]]:
    """The Flow-GRPO loss of one (chunk, denoising step) term, and its detached statistics.

    Args:
        policy: the trained world model, possibly DDP-wrapped (it is only called), in ``eval()``
            mode so that its log-probabilities reproduce the recorded ones.
        reference: the frozen reference model (``eval()``), or ``None`` when ``config.kl_coef == 0``.
        chunk: a recorded chunk of an SDE rollout (its ``trajectory`` holds the old log-probs).
        step: the denoising step, ``0 <= step < trajectory.num_steps``.
        advantages: ``(B,)`` advantages of the chunk's samples (clamped to ``adv_clip_max`` here).
        config: the objective's hyperparameters.

    Returns:
        ``(loss, stats)``: the scalar float32 loss ``L_clip + kl_coef * KL`` and the detached
        ``ratio_mean``, ``clip_fraction`` (share of ratios with ``|rho - 1| > eps``), ``approx_kl``
        (``0.5 mean((log p_new - log p_old)^2)``), ``kl`` and ``policy_loss``.
    """
    trajectory = _require_trajectory(chunk)
    if not 0 <= step < trajectory.num_steps:
        raise ConfigError(f"step={step} is outside the trajectory's {trajectory.num_steps} denoising steps")
    if config.kl_coef > 0 and reference is None:
        raise ConfigError(f"kl_coef={config.kl_coef} needs a reference model; pass one or set kl_coef=0")
    batch = trajectory.latents.shape[0]
    if tuple(advantages.shape) != (batch,):
        raise ConfigError(f"advantages have shape {tuple(advantages.shape)}, expected ({batch},)")

    mean, std = _step_gaussian(chunk.velocity_fn(policy), trajectory, step)
    new_log_prob = gaussian_log_prob(trajectory.latents[:, step + 1], mean, std)
    old_log_prob = trajectory.log_probs[:, step].to(new_log_prob)
    advantage = advantages.to(new_log_prob).clamp(-config.adv_clip_max, config.adv_clip_max)
    ratio = torch.exp(new_log_prob - old_log_prob)
    clipped_ratio = ratio.clamp(1.0 - config.clip_range, 1.0 + config.clip_range)
    policy_loss = torch.maximum(-advantage * ratio, -advantage * clipped_ratio).mean()

    kl = torch.zeros((), dtype=mean.dtype, device=mean.device)
    if config.kl_coef > 0 and reference is not None:
        with torch.no_grad():
            reference_mean, _ = _step_gaussian(chunk.velocity_fn(reference), trajectory, step)
        kl = ((mean - reference_mean).square().flatten(1).mean(dim=1) / (2.0 * std**2)).mean()
    loss = policy_loss.float() + config.kl_coef * kl

    with torch.no_grad():
        log_ratio = new_log_prob - old_log_prob
        stats = {
            "ratio_mean": ratio.mean().float(),
            "clip_fraction": ((ratio - 1.0).abs() > config.clip_range).float().mean(),
            "approx_kl": (0.5 * log_ratio.square().mean()).float(),
            "kl": kl.detach().float(),
            "policy_loss": policy_loss.detach().float(),
        }
    return loss, stats


def grpo_loss(
    policy: nn.Module,
    reference: nn.Module | None,
    chunks: Sequence[RolloutChunk],
    steps: Sequence[int],
    advantages: Tensor,
    config: FlowGRPOConfig,
) -> tuple[Tensor, dict[str, Tensor]]:
    """The mean of ``grpo_step_loss`` over every chunk and every step in ``steps``, with mean stats.

    The chunks of one rollout share its samples, so ``advantages (B,)`` applies to all of them.
    One graph for all terms: for single-process use and tests; under DDP, call
    ``grpo_step_loss`` and ``backward()`` per term instead.
    """
    if not chunks or not steps:
        raise ConfigError("grpo_loss needs at least one chunk and one step")
    terms = [grpo_step_loss(policy, reference, chunk, step, advantages, config) for chunk in chunks for step in steps]
    loss = torch.stack([term_loss for term_loss, _ in terms]).mean()
    stats = {name: torch.stack([term_stats[name] for _, term_stats in terms]).mean() for name in terms[0][1]}
    return loss, stats


def grpo_update(
    run: UpdateLoop, config: FlowGRPOConfig, batch: CandidateBatch, advantages: Tensor
) -> dict[str, float]:
    """One Flow-GRPO update on a batch of SDE candidates and their group advantages ``(B,)``:
    every chunk of the rollouts at the drawn denoising steps, ``inner_epochs`` passes with one
    optimizer step each. Returns the terms' mean statistics and the mean gradient norm."""
    stats: list[dict[str, Tensor]] = []
    norms = []
    for epoch in range(config.inner_epochs):
        losses: dict[str, Tensor] = {}
        num_steps = batch.chunks[0].trajectory.num_steps if batch.chunks[0].trajectory is not None else 0
        steps = select_train_steps(num_steps, config.train_timestep_fraction, run.generator)
        terms = [(chunk, step) for chunk in batch.chunks for step in steps]
        for index, (chunk, step) in enumerate(terms):
            with run.no_sync(index == len(terms) - 1):
                loss, term_stats = grpo_step_loss(run.model, run.reference, chunk, step, advantages, config)
                run.accelerator.backward(loss / len(terms))
            losses[f"GRPO loss (epoch {epoch}, chunk {index // len(steps)}, denoising step {step})"] = loss.detach()
            stats.append(term_stats)
        norms.append(run.step(losses))
    return {**mean_stats(stats), "grad_norm": sum(norms) / len(norms)}
