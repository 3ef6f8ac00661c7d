r"""How much do the actions tell the world model? Its flow loss on held-out clips, teacher-forced.

The rollout probe (``probe_action_following.py``) looks at the whole autoregressive chain; this
one asks the model a single step: the rectified-flow loss of the future latents of held-out
clips (the same clips, flow times and noise for every row) given the recorded actions, the null
action (as in classifier-free guidance), another clip's actions and the negated actions. A model
that reads its actions scores clearly best with the true ones; the gap is an upper bound on what
the actions can buy it in a rollout.

The actions can only explain what moves, and the moving arm covers a small part of each frame, so
the loss is also reported on the moving positions alone: per clip, view and future frame, the
``--moving-fraction`` of latent positions that changed most since the last context frame.
``--task-episodes`` draws the clips from chosen episodes of every task instead of the held-out
ones: the episodes a model trained on against episodes it never saw (is it overfitting its data?).

    .venv/bin/python benchmarks/probe_action_loss.py --world-model checkpoints/world-model-cpu \
        --autoencoder checkpoints/autoencoder-cpu --dataset outputs/shipped/data --context 4
"""

from __future__ import annotations

import argparse
from pathlib import Path

import torch
from torch import Tensor

from worldalign.algos.pretrain import flow_squared_error
from worldalign.data.clips import ClipSampler, split_episodes
from worldalign.data.lerobot_reader import LeRobotDataset
from worldalign.runs.loading import load_autoencoder, load_world_model_run


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--world-model", type=Path, required=True, help="world model run folder (or its model/)")
    parser.add_argument("--autoencoder", type=Path, required=True, help="autoencoder run folder (or its model/)")
    parser.add_argument("--dataset", type=Path, required=True, help="dataset folder (LeRobot v3 layout)")
    parser.add_argument("--context", type=int, default=4, help="context frames per clip (default: 4)")
    parser.add_argument("--batches", type=int, default=6, help="batches of 16 held-out clips (default: 6)")
    parser.add_argument("--seed", type=int, default=0, help="seeds the clips, flow times and noise (default: 0)")
    parser.add_argument(
        "--flow-time",
        type=float,
        default=None,
        help="one flow time for every clip, 1 = pure noise, where only the conditions tell the future "
        "(default: uniform in [0, 1], as in training)",
    )
    parser.add_argument(
        "--task-episodes",
        metavar="START:STOP",
        help="draw the clips from each task's episodes START..STOP-1, in dataset order, instead of the held-out "
        "10%% of each task: e.g. 0:14 on a larger dataset of the same seed is the 140 training episodes of the "
        "shipped data (episodes are a function of seed, task and repeat), to compare seen and unseen episodes",
    )
    parser.add_argument(
        "--moving-fraction",
        type=float,
        default=0.1,
        help="fraction of latent positions per frame counted as moving (default: 0.1)",
    )
    args = parser.parse_args()
    if args.context < 1:
        parser.error(f"--context {args.context}: the moving positions are measured against the last context frame")

    run = load_world_model_run(args.world_model, torch.device("cpu"))  # in eval mode
    if run.normalizer is None:
        parser.error(f"{args.world_model} is not action-conditioned: there are no actions to probe")
    autoencoder = load_autoencoder(args.autoencoder)
    dataset = LeRobotDataset(args.dataset)
    if args.task_episodes is None:
        _, episodes = split_episodes(dataset.task_names, held_out_fraction=0.1)
        which = "held-out"
    else:
        episodes = per_task_slice(dataset.episodes_by_task(), args.task_episodes)
        which = f"each task's episodes {args.task_episodes} ({len(episodes)}) of"
    clips = ClipSampler(
        dataset,
        context_frames=args.context,
        future_frames=run.model.config.future_frames,
        batch_size=16,
        normalizer=run.normalizer,
        seed=args.seed,
        episodes=episodes,
    )
    generator = torch.Generator().manual_seed(args.seed)
    names = ("true", "null", "another clip's", "negated")
    losses: dict[str, list[float]] = {name: [] for name in names}
    moving_losses: dict[str, list[float]] = {name: [] for name in names}
    with torch.no_grad():
        for _, clip in zip(range(args.batches), clips, strict=False):
            frames = clip.frames.flatten(0, 2)  # (B * V * T, 3, H, W) in [-1, 1]
            latents = torch.cat([autoencoder.encode(chunk) for chunk in frames.split(64)])
            latents = latents.unflatten(0, clip.frames.shape[:3])
            context, future = latents[:, :, : args.context], latents[:, :, args.context :]
            t = torch.rand(future.shape[0], generator=generator)
            if args.flow_time is not None:
                t = torch.full_like(t, args.flow_time)
            noise = torch.randn(future.shape, generator=generator)
            instruction = run.instruction_encoder(clip.instructions) if run.instruction_encoder else None
            action_sets = {
                "true": clip.actions,
                "null": None,
                "another clip's": clip.actions.roll(1, dims=0),
                "negated": -clip.actions,
            }
            moving = moving_positions(future, context[:, :, -1:], args.moving_fraction)
            for name, actions in action_sets.items():
                squared_error = flow_squared_error(run.model, future, context, t, noise, actions, instruction)
                losses[name].append(squared_error.mean().item())
                moving_losses[name].append(squared_error.mean(dim=3)[moving].mean().item())
    print(f"flow loss on {args.batches} x 16 clips from {which} {args.dataset}, {args.context} context frames")
    report("all positions", losses)
    report(f"the {args.moving_fraction:.0%} of positions that moved most", moving_losses)


def per_task_slice(episodes_by_task: dict[str, list[int]], start_stop: str) -> list[int]:
    """The episodes START..STOP-1 of every task, counted in dataset order (``START:STOP``)."""
    start, sep, stop = start_stop.partition(":")
    if not sep or not start.isdigit() or not stop.isdigit() or int(start) >= int(stop):
        raise SystemExit(f"--task-episodes {start_stop!r}: expected START:STOP with START < STOP, e.g. 0:14")
    short = [task for task, episodes in episodes_by_task.items() if len(episodes) < int(stop)]
    if short:
        raise SystemExit(f"--task-episodes {start_stop}: tasks {short} have fewer than {stop} episodes")
    return [episode for episodes in episodes_by_task.values() for episode in episodes[int(start) : int(stop)]]


def moving_positions(future: Tensor, last_context: Tensor, fraction: float) -> Tensor:
    """``(B, V, Tf, h, w)`` bool: per frame, the ``fraction`` of latent positions that changed most."""
    change = (future - last_context).norm(dim=3).flatten(3)  # (B, V, Tf, h * w)
    count = max(1, round(fraction * change.shape[-1]))
    threshold = change.topk(count, dim=-1).values[..., -1:]
    return (change >= threshold).unflatten(3, future.shape[-2:])


def report(title: str, losses: dict[str, list[float]]) -> None:
    true = torch.tensor(losses["true"]).mean().item()
    print(f"on {title}:")
    for name, values in losses.items():
        mean = torch.tensor(values).mean().item()
        print(f"{name:>15} actions  {mean:.4f}  ({(mean - true) / true:+.2%} vs true)")


if __name__ == "__main__":
    main()
