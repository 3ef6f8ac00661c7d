"""The speed-matching reward, checked with the shipped IDM on real expert clips: the real future
scores 0, a still arm scores minus the real speed, and beside executability it turns the
preference for a still clip (executability's pull, measured in docs/results.md) around."""

from __future__ import annotations

from dataclasses import replace

import pytest
import torch

from worldalign.data.types import Episode, Rollout
from worldalign.errors import ConfigError
from worldalign.models.idm import InverseDynamicsModel
from worldalign.rewards.episode_rollouts import episode_frames, episode_rollout, stack_rollouts
from worldalign.rewards.executability import ExecutabilityReward
from worldalign.rewards.speed_match import SpeedMatchReward

CLIP = 12
CONTEXT = 3
START = 6  # the experts still move here (they solve these tasks in ~20-50 steps)


def _clips(episodes: list[Episode], views: tuple[str, ...]) -> tuple[Rollout, Rollout]:
    """The real clips and the same clips with the last context frame held still, uncommanded."""
    real, still = [], []
    for episode in episodes:
        video = episode_frames(episode, views)
        frozen = video.clone()
        frozen[:, START : START + CLIP] = video[:, START - 1 : START]
        for clips, video_or_none in ((real, None), (still, frozen)):
            clip = episode_rollout(episode, start=START, length=CLIP, context_frames=CONTEXT, frames=video_or_none)
            clips.append(replace(clip, actions=None))
    return stack_rollouts(real), stack_rollouts(still)


def test_the_real_future_scores_zero_and_a_still_arm_scores_minus_its_speed(
    shipped_idm: InverseDynamicsModel, expert_episodes: list[Episode]
) -> None:
    real, still = _clips(expert_episodes, shipped_idm.config.views)
    reward = SpeedMatchReward(shipped_idm)
    on_real, on_still = reward(real), reward(still)
    assert torch.equal(on_real["speed_match"], torch.zeros_like(on_real["speed_match"]))
    real_speed = on_still["speed_match/real"]
    assert torch.allclose(real_speed, on_real["speed_match/generated"])
    assert float(real_speed.min()) > 0.2, real_speed  # the experts move, in action units
    assert float(on_still["speed_match/generated"].max()) < 0.5 * float(real_speed.min())
    assert torch.allclose(on_still["speed_match"], -(real_speed - on_still["speed_match/generated"]))


def test_beside_executability_the_real_clip_beats_the_still_one(
    shipped_idm: InverseDynamicsModel, expert_episodes: list[Episode]
) -> None:
    real, still = _clips(expert_episodes, shipped_idm.config.views)
    executability, speed = ExecutabilityReward(shipped_idm), SpeedMatchReward(shipped_idm)
    alone_real, alone_still = executability(real)["executability"], executability(still)["executability"]
    assert float((alone_still > alone_real).float().mean()) >= 0.9  # the pull this term is for
    together_real = alone_real + speed(real)["speed_match"]
    together_still = alone_still + speed(still)["speed_match"]
    assert bool((together_real > together_still).all()), (together_real, together_still)


def test_it_needs_the_reference(shipped_idm: InverseDynamicsModel) -> None:
    frames = torch.zeros(1, 3, 4, 3, 64, 64)
    rollout = Rollout(frames=frames, views=shipped_idm.config.views, fps=10, tasks=["reach-v3"])
    with pytest.raises(ConfigError, match="reference"):
        SpeedMatchReward(shipped_idm)(rollout)
