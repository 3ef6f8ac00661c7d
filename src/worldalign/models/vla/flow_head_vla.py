"""The flow-matching action head: denoises a normalised action chunk given the backbone's features.

pi0 (Black et al. 2024, arXiv:2410.24164) acts through a flow-matching "action expert" on the
VLM's features; RoboAlign adds such a head to its aligned backbone. This one is a residual MLP
over the flattened ``(H, A)`` chunk, conditioned on a context vector (the mean of the prefix's
final hidden states and the last prefix position's) and on the time ``t``.

Convention: the repository's rectified flow (``worldalign.sampling.flow_math``, which the models
room cannot import, so the two lines are restated here): ``x_t = (1 - t) x0 + t eps``, target
``v = eps - x0``, sampling integrates ``dx = v dt`` from ``t = 1`` (noise) to ``t = 0`` by Euler.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
from torch import Tensor, nn


def _time_features(t: Tensor, size: int = 64) -> Tensor:
    """Sinusoidal features ``(B, size)`` of times ``(B,)`` in [0, 1]."""
    half = size // 2
    frequencies = torch.exp(-math.log(1000.0) * torch.arange(half, device=t.device, dtype=t.dtype) / half)
    angles = 1000.0 * t[:, None] * frequencies[None]
    return torch.cat([angles.sin(), angles.cos()], dim=-1)


class _Block(nn.Module):
    def __init__(self, width: int) -> None:
        super().__init__()
        self.norm = nn.LayerNorm(width)
        self.body = nn.Sequential(nn.Linear(width, width), nn.SiLU(), nn.Linear(width, width))

    def forward(self, x: Tensor) -> Tensor:
        return x + self.body(self.norm(x))


class FlowActionHead(nn.Module):
    """``v(x_t, t | context)`` for chunks ``(B, H, A)``."""

    def __init__(self, context_dim: int, horizon: int, action_dim: int, hidden: int, layers: int) -> None:
        super().__init__()
        self.horizon, self.action_dim = horizon, action_dim
        size = horizon * action_dim
        self.chunk_in = nn.Linear(size, hidden)
        self.context_in = nn.Sequential(nn.LayerNorm(context_dim), nn.Linear(context_dim, hidden))
        self.time_in = nn.Sequential(nn.Linear(64, hidden), nn.SiLU(), nn.Linear(hidden, hidden))
        self.blocks = nn.Sequential(*(_Block(hidden) for _ in range(layers)))
        self.out = nn.Sequential(nn.LayerNorm(hidden), nn.Linear(hidden, size))

    def forward(self, x_t: Tensor, t: Tensor, context: Tensor) -> Tensor:
        """Velocity ``(B, H, A)`` at noisy chunks ``x_t`` ``(B, H, A)``, times ``t`` ``(B,)``."""
        h = self.chunk_in(x_t.flatten(1)) + self.context_in(context) + self.time_in(_time_features(t))
        return self.out(self.blocks(h)).view(-1, self.horizon, self.action_dim)

    def loss(self, x0: Tensor, context: Tensor, generator: torch.Generator | None = None) -> Tensor:
        """Flow-matching MSE on clean chunks ``x0`` ``(B, H, A)``, ``t ~ U(0, 1)``."""
        noise = _draw(torch.randn, x0.shape, generator, x0)
        t = _draw(torch.rand, (x0.shape[0],), generator, x0)
        x_t = (1 - t[:, None, None]) * x0 + t[:, None, None] * noise
        return torch.mean((self(x_t, t, context) - (noise - x0)) ** 2)

    @torch.no_grad()
    def sample(self, context: Tensor, steps: int, generator: torch.Generator | None = None) -> Tensor:
        """Chunks ``(B, H, A)`` by ``steps`` Euler steps from noise at ``t = 1`` to ``t = 0``."""
        x = _draw(torch.randn, (context.shape[0], self.horizon, self.action_dim), generator, context)
        times = torch.linspace(1.0, 0.0, steps + 1, device=context.device, dtype=context.dtype)
        for t, t_next in zip(times[:-1], times[1:]):
            x = x + (t_next - t) * self(x, t.expand(x.shape[0]), context)
        return x


def _draw(
    distribution: Callable[..., Tensor],
    shape: tuple[int, ...] | torch.Size,
    generator: torch.Generator | None,
    like: Tensor,
) -> Tensor:
    """Random numbers of ``shape`` on ``like``'s device and dtype, drawn on ``generator``'s device
    (a CPU generator, as training loops keep for exact resume, also serves a model on a GPU)."""
    device = generator.device if generator is not None else like.device
    return distribution(shape, generator=generator, device=device, dtype=like.dtype).to(like.device)
