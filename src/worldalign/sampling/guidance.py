"""A world model with fixed context and conditions, seen as a velocity function for the samplers.

Classifier-free guidance (Ho & Salimans 2022, arXiv:2207.12598) mixes the conditional velocity
with the unconditional one (every condition replaced by its learned null embedding):
``v = v_uncond + s (v_cond - v_uncond)``; ``s = 1`` is the plain conditional model.
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
        guidance_scale: classifier-free guidance scale ``s``.
        bf16: run the model under bf16 autocast.
    """

    model: WorldModel
    context: Tensor
    actions: Tensor | None = None
    instruction: Tensor | None = None
    guidance_scale: float = 1.0
    bf16: bool = False

    def __call__(self, x_t: Tensor, t: Tensor) -> Tensor:
        """``x_t (B, V, Tf, C, h, w)``, ``t (B,)`` → velocity ``(B, V, Tf, C, h, w)`` float32."""
        with autocast_context(x_t.device, self.bf16):
            if self.guidance_scale == 1.0:
                return self.model(x_t, t, self.context, self.actions, self.instruction).float()
            batch = x_t.shape[0]
            keep = torch.cat([torch.ones(batch, dtype=torch.bool), torch.zeros(batch, dtype=torch.bool)])
            keep = keep.to(x_t.device)
            both = self.model(
                torch.cat([x_t, x_t]),
                torch.cat([t, t]),
                torch.cat([self.context, self.context]),
                None if self.actions is None else torch.cat([self.actions, self.actions]),
                None if self.instruction is None else torch.cat([self.instruction, self.instruction]),
                keep_actions=keep,
                keep_instruction=keep,
            ).float()
        conditional, unconditional = both[:batch], both[batch:]
        return unconditional + self.guidance_scale * (conditional - unconditional)
