r"""Which smoothness reward prefers a still arm to the real one? (issue 21, EVA row)

EVA's executability reward (``rewards/executability.py``) penalises the velocity, acceleration
and jerk of the motion an inverse dynamics model decodes from a video. Executability-rewarded
GRPO on the embedded benchmark lowered jerk only by lowering speed (docs/results.md, EVA arms).
This probe scores, with the shipped IDM, real scripted-expert clips against two edits of them:

- ``still``: every frame after the context replaced by the last context frame (the arm stops);
- ``jittered``: three pairs of adjacent frames swapped (the arm stutters: broken motion);

under each candidate reward, and prints for each the fraction of clips where the still copy
scores at least as high as the real clip (the pull towards standing still: lower is better)
and where the real clip beats the jittered one (the point of a smoothness reward: higher is
better), with the decoded speed of each kind of clip. Candidates: ``executability``;
``executability`` + ``W * speed_match`` (``rewards/speed_match.py``); and smoothness per unit
of speed, ``-(acceleration + 0.5 * jerk) / max(speed, floor)`` (the executability weights,
dimensionless as motor-control smoothness measures are), for several floors.

    PYTHONPATH=src .venv/bin/python benchmarks/probe_still_preference.py
"""

from __future__ import annotations

import argparse
from dataclasses import replace

import torch
from torch import Tensor

from worldalign.data.types import Rollout
from worldalign.envs.recorder import record_episode
from worldalign.rewards.decode import SHIPPED_IDM, load_idm
from worldalign.rewards.episode_rollouts import episode_frames, episode_rollout, stack_rollouts
from worldalign.rewards.executability import ExecutabilityReward
from worldalign.rewards.speed_match import SpeedMatchReward

TASKS = ("reach-v3", "button-press-topdown-v3", "drawer-close-v3", "window-close-v3")
CONTEXT = 3


def clips(seeds_per_task: int, start: int, length: int, views: tuple[str, ...]) -> dict[str, Rollout]:
    """Real, still and jittered clips of scripted-expert episodes (seeds >= 1000: scenes the
    shipped IDM was not trained on), uncommanded."""
    kinds: dict[str, list[Rollout]] = {"real": [], "still": [], "jittered": []}
    generator = torch.Generator().manual_seed(0)
    for k, task in enumerate(TASKS):
        for i in range(seeds_per_task):
            episode = record_episode(task, seed=1000 + seeds_per_task * k + i, noise=0.0, views=views, max_steps=40)
            video = episode_frames(episode, views)
            still = video.clone()
            still[:, start : start + length] = video[:, start - 1 : start]
            jittered = video.clone()
            for t in (start + 1 + torch.randperm(length - 2, generator=generator)[:3]).tolist():
                jittered[:, [t, t + 1]] = video[:, [t + 1, t]]
            for kind, frames in (("real", None), ("still", still), ("jittered", jittered)):
                clip = episode_rollout(episode, start=start, length=length, context_frames=CONTEXT, frames=frames)
                kinds[kind].append(replace(clip, actions=None))
    return {kind: stack_rollouts(rollouts) for kind, rollouts in kinds.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds-per-task", type=int, default=3)
    parser.add_argument("--start", type=int, default=6, help="first scored frame (the experts still move)")
    parser.add_argument("--length", type=int, default=12, help="scored frames per clip")
    parser.add_argument("--floors", default="0.02,0.1,0.3", help="speed floors of the per-unit-speed smoothness")
    parser.add_argument("--speed-match-weights", default="1,3")
    args = parser.parse_args()

    idm = load_idm(SHIPPED_IDM)
    kinds = clips(args.seeds_per_task, args.start, args.length, tuple(idm.config.views))
    executability, speed_match = ExecutabilityReward(idm), SpeedMatchReward(idm)
    scored = {kind: executability(clip) for kind, clip in kinds.items()}  # the reward and each penalty
    absolute = {kind: terms["executability"] for kind, terms in scored.items()}
    matched = {kind: speed_match(clip)["speed_match"] for kind, clip in kinds.items()}
    penalties = {
        kind: {name: terms[f"executability/{name}"] for name in ("velocity", "acceleration", "jerk")}
        for kind, terms in scored.items()
    }
    weights = executability.config.weights

    def per_unit_speed(kind: str, floor: float) -> Tensor:
        found = penalties[kind]
        roughness = weights.acceleration * found["acceleration"] + weights.jerk * found["jerk"]
        return -roughness / found["velocity"].clamp_min(floor)

    candidates = {"executability": absolute}
    for weight in (float(w) for w in args.speed_match_weights.split(",")):
        candidates[f"executability + {weight:g} speed_match"] = {k: absolute[k] + weight * matched[k] for k in kinds}
    for floor in (float(f) for f in args.floors.split(",")):
        candidates[f"smoothness per unit speed, floor {floor:g}"] = {k: per_unit_speed(k, floor) for k in kinds}

    count = len(absolute["real"])
    speeds = ", ".join(f"{kind} {float(found['velocity'].mean()):.3f}" for kind, found in penalties.items())
    print(f"{count} expert clips of {args.length} frames; decoded speed (action units, mean): {speeds}\n")
    print("| reward | still >= real (lower is better) | real > jittered (higher is better) |")
    print("|---|---|---|")
    for name, scores in candidates.items():
        still = float((scores["still"] >= scores["real"]).float().mean())
        jitter = float((scores["real"] > scores["jittered"]).float().mean())
        print(f"| {name} | {still:.0%} | {jitter:.0%} |")


if __name__ == "__main__":
    main()
