r"""How much do the actions tell the world model? Its flow loss on held-out clips, teacher-forced.

The rollout probe (``probe_action_following.py``) looks at the whole autoregressive chain; this
one asks the model a single step: the rectified-flow loss of the future latents of held-out
clips (the same clips, flow times and noise for every row) given the recorded actions, the null
action (as in classifier-free guidance), another clip's actions and the negated actions. A model
that reads its actions scores clearly best with the true ones; the gap is an upper bound on what
the actions can buy it in a rollout.

    .venv/bin/python benchmarks/probe_action_loss.py --world-model checkpoints/world-model-cpu \
        --autoencoder checkpoints/autoencoder-cpu --dataset outputs/shipped/data --context 4
"""

from __future__ import annotations

import argparse
from pathlib import Path

import torch

from worldalign.algos.pretrain import flow_matching_loss
from worldalign.cli.rollout import load_world_model_run
from worldalign.cli.world_model import autoencoder_folder
from worldalign.data.clips import ClipSampler, split_episodes
from worldalign.data.lerobot_reader import LeRobotDataset
from worldalign.models.autoencoder import Autoencoder
from worldalign.models.checkpoint import load_model


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--world-model", type=Path, required=True, help="world model run folder (or its model/)")
    parser.add_argument("--autoencoder", type=Path, required=True, help="autoencoder run folder (or its model/)")
    parser.add_argument("--dataset", type=Path, required=True, help="dataset folder (LeRobot v3 layout)")
    parser.add_argument("--context", type=int, default=4, help="context frames per clip (default: 4)")
    parser.add_argument("--batches", type=int, default=6, help="batches of 16 held-out clips (default: 6)")
    parser.add_argument("--seed", type=int, default=0, help="seeds the clips, flow times and noise (default: 0)")
    args = parser.parse_args()

    run = load_world_model_run(args.world_model, torch.device("cpu"))  # in eval mode
    if run.normalizer is None:
        parser.error(f"{args.world_model} is not action-conditioned: there are no actions to probe")
    autoencoder = load_model(Autoencoder, autoencoder_folder(args.autoencoder)).eval()
    dataset = LeRobotDataset(args.dataset)
    _, held_out = split_episodes(dataset.task_names, held_out_fraction=0.1)
    clips = ClipSampler(
        dataset,
        context_frames=args.context,
        future_frames=run.model.config.future_frames,
        batch_size=16,
        normalizer=run.normalizer,
        seed=args.seed,
        episodes=held_out,
    )
    generator = torch.Generator().manual_seed(args.seed)
    losses: dict[str, list[float]] = {"true": [], "null": [], "another clip's": [], "negated": []}
    with torch.no_grad():
        for _, clip in zip(range(args.batches), clips, strict=False):
            frames = clip.frames.flatten(0, 2)  # (B * V * T, 3, H, W) in [-1, 1]
            latents = torch.cat([autoencoder.encode(chunk) for chunk in frames.split(64)])
            latents = latents.unflatten(0, clip.frames.shape[:3])
            context, future = latents[:, :, : args.context], latents[:, :, args.context :]
            t = torch.rand(future.shape[0], generator=generator)
            noise = torch.randn(future.shape, generator=generator)
            instruction = run.instruction_encoder(clip.instructions) if run.instruction_encoder else None
            action_sets = {
                "true": clip.actions,
                "null": None,
                "another clip's": clip.actions.roll(1, dims=0),
                "negated": -clip.actions,
            }
            for name, actions in action_sets.items():
                loss = flow_matching_loss(run.model, future, context, t, noise, actions, instruction)
                losses[name].append(loss.item())
    print(f"flow loss on {args.batches} x 16 held-out clips of {args.dataset}, {args.context} context frames")
    true = torch.tensor(losses["true"]).mean().item()
    for name, values in losses.items():
        mean = torch.tensor(values).mean().item()
        print(f"{name:>15} actions  {mean:.4f}  ({(mean - true) / true:+.2%} vs true)")


if __name__ == "__main__":
    main()
