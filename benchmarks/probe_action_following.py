r"""Does the world model follow its actions? Rollouts under the true, the null and the negated actions.

Rolls each episode out from its first 4 real frames (full history, one sampling seed, the same
noise for every action set) under the recorded actions, the null action (the model's "no action
known" embedding, as in classifier-free guidance) and the recorded actions negated (normalised
space), and prints each set's mean absolute pixel error against the recorded frames. A model
that uses its actions scores clearly best with the true ones and moves differently under the
others; ``--out`` gets one still per episode (one view: real, then each action set, at 7
horizons) to look at. ``--no-instruction`` drops the instruction too, so the actions are the
only cue besides the context.

Pixel error is dominated by the still background, so the probe also reads the arm's motion back
out of each video with an inverse dynamics model (``--idm``, default the shipped one), as EVA
(Executable Video Alignment) reads a generated video, and prints how far the decoded hand actions
(x, y, z) are from the commanded ones. On the real frames this is the IDM's own error; a model
that follows its actions scores near it under the true and under the negated actions alike,
while one that ignores them decodes, under the negated actions, close to the true actions. The
summary is the response: the slope of the decoded motion's change on the commands' change
(negated minus true), over the same slope of the real frames' decoded motion on the true
commands: 0% ignores the actions, 100% moves as the real arm does.

    .venv/bin/python benchmarks/probe_action_following.py --world-model checkpoints/world-model-cpu \
        --autoencoder checkpoints/autoencoder-cpu --dataset outputs/shipped/data --episodes 15,46,79,110,143 \
        --horizon 24 --action-guidance-scale 2 --out outputs/probe-actions
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import torch

from worldalign.data import lerobot_format as fmt
from worldalign.data.lerobot_reader import LeRobotDataset
from worldalign.data.pixels import to_uint8_video, to_unit_range
from worldalign.models.idm import InverseDynamicsModel
from worldalign.rewards.decode import load_idm
from worldalign.runs.loading import load_autoencoder, load_world_model_run
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
    parser.add_argument(
        "--guidance-scale", type=float, default=1.0, help="classifier-free guidance scale (default: 1, none)"
    )
    parser.add_argument(
        "--action-guidance-scale", type=float, default=1.0, help="guidance scale on the actions alone (default: 1)"
    )
    parser.add_argument("--no-instruction", action="store_true", help="roll out with the null instruction")
    parser.add_argument("--out", type=Path, default=None, help="write episode_N.png stills here")
    parser.add_argument("--idm", type=Path, default=None, help="IDM checkpoint folder (default: the shipped one)")
    args = parser.parse_args()

    torch.set_grad_enabled(False)
    device = torch.device("cpu")
    dataset = LeRobotDataset(args.dataset)
    run = load_world_model_run(args.world_model, device)
    if run.normalizer is None:
        raise SystemExit(f"{args.world_model} is not conditioned on actions: nothing to probe")
    autoencoder = load_autoencoder(args.autoencoder)
    indices = [int(index) for index in args.episodes.split(",")]
    frames = CONTEXT + args.horizon
    episodes = [dataset.episode(index, dataset.views) for index in indices]
    pixels = np.stack([episode.frames[:, :frames] for episode in episodes])  # (B, V, T, H, W, 3)
    real = to_unit_range(pixels)
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
            actions=chosen, instruction=instruction, guidance_scale=args.guidance_scale,
            action_guidance_scale=args.action_guidance_scale,
            generator=torch.Generator().manual_seed(args.seed),
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

    commanded = torch.from_numpy(np.stack([episode.actions[: frames - 1] for episode in episodes])).float()
    negated = run.normalizer.unnormalize(fmt.ACTION, -actions)
    videos = {"real": real}
    videos |= {name: torch.cat([real[:, :, :CONTEXT], video], dim=2) for name, video in generated.items()}
    report_action_response(load_idm(args.idm), videos, dataset.views, commanded, negated, indices)


def report_action_response(
    idm: InverseDynamicsModel,
    videos: dict[str, torch.Tensor],
    views: tuple[str, ...],
    commanded: torch.Tensor,
    negated: torch.Tensor,
    indices: list[int],
) -> None:
    """Print how far the IDM-decoded hand motion of each video is from the commands, and how
    strongly the generated arm responds to negated commands relative to the real arm.

    ``videos``: name -> ``(B, V, CONTEXT + H, 3, h, w)`` for "real", "true", "null" and "negated";
    ``commanded`` / ``negated``: the true and the negated actions ``(B, CONTEXT + H - 1, A)`` in
    the embodiment's units.
    """
    motions = {name: decode_hand(idm, video, views) for name, video in videos.items()}
    decoded = {name: hand_actions for name, (hand_actions, _) in motions.items()}
    true, negated = commanded[:, CONTEXT - 1 :, :3], negated[:, CONTEXT - 1 :, :3]
    columns = {
        "real vs true": (decoded["real"], true),
        "true vs true": (decoded["true"], true),
        "null vs true": (decoded["null"], true),
        "negated vs negated": (decoded["negated"], negated),
        "negated vs true": (decoded["negated"], true),
    }
    print(
        f"\nIDM-decoded hand actions (x, y, z) of the {true.shape[1]} generated transitions against the commanded "
        "ones, mean absolute error in action units (video vs command)"
    )
    print("episode  " + "  ".join(f"{name:>18}" for name in columns))
    for row, index in enumerate(indices):
        errors = [float((video[row] - command[row]).abs().mean()) for video, command in columns.values()]
        print(f"{index:7d}  " + "  ".join(f"{error:18.3f}" for error in errors))
    means = [float((video - command).abs().mean()) for video, command in columns.values()]
    print("   mean  " + "  ".join(f"{error:18.3f}" for error in means))
    print(f"(the negated commands differ from the true ones by {float((negated - true).abs().mean()):.3f} on average)")
    for head, part in (("action", 0), ("hand displacement", 1)):
        real_motion, true_motion, negated_motion = (motions[name][part] for name in ("real", "true", "negated"))
        if real_motion.shape[-1] == 0:
            continue
        response = slope(negated_motion - true_motion, negated - true)
        gain = slope(real_motion - real_motion.mean(dim=(0, 1)), true - true.mean(dim=(0, 1)))
        print(
            f"{head} head: negating the commands changes the decoded motion by {response:.4f} per unit of command "
            f"change, the real frames' motion goes {gain:.4f} per unit: the generated arm responds "
            f"{response / gain:.0%} as much as the real one (0% = ignores its actions)"
        )


def slope(motion_change: torch.Tensor, command_change: torch.Tensor) -> float:
    """Least-squares slope (through 0) of a change in decoded motion on a change in commands."""
    return float((motion_change * command_change).sum() / command_change.square().sum())


def decode_hand(
    idm: InverseDynamicsModel, video: torch.Tensor, views: tuple[str, ...]
) -> tuple[torch.Tensor, torch.Tensor]:
    """The hand actions ``(B, H, 3)`` and hand displacements ``(B, H, S)`` (``S = 0`` without a
    state head) an IDM reads from ``video (B, V, CONTEXT + H, 3, h, w)``'s transitions out of the
    last context frame onward."""
    actions, displacement = idm.decode_video_with_state(video, views, first=CONTEXT - 1)
    return actions[..., :3], displacement


if __name__ == "__main__":
    main()
