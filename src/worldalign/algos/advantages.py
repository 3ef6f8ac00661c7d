"""Group-relative advantages and their optimality probabilities, shared by Flow-GRPO and DiffusionNFT.

GRPO (Shao et al. 2024, arXiv:2402.03300) replaces a learned value baseline by the statistics of a
group of samples drawn for the same condition: ``A_i = (r_i - mean(r_group)) / (std(r_group) + eps)``.
Flow-GRPO (Liu et al. 2025, arXiv:2505.05470) uses it per prompt; DiffusionNFT (Zheng et al. 2025,
arXiv:2509.16117) maps the clipped advantage to an optimality probability ``r in [0, 1]``.
"""

from __future__ import annotations

import torch
from torch import Tensor

from worldalign.errors import ConfigError


def group_advantages(rewards: Tensor, group_size: int, *, eps: float = 1e-4) -> Tensor:
    """``(N,)`` group-normalised advantages of ``(N,)`` rewards ordered group-major.

    Samples ``g * group_size .. g * group_size + group_size - 1`` share one condition. Each gets
    ``(r - group mean) / (group std + eps)`` with the population std (GRPO, arXiv:2402.03300;
    Flow-GRPO, arXiv:2505.05470). A NaN reward (a sample no reward could score) gets advantage 0
    and is left out of its group's statistics; a group with fewer than two scored samples, or whose
    scored rewards are all equal, carries no signal and gets zeros. Computed in float64, returned
    in the rewards' dtype.
    """
    grouped, scored, count, centred, std = _group_moments(rewards, group_size)
    highest = torch.where(scored, grouped, torch.full_like(grouped, -torch.inf)).amax(dim=1, keepdim=True)
    lowest = torch.where(scored, grouped, torch.full_like(grouped, torch.inf)).amin(dim=1, keepdim=True)
    informative = (count >= 2) & (highest > lowest)
    advantages = torch.where(informative & scored, centred / (std + eps), torch.zeros_like(grouped))
    return advantages.reshape(-1).to(rewards.dtype)


def within_group_std(rewards: Tensor, group_size: int) -> float:
    """Mean over groups of the population std of their scored rewards (groups with fewer than two
    scored samples left out; NaN if none has two): how far the reward tells one condition's
    candidates apart, the scale that ``group_advantages`` divides away. A reward whose spread is
    tiny next to its noise still gets advantages of full size (docs/benchmarks.md: the placebo)."""
    _, _, count, _, std = _group_moments(rewards, group_size)
    kept = count.squeeze(1) >= 2
    return float(std.squeeze(1)[kept].mean()) if bool(kept.any()) else float("nan")


def _group_moments(rewards: Tensor, group_size: int) -> tuple[Tensor, Tensor, Tensor, Tensor, Tensor]:
    """``(grouped, scored, count, centred, std)`` of ``(N,)`` rewards in groups of ``group_size``
    (float64, NaN rewards left out of the mean and the population std)."""
    if rewards.ndim != 1:
        raise ConfigError(f"rewards must be a (N,) vector, got shape {tuple(rewards.shape)}")
    if group_size < 1 or rewards.shape[0] % group_size != 0:
        raise ConfigError(
            f"{rewards.shape[0]} rewards do not split into groups of group_size={group_size}: the batch must be "
            "conditions x group_size samples, ordered group-major"
        )
    grouped = rewards.double().reshape(-1, group_size)
    scored = ~torch.isnan(grouped)
    count = scored.sum(dim=1, keepdim=True)
    values = torch.where(scored, grouped, torch.zeros_like(grouped))
    mean = values.sum(dim=1, keepdim=True) / count.clamp(min=1)
    centred = torch.where(scored, grouped - mean, torch.zeros_like(grouped))
    std = (centred.square().sum(dim=1, keepdim=True) / count.clamp(min=1)).sqrt()
    return grouped, scored, count, centred, std


def optimality_probability(advantages: Tensor, clip: float) -> Tensor:
    """DiffusionNFT's optimality probability ``r = clamp(A, -clip, clip) / clip / 2 + 1/2`` in [0, 1].

    ``r = 1`` trains only towards the implicit positive policy, ``r = 0`` only away from the
    negative one, ``r = 1/2`` (zero advantage) balances both (arXiv:2509.16117, Sec. 3).
    """
    if clip <= 0:
        raise ConfigError(f"the advantage clip must be > 0, got {clip}")
    return advantages.clamp(-clip, clip) / clip / 2 + 0.5
