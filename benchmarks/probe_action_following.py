r"""Does the world model follow its actions? Rollouts under the true, the null and the negated actions.

Rolls each episode out from its first 4 real frames (full history, one sampling seed, the same
noise for every action set) under the recorded actions, the null action (the model's "no action
known" embedding, as in classifier-free guidance) and the recorded actions negated (normalised
space), and prints each set's mean absolute pixel error against the recorded frames. A model
that uses its actions scores clearly best with the true ones and moves differently under the
others; ``--out`` gets one still per episode (one view: real, then each action set, at 7
horizons) to look at. ``--no-instruction`` drops the instruction too, so the actions are the
only cue besides the context.

    .venv/bin/python benchmarks/probe_action_following.py --world-model checkpoints/world-model-cpu \
        --autoencoder checkpoints/autoencoder-cpu --dataset outputs/shipped/data --episodes 30,126,5,60 \
        --out outputs/probe-actions
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import torch

from worldalign.cli.rollout import load_world_model_run
from worldalign.cli.world_model import autoencoder_folder, to_uint8_video
from worldalign.data import lerobot_format as fmt
from worldalign.data.lerobot_reader import LeRobotDataset
from worldalign.models.autoencoder import Autoencoder
from worldalign.models.checkpoint import load_model
from worldalign.sampling.context_policies import FullHistory
from worldalign.sampling.rollout import rollout
from worldalign.sampling.samplers import EulerODESampler
from worldalign.viz.video_grid import compose_filmstrip, filmstrip_frames, viewing_scale, write_image

CONTEXT = 4


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--world-model", type=Path, required=True, help="world model run folder (or its model/)")
    parser.add_argument("--autoencoder", type=Path, required=True, help="autoencoder run folder (or its model/)")
    parser.add_argument("--dataset", type=Path, required=True, help="dataset folder (LeRobot v3 layout)")
    parser.add_argument("--episodes", required=True, help="comma-separated episode indices")
    parser.add_argument("--horizon", type=int, default=48, help="frames generated per episode (default: 48)")
    parser.add_argument("--seed", type=int, default=0, help="sampling seed (default: 0)")
    parser.add_argument("--view", default="front", help="the view shown in the stills (default: front)")
    parser.add_argument("--no-instruction", action="store_true", help="roll out with the null instruction")
    parser.add_argument("--out", type=Path, default=None, help="write episode_N.png stills here")
    args = parser.parse_args()

    torch.set_grad_enabled(False)
    device = torch.device("cpu")
    dataset = LeRobotDataset(args.dataset)
    run = load_world_model_run(args.world_model, device)
    if run.normalizer is None:
        raise SystemExit(f"{args.world_model} is not conditioned on actions: nothing to probe")
    autoencoder = load_model(Autoencoder, autoencoder_folder(args.autoencoder)).eval()
    indices = [int(index) for index in args.episodes.split(",")]
    frames = CONTEXT + args.horizon
    episodes = [dataset.episode(index, dataset.views) for index in indices]
    pixels = np.stack([episode.frames[:, :frames] for episode in episodes])  # (B, V, T, H, W, 3)
    real = torch.from_numpy(pixels).permute(0, 1, 2, 5, 3, 4).float().div(127.5).sub(1.0)
    actions = torch.from_numpy(
        np.stack([run.normalizer.normalize(fmt.ACTION, episode.actions[: frames - 1]) for episode in episodes])
    ).float()
    instruction = None
    if run.instruction_encoder is not None and not args.no_instruction:
        instruction = run.instruction_encoder([episode.instruction for episode in episodes])
    start, target = autoencoder.encode(real[:, :, :CONTEXT]), real[:, :, CONTEXT:]
    action_sets = {"true": actions, "null": None, "negated": -actions}
    generated = {}
    for name, chosen in action_sets.items():
        result = rollout(
            run.model, autoencoder, start, args.horizon, FullHistory(), sampler=EulerODESampler(steps=10),
            actions=chosen, instruction=instruction, generator=torch.Generator().manual_seed(args.seed),
        )  # fmt: skip
        assert result.frames is not None
        generated[name] = result.frames
    view = dataset.views.index(args.view)
    print(f"mean absolute pixel error (frames in [-1, 1]) over {args.horizon} frames, all views")
    print("episode  " + "  ".join(f"{name:>8}" for name in action_sets))
    for row, index in enumerate(indices):
        errors = [float((generated[name][row] - target[row]).abs().mean()) for name in action_sets]
        print(f"{index:7d}  " + "  ".join(f"{error:8.4f}" for error in errors))
        if args.out is not None:
            videos = [to_uint8_video(frames[row])[view] for frames in (target, *generated.values())]
            still = compose_filmstrip(
                videos, frames=filmstrip_frames(args.horizon), row_labels=["real", *action_sets],
                title=f"episode {index}, {args.view} view", scale=viewing_scale(target.shape[-1]),
            )  # fmt: skip
            write_image(still, args.out / f"episode_{index}.png")


if __name__ == "__main__":
    main()
