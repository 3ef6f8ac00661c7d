"""The motion-matching reward: generate as much motion as the real future has, no less, no more.

The multi-view fidelity reward (PersistWorld, arXiv:2603.25685) compares a candidate with one
real future. Like any squared-error-like score it is minimised in expectation by the mean of
the possible futures, and on the shipped world model's rollout states it pays for standing
still: a candidate replaced by its last context frame repeated scores higher in 49 of 64 cases
(``benchmarks/probe_fidelity_bias.py``; docs/benchmarks.md), which is how RL on
fidelity slows the arm down. This term removes that incentive:

    motion(x) = mean_{v, t, c, h, w} |x_t - x_{t-1}|      (x_{-1} = the last context frame)
    motion_match = -|motion(candidate) - motion(real future)|

in pixel units of [-1, 1] frames (0 is best). With weight 1 beside ``fidelity=1`` the frozen
candidate loses its edge (26 of 64 instead of 49, mean change -0.003 instead of +0.005) and
fidelity's within-group correlation with motion goes from -0.19 to +0.03 (same probe,
``--motion-weight 1``). Components: ``motion_match/generated`` and ``motion_match/real``, the
two motions.
"""

from __future__ import annotations

import torch
from torch import Tensor

from worldalign.data.types import Rollout
from worldalign.errors import ConfigError
from worldalign.rewards.base import component_key


def frame_motion(frames: Tensor, last_context: Tensor) -> Tensor:
    """``(B,)`` mean absolute difference of consecutive frames of ``frames (B, V, T, 3, H, W)``;
    the first frame is compared with ``last_context (B, V, 3, H, W)``."""
    sequence = torch.cat([last_context[:, :, None].to(frames), frames], dim=2)
    return (sequence[:, :, 1:] - sequence[:, :, :-1]).abs().float().mean(dim=(1, 2, 3, 4, 5))


class MotionMatchReward:
    """``-|motion(generated) - motion(real)|``; needs ``rollout.reference`` and ``rollout.context``."""

    name = "motion_match"

    @torch.no_grad()
    def __call__(self, rollout: Rollout) -> dict[str, Tensor]:
        if rollout.reference is None or rollout.context is None:
            raise ConfigError(
                "motion_match reward: the rollout needs its reference (the real future) and its context (the "
                "frame the generation started from); rollout-state and prompt conditions provide both"
            )
        last = rollout.context[:, :, -1]
        generated = frame_motion(rollout.frames, last)
        real = frame_motion(rollout.reference, last)
        return {
            self.name: -(generated - real).abs(),
            component_key(self.name, "generated"): generated,
            component_key(self.name, "real"): real,
        }


def make_motion_match_reward() -> MotionMatchReward:
    """Registry factory of ``MotionMatchReward`` (no options)."""
    return MotionMatchReward()
