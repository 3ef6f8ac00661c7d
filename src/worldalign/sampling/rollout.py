"""Autoregressive world-model rollouts: T frames in chunks, predictions fed back as context.

Starting from real context latents, every call of the world model predicts a chunk of up to
``future_frames`` frames; a context policy (``context_policies``: full history, fixed window, or
RoboAlign-R1's Sliding Window Re-encoding) decides what the next call sees. Every chunk is
decoded to pixels as it is produced (a deployed model streams frames), so the per-frame latency
includes decoding, and re-encoding at an SWR boundary costs one encoder pass.

With the SDE sampler, each chunk's context, actions and ``SDETrajectory`` are kept
(``RolloutChunk``), so Flow-GRPO can recompute every step's log-probability under new weights.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import torch
from torch import Tensor

from worldalign.errors import ConfigError
from worldalign.models.autoencoder import Autoencoder
from worldalign.models.world_model import WorldModel
from worldalign.sampling.context_policies import ContextPolicy, ContextWindow, SlidingWindowReencode, check_policy
from worldalign.sampling.guidance import WorldModelVelocity
from worldalign.sampling.memory import PeakMemoryMeter
from worldalign.sampling.samplers import EulerODESampler, FlowSDESampler, SDETrajectory


@dataclass
class RolloutChunk:
    """One world-model call of a rollout, with what recomputing its log-probabilities needs.

    Attributes:
        context: ``(B, V, Tc, C, h, w)`` the context latents it saw.
        actions: ``(B, Tc + Tf - 1, A)`` the actions it saw, or ``None``.
        instruction: ``(B, E)`` the instruction embeddings it saw, or ``None``.
        guidance_scale: the classifier-free guidance scale it was sampled with.
        first_frame: rollout frame index of its first predicted frame.
        latents: ``(B, V, Tf, C, h, w)`` the chunk it produced (the clean sample).
        trajectory: the SDE trajectory (``latents[:, -1]`` is the chunk), or ``None`` for the ODE.
        action_guidance_scale: the guidance scale on the actions alone it was sampled with.
    """

    context: Tensor
    actions: Tensor | None
    instruction: Tensor | None
    guidance_scale: float
    first_frame: int
    latents: Tensor
    trajectory: SDETrajectory | None
    action_guidance_scale: float = 1.0

    def velocity_fn(self, model: WorldModel, bf16: bool = False) -> WorldModelVelocity:
        """The velocity function of ``model`` (e.g. updated weights) under this chunk's conditions:
        ``recompute_log_probs(chunk.velocity_fn(model), chunk.trajectory)``."""
        return WorldModelVelocity(
            model, self.context, self.actions, self.instruction, self.guidance_scale, bf16, self.action_guidance_scale
        )


@dataclass
class RolloutResult:
    """A rollout's frames and what it cost.

    Attributes:
        latents: ``(B, V, T, C, h, w)`` the generated latents (the start is not repeated).
        frames: ``(B, V, T, 3, H, W)`` decoded frames in [-1, 1], or ``None`` when not decoded.
        frame_latency_s: ``(T,)`` seconds spent per generated frame (a chunk's time, including
            decoding and re-encoding, shared equally by its frames).
        context_frames: context length of every world-model call, in order.
        peak_sequence_tokens: longest token sequence the transformer attended over.
        peak_memory_bytes: peak memory above the level at the start (see ``memory_method``).
        memory_method: how the peak was measured (CUDA allocator or process peak RSS).
        policy: the context policy's name.
        final_context: ``(B, V, n, C, h, w)`` the latents the policy would feed the next call (under
            SWR, re-encoded ones): the state to continue a rollout from, e.g. K candidate
            continuations with ``rollout(..., start_latents=final_context.repeat_interleave(K, 0))``.
        final_context_first_frame: rollout frame index of ``final_context[:, :, 0]`` (to line up
            the actions of a continuation).
        chunks: one ``RolloutChunk`` per call, if recorded.
    """

    latents: Tensor
    frames: Tensor | None
    frame_latency_s: Tensor
    context_frames: list[int]
    peak_sequence_tokens: int
    peak_memory_bytes: int
    memory_method: str
    policy: str
    final_context: Tensor
    final_context_first_frame: int
    chunks: list[RolloutChunk] = field(default_factory=list)

    @property
    def peak_context_frames(self) -> int:
        """Most context frames any call saw."""
        return max(self.context_frames)


def _synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _check_conditions(
    model: WorldModel, start_latents: Tensor, horizon: int, actions: Tensor | None, instruction: Tensor | None
) -> None:
    if start_latents.ndim != 6 or start_latents.shape[2] < 1:
        raise ConfigError(
            f"start_latents must be (B, V, C0 >= 1, C, h, w) context latents, got {tuple(start_latents.shape)}"
        )
    if horizon < 1:
        raise ConfigError(f"a rollout needs a horizon of at least 1 frame, got {horizon}")
    batch, start = start_latents.shape[0], start_latents.shape[2]
    if model.config.action_dim > 0 and actions is not None:
        expected = (batch, start + horizon - 1, model.config.action_dim)
        if tuple(actions.shape) != expected:
            raise ConfigError(
                f"rollout actions have shape {tuple(actions.shape)}, expected {expected}: one action per step from "
                f"each of the {start} start frames and {horizon} generated frames but the last "
                "(actions[:, i] moves frame i to i + 1)"
            )
    if instruction is not None and instruction.shape[0] != batch:
        raise ConfigError(f"{instruction.shape[0]} instruction embeddings for a batch of {batch} rollouts")


@torch.no_grad()
def rollout(
    model: WorldModel,
    autoencoder: Autoencoder,
    start_latents: Tensor,
    horizon: int,
    policy: ContextPolicy,
    sampler: EulerODESampler | FlowSDESampler | None = None,
    actions: Tensor | None = None,
    instruction: Tensor | None = None,
    guidance_scale: float = 1.0,
    generator: torch.Generator | None = None,
    decode: bool = True,
    record_chunks: bool = False,
    bf16: bool = False,
    action_guidance_scale: float = 1.0,
) -> RolloutResult:
    """Generate ``horizon`` frames autoregressively after ``start_latents``.

    Args:
        model: the world model.
        autoencoder: decodes chunks (and re-encodes them under SWR).
        start_latents: ``(B, V, C0, C, h, w)`` latents of the real start frames (rollout frames
            ``0..C0-1``), e.g. ``autoencoder.encode(frames)``.
        horizon: T, the number of frames to generate.
        policy: which latents become context (``context_policies``).
        sampler: ODE (default, 10 Euler steps) or SDE sampler for every chunk.
        actions: ``(B, C0 + T - 1, A)``; ``actions[:, i]`` moves rollout frame ``i`` to ``i + 1``.
        instruction: ``(B, E)`` instruction embeddings.
        guidance_scale: classifier-free guidance scale (1 = none).
        generator: CPU generator for all noise; the same seed gives the same rollout.
        decode: decode every chunk to pixels (``RolloutResult.frames``).
        record_chunks: keep every chunk's context, actions and trajectory.
        bf16: run the world model under bf16 autocast.
        action_guidance_scale: guidance scale on the actions alone (1 = none; ``WorldModelVelocity``).
    """
    sampler = EulerODESampler() if sampler is None else sampler
    config = model.config
    policy = policy.resolved(config.max_context_frames)
    check_policy(policy, config.max_context_frames, config.future_frames)
    _check_conditions(model, start_latents, horizon, actions, instruction)
    device = start_latents.device
    start = start_latents.shape[2]
    window = ContextWindow(latents=start_latents, first_frame=0)
    reencodes = isinstance(policy, SlidingWindowReencode)
    generated: list[Tensor] = []
    decoded: list[Tensor] = []
    latencies: list[float] = []
    context_lengths: list[int] = []
    sequence_tokens: list[int] = []
    chunks: list[RolloutChunk] = []
    meter = PeakMemoryMeter(device)
    with meter:
        while sum(chunk.shape[2] for chunk in generated) < horizon:
            began = time.perf_counter()
            first_new = start + sum(chunk.shape[2] for chunk in generated)
            future = min(config.future_frames, start + horizon - first_new)
            context, context_start = policy.context(window)
            chunk_actions = None if actions is None else actions[:, context_start : first_new + future - 1]
            velocity_fn = WorldModelVelocity(
                model, context, chunk_actions, instruction, guidance_scale, bf16, action_guidance_scale
            )
            shape = (start_latents.shape[0], config.num_views, future, *start_latents.shape[3:])
            noise = torch.randn(shape, generator=generator).to(device)
            result = sampler.sample(velocity_fn, noise, generator)
            new_latents = result.sample
            new_frames = None
            if decode:
                new_frames = autoencoder.decode(new_latents)
            elif reencodes:
                # Only the frames SWR may re-encode need pixels when the caller wants latents only.
                new_frames = autoencoder.decode(new_latents[:, :, -policy.reencode_frames :])
            policy.update(window, new_latents, new_frames, autoencoder.encode)
            _synchronize(device)
            elapsed = time.perf_counter() - began
            latencies.extend([elapsed / future] * future)
            context_lengths.append(context.shape[2])
            sequence_tokens.append(config.sequence_tokens(context.shape[2], future))
            generated.append(new_latents)
            if decode:
                decoded.append(new_frames)
            if record_chunks:
                chunks.append(
                    RolloutChunk(
                        context=context,
                        actions=chunk_actions,
                        instruction=instruction,
                        guidance_scale=guidance_scale,
                        first_frame=first_new,
                        latents=new_latents,
                        trajectory=result.trajectory,
                        action_guidance_scale=action_guidance_scale,
                    )
                )
    return RolloutResult(
        latents=torch.cat(generated, dim=2),
        frames=torch.cat(decoded, dim=2) if decode else None,
        frame_latency_s=torch.tensor(latencies, dtype=torch.float64),
        context_frames=context_lengths,
        peak_sequence_tokens=max(sequence_tokens),
        peak_memory_bytes=meter.peak_bytes,
        memory_method=meter.method,
        policy=policy.name,
        final_context=policy.context(window)[0],
        final_context_first_frame=policy.context(window)[1],
        chunks=chunks,
    )
