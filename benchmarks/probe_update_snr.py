r"""How much of one Flow-GRPO update's gradient is signal, per denoising step.

Issue 21, item 0: at the same learning rate, DiffusionNFT climbs an easy reward about 8x faster
than Flow-GRPO on the shipped cpu world model. This probe draws ``--batches`` independent batches
of the align loop's Flow-GRPO candidates (rollout states of the training episodes, 4 conditions
x 4 SDE candidates, 10 steps, from ``--world-model``, so the ratio is 1), scores them with
``--rewards``, and computes each denoising step's gradient of the policy term (summed over the
chunks). Independent batches share only the expected gradient, so the mean cosine between two
batches' gradients measures the share of signal in one update (0: pure noise); it is reported
per step and for weightings of the steps (the step imbalance: the last step's gradient is the
largest), with the within-group spread of the reward that the advantages normalise.

    PYTHONPATH=src .venv/bin/python benchmarks/probe_update_snr.py --world-model checkpoints/world-model-cpu \
        --autoencoder checkpoints/autoencoder-cpu --dataset runs/data --batches 4
"""

from __future__ import annotations

import argparse
import itertools
from pathlib import Path

import torch
from torch import Tensor

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
from worldalign.sampling.samplers import FlowSDESampler


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--world-model", type=Path, required=True)
    parser.add_argument("--autoencoder", type=Path, required=True)
    parser.add_argument("--dataset", type=Path, required=True)
    parser.add_argument("--rewards", default="brightness=1.0")
    parser.add_argument("--batches", type=int, default=4, help="independent batches (>= 2)")
    parser.add_argument("--seed", type=int, default=123)
    args = parser.parse_args()

    from worldalign.models.text.instruction_encoder import InstructionEncoder

    run = load_world_model_run(args.world_model, torch.device("cpu"))
    policy = run.model.eval()
    autoencoder = load_autoencoder(args.autoencoder)
    dataset = LeRobotDataset(args.dataset)
    train, _ = split_episodes(dataset.task_names, held_out_fraction=0.1)
    views = tuple(dataset.views)
    pool = EpisodePool(
        episodes=list(dataset.iter_episodes(train, views)),
        indices=train,
        views=views,
        normalizer=run.normalizer,
        fps=dataset.fps,
    )
    instructions = None
    if run.instruction_encoder is not None:  # a copy of the cache: the model folder is never written
        instructions = InstructionEncoder(scratch_instruction_cache(run.model_dir))
    conditions = RolloutStateConditions(pool, 2, 3, 2, SlidingWindowReencode(6))
    rewards = build_rewards(args.rewards)
    parameters = [p for p in policy.parameters() if p.requires_grad]
    generator = torch.Generator().manual_seed(args.seed)

    def gradient(loss: Tensor) -> Tensor:
        grads = torch.autograd.grad(loss, parameters, allow_unused=True)
        return torch.cat([(g if g is not None else torch.zeros_like(p)).flatten() for g, p in zip(grads, parameters)])

    config = FlowGRPOConfig(kl_coef=0.0)  # at the reference the KL term has no gradient

    def step_gradients() -> Tensor:
        """``(steps, P)``: each denoising step's policy gradient, summed over the chunks."""
        with torch.no_grad():
            batch = conditions.sample(policy, autoencoder, 4, 4, FlowSDESampler(steps=10), generator, instructions)
            total = rewards(batch.rollout).total
        spread = float(total.view(-1, 4).std(dim=1).mean())
        print(f"batch: {len(batch.chunks)} chunk(s), reward {float(total.mean()):.4f}, within-group std {spread:.4f}")
        advantages = group_advantages(total, 4)
        steps = batch.chunks[0].trajectory.num_steps if batch.chunks[0].trajectory is not None else 0
        return torch.stack(
            [
                gradient(sum(grpo_step_loss(policy, None, c, s, advantages, config)[0] for c in batch.chunks))
                for s in range(steps)
            ]
        )

    grads = torch.stack([step_gradients() for _ in range(args.batches)])  # (batches, steps, P)
    norms = grads.norm(dim=2).mean(dim=0)
    print("\ndenoising step (0 = t=1, pure noise) | mean |gradient| | cross-batch cosine")
    for step in range(grads.shape[1]):
        print(f"  {step} | {float(norms[step]):9.3g} | {_cosines(grads[:, step])}")
    steps = grads.shape[1]
    index = torch.arange(steps)
    weightings = {
        "all steps, as trained": torch.ones(steps),
        "steps scaled to equal norm": 1.0 / norms,
        "first half only (high noise)": (index < steps // 2).float(),
        "second half only (low noise)": (index >= steps // 2).float(),
        "first 3 steps only": (index < 3).float(),
    }
    print("\nwhole update, cross-batch cosine of the gradients (mean ± s.e. over pairs):")
    for name, weights in weightings.items():
        print(f"  {name}: {_cosines((grads * weights[None, :, None]).sum(dim=1))}")


def _cosines(gradients: Tensor) -> str:
    """Mean ± standard error of the cosine between every pair of rows of ``gradients (N, P)``."""
    unit = gradients / gradients.norm(dim=1, keepdim=True)
    pairs = torch.tensor([float(unit[i] @ unit[j]) for i, j in itertools.combinations(range(len(unit)), 2)])
    return f"{float(pairs.mean()):+.4f} ± {float(pairs.std() / len(pairs) ** 0.5):.4f}"


if __name__ == "__main__":
    main()
