"""GRPO of the VLA policy after SFT (RoboAlign's RL stage): reasoning, FAST action tokens, format.

RoboAlign (summary in ``../shared/seeds/001_36de1df6bd8cbac4.txt``) follows SFT with GRPO (Shao et
al. 2024, arXiv:2402.03300) on under 1% of the SFT data, rewarding the accuracy of the FAST action
tokens (Pertsch et al. 2025, arXiv:2501.09747) the model writes after its ``<think>`` reasoning,
and the completion's format. Reads top to bottom:

- the pool (``grpo_pool``): at most ``pool_fraction`` of the SFT run's distinct samples, drawn
  with the run's seed, each with the expert's FAST ids; the counts of both are kept to print;
- one round (``sample_group``): ``group_size`` completions per observation, sampled from the
  current policy at ``temperature`` (under the chunk grammar with ``constrained``), scored by
  ``rewards.vla`` through ``RewardComposer``; group-normalised advantages
  (``algos.advantages.group_advantages``);
- the loss (``grpo_token_loss``): per token, the clipped surrogate on ``rho = p / p_old`` minus
  ``kl_coef`` times the k3 estimate of the KL to the frozen SFT policy,
  ``exp(ref - logp) - (ref - logp) - 1`` (Schulman's unbiased, positive estimator, as GRPO);
  summed over each completion's tokens and divided by ``max_new_tokens`` (Dr. GRPO, Liu et al.
  2025, arXiv:2503.20783), or GRPO's mean over each completion's tokens (``sequence_mean``), then
  averaged over completions;
- the loop (``train_vla_grpo``): ``minibatches`` optimizer steps per round on slices of its
  completions, driven by ``algos.training_run.TrainingRun`` (checkpoints at round ends, exact
  resume, TensorBoard, progress bar, a NaN stops the run before anything is saved).

The flow action head is not trained here (no loss reaches it): RoboAlign aligns the backbone's
action tokens; the head reads the backbone's hidden states and is evaluated as it stands.
"""

from __future__ import annotations

import copy
import json
import math
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from torch import Tensor

from worldalign.algos.advantages import group_advantages
from worldalign.algos.training_run import TrainingResult, TrainingRun, default_device
from worldalign.algos.vla_sft import SampleBatches, build_sft_samples, load_sft_tokenizer
from worldalign.configs.vla_grpo import VLAGRPOConfig
from worldalign.data.fast_tokenizer import FastActionTokenizer
from worldalign.data.lerobot_reader import LeRobotDataset
from worldalign.errors import ConfigError
from worldalign.models.checkpoint import read_config
from worldalign.models.vla import (
    Completion,
    VLABatch,
    VLAConfig,
    VLAObservation,
    VLAPolicy,
    VLASample,
    load_vla_policy,
)
from worldalign.models.vla.decoding_vla import FastGrammar, check_tokenizer_fits
from worldalign.rewards.compose import RewardComposer, RewardOutput
from worldalign.rewards.vla import CompletionGroup, vla_rewards
from worldalign.runs.layout import TRAIN_CONFIG_FILE, run_folder_of, run_tokenizer_folder

# --------------------------------------------------------------------------------------------
# The pool: under 1% of the SFT data


@dataclass(frozen=True)
class SFTRunSettings:
    """What GRPO needs of the SFT run it starts from (its ``train_config.json``)."""

    release_keep: float
    """The ``release``-phase fraction its samples were chosen with."""
    seed: int
    """Its seed (of the release draw)."""
    sample_visits: int
    """``steps * batch_size``: the samples its optimizer steps read, repeats counted."""


def read_sft_settings(sft_run: str | os.PathLike[str]) -> SFTRunSettings:
    """The settings of the SFT run folder ``sft_run``; a ``ConfigError`` naming its
    ``train_config.json`` when the file is missing or lacks a field."""
    path = Path(sft_run) / TRAIN_CONFIG_FILE
    try:
        saved = json.loads(path.read_text())
        return SFTRunSettings(
            release_keep=float(saved["release_keep"]),
            seed=int(saved["run"]["seed"]),
            sample_visits=int(saved["steps"]) * int(saved["batch_size"]),
        )
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise ConfigError(
            f"{path}: not an SFT run's training config with steps, batch_size, release_keep and run.seed ({error!r})"
        ) from None


