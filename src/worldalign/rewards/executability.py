"""Executability reward: how smooth and feasible are the actions a generated video implies?

EVA ("Executable Video Alignment": RL post-training of video world models with an inverse
dynamics model as the reward model) decodes the actions a generated video induces and rewards
smooth motion (small velocity, acceleration and jerk) while penalising actions that violate
the embodiment's constraints. The reward stays informative on visually broken videos: a
teleporting arm, a flicker or a smeared gripper decode to spikes and out-of-bound actions.

Meta-World's actions are end-effector displacements per step (see ``rewards/embodiment.py``),
so the decoded actions ARE the end-effector trajectory's velocity, in action units (one unit =
the largest step the hand can take). With ``a_t`` the decoded xyz action:

- ``velocity``      = mean_t ``||a_t||``
- ``acceleration``  = mean_t ``||a_{t+1} - a_t||``          (first finite difference)
- ``jerk``          = mean_t ``||a_{t+2} - 2 a_{t+1} + a_t||`` (second finite difference)
- ``action_bounds`` = mean_t sum_d of how far each action dimension (gripper included) lies
  outside ``[action_low, action_high]``
- ``workspace``     = mean_t sum_d of how far the command at step t pushes the hand past the
  task's reachable box, in action units, with the hand integrated as the robot moves it
  (``p_t = clip(p_{t-1} + metres_per_action * a_t, box)``; needs ``rollout.starts`` for ``p_0``)
- ``consistency``   = mean_t ``||decoded_t - commanded_t||`` (all dimensions) for
  action-conditioned rollouts: did the video do what it was told?

``executability = -(sum_k weight_k * penalty_k)``; every penalty is returned as a component.
The gripper is left out of the smoothness terms: a grasp is a legitimate step change of effort.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

import numpy as np
import torch
from torch import Tensor

from worldalign.data.types import Rollout
from worldalign.envs.snapshot import Snapshot
from worldalign.models.idm import InverseDynamicsModel
from worldalign.rewards.base import component_key
from worldalign.rewards.decode import decode_rollout_actions, load_idm
from worldalign.rewards.embodiment import EmbodimentLimits, metaworld_limits


@dataclass(frozen=True)
class ExecutabilityWeights:
    """Weight of each penalty in the executability reward (defaults and why)."""

    velocity: float = 0.1
    """Small: experts move at full speed; only a mild preference for economy of motion."""
    acceleration: float = 1.0
    """The main smoothness term: jitter and teleports show up here first."""
    jerk: float = 0.5
    """Half the acceleration weight: for white-noise jitter ||jerk|| is ~1.7x ||acceleration||,
    so this keeps both terms on a similar footing."""
    action_bounds: float = 5.0
    """Large: an action outside the actuator's range cannot be executed as decoded."""
    workspace: float = 5.0
    """Large: a hand outside its reachable box is physically impossible."""
    consistency: float = 1.0
    """Like acceleration: a unit error means the video moved the hand a full step wrong."""


@dataclass(frozen=True)
class ExecutabilityConfig:
    """How the executability reward reads and scores actions."""

    weights: ExecutabilityWeights = field(default_factory=ExecutabilityWeights)
    """Penalty weights."""
    action_repeat: int = 2
    """Simulator steps per action of the videos' embodiment (the dataset's ``--action-repeat``)."""
    smooth_dims: tuple[int, ...] = (0, 1, 2)
    """Action dimensions of the end-effector motion (Meta-World: xyz; the gripper is apart)."""


