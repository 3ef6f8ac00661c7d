"""Executability reward: how smooth and feasible are the actions a generated video implies?

EVA ("Executable Video Alignment": RL post-training of video world models with an inverse
dynamics model as the reward model) decodes the actions a generated video induces and rewards
smooth motion (small velocity, acceleration and jerk) while penalising actions that violate
the embodiment's constraints. The reward stays informative on visually broken videos: a
teleporting arm, a flicker or a smeared gripper decode to spikes and out-of-bound actions.

Meta-World's actions are end-effector displacements per step (see ``rewards/embodiment.py``),
so the smoothness terms are computed on an end-effector velocity ``v_t`` in action units (one
unit = the largest step the hand can take), chosen by ``ExecutabilityConfig.trajectory``:

- ``"actions"``: ``v_t`` = the decoded commanded action's xyz ``a_t``. An IDM trained on a noisy
  policy's commands cannot see the part of the jitter the hand low-passes, so it regresses the
  decoded jitter toward the mean (measured with the shipped IDM: 33 of the 36 expert-vs-noisy
  pairs of ``tests/rewards/test_executability_ranking.py`` ranked right, 92%, target 95%);
- ``"end_effector"``: ``v_t`` = the IDM's decoded hand displacement ``p_{t+1} - p_t`` (its state
  head, ``IDMConfig.state_dims``) divided by the task's metres per action: the motion the
  frames actually show (EVA's "velocity, acceleration and jerk of the decoded end-effector
  trajectory"). Needs ``rollout.tasks`` or ``rollout.starts`` for the metres per action.
  Measured with the shipped IDM (its state head trained beside the frozen action IDM): 35/36,
  97% (34/36 without ``action_bounds_tolerance``);
- ``"auto"`` (default): ``"end_effector"`` when the IDM has a state head for the
  ``end_effector_state_dims``, else ``"actions"``. The choice is logged.

With that ``v_t``:

- ``velocity``      = mean_t ``||v_t||``
- ``acceleration``  = mean_t ``||v_{t+1} - v_t||``          (first finite difference)
- ``jerk``          = mean_t ``||v_{t+2} - 2 v_{t+1} + v_t||`` (second finite difference)
- ``action_bounds`` = mean_t sum_d of how far each decoded action dimension (gripper included)
  lies outside ``[action_low, action_high]`` widened by ``action_bounds_tolerance`` (the IDM's
  decoding error)
- ``workspace``     = mean_t sum_d of how far the motion at step t pushes the hand past the
  task's reachable box, in action units, with the hand integrated as the robot moves it
  (``p_t = clip(p_{t-1} + metres_per_action * v_t, box)``; needs ``rollout.starts`` for ``p_0``)
- ``consistency``   = mean_t ``||decoded_t - commanded_t||`` (all dimensions, decoded actions) for
  action-conditioned rollouts: did the video do what it was told?

``executability = -(sum_k weight_k * penalty_k)``; every penalty is returned as a component.
The gripper is left out of the smoothness terms: a grasp is a legitimate step change of effort.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
import torch
from torch import Tensor

from worldalign.data.types import Rollout
from worldalign.envs.snapshot import Snapshot
from worldalign.errors import ConfigError
from worldalign.models.idm import InverseDynamicsModel
from worldalign.rewards.base import component_key
from worldalign.rewards.decode import DecodedActions, decode_rollout_actions, load_idm
from worldalign.rewards.embodiment import EmbodimentLimits, metaworld_limits

logger = logging.getLogger(__name__)

TRAJECTORIES = ("auto", "actions", "end_effector")


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
    action_bounds_tolerance: float = 0.05
    """How far past a bound a decoded action may lie before ``action_bounds`` counts it, in action
    units: the IDM's own decoding error. Scripted experts command saturated +-1 actions, which the
    shipped IDM decodes to about 1.03 (its held-out error on experts is 0.045-0.056 per
    dimension); without a tolerance that error alone outweighed the smoothness of expert motion in
    2 of the 36 expert-vs-noisy pairs. A teleport or an impossible speed decodes far past it."""
    trajectory: Literal["auto", "actions", "end_effector"] = "auto"
    """Which decoded motion the smoothness and workspace terms score (module docstring)."""
    end_effector_state_dims: tuple[int, ...] = (0, 1, 2)
    """The ``observation.state`` dimensions holding the end effector's xyz position in metres
    (Meta-World: 0, 1, 2), read from the IDM's state head for ``trajectory="end_effector"``."""

    def __post_init__(self) -> None:
        if self.action_bounds_tolerance < 0:
            raise ConfigError(f"ExecutabilityConfig.action_bounds_tolerance={self.action_bounds_tolerance}; expected >= 0")
        if self.trajectory not in TRAJECTORIES:
            raise ConfigError(f"ExecutabilityConfig.trajectory={self.trajectory!r}; expected one of {TRAJECTORIES}")
        if len(self.end_effector_state_dims) != 3:
            raise ConfigError(
                f"ExecutabilityConfig.end_effector_state_dims={self.end_effector_state_dims}; "
                "expected the 3 state dimensions of the end effector's xyz position"
            )


