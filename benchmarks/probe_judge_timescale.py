r"""Can the judge tell real motion from none on clips as short as the RL rollouts?

Issue 21, item 4 (RoboAlign-R1, arXiv:2605.03821): the recipe's Flow-GRPO candidates are 8
generated frames (0.2 s at 40 fps), while the shipped judges learnt from benchmark clips of 16
frames taken every 5 frames (75 recorded frames, about 1.9 s). On real episodes of a dataset, at
both time scales, this scores with the teacher judge

- real clips (the recorded frames and actions), and
- frozen clips (every frame the clip's first, the same actions): no motion at all, so no
  manipulation, no progress, and motion that contradicts the commanded actions.

A judge whose scores mean something at a time scale gives real clips more than frozen ones on
the dimensions that need motion (instruction following, manipulation success, action-outcome
consistency). It prints, per time scale and dimension, the mean score of real and frozen clips
and the fraction of clip pairs where the real clip scores higher.

    PYTHONPATH=src .venv/bin/python benchmarks/probe_judge_timescale.py --dataset outputs/evalrun/mt10
"""

from __future__ import annotations

import argparse
from pathlib import Path

import torch

from worldalign.data.lerobot_reader import LeRobotDataset
from worldalign.data.types import Episode, Rollout
from worldalign.rewards.episode_rollouts import episode_frames, stack_rollouts
from worldalign.rewards.judge import SHIPPED_JUDGE_TEACHER, make_teacher_judge_reward


def clip(
    frames: torch.Tensor, actions: torch.Tensor, start: int, count: int, stride: int, episode: Episode
) -> Rollout:
    """``count`` frames every ``stride`` from ``start`` (actions: the mean over each stride's steps)."""
    positions = [start + stride * k for k in range(count)]
    steps = torch.stack([actions[p - stride : p].mean(0) if stride > 1 else actions[p - 1] for p in positions])
    return Rollout(
        frames=frames[None, :, positions],
        views=tuple(episode.views),
        fps=max(1, episode.fps // stride),
        instructions=[episode.instruction],
        tasks=[episode.task],
        actions=steps[None].float(),
    )


def frozen(rollout: Rollout) -> Rollout:
    """The same clip with every frame replaced by its first."""
    still = rollout.frames[:, :, :1].expand_as(rollout.frames).clone()
    return Rollout(still, rollout.views, rollout.fps, rollout.instructions, rollout.tasks, rollout.actions)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dataset", type=Path, required=True)
    parser.add_argument("--teacher", type=Path, default=SHIPPED_JUDGE_TEACHER)
    parser.add_argument("--starts", type=int, default=3, help="clip starts per episode (spread over it)")
    parser.add_argument("--short", default="8:1", help="FRAMES:STRIDE of the RL rollouts (default 8:1)")
    parser.add_argument("--long", default="16:5", help="FRAMES:STRIDE of the judge's benchmark (default 16:5)")
    args = parser.parse_args()
    dataset = LeRobotDataset(args.dataset)
    judge = make_teacher_judge_reward(args.teacher)
    specs = {"short": args.short, "long": args.long}
    scales = {name: tuple(int(x) for x in spec.split(":")) for name, spec in specs.items()}
    span = max(count * stride for count, stride in scales.values())
    clips: dict[str, list[Rollout]] = {name: [] for name in scales}
    for index in range(dataset.num_episodes):
        episode = dataset.episode(index, views=judge.judge.config.views)
        frames, actions = episode_frames(episode), torch.from_numpy(episode.actions).float()
        last = episode.length - span
        if last < 1:
            continue
        for start in torch.linspace(5, last, args.starts).long().tolist():
            for name, (count, stride) in scales.items():
                clips[name].append(clip(frames, actions, start, count, stride, episode))
    print(f"{len(clips['short'])} clip starts from {dataset.num_episodes} episodes of {args.dataset}")
    print(f"teacher: {args.teacher}")
    for name, (count, stride) in scales.items():
        real = judge(stack_rollouts(clips[name]))
        still = judge(stack_rollouts([frozen(c) for c in clips[name]]))
        print(f"\n{name}: {count} frames every {stride} ({count * stride} recorded frames)")
        print(f"{'dimension':<40} {'real':>7} {'frozen':>7} {'real > frozen':>14}")
        for key in [judge.name] + [f"{judge.name}/{k}" for k in judge.keys]:
            wins = float((real[key] > still[key]).float().mean())
            print(f"{key:<40} {float(real[key].mean()):7.3f} {float(still[key].mean()):7.3f} {wins:14.2f}")


if __name__ == "__main__":
    main()