@dataclass
class GRPOPool:
    """The observations GRPO trains on and what they are measured against.

    Attributes:
        samples: the chosen SFT samples (views, instruction, state, the expert's FAST ids).
        sft_samples: the SFT run's distinct samples.
        sft_visits: the SFT run's sample visits (``SFTRunSettings.sample_visits``).
    """

    samples: list[VLASample]
    sft_samples: int
    sft_visits: int

    def describe(self, config: VLAGRPOConfig) -> str:
        """One line: the pool and the round visits against the SFT run's samples and visits."""
        visits = config.updates * config.observations_per_update
        return (
            f"GRPO pool: {len(self.samples)} observations = {100 * len(self.samples) / self.sft_samples:.2f}% of the "
            f"SFT run's {self.sft_samples} distinct samples; {config.updates} rounds x "
            f"{config.observations_per_update} observations = {visits} observation visits "
            f"({100 * visits / self.sft_visits:.2f}% of its {self.sft_visits} sample visits), "
            f"x {config.group_size} completions each"
        )


def grpo_pool(samples: Sequence[VLASample], sft_visits: int, config: VLAGRPOConfig, seed: int) -> GRPOPool:
    """``floor(pool_fraction * len(samples))`` of the SFT run's ``samples`` drawn without
    replacement with ``seed``; a ``ConfigError`` when that is fewer than one round's observations."""
    size = math.floor(config.pool_fraction * len(samples) + 1e-9)
    if size < config.observations_per_update:
        raise ConfigError(
            f"pool_fraction={config.pool_fraction} of {len(samples)} SFT samples is {size} observation(s), fewer than "
            f"observations_per_update={config.observations_per_update}: a larger pool fraction or SFT dataset"
        )
    chosen = np.random.default_rng([seed, 0x6E90]).choice(len(samples), size=size, replace=False)
    return GRPOPool(samples=[samples[i] for i in sorted(chosen)], sft_samples=len(samples), sft_visits=sft_visits)


def build_grpo_pool(
    sft_model: str | os.PathLike[str], dataset: LeRobotDataset, config: VLAGRPOConfig, seed: int
) -> tuple[GRPOPool, FastActionTokenizer]:
    """The pool and the FAST tokenizer of the SFT run of model folder ``sft_model``: its samples of
    ``dataset`` rebuilt as it chose them (its views, ``release_keep`` and seed), then ``grpo_pool``.
    The tokenizer must match ``dataset`` (``algos.vla_sft.load_sft_tokenizer``)."""
    run_dir = run_folder_of(Path(sft_model))
    settings = read_sft_settings(run_dir)
    tokenizer = load_sft_tokenizer(run_tokenizer_folder(run_dir), dataset)
    views = read_config(sft_model, VLAConfig, VLAPolicy.model_type).views
    samples = build_sft_samples(dataset, tokenizer, views, settings.release_keep, settings.seed).samples
    return grpo_pool(samples, settings.sample_visits, config, seed), tokenizer


# --------------------------------------------------------------------------------------------
# One round: sample, score, advantages


@dataclass
class ScoredGroup:
    """One round's completions, group-major (``group_size`` per observation), and their scores."""

    observations: list[VLASample]
    completions: list[Completion]
    rewards: RewardOutput
    advantages: Tensor


