r"""Does the fidelity reward prefer less motion and more blur when the future is uncertain?

Issue 21, item 0: DiffusionNFT on rollout states with the multi-view fidelity reward (PersistWorld,
arXiv:2603.25685) leaves the training reward flat while the arm slows down. A reward built from
LPIPS/SSIM/PSNR against one real future is, like a squared error, minimised in expectation by
the *mean* of the possible futures: where the future is uncertain, a blurry, slow candidate may
score higher than a sharp one that moves, which is regression to the mean.

On ``--groups`` rollout states of the training episodes (the ``align`` CLI's conditions: the
model's own prefix of 0..3 chunks, then ``--candidates`` continuations of one length per
group), with the world model's ODE (DiffusionNFT's default) or SDE (Flow-GRPO's) sampler, it
prints

1. within each group, the Spearman and Pearson correlations between each candidate's fidelity
   and (a) its motion (mean absolute difference of consecutive frames, the first one taken
   from the last context frame) and (b) its sharpness (variance of the Laplacian, per frame);
   mean ± standard error over groups and the fraction of groups with a positive correlation;
2. the reward of transformed candidates, as the mean change against the candidate itself:
   blurred (Gaussian, sigma 1 and 2 px), frozen (every frame = the last context frame: no
   motion), and the pixel mean of the group's K candidates (the regression-to-the-mean
   prediction) against the mean candidate;
3. the reward of transformed real futures (a perfect prediction scores 1): blurred, the
   clip's temporal mean, frozen at the last context frame, shifted by 1 and 2 px, delayed by
   one frame (sharp, moving, a little off).

    PYTHONPATH=src .venv/bin/python benchmarks/probe_fidelity_bias.py --world-model checkpoints/world-model-cpu \
        --autoencoder checkpoints/autoencoder-cpu --dataset runs/data --groups 8 --candidates 8
"""

from __future__ import annotations

import argparse
import math
from pathlib import Path

import torch
from torch import Tensor

from worldalign.algos.conditions import EpisodePool, RolloutStateConditions
from worldalign.data.clips import split_episodes
from worldalign.data.lerobot_reader import LeRobotDataset
from worldalign.data.types import Rollout
from worldalign.models.text.instruction_encoder import InstructionEncoder
from worldalign.rewards.fidelity import FidelityReward
from worldalign.rewards.motion_match import frame_motion as motion
from worldalign.runs.loading import load_autoencoder, load_world_model_run
from worldalign.runs.side_files import scratch_instruction_cache
from worldalign.sampling.context_policies import SlidingWindowReencode
from worldalign.sampling.samplers import EulerODESampler, FlowSDESampler


def sharpness(frames: Tensor) -> Tensor:
    """``(B,)`` variance of the 4-neighbour Laplacian of the grey frames, averaged over views and frames."""
    grey = frames.mean(dim=3)  # (B, V, T, H, W)
    flat = grey.reshape(-1, 1, *grey.shape[-2:])
    kernel = torch.tensor([[0.0, 1.0, 0.0], [1.0, -4.0, 1.0], [0.0, 1.0, 0.0]])[None, None]
    laplacian = torch.nn.functional.conv2d(flat, kernel)
    return laplacian.flatten(1).var(dim=1).reshape(grey.shape[:3]).mean(dim=(1, 2))


def blur(frames: Tensor, sigma: float) -> Tensor:
    """Separable Gaussian blur (reflect padding) of ``(..., 3, H, W)`` frames."""
    radius = max(1, round(3 * sigma))
    offsets = torch.arange(-radius, radius + 1, dtype=torch.float32)
    weights = torch.exp(-0.5 * (offsets / sigma) ** 2)
    weights = weights / weights.sum()
    shape = frames.shape
    flat = frames.reshape(-1, 1, *shape[-2:])
    flat = torch.nn.functional.pad(flat, (radius, radius, radius, radius), mode="reflect")
    flat = torch.nn.functional.conv2d(flat, weights[None, None, None, :])
    flat = torch.nn.functional.conv2d(flat, weights[None, None, :, None])
    return flat.reshape(shape)