def motion_penalties(
    actions: Tensor,
    *,
    smooth_dims: tuple[int, ...] = (0, 1, 2),
    position_dims: tuple[int, ...] = (0, 1, 2),
    limits: list[EmbodimentLimits] | None = None,
    hand_start: Tensor | None = None,
    commanded: Tensor | None = None,
) -> dict[str, Tensor]:
    """The penalties of the module docstring for actions ``(B, N, A)``; each ``(B,)``, >= 0.

    Args:
        actions: decoded actions in the embodiment's units.
        smooth_dims: dimensions whose velocity, acceleration and jerk are penalised.
        position_dims: the dimensions that are the end-effector's xyz displacement.
        limits: one ``EmbodimentLimits`` per sample, for ``action_bounds`` and ``workspace``.
        hand_start: ``(B, 3)`` hand position before the first action (metres), for ``workspace``.
        commanded: ``(B, N, A)`` commanded actions, for ``consistency``.
    """
    batch = actions.shape[0]
    motion = actions[..., list(smooth_dims)]  # (B, N, D)
    zero = actions.new_zeros(batch)

    def mean_norm(x: Tensor) -> Tensor:  # (B, n, D) -> (B,); an empty difference is no penalty
        return x.norm(dim=-1).mean(dim=1) if x.shape[1] else zero

    out = {
        "velocity": mean_norm(motion),
        "acceleration": mean_norm(motion.diff(n=1, dim=1)),
        "jerk": mean_norm(motion.diff(n=2, dim=1)),
    }
    if limits is not None:

        def stacked(field: str) -> Tensor:  # one row per sample
            values = np.stack([np.asarray(getattr(limit, field), dtype=np.float64) for limit in limits])
            return torch.as_tensor(values, dtype=actions.dtype, device=actions.device)

        low, high = stacked("action_low")[:, None], stacked("action_high")[:, None]  # (B, 1, A)
        outside = (actions - high).clamp_min(0) + (low - actions).clamp_min(0)  # (B, N, A)
        out["action_bounds"] = outside.sum(-1).mean(1)
        if hand_start is not None:
            out["workspace"] = _workspace_overshoot(
                actions[..., list(position_dims)],
                hand_start.to(actions),
                stacked("workspace_low"),
                stacked("workspace_high"),
                stacked("metres_per_action"),
            )
    if commanded is not None:
        out["consistency"] = mean_norm(actions - commanded.to(actions))
    return out


def _workspace_overshoot(
    displacement: Tensor, start: Tensor, low: Tensor, high: Tensor, metres_per_action: Tensor
) -> Tensor:
    """Mean per-step commanded motion past the workspace box, in action units ``(B,)``.

    The hand is integrated as the robot moves it, clipped to the box at every step, so a
    command that pushes against a wall counts once per step (not as an ever-growing drift):
    ``p_t = clip(p_{t-1} + s a_t, low, high)``, overshoot ``|p_{t-1} + s a_t - p_t| / s``.

    Args:
        displacement: ``(B, N, 3)`` xyz actions; start: ``(B, 3)`` metres; low, high: ``(B, 3)``;
        metres_per_action: ``(B,)`` the displacement ``s`` of a unit action.
    """
    step = metres_per_action[:, None]  # (B, 1)
    position = start.clamp(low, high)
    overshoot = []
    for t in range(displacement.shape[1]):
        target = position + step * displacement[:, t]
        position = torch.maximum(torch.minimum(target, high), low)
        overshoot.append(((target - position).abs() / step).sum(-1))
    return torch.stack(overshoot, dim=1).mean(1) if overshoot else displacement.new_zeros(displacement.shape[0])


class ExecutabilityReward:
    """EVA's executability reward with an IDM (see the module docstring).

    Returns ``executability`` (B,) <= 0 and one ``executability/<penalty>`` component per
    penalty computed (``workspace`` needs ``rollout.starts``; ``consistency`` needs
    ``rollout.actions``).
    """

    name = "executability"

    def __init__(self, idm: InverseDynamicsModel, config: ExecutabilityConfig | None = None) -> None:
        self.idm = idm.eval()
        self.config = config or ExecutabilityConfig()

    @torch.no_grad()
    def __call__(self, rollout: Rollout) -> dict[str, Tensor]:
        decoded = decode_rollout_actions(self.idm, rollout)
        limits, hand_start = None, None
        if rollout.starts is not None:
            limits = [metaworld_limits(start.task, self.config.action_repeat) for start in rollout.starts]
            hand_start = torch.tensor(
                np.stack([Snapshot.from_vector(start.snapshot, start.layout).obs[:3] for start in rollout.starts])
            )
        elif rollout.tasks is not None:
            limits = [metaworld_limits(task, self.config.action_repeat) for task in rollout.tasks]
        penalties = motion_penalties(
            decoded.actions,
            smooth_dims=self.config.smooth_dims,
            limits=limits,
            hand_start=hand_start,
            commanded=decoded.commanded,
        )
        weights = self.config.weights
        value = -sum(getattr(weights, name) * penalty for name, penalty in penalties.items())
        out = {self.name: value.float()}
        out.update({component_key(self.name, name): penalty.float() for name, penalty in penalties.items()})
        return out


def make_executability_reward(
    idm: InverseDynamicsModel | str | os.PathLike[str] | None = None,
    weights: ExecutabilityWeights | None = None,
    action_repeat: int = 2,
    device: str | torch.device = "cpu",
) -> ExecutabilityReward:
    """Registry factory: ``idm`` is a model, a checkpoint folder, or None for the shipped IDM."""
    config = ExecutabilityConfig(weights=weights or ExecutabilityWeights(), action_repeat=action_repeat)
    return ExecutabilityReward(load_idm(idm, device), config)