@torch.no_grad()
def sample_group(
    policy: VLAPolicy,
    observations: Sequence[VLASample],
    composer: RewardComposer,
    config: VLAGRPOConfig,
    generator: torch.Generator,
    allowed: Callable[[Sequence[Sequence[int]]], Tensor] | None = None,
) -> ScoredGroup:
    """``group_size`` sampled completions of each observation, scored and group-normalised;
    ``allowed`` constrains the sampling (``FastGrammar.allowed``)."""
    policy.eval()
    repeated: list[VLASample] = []
    completions: list[Completion] = []
    for sample in observations:
        observation = VLAObservation(sample.frames, sample.instruction, sample.state)
        completions += policy.generate(
            observation, max_new_tokens=config.max_new_tokens, temperature=config.temperature,
            num_samples=config.group_size, generator=generator, allowed=allowed,
        )
        repeated += [sample] * config.group_size
    expert = [tuple(sample.fast_ids or ()) for sample in repeated]
    rewards = composer(CompletionGroup(completions, expert))
    return ScoredGroup(repeated, completions, rewards, group_advantages(rewards.total, config.group_size))


# --------------------------------------------------------------------------------------------
# The loss


def grpo_token_loss(
    log_probs: Tensor,
    old_log_probs: Tensor,
    reference_log_probs: Tensor | None,
    mask: Tensor,
    advantages: Tensor,
    clip_range: float,
    kl_coef: float,
    normalizer: int | None = None,
) -> tuple[Tensor, dict[str, Tensor]]:
    """GRPO's loss (arXiv:2402.03300, Eq. 3) of ``(B, M)`` per-token log-probabilities.

    ``loss = -mean_b [ sum_t mask (min(rho A_b, clip(rho) A_b) - kl_coef KL_t) / n_b ]`` with
    ``rho = exp(log_probs - old_log_probs)``, ``KL_t = exp(ref - logp) - (ref - logp) - 1`` and
    ``n_b`` the completion's own token count (GRPO), or the constant ``normalizer`` when given
    (Dr. GRPO, arXiv:2503.20783: every token of every completion weighs the same, so a long wrong
    completion is not penalised less per token than a short one). Returns the loss and
    ``{"policy", "kl", "clip_fraction", "ratio"}`` (detached; the last three are token means).
    """
    counts = mask.sum(dim=1).clamp(min=1).float()
    if normalizer is not None:
        counts = torch.full_like(counts, float(normalizer))
    ratio = torch.exp(log_probs - old_log_probs)
    advantage = advantages[:, None].to(log_probs.dtype)
    surrogate = torch.minimum(ratio * advantage, ratio.clamp(1 - clip_range, 1 + clip_range) * advantage)
    kl = torch.zeros_like(log_probs)
    if reference_log_probs is not None:
        difference = reference_log_probs - log_probs
        kl = torch.exp(difference) - difference - 1
    per_token = (surrogate - kl_coef * kl) * mask
    loss = -(per_token.sum(dim=1) / counts).mean()
    tokens = mask.sum().clamp(min=1)
    clipped = ((ratio - 1).abs() > clip_range) & mask
    stats = {
        "policy": (-(surrogate * mask).sum(dim=1) / counts).mean().detach(),
        "kl": ((kl * mask).sum() / tokens).detach(),
        "clip_fraction": (clipped.sum() / tokens).detach(),
        "ratio": ((ratio * mask).sum() / tokens).detach(),
    }
    return loss, stats


def _round_scalars(group: ScoredGroup) -> dict[str, float]:
    completions = group.completions
    scalars = group.rewards.log_scalars()
    scalars["completion/tokens"] = float(np.mean([len(c.ids) for c in completions]))
    scalars["completion/ended"] = float(np.mean([c.ended for c in completions]))
    scalars["completion/well_formed"] = float(np.mean([c.well_formed for c in completions]))
    scalars["completion/action_tokens"] = float(np.mean([len(c.action_tokens) for c in completions]))
    return scalars


# --------------------------------------------------------------------------------------------
# The loop


@dataclass
class GRPOResult(TrainingResult):
    """``TrainingResult`` plus the mean reward terms of every round this call ran."""

    rounds: list[dict[str, float]] = field(default_factory=list)


