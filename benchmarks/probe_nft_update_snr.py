r"""How much of one DiffusionNFT update's gradient is signal, per reward, on the same candidates.

Issue 21, PersistWorld: 50 DiffusionNFT updates with the fidelity reward make the held-out model
worse, and with an information-free reward (``placebo``) worse still (docs/benchmarks.md). The
updates' own noise outweighs the reward's pull. This probe measures that directly: it draws
``--batches`` independent batches of the align loop's candidates (rollout states of the training
episodes, 4 conditions x ``--group-size`` ODE candidates, 10 Euler steps), scores every batch with
each reward of ``--rewards`` and computes the DiffusionNFT loss's gradient for each (the first
update of a run: ``old`` = the policy, so the gradient is each sample's denoising-loss gradient
weighted by ``2 r - 1``; the same noise and flow times for every reward). Independent batches
share only the expected gradient, so the mean cosine between two batches' gradients is the share
of signal in one update's direction; a placebo reward's is 0 up to the pairs' standard error.

    PYTHONPATH=src .venv/bin/python benchmarks/probe_nft_update_snr.py \
        --world-model ../shared/checkpoints/world-model-cpu-gpu-continued \
        --autoencoder checkpoints/autoencoder-cpu --dataset outputs/data/mt10-48 --batches 8
"""

from __future__ import annotations

import argparse
from pathlib import Path

import torch
from _probe_setup import cosines, rollout_state_probe
from torch import Tensor

from worldalign.algos.advantages import group_advantages, optimality_probability
from worldalign.algos.diffusion_nft import nft_loss
from worldalign.configs.align import NFTConfig
from worldalign.rewards.registry import build_rewards
from worldalign.sampling.samplers import EulerODESampler


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--world-model", type=Path, required=True)
    parser.add_argument("--autoencoder", type=Path, required=True)
    parser.add_argument("--dataset", type=Path, required=True)
    parser.add_argument("--rewards", default="brightness,fidelity,placebo", help="rewards compared, comma-separated")
    parser.add_argument("--batches", type=int, default=8, help="independent batches (>= 2)")
    parser.add_argument("--group-size", type=int, default=4, help="candidates per rollout state")
    parser.add_argument("--max-train-episodes", type=int, default=80, help="as the reproduce recipes load them")
    parser.add_argument("--seed", type=int, default=123)
    args = parser.parse_args()

    probe = rollout_state_probe(args.world_model, args.autoencoder, args.dataset, args.max_train_episodes)
    names = [name.strip() for name in args.rewards.split(",")]
    rewards = {name: build_rewards(f"{name}=1.0") for name in names}  # an unknown name fails here
    parameters = [p for p in probe.policy.parameters() if p.requires_grad]
    config = NFTConfig()
    generator = torch.Generator().manual_seed(args.seed)

    def gradient(loss: Tensor) -> Tensor:
        grads = torch.autograd.grad(loss, parameters, allow_unused=True)
        return torch.cat([(g if g is not None else torch.zeros_like(p)).flatten() for g, p in zip(grads, parameters)])

    per_reward: dict[str, list[Tensor]] = {name: [] for name in names}
    for index in range(args.batches):
        with torch.no_grad():
            batch = probe.conditions.sample(
                probe.policy, probe.autoencoder, 4, args.group_size, EulerODESampler(steps=10), generator,
                probe.instructions,
            )  # fmt: skip
        noise_seed = int(torch.randint(0, 2**31 - 1, (1,), generator=generator))
        line = [f"batch {index}: {len(batch.chunks)} chunk(s)"]
        for name in names:
            total = rewards[name](batch.rollout).total
            spread = float(total.view(-1, args.group_size).std(dim=1).mean())
            optimality = optimality_probability(group_advantages(total, args.group_size), config.adv_clip_max)
            noise = torch.Generator().manual_seed(noise_seed)  # the same t and eps for every reward
            losses = [nft_loss(probe.policy, probe.policy, None, c, optimality, config, noise)[0] for c in batch.chunks]
            per_reward[name].append(gradient(sum(losses)))
            line.append(f"{name} {float(total.mean()):.4f} (within-group std {spread:.4f})")
        print(", ".join(line), flush=True)

    pairs = args.batches * (args.batches - 1) // 2
    print(f"\nreward | mean |gradient| | cross-batch cosine (mean ± s.e. over {pairs} pairs)")
    for name in names:
        grads = torch.stack(per_reward[name])
        print(f"  {name} | {float(grads.norm(dim=1).mean()):.4g} | {cosines(grads)}")


if __name__ == "__main__":
    main()
