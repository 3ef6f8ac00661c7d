"""DiffusionNFT: online RL of a flow model on its forward process (Zheng et al. 2025, arXiv:2509.16117).

No SDE and no likelihoods: DiffusionNFT trains on clean samples (from any sampler) with a
flow-matching-style loss. With the trained velocity ``v_theta``, the frozen "old" velocity
``v_old`` that generated the samples, and the guidance strength ``b`` (not the KL weight), it
defines the implicit positive and negative policies

    v+ = b v_theta + (1 - b) v_old,        v- = (1 + b) v_old - b v_theta,

and, on ``x_t = (1 - t) x0 + t eps`` with ``x0± = x_t - t v±`` (``flow_math``), the losses

    L± = mean_dims (x0± - x0)^2 / sg(mean_dims |x0± - x0|)         (adaptive, per sample)
    loss_i = (r_i L+_i + (1 - r_i) L-_i) * adv_clip_max / b,

where ``r in [0, 1]`` is the optimality probability of the sample's advantage
(``advantages.optimality_probability``). Dividing by ``b`` keeps the gradient's size independent
of ``b`` (both ``x0±`` move with ``b * v_theta``); the factor ``adv_clip_max`` is the reference
implementation's constant scale, kept so that its learning rates transfer. Optionally
``kl_coef * mean (v_theta - v_ref)^2`` keeps the model near a frozen reference. The old model is
an EMA of the trained one (``ema_update``) with a decay that grows with the update count
(``NFTConfig.ema_decay_at``).

``nft_update`` is one update, as the alignment loop (``algos.align``) runs it: the loss of every
chunk back-propagated on its own (one backward per forward, as DDP requires), one optimizer step,
then the EMA step of the old model. The caller sets the modes (``eval()`` for deterministic
velocities).
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from worldalign.algos.advantages import optimality_probability
from worldalign.algos.conditions import CandidateBatch
from worldalign.algos.training_run import ema_update
from worldalign.algos.update_loop import UpdateLoop, mean_stats
from worldalign.configs.align import NFTConfig
from worldalign.errors import ConfigError
from worldalign.sampling.flow_math import interpolate, x0_from_velocity
from worldalign.sampling.guidance import autocast_context
from worldalign.sampling.rollout import RolloutChunk

NORMALIZER_FLOOR = 1e-5
"""Lower bound of the stop-gradient mean absolute error that normalises each loss."""


def implicit_velocities(v_theta: Tensor, v_old: Tensor, beta: float) -> tuple[Tensor, Tensor]:
    """DiffusionNFT's implicit positive and negative velocities ``(v+, v-)``."""
    return beta * v_theta + (1 - beta) * v_old, (1 + beta) * v_old - beta * v_theta


def _normalized_error(x0_prediction: Tensor, x0: Tensor) -> Tensor:
    """``(B,)`` mean squared error over dims divided by the stop-gradient mean absolute error."""
    error = x0_prediction - x0
    with torch.no_grad():
        scale = error.abs().flatten(1).mean(dim=1).clamp(min=NORMALIZER_FLOOR)
    return error.square().flatten(1).mean(dim=1) / scale


def nft_losses(
    v_theta: Tensor, v_old: Tensor, x_t: Tensor, x0: Tensor, t: Tensor, beta: float
) -> tuple[Tensor, Tensor]:
    """``(L+, L-)``, each ``(B,)``: the normalised x0-space losses of the implicit policies at ``x_t``."""
    v_positive, v_negative = implicit_velocities(v_theta, v_old, beta)
    positive = _normalized_error(x0_from_velocity(x_t, v_positive, t), x0)
    negative = _normalized_error(x0_from_velocity(x_t, v_negative, t), x0)
    return positive, negative


def _combine(positive: Tensor, negative: Tensor, optimality: Tensor, config: NFTConfig) -> Tensor:
    r = optimality.to(positive)
    return (r * positive + (1 - r) * negative) * (config.adv_clip_max / config.beta)


def nft_objective(
    v_theta: Tensor, v_old: Tensor, x_t: Tensor, x0: Tensor, t: Tensor, optimality: Tensor, config: NFTConfig
) -> Tensor:
    """``(B,)`` per-sample DiffusionNFT loss ``(r L+ + (1 - r) L-) * adv_clip_max / beta``.

    ``v_old`` should carry no gradient; ``t (B,)``; ``optimality (B,)`` in [0, 1].
    """
    positive, negative = nft_losses(v_theta, v_old, x_t, x0, t, config.beta)
    return _combine(positive, negative, optimality, config)


