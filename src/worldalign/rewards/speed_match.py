"""The speed-matching reward: the decoded arm should move as fast as the real future's.

EVA's executability reward (``rewards/executability.py``) penalises the velocity, acceleration
and jerk of the end-effector motion an inverse dynamics model reads from a generated video.
Every one of those penalties is smallest for a still arm, and RL on it finds that first:
measured on the embedded benchmark (docs/results.md, EVA), 50 updates of executability-rewarded
GRPO cut the decoded jerk by 65% and the decoded speed by 54%, with the executed plans' task
progress down 17%: smoothness bought by standing still. Pixel-space motion matching
(``motion_match``) slowed that loss but did not stop it. This term pins the motion where the
guard measures it, in the IDM's decoded speed:

    speed(x) = mean_t ||v_t(x)||              (v_t as the executability reward's, action units)
    speed_match = -|speed(candidate) - speed(real future)|

so that, beside ``executability``, a lower jerk pays only at the real future's speed. Both
speeds are decoded by the same IDM the same way (the last context frames lead into each), so
the IDM's own bias cancels. Needs ``rollout.reference`` (the real future). Components:
``speed_match/generated`` and ``speed_match/real``.
"""

from __future__ import annotations

import dataclasses
import os
from typing import Literal

import torch
from torch import Tensor

from worldalign.data.types import Rollout
from worldalign.errors import ConfigError
from worldalign.models.idm import InverseDynamicsModel
from worldalign.rewards.base import component_key
from worldalign.rewards.decode import load_idm
from worldalign.rewards.executability import (
    ExecutabilityConfig,
    decode_motion,
    motion_penalties,
    resolve_trajectory,
)


def decoded_speed(
    idm: InverseDynamicsModel, rollout: Rollout, config: ExecutabilityConfig, trajectory: str
) -> Tensor:
    """``(B,)`` mean norm of the decoded velocity ``v_t`` of ``rollout`` (action units): the
    executability reward's ``velocity`` penalty."""
    motion = decode_motion(idm, rollout, config, trajectory)
    actions, end_effector = motion.decoded.actions, motion.end_effector
    return motion_penalties(actions, smooth_dims=config.smooth_dims, end_effector=end_effector)["velocity"]


class SpeedMatchReward:
    """``-|speed(generated) - speed(real future)|`` of the IDM-decoded motion (module docstring)."""

    name = "speed_match"

    def __init__(self, idm: InverseDynamicsModel, config: ExecutabilityConfig | None = None) -> None:
        self.idm = idm.eval()
        self.config = config or ExecutabilityConfig()
        self.trajectory = resolve_trajectory(self.config, idm)

    @torch.no_grad()
    def __call__(self, rollout: Rollout) -> dict[str, Tensor]:
        if rollout.reference is None:
            raise ConfigError(
                "speed_match reward: the rollout needs its reference (the real future) to decode its speed; "
                "rollout-state and prompt conditions provide it"
            )
        generated = decoded_speed(self.idm, rollout, self.config, self.trajectory)
        real_future = dataclasses.replace(rollout, frames=rollout.reference)
        real = decoded_speed(self.idm, real_future, self.config, self.trajectory)
        return {
            self.name: -(generated - real).abs().float(),
            component_key(self.name, "generated"): generated.float(),
            component_key(self.name, "real"): real.float(),
        }


def make_speed_match_reward(
    idm: InverseDynamicsModel | str | os.PathLike[str] | None = None,
    action_repeat: int = 2,
    device: str | torch.device = "cpu",
    trajectory: Literal["auto", "actions", "end_effector"] = "auto",
) -> SpeedMatchReward:
    """Registry factory: the same options as ``make_executability_reward`` (the same IDM decodes both)."""
    config = ExecutabilityConfig(action_repeat=action_repeat, trajectory=trajectory)
    return SpeedMatchReward(load_idm(idm, device), config)
