r"""Do the judges reward a generator's artifacts: a red blob growing in a view, a swelling arm?

Issue 21, item 4 (RoboAlign-R1, arXiv:2605.03821): 50 Flow-GRPO updates against the distilled
student judge raised the teacher's six-dimension sum by 31% while the held-out fidelity fell 11%;
the aligned model paints a swollen arm and red blobs into the wrist view (docs/benchmarks.md).
This probe asks whether those artifacts alone buy score. On real clips of a dataset (the frames
the R1 recipe scores: ``--frames`` consecutive frames after ``--start``) it scores with both
judges the clip as recorded and the same clip with one artifact painted into one view
(``judge_bench.corruptions.apply_artifact``: nothing the simulator did changes, so no task
dimension should rise and physics adherence should fall). It prints, per artifact, view and
dimension, the mean score of real and painted clips and the fraction of clips the paint raised.

    PYTHONPATH=src .venv/bin/python benchmarks/probe_judge_artifacts.py --dataset outputs/data/mt10-48
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import torch

from worldalign.data.clips import spread_evenly
from worldalign.data.lerobot_reader import LeRobotDataset
from worldalign.data.pixels import to_unit_range
from worldalign.data.types import Rollout
from worldalign.judge_bench.corruptions import ARTIFACT_KINDS, apply_artifact
from worldalign.rewards.judge import (
    SHIPPED_JUDGE_STUDENT,
    SHIPPED_JUDGE_TEACHER,
    JudgeReward,
    make_judge_reward,
    make_teacher_judge_reward,
)


def real_clips(dataset: LeRobotDataset, views: tuple[str, ...], episodes: int, start: int, frames: int) -> list:
    """``(episode, (V, T, H, W, 3) uint8 frames, (T, A) actions)`` of up to ``episodes`` episodes."""
    clips = []
    for index in spread_evenly(list(range(dataset.num_episodes)), episodes):
        episode = dataset.episode(index, views=views)
        if episode.length < start + frames:
            continue
        chosen = [episode.views.index(v) for v in views]
        pixels = episode.frames[chosen][:, start : start + frames]
        clips.append((episode, pixels, episode.actions[start - 1 : start + frames - 1]))
    return clips


def rollout(clips: list, pixels: list[np.ndarray], views: tuple[str, ...]) -> Rollout:
    """The clips as one batch the judges score, frames replaced by ``pixels``."""
    return Rollout(
        frames=torch.stack([to_unit_range(p) for p in pixels]),
        views=views,
        fps=clips[0][0].fps,
        instructions=[episode.instruction for episode, _, _ in clips],
        tasks=[episode.task for episode, _, _ in clips],
        actions=torch.from_numpy(np.stack([actions for _, _, actions in clips])).float(),
    )


def scores(judge: JudgeReward, batch: Rollout, seed: int) -> dict[str, torch.Tensor]:
    """The judge's scores with its MC-dropout passes seeded: the real and the painted batch of one
    seed share their dropout masks, so their difference is the paint's alone."""
    torch.manual_seed(seed)
    return judge(batch)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dataset", type=Path, required=True)
    parser.add_argument("--teacher", type=Path, default=SHIPPED_JUDGE_TEACHER)
    parser.add_argument("--student", type=Path, default=SHIPPED_JUDGE_STUDENT)
    parser.add_argument("--episodes", type=int, default=120, help="episodes, one clip each (spread over the dataset)")
    parser.add_argument("--start", type=int, default=2, help="first frame (the R1 recipe: after 2 context frames)")
    parser.add_argument("--frames", type=int, default=16, help="frames per clip (the R1 recipe's 16)")
    parser.add_argument("--seeds", default="0,1,2", help="seeds of the artifacts' placement and the judges' dropout")
    args = parser.parse_args()
    seeds = [int(seed) for seed in args.seeds.split(",")]
    judges: list[JudgeReward] = [make_teacher_judge_reward(args.teacher), make_judge_reward(args.student)]
    views = tuple(judges[0].judge.config.views)
    dataset = LeRobotDataset(args.dataset)
    clips = real_clips(dataset, views, args.episodes, args.start, args.frames)
    real = rollout(clips, [pixels for _, pixels, _ in clips], views)
    print(f"{len(clips)} clips of {args.frames} frames from frame {args.start} of {args.dataset}; seeds {seeds}")
    print("change of the mean score, painted - real (mean ± std over seeds); raised: clips whose sum the paint raised")
    for judge in judges:
        keys = [judge.name] + [f"{judge.name}/{k}" for k in judge.keys]
        before = {seed: scores(judge, real, seed) for seed in seeds}
        real_means = ", ".join(f"{k.split('/')[-1]} {float(before[seeds[0]][k].mean()):.3f}" for k in keys)
        print(f"\n{judge.name}: real clips (seed {seeds[0]}): {real_means}")
        print(f"{'artifact':<20} " + " ".join(f"{k.split('/')[-1][:22]:>24}" for k in keys) + f" {'raised (sum)':>13}")
        for kind in ARTIFACT_KINDS:
            for view in views:
                changes, raised = {k: [] for k in keys}, []
                for seed in seeds:
                    rng = np.random.default_rng(seed)
                    painted = [apply_artifact(pixels, kind, rng, view=views.index(view)) for _, pixels, _ in clips]
                    after = scores(judge, rollout(clips, painted, views), seed)
                    for k in keys:
                        changes[k].append(float((after[k] - before[seed][k]).mean()))
                    raised.append(float((after[judge.name] > before[seed][judge.name] + 1e-6).float().mean()))
                cells = " ".join(f"{np.mean(changes[k]):+11.3f} ± {np.std(changes[k]):.3f}{'':>4}" for k in keys)
                print(f"{kind + ' ' + view:<20} {cells} {np.mean(raised):13.2f}")


if __name__ == "__main__":
    main()
