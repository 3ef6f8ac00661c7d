"""Weighted composition of rewards into one scalar per sample, with every term kept and timed.

``RewardComposer(weights, rewards)(batch) -> RewardOutput`` (a rollout of the world model, a
group of the VLA's completions: any ``rewards.base.Scored``):

- ``total[b] = sum_name weights[name] * value[name][b]`` over the rewards with a non-zero
  weight (a zero weight computes and logs a reward without training on it);
- a non-finite value (NaN or inf) of a weighted reward makes that sample invalid: it is counted,
  named in a warning, and its total is NaN, with ``valid`` False. Nothing is averaged over it:
  RL drops invalid samples before computing advantages, it never sees a made-up number;
- every value and component is returned (``terms``), and each reward's wall-clock compute time
  (``seconds``), as TRL's reward functions are logged.

No reward is special-cased here: the composer only knows the contract of ``rewards.base``.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import torch
from torch import Tensor

from worldalign.errors import ConfigError
from worldalign.rewards.base import Reward, Scored

logger = logging.getLogger(__name__)


@dataclass
class RewardOutput:
    """The scored batch.

    Attributes:
        total: ``(B,)`` float32 weighted sum; NaN where ``valid`` is False.
        valid: ``(B,)`` bool, every weighted reward finite for that sample.
        terms: ``{name: (B,), f"{name}/{component}": (B,)}`` every reward value and component.
        invalid: ``{name: (B,) bool}`` per reward, where its value was NaN or infinite.
        seconds: ``{name: float}`` wall-clock seconds each reward took on this batch.
    """

    total: Tensor
    valid: Tensor
    terms: dict[str, Tensor]
    invalid: dict[str, Tensor]
    seconds: dict[str, float]

    def log_scalars(self, prefix: str = "reward") -> dict[str, float]:
        """Scalars for TensorBoard: mean of every term over its finite samples, the mean total
        over valid samples, invalid counts and timings."""
        scalars: dict[str, float] = {}
        for key, values in self.terms.items():
            finite = values[torch.isfinite(values)]
            scalars[f"{prefix}/{key}"] = float(finite.mean()) if finite.numel() else float("nan")
        totals = self.total[self.valid]
        scalars[f"{prefix}/total"] = float(totals.mean()) if totals.numel() else float("nan")
        scalars[f"{prefix}/invalid_samples"] = float((~self.valid).sum())
        for name, mask in self.invalid.items():
            scalars[f"{prefix}/{name}/invalid"] = float(mask.sum())
        for name, seconds in self.seconds.items():
            scalars[f"{prefix}/{name}/seconds"] = seconds
        return scalars


class RewardComposer:
    """Apply ``rewards`` to a batch (``Scored``) and combine them with ``weights`` by name.

    Args:
        weights: ``{reward name: weight}``; every name must be one of ``rewards``' names.
        rewards: the reward callables (``rewards.base.Reward``).
    """

    def __init__(self, weights: Mapping[str, float], rewards: Sequence[Reward]) -> None:
        names = [reward.name for reward in rewards]
        if len(set(names)) != len(names):
            raise ConfigError(f"RewardComposer: reward names must be unique, got {names}")
        missing = sorted(set(weights) - set(names))
        unweighted = sorted(set(names) - set(weights))
        if missing or unweighted:
            raise ConfigError(
                f"RewardComposer: weights name {sorted(weights)} but the rewards are {names} "
                f"(weights without a reward: {missing}; rewards without a weight: {unweighted})"
            )
        nonfinite = {name: weight for name, weight in weights.items() if not math.isfinite(float(weight))}
        if nonfinite:
            raise ConfigError(f"RewardComposer: weights {nonfinite} are not finite; expected finite numbers")
        self.weights = {name: float(weights[name]) for name in names}
        self.rewards = list(rewards)

    @property
    def names(self) -> list[str]:
        """The reward names, in evaluation order."""
        return [reward.name for reward in self.rewards]

    def __call__(self, scored: Scored) -> RewardOutput:
        batch = scored.batch_size
        device = scored.device
        total = torch.zeros(batch, dtype=torch.float32, device=device)
        valid = torch.ones(batch, dtype=torch.bool, device=device)
        terms: dict[str, Tensor] = {}
        invalid: dict[str, Tensor] = {}
        seconds: dict[str, float] = {}
        for reward in self.rewards:
            start = time.perf_counter()
            values = reward(scored)
            seconds[reward.name] = time.perf_counter() - start
            self._check(reward.name, values, batch)
            value = values[reward.name].to(device=device, dtype=torch.float32)
            bad = ~torch.isfinite(value)
            invalid[reward.name] = bad
            terms.update({key: tensor.to(device=device, dtype=torch.float32) for key, tensor in values.items()})
            weight = self.weights[reward.name]
            if bad.any():
                counted = int(bad.sum())
                logger.warning(
                    "reward %r is NaN or infinite for %d of %d samples (indices %s)%s",
                    reward.name,
                    counted,
                    batch,
                    torch.nonzero(bad).flatten().tolist(),
                    "; their total is NaN and they are dropped" if weight != 0 else "; weight 0, total unaffected",
                )
            if weight != 0:
                valid &= ~bad
                total = total + weight * torch.where(bad, torch.zeros_like(value), value)
        total = torch.where(valid, total, torch.full_like(total, float("nan")))
        return RewardOutput(total=total, valid=valid, terms=terms, invalid=invalid, seconds=seconds)

    @staticmethod
    def _check(name: str, values: Mapping[str, Tensor], batch: int) -> None:
        if name not in values:
            raise ConfigError(f"reward {name!r} returned keys {sorted(values)}; expected its value under {name!r}")
        for key, tensor in values.items():
            if key != name and not key.startswith(f"{name}/"):
                raise ConfigError(
                    f"reward {name!r} returned key {key!r}; components must be named '{name}/<component>'"
                )
            if not isinstance(tensor, Tensor) or tensor.shape != (batch,) or not tensor.is_floating_point():
                shape = tuple(tensor.shape) if isinstance(tensor, Tensor) else type(tensor).__name__
                raise ConfigError(f"reward {name!r}: {key!r} must be a float tensor of shape ({batch},), got {shape}")