def _model_velocity(model: nn.Module, x_t: Tensor, t: Tensor, chunk: RolloutChunk, bf16: bool) -> Tensor:
    """The conditional velocity in float32 (no classifier-free guidance: DiffusionNFT trains
    CFG-free); ``bf16``: the forward under bf16 autocast."""
    with autocast_context(x_t.device, bf16):
        return model(x_t, t, chunk.context, chunk.actions, chunk.instruction).float()


def nft_loss(
    policy: nn.Module,
    old: nn.Module,
    reference: nn.Module | None,
    chunk: RolloutChunk,
    optimality: Tensor,
    config: NFTConfig,
    generator: torch.Generator,
    bf16: bool = False,
) -> tuple[Tensor, dict[str, Tensor]]:
    """The DiffusionNFT loss of one chunk's clean samples, and its detached statistics.

    Args:
        policy: the trained world model (possibly DDP-wrapped; it is only called once, with grad).
        old: the EMA "old" model that stands for the sampling policy (called under ``no_grad``).
        reference: a frozen reference model, or ``None`` when ``config.kl_coef == 0``.
        chunk: a recorded rollout chunk; ``chunk.latents`` are the clean samples ``x0`` (any
            sampler; the trajectory is not used).
        optimality: ``(B,)`` optimality probabilities in [0, 1] (``optimality_probability``).
        config: the objective's hyperparameters.
        generator: CPU generator for ``t ~ U[time_min, time_max]`` and ``eps ~ N(0, I)``.
        bf16: run the three models' forward passes under bf16 autocast (the loss stays float32).

    Returns:
        ``(loss, stats)``: the scalar loss (batch mean of ``nft_objective`` plus the KL term) and
        the detached batch means ``positive_loss``, ``negative_loss``, ``kl`` and ``loss``.
    """
    if config.kl_coef > 0 and reference is None:
        raise ConfigError(f"kl_coef={config.kl_coef} needs a reference model; pass one or set kl_coef=0")
    x0 = chunk.latents.float()
    batch = x0.shape[0]
    if tuple(optimality.shape) != (batch,):
        raise ConfigError(f"optimality has shape {tuple(optimality.shape)}, expected ({batch},)")
    t = torch.rand(batch, generator=generator) * (config.time_max - config.time_min) + config.time_min
    t = t.to(x0.device)
    noise = torch.randn(x0.shape, generator=generator).to(x0.device)
    x_t = interpolate(x0, noise, t)

    v_theta = _model_velocity(policy, x_t, t, chunk, bf16)
    with torch.no_grad():
        v_old = _model_velocity(old, x_t, t, chunk, bf16)
    positive, negative = nft_losses(v_theta, v_old, x_t, x0, t, config.beta)
    loss = _combine(positive, negative, optimality, config).mean()

    kl = torch.zeros((), dtype=loss.dtype, device=loss.device)
    if config.kl_coef > 0 and reference is not None:
        with torch.no_grad():
            v_reference = _model_velocity(reference, x_t, t, chunk, bf16)
        kl = (v_theta - v_reference).square().flatten(1).mean(dim=1).mean()
        loss = loss + config.kl_coef * kl

    stats = {
        "positive_loss": positive.detach().mean(),
        "negative_loss": negative.detach().mean(),
        "kl": kl.detach(),
        "loss": loss.detach(),
    }
    return loss, stats


def nft_update(
    run: UpdateLoop, config: NFTConfig, batch: CandidateBatch, advantages: Tensor, *, bf16: bool = False
) -> dict[str, float]:
    """One DiffusionNFT update on a batch of clean candidates and their group advantages ``(B,)``:
    the loss of every chunk, one optimizer step, then ``old <- EMA(old, policy)`` at the decay of
    this update (``bf16``: the forward passes under bf16 autocast, ``nft_loss``). Returns the
    chunks' mean statistics, the gradient norm and the decay."""
    if run.old is None:
        raise ConfigError("DiffusionNFT's update needs the loop's old (EMA) model")
    optimality = optimality_probability(advantages, config.adv_clip_max)
    stats: list[dict[str, Tensor]] = []
    losses: dict[str, Tensor] = {}
    for index, chunk in enumerate(batch.chunks):
        with run.no_sync(index == len(batch.chunks) - 1):
            loss, term_stats = nft_loss(
                run.model, run.old, run.reference, chunk, optimality, config, run.generator, bf16=bf16
            )
            run.accelerator.backward(loss / len(batch.chunks))
        losses[f"NFT loss (chunk {index})"] = loss.detach()
        stats.append(term_stats)
    norm = run.step(losses)
    decay = config.ema_decay_at(run.iteration)
    ema_update(run.old, run.model, decay)
    return {**mean_stats(stats), "grad_norm": norm, "ema_decay": decay}
