"""Training config of the VLA's GRPO stage (``algos.vla_grpo.train_vla_grpo``)."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Literal

from worldalign.configs.pretrain import OptimizerConfig, RunConfig
from worldalign.errors import ConfigError

DEFAULT_REWARD_WEIGHTS = {"action_accuracy": 1.0, "format": 1.0}
"""RoboAlign's two rewards (``rewards.vla``), equally weighted. Measured on the tiny policy
(docs/vla.md): after SFT its greedy completions end but spell the wrong number of FAST
coefficients (596 of 600 chunks fall back to holding still), so the format is what is missing;
at ``format=0.5`` and lr 2e-5 the training reward stayed flat over 40 rounds."""

DEFAULT_POOL_FRACTION = 0.01
"""RoboAlign's budget: RL on under 1% of the SFT data. The GRPO pool holds at most this fraction
of the SFT run's distinct samples."""


@dataclass(frozen=True)
class VLAGRPOConfig:
    """Everything a GRPO run depends on; saved as ``OUT/train_config.json``.

    Objective (GRPO, Shao et al. 2024, arXiv:2402.03300, as RoboAlign uses it): for each of
    ``observations_per_update`` observations, ``group_size`` completions sampled at
    ``temperature``; group-normalised advantages of the weighted rewards; per token the clipped
    surrogate ``min(rho A, clip(rho, 1 - clip_range, 1 + clip_range) A)`` minus ``kl_coef`` times
    the k3 estimate of the KL to the SFT model, aggregated over each completion's tokens as
    ``loss_aggregation`` says, then averaged over completions.
    """

    updates: int = 100
    """Generation rounds; each is followed by ``minibatches`` optimizer steps."""
    observations_per_update: int = 4
    """Observations drawn from the pool per round (the pool is walked in seeded passes)."""
    group_size: int = 8
    """Completions sampled per observation (GRPO's group)."""
    minibatches: int = 2
    """Optimizer steps per round, each on a slice of its completions; after the first, the policy
    has moved, the ratio differs from 1 and the clip acts (1: strictly on-policy, ratio 1)."""
    temperature: float = 1.0
    """Sampling temperature of the completions."""
    max_new_tokens: int = 256
    """Longest completion; one that hits it has not ended (format's ``ended`` check is 0)."""
    constrained: bool = False
    """Sample the completions under the chunk grammar (``models.vla.decoding_vla.FastGrammar``), as
    the ``tokens-constrained`` head acts: every completion that writes action tokens spells exactly
    one chunk, so the reward's spread within a group is about the actions, not the format. The
    loss keeps the unconstrained policy's log-probabilities: an update raises the free policy's
    probability of the well-formed completions that scored well (docs/vla.md)."""
    clip_range: float = 0.2
    """PPO's clip on the per-token ratio (LLM GRPO's usual 0.2)."""
    kl_coef: float = 0.04
    """Weight of the KL to the frozen SFT model (DeepSeekMath's 0.04); 0 runs no reference."""
    loss_aggregation: Literal["token_sum", "sequence_mean"] = "token_sum"
    """``token_sum``: each completion's token terms summed and divided by ``max_new_tokens``
    (Dr. GRPO, arXiv:2503.20783); ``sequence_mean``: divided by the completion's own length (GRPO).
    Measured on the tiny policy (docs/vla.md): with ``sequence_mean`` completions grew from 157 to
    217 tokens in 40 rounds and the ended fraction fell from 0.61 to 0.27: a long completion's
    tokens carry less of its negative advantage each."""
    reward_weights: dict[str, float] = field(default_factory=lambda: dict(DEFAULT_REWARD_WEIGHTS))
    """``{reward name: weight}`` over ``rewards.vla``'s rewards."""
    pool_fraction: float = DEFAULT_POOL_FRACTION
    """Most GRPO observations, as a fraction of the SFT run's distinct samples."""
    optimizer: OptimizerConfig = field(
        default_factory=lambda: OptimizerConfig(learning_rate=1e-4, weight_decay=0.0, warmup_steps=0, min_lr_ratio=1.0)
    )
    """AdamW at a constant rate, no weight decay (RL moves the SFT weights, it does not shrink them).
    1e-4 (a third of the tiny SFT's peak rate) is the rate measured to climb; 2e-5 stayed flat."""
    run: RunConfig = field(default_factory=lambda: RunConfig(checkpoint_every=10, log_every=1))
    """Checkpointing (every ``checkpoint_every`` rounds), logging, seeding of the pool, the order and
    the sampling."""

    def __post_init__(self) -> None:
        for name in ("updates", "observations_per_update", "minibatches", "max_new_tokens"):
            if getattr(self, name) < 1:
                raise ConfigError(f"VLAGRPOConfig.{name}={getattr(self, name)}; expected >= 1")
        if self.group_size < 2:
            raise ConfigError(f"VLAGRPOConfig.group_size={self.group_size}; expected >= 2 (a group needs a spread)")
        completions = self.observations_per_update * self.group_size
        if completions % self.minibatches:
            raise ConfigError(
                f"VLAGRPOConfig.minibatches={self.minibatches} does not divide the {completions} completions "
                "of a round (observations_per_update x group_size)"
            )
        if not self.temperature > 0:
            raise ConfigError(f"VLAGRPOConfig.temperature={self.temperature}; expected > 0 (GRPO samples)")
        if not self.clip_range > 0 or self.kl_coef < 0:
            raise ConfigError(
                f"VLAGRPOConfig.clip_range={self.clip_range}, kl_coef={self.kl_coef}; "
                "expected clip_range > 0, kl_coef >= 0"
            )
        if self.loss_aggregation not in ("token_sum", "sequence_mean"):
            raise ConfigError(
                f"VLAGRPOConfig.loss_aggregation={self.loss_aggregation!r}; expected 'token_sum' or 'sequence_mean'"
            )
        if not 0 < self.pool_fraction <= 1:
            raise ConfigError(f"VLAGRPOConfig.pool_fraction={self.pool_fraction}; expected a fraction in (0, 1]")
        bad = {name: w for name, w in self.reward_weights.items() if not math.isfinite(float(w))}
        if not self.reward_weights or bad:
            raise ConfigError(
                f"VLAGRPOConfig.reward_weights={self.reward_weights}; expected finite weights, at least one"
            )

    @property
    def optimizer_steps(self) -> int:
        """Optimizer steps of the whole run."""
        return self.updates * self.minibatches
