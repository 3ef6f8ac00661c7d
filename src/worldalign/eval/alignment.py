"""Held-out evaluation of an alignment run: long rollouts from fixed real starts, scored by rewards.

An RL run can raise its reward by exploiting the reward model instead of improving the videos.
The guard (RoboAlign-R1's and PersistWorld's protocol) is an evaluation on episodes the run never
trains on, with metrics it does not optimise as well as the one it does: for instance LPIPS and
SSIM while optimising the judge, or executability while optimising fidelity.

``HeldOutRollouts`` rolls the model out autoregressively from the first frames of every held-out
episode (with the recorded actions, as rollout-state training sees them, or from the instruction
alone, as prompt training sees them), the same starts and the same sampling noise at every
evaluation, for each of a few sampling seeds (rewards that sample, e.g. the teacher judge's MC
dropout, draw the same noise too), and reports each reward term's mean, and its spread between
seeds (an improvement smaller than that spread is not significant).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch
from torch import Tensor

from worldalign.algos.conditions import EpisodePool, InstructionEmbedder, instruction_embedding
from worldalign.data.types import Rollout
from worldalign.errors import ConfigError
from worldalign.models.autoencoder import Autoencoder
from worldalign.models.world_model import WorldModel
from worldalign.rewards.compose import RewardComposer, RewardOutput
from worldalign.sampling.context_policies import ContextPolicy
from worldalign.sampling.rollout import rollout
from worldalign.sampling.samplers import EulerODESampler


@dataclass
class HeldOutRollouts:
    """``evaluate(model, iteration) -> {term: mean, f"{term}/seed_std": std}`` (module docstring)."""

    pool: EpisodePool
    """Held-out episodes; each gives one start (its first ``context_frames`` frames)."""
    autoencoder: Autoencoder
    """The world model's frozen autoencoder."""
    rewards: RewardComposer
    """Evaluation rewards (every term is reported, weights only affect ``total``)."""
    policy: ContextPolicy
    """Context policy of the rollouts."""
    context_frames: int = 2
    """Real frames each rollout starts from."""
    horizon: int = 24
    """Frames generated per rollout."""
    sampling_steps: int = 10
    """Euler steps per chunk."""
    seeds: Sequence[int] = (0, 1, 2)
    """Sampling seeds; each gives one rollout per episode."""
    use_actions: bool = True
    """Drive the rollouts with the recorded actions (action-conditioned models only); False
    generates from the observation and instruction alone."""
    batch_size: int = 8
    """Episodes rolled out together."""
    instruction_encoder: InstructionEmbedder | None = None
    """Required for instruction-conditioned models."""

    def __post_init__(self) -> None:
        short = [i for i, e in zip(self.pool.indices, self.pool.episodes, strict=True) if e.length < self.span]
        if short:
            raise ConfigError(
                f"held-out episodes {short} have fewer than {self.span} frames (context {self.context_frames} + "
                f"horizon {self.horizon}); lower the evaluation horizon"
            )

    @property
    def span(self) -> int:
        """Frames of an episode one evaluation rollout covers."""
        return self.context_frames + self.horizon

    @torch.no_grad()
    def __call__(self, model: WorldModel, iteration: int) -> dict[str, float]:
        per_seed = {name: values.nanmean(dim=1) for name, values in self.episode_scores(model).items()}
        report: dict[str, float] = {}
        for name, values in per_seed.items():
            report[name] = float(values.mean())
            report[f"{name}/seed_std"] = float(values.std()) if len(values) > 1 else 0.0
        return report

    @torch.no_grad()
    def episode_scores(self, model: WorldModel) -> dict[str, Tensor]:
        """Every term's score of every rollout: ``{"total" or term: (seeds, episodes)}`` (float64)."""
        model.eval()
        per_seed: list[dict[str, Tensor]] = []
        for seed in self.seeds:
            generator = torch.Generator().manual_seed(seed)
            sums: dict[str, Tensor] = {}
            for first in range(0, len(self.pool.episodes), self.batch_size):
                episodes = range(first, min(first + self.batch_size, len(self.pool.episodes)))
                rollouts = self.generate(model, list(episodes), generator)
                scores = self._score(rollouts, seed=seed * 1_000_003 + first)
                for name, values in {"total": scores.total, **scores.terms}.items():
                    sums[name] = torch.cat([sums.get(name, values.new_zeros(0)), values.detach().float().cpu()])
            per_seed.append(sums)
        return {name: torch.stack([sums[name] for sums in per_seed]).double() for name in per_seed[0]}

    def _score(self, rollouts: Rollout, seed: int) -> RewardOutput:
        """``rewards(rollouts)`` with the global random state seeded by ``seed`` and restored
        after: a reward that samples (the teacher judge's MC-dropout passes) draws the same noise
        for the same rollouts at every evaluation and in every training run, as the rollouts'
        own sampling noise is the same; the training's random stream is left as it was."""
        device = rollouts.frames.device
        with torch.random.fork_rng(devices=[device] if device.type == "cuda" else []):
            torch.manual_seed(seed)
            return self.rewards(rollouts)

    def generate(self, model: WorldModel, episodes: list[int], generator: torch.Generator) -> Rollout:
        """Rollouts from the starts of pool episodes ``episodes`` (positions), with their references."""
        pool, device = self.pool, self.autoencoder.latent_mean.device
        clips = torch.stack([pool.frames(e, 0, self.span) for e in episodes]).to(device)
        context, reference = clips[:, :, : self.context_frames], clips[:, :, self.context_frames :]
        actions, raw_actions = None, None
        if self.use_actions and model.config.action_dim > 0:
            actions = torch.stack([pool.actions(e, 0, self.span - 1, normalized=True) for e in episodes]).to(device)
            raw_actions = torch.stack([pool.actions(e, 0, self.span - 1, normalized=False) for e in episodes])
        instructions = [pool.episodes[e].instruction for e in episodes]
        embedding = instruction_embedding(model, instructions, self.instruction_encoder, device)
        result = rollout(
            model,
            self.autoencoder,
            self.autoencoder.encode(context),
            self.horizon,
            self.policy,
            sampler=EulerODESampler(steps=self.sampling_steps),
            actions=actions,
            instruction=embedding,
            generator=generator,
        )
        assert result.frames is not None
        starts = [pool.start(e, self.context_frames - 1) for e in episodes]
        return Rollout(
            frames=result.frames,
            views=pool.views,
            fps=pool.fps,
            instructions=instructions,
            tasks=[pool.episodes[e].task for e in episodes],
            actions=None if raw_actions is None else raw_actions[:, self.context_frames - 1 :],
            context=context,
            reference=reference,
            starts=None if any(s is None for s in starts) else starts,  # type: ignore[arg-type]
        )
