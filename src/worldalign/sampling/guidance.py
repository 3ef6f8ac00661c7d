"""A world model with fixed context and conditions, seen as a velocity function for the samplers.

Classifier-free guidance (Ho & Salimans 2022, arXiv:2207.12598) mixes the conditional velocity
with the unconditional one (every condition replaced by its learned null embedding):
``v = v_uncond + s (v_cond - v_uncond)``; ``s = 1`` is the plain conditional model.

Action guidance scales the actions' part alone, the way InstructPix2Pix guides its two
conditions separately (Brooks et al. 2023, arXiv:2211.09800):
``v = v_guided + (s_a - 1) (v_cond - v_no_actions)``, where ``v_guided`` is the velocity above
and ``v_no_actions`` keeps the instruction and nulls the actions; with ``s = 1`` that is
``v_no_actions + s_a (v_cond - v_no_actions)``. A world model trained with action dropout learns
the actions' effect but under-weights it when the arm's motion is a small part of the frame;
action guidance amplifies the learned effect at sampling time
(``benchmarks/probe_action_following.py``, docs/benchmarks.md).
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass

import torch
from torch import Tensor

from worldalign.models.world_model import WorldModel


def autocast_context(device: torch.device, bf16: bool) -> contextlib.AbstractContextManager[None]:
    """bf16 autocast on ``device`` when asked for, else a no-op context."""
    if not bf16:
        return contextlib.nullcontext()
    return torch.autocast(device_type=device.type, dtype=torch.bfloat16)


@dataclass
class WorldModelVelocity:
    """``velocity_fn(x_t, t)`` of a world model for one batch of contexts and conditions.

    Attributes:
        model: the world model (its current weights are used at every call).
        context: ``(B, V, Tc, C, h, w)`` clean context latents.
        actions: ``(B, Tc + Tf - 1, A)`` or ``None``.
        instruction: ``(B, E)`` instruction embeddings or ``None``.
        guidance_scale: classifier-free guidance scale ``s`` on all conditions.
        bf16: run the model under bf16 autocast.
        action_guidance_scale: guidance scale ``s_a`` on the actions alone (module docstring);
            1 = none, and without actions there is nothing to guide.
    """

    model: WorldModel
    context: Tensor
    actions: Tensor | None = None
    instruction: Tensor | None = None
    guidance_scale: float = 1.0
    bf16: bool = False
    action_guidance_scale: float = 1.0

    def __call__(self, x_t: Tensor, t: Tensor) -> Tensor:
        """``x_t (B, V, Tf, C, h, w)``, ``t (B,)`` → velocity ``(B, V, Tf, C, h, w)`` float32."""
        # One batched pass over the (actions, instruction) keep-patterns the guidance needs.
        patterns = [(True, True)]
        if self.guidance_scale != 1.0:
            patterns.append((False, False))
        if self.action_guidance_scale != 1.0 and self.actions is not None:
            patterns.append((False, True))
        batch, copies = x_t.shape[0], len(patterns)
        with autocast_context(x_t.device, self.bf16):
            if copies == 1:
                return self.model(x_t, t, self.context, self.actions, self.instruction).float()
            keep_actions = torch.tensor([actions for actions, _ in patterns], device=x_t.device)
            keep_instruction = torch.tensor([instruction for _, instruction in patterns], device=x_t.device)
            velocities = self.model(
                torch.cat([x_t] * copies),
                torch.cat([t] * copies),
                torch.cat([self.context] * copies),
                None if self.actions is None else torch.cat([self.actions] * copies),
                None if self.instruction is None else torch.cat([self.instruction] * copies),
                keep_actions=keep_actions.repeat_interleave(batch),
                keep_instruction=keep_instruction.repeat_interleave(batch),
            ).float()
        by_pattern = dict(zip(patterns, velocities.split(batch), strict=True))
        conditional = by_pattern[(True, True)]
        velocity = conditional
        if (False, False) in by_pattern:
            unconditional = by_pattern[(False, False)]
            velocity = unconditional + self.guidance_scale * (conditional - unconditional)
        if (False, True) in by_pattern:
            velocity = velocity + (self.action_guidance_scale - 1.0) * (conditional - by_pattern[(False, True)])
        return velocity