def motion_penalties(
    actions: Tensor,
    *,
    smooth_dims: tuple[int, ...] = (0, 1, 2),
    position_dims: tuple[int, ...] = (0, 1, 2),
    limits: list[EmbodimentLimits] | None = None,
    hand_start: Tensor | None = None,
    commanded: Tensor | None = None,
    end_effector: Tensor | None = None,
    bounds_tolerance: float = 0.0,
) -> dict[str, Tensor]:
    """The penalties of the module docstring for actions ``(B, N, A)``; each ``(B,)``, >= 0.

    Args:
        actions: decoded actions in the embodiment's units.
        smooth_dims: dimensions whose velocity, acceleration and jerk are penalised.
        position_dims: the dimensions that are the end-effector's xyz displacement.
        limits: one ``EmbodimentLimits`` per sample, for ``action_bounds`` and ``workspace``.
        hand_start: ``(B, 3)`` hand position before the first action (metres), for ``workspace``.
        commanded: ``(B, N, A)`` commanded actions, for ``consistency``.
        end_effector: ``(B, N, 3)`` decoded end-effector velocity in action units; when given,
            the smoothness and workspace terms use it instead of ``actions`` (``"end_effector"``
            trajectory), ``action_bounds`` and ``consistency`` still use ``actions``.
        bounds_tolerance: how far past a bound ``action_bounds`` starts counting (action units).
    """
    batch = actions.shape[0]
    if end_effector is not None and end_effector.shape[:2] != actions.shape[:2]:
        raise ConfigError(
            f"motion_penalties: end_effector {tuple(end_effector.shape)} must cover the same (B, N) "
            f"as actions {tuple(actions.shape)}"
        )
    motion = actions[..., list(smooth_dims)] if end_effector is None else end_effector  # (B, N, D)
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

        low = stacked("action_low")[:, None] - bounds_tolerance  # (B, 1, A)
        high = stacked("action_high")[:, None] + bounds_tolerance
        outside = (actions - high).clamp_min(0) + (low - actions).clamp_min(0)  # (B, N, A)
        out["action_bounds"] = outside.sum(-1).mean(1)
        if hand_start is not None:
            out["workspace"] = _workspace_overshoot(
                actions[..., list(position_dims)] if end_effector is None else end_effector,
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
    ``rollout.actions``). ``trajectory`` is the resolved ``config.trajectory``.
    """

    name = "executability"

    def __init__(self, idm: InverseDynamicsModel, config: ExecutabilityConfig | None = None) -> None:
        self.idm = idm.eval()
        self.config = config or ExecutabilityConfig()
        self.trajectory = resolve_trajectory(self.config, idm)
        logger.info(
            "executability: smoothness and workspace terms on the decoded %s trajectory (config %r, IDM state_dims %s)",
            self.trajectory.replace("_", "-"),
            self.config.trajectory,
            idm.config.state_dims,
        )

    @torch.no_grad()
    def __call__(self, rollout: Rollout) -> dict[str, Tensor]:
        motion = decode_motion(self.idm, rollout, self.config, self.trajectory)
        penalties = motion_penalties(
            motion.decoded.actions,
            smooth_dims=self.config.smooth_dims,
            limits=motion.limits,
            hand_start=motion.hand_start,
            commanded=motion.decoded.commanded,
            end_effector=motion.end_effector,
            bounds_tolerance=self.config.action_bounds_tolerance,
        )
        weights = self.config.weights
        value = -sum(getattr(weights, name) * penalty for name, penalty in penalties.items())
        out = {self.name: value.float()}
        out.update({component_key(self.name, name): penalty.float() for name, penalty in penalties.items()})
        return out


@dataclass
class DecodedMotion:
    """What the IDM reads from a rollout, in the units the executability terms score.

    Attributes:
        decoded: the decoded actions (and state displacement) of ``rewards/decode.py``.
        end_effector: ``(B, N, 3)`` decoded end-effector velocity in action units for the
            ``"end_effector"`` trajectory, ``None`` for ``"actions"``.
        limits: one ``EmbodimentLimits`` per sample when the rollout names its tasks or starts.
        hand_start: ``(B, 3)`` hand position of each start state (metres) when the rollout has starts.
    """

    decoded: DecodedActions
    end_effector: Tensor | None
    limits: list[EmbodimentLimits] | None
    hand_start: Tensor | None


def decode_motion(
    idm: InverseDynamicsModel, rollout: Rollout, config: ExecutabilityConfig, trajectory: str
) -> DecodedMotion:
    """Decode ``rollout`` with ``idm`` and convert it to the resolved ``trajectory``'s velocity."""
    decoded = decode_rollout_actions(idm, rollout, with_state=trajectory == "end_effector")
    limits, hand_start = None, None
    if rollout.starts is not None:
        limits = [metaworld_limits(start.task, config.action_repeat) for start in rollout.starts]
        hand_start = torch.tensor(
            np.stack([Snapshot.from_vector(start.snapshot, start.layout).obs[:3] for start in rollout.starts])
        )
    elif rollout.tasks is not None:
        limits = [metaworld_limits(task, config.action_repeat) for task in rollout.tasks]
    end_effector = None
    if trajectory == "end_effector":
        if limits is None:
            raise ConfigError(
                "executability: the end-effector trajectory is converted to action units with each task's "
                "metres per action; the rollout has neither tasks nor starts (pass them, or "
                "ExecutabilityConfig(trajectory='actions'))"
            )
        columns = [idm.config.state_dims.index(dim) for dim in config.end_effector_state_dims]
        metres = torch.tensor([limit.metres_per_action for limit in limits]).to(decoded.state_displacement)
        end_effector = decoded.state_displacement[..., columns] / metres[:, None, None]
    return DecodedMotion(decoded=decoded, end_effector=end_effector, limits=limits, hand_start=hand_start)


