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
from pathlib import Path

import torch
from _probe_setup import cosines, rollout_state_probe
from torch import Tensor

from worldalign.algos.advantages import group_advantages
from worldalign.algos.flow_grpo import grpo_step_loss
from worldalign.configs.align import FlowGRPOConfig
from worldalign.rewards.registry import build_rewards
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

    probe = rollout_state_probe(args.world_model, args.autoencoder, args.dataset)
    policy, conditions = probe.policy, probe.conditions
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
            sampler = FlowSDESampler(steps=10)
            batch = conditions.sample(policy, probe.autoencoder, 4, 4, sampler, generator, probe.instructions)
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
        print(f"  {step} | {float(norms[step]):9.3g} | {cosines(grads[:, step])}")
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
        print(f"  {name}: {cosines((grads * weights[None, :, None]).sum(dim=1))}")


if __name__ == "__main__":
    main()
