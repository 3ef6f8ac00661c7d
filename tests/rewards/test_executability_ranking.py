"""EVA's claim, checked with the shipped IDM: real motion is more executable than broken motion.

- real expert clips vs the same clips with injected jitter (adjacent frames swapped) or a
  teleport (a jump over several frames): the real clip must score higher in >= 95% of pairs;
- scripted-expert vs noisy-policy (action noise 0.5) videos of the same tasks, scored on the
  whole episode (37 frames after 3 context frames): the expert must score higher in >= 95% of
  the 36 same-task pairs. The shipped IDM's state head decodes the hand's displacement, and the
  smoothness terms score that end-effector trajectory (35/36; reach, button-press and
  drawer-close 9/9, window-close 8/9). Scored on the decoded commanded actions instead, the same
  IDM ranks 33/36: Meta-World's hand low-pass filters the action noise (commanded acceleration
  0.75-1.0 vs 0.03-0.24 for the expert, hand acceleration only ~0.31 vs ~0.19 action units), so
  an IDM regresses the invisible part of the commanded jitter toward the mean. The penalties on
  the TRUE hand trajectory (privileged ``hand_pos``) rank these whole episodes 36/36 (tested);
- action-conditioned: a video scored with its own commanded actions is more consistent than
  with another episode's commands.

Rollouts are scored instruction-conditioned (no commanded actions) unless stated, so only the
smoothness and limit terms decide.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import torch

from worldalign.data.types import Episode, Rollout
from worldalign.models.idm import InverseDynamicsModel
from worldalign.rewards.embodiment import metaworld_limits
from worldalign.rewards.episode_rollouts import episode_frames, episode_rollout, stack_rollouts
from worldalign.rewards.executability import ExecutabilityReward, ExecutabilityWeights, motion_penalties

CLIP = 16
CONTEXT = 3
STARTS = (4, 12)  # while the experts still move (they solve these tasks in ~20-50 steps)
TELEPORT = 6
SEEDS_PER_TASK = 3  # as recorded by conftest.py


def _rollout(episode: Episode, start: int, length: int, video: torch.Tensor | None = None) -> Rollout:
    rollout = episode_rollout(episode, start=start, length=length, context_frames=CONTEXT, frames=video)
    return replace(rollout, actions=None)


def _jittered(video: torch.Tensor, start: int, generator: torch.Generator) -> torch.Tensor:
    out = video.clone()
    for t in (start + 1 + torch.randperm(CLIP - 2, generator=generator)[:3]).tolist():
        out[:, [t, t + 1]] = video[:, [t + 1, t]]
    return out


def _teleported(video: torch.Tensor, start: int) -> torch.Tensor:
    out = video.clone()
    half = start + CLIP // 2
    out[:, half : start + CLIP] = video[:, half + TELEPORT : start + CLIP + TELEPORT]
    return out


def test_real_clips_beat_jittered_and_teleported_ones(
    shipped_idm: InverseDynamicsModel, expert_episodes: list[Episode]
) -> None:
    reward = ExecutabilityReward(shipped_idm)
    generator = torch.Generator().manual_seed(0)
    real, broken = [], []
    for episode in expert_episodes:
        video = episode_frames(episode, shipped_idm.config.views)
        for start in STARTS:
            for corrupted in (_jittered(video, start, generator), _teleported(video, start)):
                real.append(_rollout(episode, start, CLIP))
                broken.append(_rollout(episode, start, CLIP, corrupted))
    real_scores = reward(stack_rollouts(real))["executability"]
    broken_scores = reward(stack_rollouts(broken))["executability"]
    assert float((real_scores > broken_scores).float().mean()) >= 0.95, (real_scores, broken_scores)


def test_expert_videos_beat_noisy_policy_videos_of_the_same_scenes(
    shipped_idm: InverseDynamicsModel, expert_episodes: list[Episode], noisy_episodes: list[Episode]
) -> None:
    reward = ExecutabilityReward(shipped_idm)
    assert reward.trajectory == "end_effector"  # the shipped IDM has a state head

    def scores(episodes: list[Episode]) -> torch.Tensor:  # (tasks, seeds)
        length = episodes[0].length - CONTEXT
        rollouts = stack_rollouts([_rollout(e, CONTEXT, length) for e in episodes])
        return reward(rollouts)["executability"].view(-1, SEEDS_PER_TASK)

    expert, noisy = scores(expert_episodes), scores(noisy_episodes)
    # Every (expert, noisy) pair of the same task: 4 tasks x 3 x 3 = 36 pairs (see the module docstring).
    wins = (expert[:, :, None] > noisy[:, None, :]).float().mean()
    assert float(wins) >= 0.95, (expert, noisy)


def test_the_penalties_rank_every_pair_on_the_true_hand_trajectory(
    expert_episodes: list[Episode], noisy_episodes: list[Episode]
) -> None:
    """The smoothness penalties themselves separate expert from noisy motion when the motion is
    known: scored on the privileged hand trajectory (in action units) instead of the IDM's
    decoding, every one of the 36 pairs above ranks the expert first."""
    weights = ExecutabilityWeights()

    def scores(episodes: list[Episode]) -> torch.Tensor:  # (tasks, seeds)
        totals = []
        for episode in episodes:
            hand = episode.privileged["hand_pos"][CONTEXT - 1 :]
            velocity = np.diff(hand, axis=0) / metaworld_limits(episode.task).metres_per_action
            penalties = motion_penalties(torch.from_numpy(velocity).float()[None])
            total = sum(getattr(weights, name) * penalties[name] for name in ("velocity", "acceleration", "jerk"))
            totals.append(-float(total))
        return torch.tensor(totals).view(-1, SEEDS_PER_TASK)

    expert, noisy = scores(expert_episodes), scores(noisy_episodes)
    assert bool((expert[:, :, None] > noisy[:, None, :]).all()), (expert, noisy)


def test_commanded_actions_of_the_video_itself_are_the_most_consistent(
    shipped_idm: InverseDynamicsModel, noisy_episodes: list[Episode]
) -> None:
    reward = ExecutabilityReward(shipped_idm)
    own = stack_rollouts(
        [episode_rollout(e, start=s, length=CLIP, context_frames=CONTEXT) for e in noisy_episodes for s in STARTS]
    )
    assert own.actions is not None
    others_actions = torch.roll(own.actions, shifts=1, dims=0)  # each clip gets another clip's commands
    own_scores = reward(own)["executability/consistency"]
    other_scores = reward(replace(own, actions=others_actions))["executability/consistency"]
    assert float((other_scores > own_scores).float().mean()) >= 0.95