def resolve_trajectory(config: ExecutabilityConfig, idm: InverseDynamicsModel) -> str:
    """``"actions"`` or ``"end_effector"``: ``config.trajectory`` with ``"auto"`` decided by
    whether ``idm`` predicts the displacement of every ``config.end_effector_state_dims``."""
    has_end_effector = set(config.end_effector_state_dims) <= set(idm.config.state_dims)
    if config.trajectory == "auto":
        return "end_effector" if has_end_effector else "actions"
    if config.trajectory == "end_effector" and not has_end_effector:
        raise ConfigError(
            f"ExecutabilityConfig.trajectory='end_effector' needs an IDM predicting state dims "
            f"{config.end_effector_state_dims}; this IDM's state_dims are {idm.config.state_dims} "
            "(train one with `worldalign train idm --state-dims 0,1,2`)"
        )
    return config.trajectory


def make_executability_reward(
    idm: InverseDynamicsModel | str | os.PathLike[str] | None = None,
    weights: ExecutabilityWeights | None = None,
    action_repeat: int = 2,
    device: str | torch.device = "cpu",
    trajectory: Literal["auto", "actions", "end_effector"] = "auto",
) -> ExecutabilityReward:
    """Registry factory: ``idm`` is a model, a checkpoint folder, or None for the shipped IDM;
    ``trajectory`` as ``ExecutabilityConfig.trajectory``."""
    config = ExecutabilityConfig(
        weights=weights or ExecutabilityWeights(), action_repeat=action_repeat, trajectory=trajectory
    )
    return ExecutabilityReward(load_idm(idm, device), config)
