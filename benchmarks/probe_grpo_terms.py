r"""The size of Flow-GRPO's two terms: the clipped policy term against the KL to the reference.

Issue 21, item 5: our per-step log-probability is the Gaussian log-density *summed* over every
latent dimension D (``flow_math.gaussian_log_prob``), while the public Flow-GRPO code
(arXiv:2505.05470) averages it over the dimensions; its KL term is a per-dimension mean in
both. The policy term's gradient is therefore D times the public code's, and its KL weight
(0.04) and ratio clip (1e-4) were tuned for the average. This probe samples one batch of SDE
candidates from ``--world-model`` on rollout states of the training episodes, scores them with
``--rewards``, and prints, per denoising step of the first chunk, the gradient norms of the
policy term and of ``kl_coef * KL`` (against ``--reference``, the pretrained model), under our
sum and under the public mean (the policy term divided by D), and the per-step ratio spread
``|log p_new - log p_old|`` after the update ``--world-model`` made (run it on an aligned run's
folder with the pretrained model as reference).

    PYTHONPATH=src .venv/bin/python benchmarks/probe_grpo_terms.py --world-model runs/grpo-default \
        --reference checkpoints/world-model-cpu --autoencoder checkpoints/autoencoder-cpu --dataset runs/data
"""

from __future__ import annotations

import argparse
from pathlib import Path

import torch

from worldalign.algos.advantages import group_advantages
from worldalign.algos.conditions import EpisodePool, RolloutStateConditions
from worldalign.algos.flow_grpo import grpo_step_loss
from worldalign.configs.align import FlowGRPOConfig
from worldalign.data.clips import split_episodes
from worldalign.data.lerobot_reader import LeRobotDataset
from worldalign.rewards.registry import build_rewards
from worldalign.runs.loading import load_autoencoder, load_world_model_run
from worldalign.runs.side_files import scratch_instruction_cache
from worldalign.sampling.context_policies import SlidingWindowReencode
from worldalign.sampling.rollout import RolloutChunk
from worldalign.sampling.samplers import FlowSDESampler


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--world-model", type=Path, required=True, help="the policy (an aligned run folder)")
    parser.add_argument("--reference", type=Path, required=True, help="the KL reference (the pretrained model)")
    parser.add_argument("--autoencoder", type=Path, required=True)
    parser.add_argument("--dataset", type=Path, required=True)
    parser.add_argument("--rewards", default="brightness=1.0")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    from worldalign.models.text.instruction_encoder import InstructionEncoder

    policy_run = load_world_model_run(args.world_model, torch.device("cpu"))
    reference = load_world_model_run(args.reference, torch.device("cpu")).model.requires_grad_(False)
    policy = policy_run.model.eval()
    autoencoder = load_autoencoder(args.autoencoder)
    dataset = LeRobotDataset(args.dataset)
    train, _ = split_episodes(dataset.task_names, held_out_fraction=0.1)
    views = tuple(dataset.views)
    pool = EpisodePool(
        episodes=list(dataset.iter_episodes(train, views)),
        indices=train,
        views=views,
        normalizer=policy_run.normalizer,
        fps=dataset.fps,
    )
    instructions = None
    if policy_run.instruction_encoder is not None:  # a copy of the cache: the run folder is never written
        reference_dir = load_world_model_run(args.reference, torch.device("cpu")).model_dir
        instructions = InstructionEncoder(scratch_instruction_cache(reference_dir))
    conditions = RolloutStateConditions(pool, 2, 3, 2, SlidingWindowReencode(6))
    with torch.no_grad():
        # Sampled by the reference, so the recorded log-probs are the "old" policy's and the
        # ratio measures how far the aligned weights moved from it.
        batch = conditions.sample(
            reference, autoencoder, 4, 4, FlowSDESampler(steps=10), torch.Generator().manual_seed(args.seed), instructions
        )
        advantages = group_advantages(build_rewards(args.rewards)(batch.rollout).total, 4)
    chunk = batch.chunks[0]
    assert chunk.trajectory is not None
    dims = chunk.latents[0].numel()
    config = FlowGRPOConfig()
    parameters = [p for p in policy.parameters() if p.requires_grad]

    def norm_of(loss: torch.Tensor) -> float:
        grads = torch.autograd.grad(loss, parameters, retain_graph=True, allow_unused=True)
        return float(torch.sqrt(sum(g.square().sum() for g in grads if g is not None)))

    print(f"latent dimensions per sample D = {dims}; kl_coef {config.kl_coef}, clip {config.clip_range}")
    print("step | |grad policy| sum | |grad policy| mean (/D) | |grad kl_coef*KL| | |log ratio| sum | |log ratio|/D")
    for step in range(chunk.trajectory.num_steps):
        loss, stats = grpo_step_loss(policy, reference, chunk, step, advantages, config)
        policy_term = _policy_term(policy, chunk, step, advantages, config)
        policy_norm = norm_of(policy_term)
        kl_norm = norm_of(loss - policy_term)  # the same forward twice: the policy parts cancel
        log_ratio = (2 * stats["approx_kl"]).sqrt()
        print(
            f"{step:4d} | {policy_norm:17.4g} | {policy_norm / dims:23.4g} | {kl_norm:17.4g} | "
            f"{float(log_ratio):15.4g} | {float(log_ratio) / dims:.3g}"
        )


def _policy_term(
    policy: torch.nn.Module, chunk: RolloutChunk, step: int, advantages: torch.Tensor, config: FlowGRPOConfig
) -> torch.Tensor:
    """The clipped surrogate alone (``grpo_step_loss`` with the KL switched off)."""
    off = FlowGRPOConfig(clip_range=config.clip_range, kl_coef=0.0, adv_clip_max=config.adv_clip_max)
    return grpo_step_loss(policy, None, chunk, step, advantages, off)[0]


if __name__ == "__main__":
    main()