def shift(frames: Tensor, pixels: int) -> Tensor:
    """Frames moved right by ``pixels`` (the edge column repeated)."""
    moved = torch.cat([frames[..., :1].expand(*frames.shape[:-1], pixels), frames[..., :-pixels]], dim=-1)
    return moved


def rank(values: Tensor) -> Tensor:
    return values.argsort().argsort().float()


def pearson(a: Tensor, b: Tensor) -> float:
    a, b = a - a.mean(), b - b.mean()
    denominator = (a.square().sum() * b.square().sum()).sqrt()
    return float((a * b).sum() / denominator) if denominator > 0 else float("nan")


def summary(values: list[float]) -> str:
    tensor = torch.tensor([v for v in values if not math.isnan(v)])
    if tensor.numel() == 0:
        return "n/a"
    error = float(tensor.std() / tensor.numel() ** 0.5) if tensor.numel() > 1 else float("nan")
    return f"{float(tensor.mean()):+.3f} ± {error:.3f} (positive in {int((tensor > 0).sum())}/{tensor.numel()})"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--world-model", type=Path, required=True)
    parser.add_argument("--autoencoder", type=Path, required=True)
    parser.add_argument("--dataset", type=Path, required=True)
    parser.add_argument("--groups", type=int, default=8, help="rollout states (default: 8)")
    parser.add_argument("--candidates", type=int, default=8, help="candidates K per state (default: 8)")
    parser.add_argument("--sampler", choices=("ode", "sde"), default="ode", help="candidates' sampler (default: ode)")
    parser.add_argument("--sampling-steps", type=int, default=10)
    parser.add_argument("--batches", type=int, default=2, help="groups are drawn in this many batches (memory)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--motion-weight", type=float, default=1.0, help="lambda of the motion-matching term tried (default: 1)"
    )
    args = parser.parse_args()

    torch.set_grad_enabled(False)
    run = load_world_model_run(args.world_model, torch.device("cpu"))
    autoencoder = load_autoencoder(args.autoencoder)
    dataset = LeRobotDataset(args.dataset)
    train, _ = split_episodes(dataset.task_names, held_out_fraction=0.1)  # the align CLI's default split
    views = tuple(dataset.views)
    episodes = list(dataset.iter_episodes(train, views))
    pool = EpisodePool(episodes=episodes, indices=train, views=views, normalizer=run.normalizer, fps=dataset.fps)
    conditions = RolloutStateConditions(pool, 2, 3, 2, SlidingWindowReencode(6))
    instructions = None
    if run.instruction_encoder is not None:  # a copy of the cache: the run folder is never written
        instructions = InstructionEncoder(scratch_instruction_cache(run.model_dir))
    sampler = (
        EulerODESampler(steps=args.sampling_steps)
        if args.sampler == "ode"
        else FlowSDESampler(steps=args.sampling_steps)
    )
    reward = FidelityReward()
    generator = torch.Generator().manual_seed(args.seed)
    K = args.candidates
    rows: dict[str, list[float]] = {name: [] for name in ("spearman_motion", "pearson_motion", "spearman_sharp", "pearson_sharp")}
    deltas: dict[str, list[Tensor]] = {}
    reals: dict[str, list[Tensor]] = {}
    stats: dict[str, list[Tensor]] = {"fidelity": [], "motion": [], "real_motion": [], "sharpness": [], "real_sharpness": []}
    matched: dict[str, list[float | Tensor]] = {"spearman_motion": [], "frozen_change": []}

    def score(frames: Tensor, reference: Tensor, like: Rollout) -> Tensor:
        return reward(Rollout(frames=frames, views=like.views, fps=like.fps, reference=reference))["fidelity"]

    per_batch = -(-args.groups // args.batches)
    for _ in range(args.batches):
        batch = conditions.sample(run.model, autoencoder, per_batch, K, sampler, generator, instructions)
        rollout = batch.rollout
        assert rollout.reference is not None and rollout.context is not None
        frames, reference, last = rollout.frames, rollout.reference, rollout.context[:, :, -1]
        fidelity = reward(rollout)["fidelity"]
        moving, sharp = motion(frames, last), sharpness(frames)
        stats["fidelity"].append(fidelity)
        stats["motion"].append(moving)
        stats["real_motion"].append(motion(reference, last))
        stats["sharpness"].append(sharp)
        stats["real_sharpness"].append(sharpness(reference))
        for group in range(per_batch):
            members = slice(group * K, group * K + K)
            f, m, s = fidelity[members], moving[members], sharp[members]
            rows["spearman_motion"].append(pearson(rank(f), rank(m)))
            rows["pearson_motion"].append(pearson(f, m))
            rows["spearman_sharp"].append(pearson(rank(f), rank(s)))
            rows["pearson_sharp"].append(pearson(f, s))
        frozen = last[:, :, None].expand_as(frames)
        # The fix tried, rewards.motion_match: fidelity - lambda |motion - real motion|.
        real_moving = motion(reference, last)
        adjusted = fidelity - args.motion_weight * (moving - real_moving).abs()
        frozen_adjusted = score(frozen, reference, rollout) - args.motion_weight * real_moving
        matched["frozen_change"].append(frozen_adjusted - adjusted)
        for group in range(per_batch):
            members = slice(group * K, group * K + K)
            matched["spearman_motion"].append(pearson(rank(adjusted[members]), rank(moving[members])))
        group_mean = frames.reshape(per_batch, K, *frames.shape[1:]).mean(dim=1).repeat_interleave(K, dim=0)
        transforms = {
            "blur sigma=1": blur(frames, 1.0),
            "blur sigma=2": blur(frames, 2.0),
            "frozen at the last context frame": frozen,
            "pixel mean of the group's K candidates": group_mean,
        }
        for name, transformed in transforms.items():
            deltas.setdefault(name, []).append(score(transformed, reference, rollout) - fidelity)
        real_transforms = {
            "real future (identical)": reference,
            "real, blur sigma=1": blur(reference, 1.0),
            "real, blur sigma=2": blur(reference, 2.0),
            "real, temporal mean of the clip": reference.mean(dim=2, keepdim=True).expand_as(reference),
            "real, frozen at the last context frame": frozen,
            "real, shifted 1 px": shift(reference, 1),
            "real, shifted 2 px": shift(reference, 2),
            "real, delayed one frame": torch.cat([last[:, :, None], reference[:, :, :-1]], dim=2),
        }
        for name, transformed in real_transforms.items():
            reals.setdefault(name, []).append(score(transformed, reference, rollout))

    def cat(values: list[Tensor]) -> Tensor:
        return torch.cat(values).float()

    print(f"{args.groups} groups x {K} candidates, {args.sampler.upper()} sampler, {args.sampling_steps} steps")
    print(
        f"candidates: fidelity {cat(stats['fidelity']).mean():.4f}, motion {cat(stats['motion']).mean():.4f} "
        f"(real future {cat(stats['real_motion']).mean():.4f}), sharpness {cat(stats['sharpness']).mean():.4f} "
        f"(real future {cat(stats['real_sharpness']).mean():.4f})"
    )
    print("within-group correlation of fidelity with (mean ± s.e. over groups):")
    for name, values in rows.items():
        print(f"  {name:16s} {summary(values)}")
    print("change of a candidate's fidelity when it is replaced by (mean ± s.e. over candidates):")
    for name, values in deltas.items():
        print(f"  {name:40s} {summary(cat(values).tolist())}")
    print(f"  (fidelity of the candidates themselves: {cat(stats['fidelity']).mean():.4f})")
    print(f"with a motion-matching term: fidelity - {args.motion_weight} |motion - real motion|")
    print(f"  spearman_motion  {summary([float(v) for v in matched['spearman_motion']])}")
    frozen_changes = torch.cat([v for v in matched["frozen_change"] if isinstance(v, Tensor)])
    print(f"  frozen candidate's change {summary(frozen_changes.tolist())}")
    print("fidelity of the real future and its transforms (mean ± s.e. over groups' clips):")
    for name, values in reals.items():
        tensor = cat(values)[::K]  # one per group: the reference is shared by the group
        print(f"  {name:40s} {float(tensor.mean()):.4f} ± {float(tensor.std() / tensor.numel() ** 0.5):.4f}")


if __name__ == "__main__":
    main()
