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
from dataclasses import dataclass, field

import torch
from torch import Tensor

from worldalign.models.world_model import ContextCache, WorldModel


def autocast_context(device: torch.device, bf16: bool) -> contextlib.AbstractContextManager[None]:
    """bf16 autocast on ``device`` when asked for, else a no-op context."""
    if not bf16:
        return contextlib.nullcontext()
    return torch.autocast(device_type=device.type, dtype=torch.bfloat16)


@dataclass
class WorldModelVelocity:
    """``velocity_fn(x_t, t)`` of a world model for one batch of contexts and conditions.

    Attributes:
        model: the world model, or its distributed wrapper (its current weights are used at every call).
        context: ``(B, V, Tc, C, h, w)`` clean context latents.
        actions: ``(B, Tc + Tf - 1, A)`` or ``None``.
        instruction: ``(B, E)`` instruction embeddings or ``None``.
        guidance_scale: classifier-free guidance scale ``s`` on all conditions.
        bf16: run the model under bf16 autocast.
        action_guidance_scale: guidance scale ``s_a`` on the actions alone (module docstring);
            1 = none, and without actions there is nothing to guide.

    A causal-context model's context (``WorldModel.encode_context``) is computed at the first call
    without gradients and reused by the later ones: the sampler's steps of one chunk. The weights
    must not change while the function is in use (samplers build one per chunk); calls with
    gradients (a policy update) compute it afresh.
    """

    model: WorldModel
    context: Tensor
    actions: Tensor | None = None
    instruction: Tensor | None = None
    guidance_scale: float = 1.0
    bf16: bool = False
    action_guidance_scale: float = 1.0
    _cache: ContextCache | None = field(default=None, init=False, repr=False)
    _patterns: list[tuple[bool, bool]] = field(init=False, repr=False)
    """The (actions, instruction) keep-patterns the guidance needs, one batched copy each."""
    _inputs: dict[str, Tensor | None] = field(init=False, repr=False)
    """The model's inputs besides ``x_t`` and ``t``, the same at every call (``_conditions``)."""

    def __post_init__(self) -> None:
        self._patterns = [(True, True)]
        if self.guidance_scale != 1.0:
            self._patterns.append((False, False))
        if self.action_guidance_scale != 1.0 and self.actions is not None:
            self._patterns.append((False, True))
        self._inputs = self._conditions(self._patterns)

    def __call__(self, x_t: Tensor, t: Tensor) -> Tensor:
        """``x_t (B, V, Tf, C, h, w)``, ``t (B,)`` → velocity ``(B, V, Tf, C, h, w)`` float32."""
        patterns, conditions = self._patterns, self._inputs
        batch, copies = x_t.shape[0], len(patterns)
        with autocast_context(x_t.device, self.bf16):
            cache = None
            core = getattr(self.model, "module", self.model)  # a distributed (DDP) wrapper's model
            if not torch.is_grad_enabled() and core.config.causal_context:
                if self._cache is None:
                    self._cache = core.encode_context(future_frames=x_t.shape[2], **conditions)
                cache = self._cache
            velocities = self.model(_repeat(x_t, copies), _repeat(t, copies), cache=cache, **conditions).float()
        by_pattern = dict(zip(patterns, velocities.split(batch), strict=True))
        conditional = by_pattern[(True, True)]
        velocity = conditional
        if (False, False) in by_pattern:
            unconditional = by_pattern[(False, False)]
            velocity = unconditional + self.guidance_scale * (conditional - unconditional)
        if (False, True) in by_pattern:
            velocity = velocity + (self.action_guidance_scale - 1.0) * (conditional - by_pattern[(False, True)])
        return velocity

    def _conditions(self, patterns: list[tuple[bool, bool]]) -> dict[str, Tensor | None]:
        """The model's inputs besides ``x_t`` and ``t``, one copy per keep-pattern (a single
        pattern keeps every condition and needs no keep masks)."""
        copies = len(patterns)
        conditions: dict[str, Tensor | None] = {
            "context": _repeat(self.context, copies),
            "actions": None if self.actions is None else _repeat(self.actions, copies),
            "instruction": None if self.instruction is None else _repeat(self.instruction, copies),
        }
        if copies > 1:
            batch, device = self.context.shape[0], self.context.device
            for index, name in enumerate(("keep_actions", "keep_instruction")):
                keep = [pattern[index] for pattern in patterns]
                conditions[name] = torch.tensor(keep, device=device).repeat_interleave(batch)
        return conditions


def _repeat(values: Tensor, copies: int) -> Tensor:
    """``copies`` copies of a batch, one after the other (the batch itself for one)."""
    return values if copies == 1 else torch.cat([values] * copies)