def train_vla_grpo(
    config: VLAGRPOConfig,
    sft_model: str | os.PathLike[str],
    pool: GRPOPool,
    tokenizer: FastActionTokenizer,
    out_dir: str | os.PathLike[str],
    *,
    device: str | torch.device | None = None,
    progress: bool = True,
    resume: bool = True,
) -> GRPOResult:
    """Align the SFT policy of checkpoint folder ``sft_model`` on ``pool`` with GRPO; write
    ``OUT/model`` and a copy of ``tokenizer`` in ``OUT/fast_tokenizer`` (``vla eval`` reads both).
    With ``resume``, a run finding checkpoints in ``out_dir`` continues from the newest, exactly.

    TensorBoard (``OUT/tensorboard``): per optimizer step ``train/loss``, ``policy``, ``kl``,
    ``clip_fraction``, ``ratio``, ``grad_norm``, ``lr``; per round every reward term
    (``reward/action_accuracy``, ``reward/format/ended``, …, ``reward/total``) and
    ``completion/tokens``, ``ended``, ``well_formed``, ``action_tokens``.
    """
    out_dir = Path(out_dir)
    device = torch.device(device) if device is not None else default_device()
    policy = load_vla_policy(sft_model, device)
    check_tokenizer_fits(tokenizer, policy.processor)
    policy.flow_head.requires_grad_(False)
    # The frozen SFT policy of the KL term: a copy of the one just read (a second read of a
    # SmolLM2 checkpoint is 632 MiB and its GGUF architecture again).
    reference = copy.deepcopy(policy).requires_grad_(False) if config.kl_coef > 0 else None
    composer = RewardComposer(config.reward_weights, vla_rewards(tokenizer, list(config.reward_weights)))
    data = SampleBatches(pool.samples, config.observations_per_update, config.run.seed)
    tokenizer.save(run_tokenizer_folder(out_dir))
    grammar = FastGrammar(tokenizer, policy.processor).allowed if config.constrained else None
    run = TrainingRun(policy, config.optimizer, config.run, config.optimizer_steps, out_dir, data, config, progress,
                      resume)
    result = GRPOResult(step=run.step, resumed_from=run.resumed_from)
    with run:
        for observations in run.batches():
            group = sample_group(policy, observations, composer, config, run.generator, grammar)
            batch = policy.processor.collate_generated(group.observations, [c.ids for c in group.completions])
            round_scalars = _round_scalars(group)
            run.log_values(round_scalars)
            result.rounds.append(round_scalars)
            parts = [(rows, batch.rows(rows).to(device)) for rows in np.array_split(np.arange(len(batch.input_ids)),
                                                                                     config.minibatches)]
            # Every slice's sampling-policy and reference log-probabilities before the first step.
            fixed = [_fixed_log_probs(policy, reference, part, config) for _, part in parts]
            for (rows, part), (old, ref) in zip(parts, fixed):
                policy.train()
                log_probs, mask = policy.token_log_probs(part)
                loss, stats = grpo_token_loss(
                    log_probs, log_probs.detach() if old is None else old, ref, mask,
                    group.advantages[rows].to(device), config.clip_range, config.kl_coef,
                    None if config.loss_aggregation == "sequence_mean" else config.max_new_tokens,
                )
                scalars = {name: float(value) for name, value in stats.items()}
                scalars["grad_norm"] = run.update(loss, terms={"policy": stats["policy"], "kl": stats["kl"]})
                scalars["loss"] = float(loss.detach())
                scalars["reward"] = round_scalars["reward/total"]
                result.losses.append(scalars["loss"])
                run.log(scalars)
            if run.due(config.run.checkpoint_every * config.minibatches):
                run.checkpoint()
        result.step = run.step
        result.model_dir = run.finish()
    return result


@torch.no_grad()
def _fixed_log_probs(
    policy: VLAPolicy, reference: VLAPolicy | None, batch: VLABatch, config: VLAGRPOConfig
) -> tuple[Tensor | None, Tensor | None]:
    """``(old, reference)`` per-token log-probabilities of a slice of a round's completions: the
    sampling policy's (None with one minibatch: the step's own values, detached, are the same) and
    the SFT reference's (None without a KL term)."""
    policy.eval()
    old = policy.token_log_probs(batch)[0] if config.minibatches > 1 else None
    ref = reference.token_log_probs(batch)[0] if reference is not None else None
    return old, ref
