"""The executability penalties on trajectories whose values are known by hand."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from worldalign.data.types import Rollout
from worldalign.errors import ConfigError
from worldalign.models.idm import IDMConfig, InverseDynamicsModel
from worldalign.rewards.embodiment import EmbodimentLimits, metaworld_limits
from worldalign.rewards.executability import (
    ExecutabilityConfig,
    ExecutabilityReward,
    ExecutabilityWeights,
    motion_penalties,
)

LIMITS = EmbodimentLimits(
    action_low=-np.ones(4),
    action_high=np.ones(4),
    workspace_low=np.array([-0.5, 0.4, 0.05]),
    workspace_high=np.array([0.5, 1.0, 0.5]),
    metres_per_action=0.02,
)


def _xyz(rows: list[list[float]]) -> torch.Tensor:
    """(1, N, 4) actions with the given xyz and a zero gripper."""
    xyz = torch.tensor(rows, dtype=torch.float64)
    return torch.cat([xyz, torch.zeros(len(rows), 1, dtype=torch.float64)], dim=1)[None]


def test_constant_motion_has_velocity_but_no_acceleration_or_jerk() -> None:
    p = motion_penalties(_xyz([[0.3, 0.4, 0.0]] * 6))
    assert p["velocity"].item() == pytest.approx(0.5)
    assert p["acceleration"].item() == pytest.approx(0.0) and p["jerk"].item() == pytest.approx(0.0)


def test_a_linear_ramp_has_constant_acceleration_and_no_jerk() -> None:
    p = motion_penalties(_xyz([[0.1 * t, 0.0, 0.0] for t in range(6)]))
    assert p["acceleration"].item() == pytest.approx(0.1)
    assert p["jerk"].item() == pytest.approx(0.0)


def test_alternating_jitter_is_penalised_by_acceleration_and_jerk() -> None:
    p = motion_penalties(_xyz([[0.5 * (-1) ** t, 0.0, 0.0] for t in range(6)]))
    assert p["acceleration"].item() == pytest.approx(1.0)
    assert p["jerk"].item() == pytest.approx(2.0)


def test_the_gripper_is_not_part_of_smoothness() -> None:
    actions = _xyz([[0.2, 0.0, 0.0]] * 4)
    actions[0, 2:, 3] = 1.0  # close the gripper halfway through
    assert motion_penalties(actions)["acceleration"].item() == pytest.approx(0.0)


def test_action_bounds_count_how_far_outside_each_dimension_lies() -> None:
    actions = _xyz([[1.5, -1.2, 0.0], [0.0, 0.0, 0.0]])
    actions[0, 0, 3] = 2.0
    p = motion_penalties(actions, limits=[LIMITS])
    assert p["action_bounds"].item() == pytest.approx((0.5 + 0.2 + 1.0) / 2)


def test_action_bounds_tolerate_the_idms_decoding_error_only() -> None:
    saturated, teleport = _xyz([[1.03, -1.04, 0.0]]), _xyz([[1.5, 0.0, 0.0]])
    assert motion_penalties(saturated, limits=[LIMITS])["action_bounds"].item() == pytest.approx(0.07)
    assert motion_penalties(saturated, limits=[LIMITS], bounds_tolerance=0.05)["action_bounds"].item() == 0.0
    assert motion_penalties(teleport, limits=[LIMITS], bounds_tolerance=0.05)["action_bounds"].item() == pytest.approx(0.45)
    with pytest.raises(ConfigError, match="action_bounds_tolerance=-0.1"):
        ExecutabilityConfig(action_bounds_tolerance=-0.1)


def test_workspace_integrates_the_hand_and_measures_overshoot_in_action_steps() -> None:
    # From x = 0.49 at full speed +x against the wall x = 0.5: the first step overshoots by half
    # a step (0.51), the hand stops at the wall, then every further step overshoots by a full one.
    p = motion_penalties(_xyz([[1.0, 0.0, 0.0]] * 3), limits=[LIMITS], hand_start=torch.tensor([[0.49, 0.7, 0.2]]))
    assert p["workspace"].item() == pytest.approx((0.5 + 1.0 + 1.0) / 3)
    inside = motion_penalties(
        _xyz([[-1.0, 0.0, 0.0]] * 3), limits=[LIMITS], hand_start=torch.tensor([[0.49, 0.7, 0.2]])
    )
    assert inside["workspace"].item() == pytest.approx(0.0)


def test_consistency_is_the_mean_distance_to_the_commanded_actions() -> None:
    decoded = _xyz([[0.3, 0.4, 0.0], [0.0, 0.0, 0.0]])
    p = motion_penalties(decoded, commanded=torch.zeros_like(decoded))
    assert p["consistency"].item() == pytest.approx(0.25)


def test_meta_world_limits_are_read_from_the_environment() -> None:
    limits = metaworld_limits("reach-v3", action_repeat=2)
    assert limits.metres_per_action == pytest.approx(0.02)  # action_scale 1/100, held for 2 steps
    assert np.all(limits.workspace_low < limits.workspace_high) and np.all(limits.action_high == 1.0)


def test_the_reward_is_minus_the_weighted_sum_of_its_components() -> None:  # decoded actions: no state head
    torch.manual_seed(0)
    config = IDMConfig(views=("front",), image_size=32, channels=(8, 8))
    reward = ExecutabilityReward(InverseDynamicsModel(config))
    frames = torch.rand(2, 1, 6, 3, 32, 32) * 2 - 1
    out = reward(Rollout(frames=frames, views=("front",), fps=10, actions=torch.zeros(2, 6, 4), tasks=["reach-v3"] * 2))
    weights = ExecutabilityWeights()
    expected = -sum(
        getattr(weights, name) * out[f"executability/{name}"]
        for name in ("velocity", "acceleration", "jerk", "action_bounds", "consistency")
    )
    torch.testing.assert_close(out["executability"], expected)
    assert "executability/workspace" not in out  # no start state: the hand position is unknown


def test_an_end_effector_trajectory_replaces_the_actions_in_smoothness_and_workspace() -> None:
    jittery = _xyz([[1.5 * (-1) ** t, 0.0, 0.0] for t in range(4)])  # decoded actions, out of bounds
    steady = torch.tensor([[[1.0, 0.0, 0.0]] * 4], dtype=torch.float64)  # decoded hand motion
    start = torch.tensor([[0.49, 0.7, 0.2]])
    p = motion_penalties(jittery, limits=[LIMITS], hand_start=start, end_effector=steady)
    assert p["velocity"].item() == pytest.approx(1.0)
    assert p["acceleration"].item() == pytest.approx(0.0) and p["jerk"].item() == pytest.approx(0.0)
    assert p["workspace"].item() == pytest.approx((0.5 + 1.0 + 1.0 + 1.0) / 4)  # the hand's +x, not the actions'
    assert p["action_bounds"].item() == pytest.approx(0.5)  # still the decoded actions
    with pytest.raises(ConfigError, match="same \\(B, N\\)"):
        motion_penalties(jittery, end_effector=steady[:, :3])


class _HandFromPixels(InverseDynamicsModel):
    """A hand-built IDM: every frame is one grey level ``x``; the decoded action is zero and the
    decoded hand displacement is ``METRES * (x_{t+1} - x_t)`` along x, i.e. ``x_{t+1} - x_t``
    action units of a Meta-World task at action_repeat 2 (0.02 m per unit action)."""

    METRES = 0.02

    def predict_with_state(self, windows: torch.Tensor, *, with_state: bool = True) -> tuple[torch.Tensor, torch.Tensor]:
        level = windows[:, 0, :, 0, 0, 0]  # (B, K)
        now, following = level[:, self.config.past_frames], level[:, self.config.past_frames + 1]
        state = torch.zeros(len(windows), len(self.config.state_dims))
        state[:, 0] = self.METRES * (following - now)
        return torch.zeros(len(windows), self.config.action_dim), state


def _grey_video(levels: list[list[float]]) -> torch.Tensor:
    """(B, 1, T, 3, 32, 32) frames, frame t of sample b filled with ``levels[b][t]``."""
    return torch.tensor(levels, dtype=torch.float32)[:, None, :, None, None, None].expand(-1, -1, -1, 3, 32, 32)


def test_the_reward_scores_the_decoded_end_effector_trajectory_when_the_idm_has_one() -> None:
    idm = _HandFromPixels(IDMConfig(views=("front",), image_size=32, channels=(8, 8), state_dims=(0, 1, 2)))
    smooth = [0.1 * t for t in range(7)]  # hand steps of 0.1 action units
    jitter = [0.1 * t + (0.2 if t % 2 else 0.0) for t in range(7)]  # steps 0.3, -0.1, 0.3, ...
    rollout = Rollout(frames=_grey_video([smooth, jitter]), views=("front",), fps=10, tasks=["reach-v3"] * 2)
    reward = ExecutabilityReward(idm)
    assert reward.trajectory == "end_effector"  # "auto" with a state head for xyz
    out = reward(rollout)
    torch.testing.assert_close(out["executability/velocity"], torch.tensor([0.1, 0.2]))
    torch.testing.assert_close(out["executability/acceleration"], torch.tensor([0.0, 0.4]))
    torch.testing.assert_close(out["executability/jerk"], torch.tensor([0.0, 0.8]))
    assert out["executability"][0] > out["executability"][1]
    # Scored on the decoded actions (all zero here) instead, the two videos cannot be told apart.
    on_actions = ExecutabilityReward(idm, ExecutabilityConfig(trajectory="actions"))(rollout)
    assert on_actions["executability"][0] == on_actions["executability"][1]
    with pytest.raises(ConfigError, match="neither tasks nor starts"):
        reward(Rollout(frames=rollout.frames, views=("front",), fps=10))


def test_the_trajectory_choice_follows_the_idm() -> None:
    actions_only = InverseDynamicsModel(IDMConfig(views=("front",), image_size=32, channels=(8, 8)))
    assert ExecutabilityReward(actions_only).trajectory == "actions"
    with pytest.raises(ConfigError, match="needs an IDM predicting state dims \\(0, 1, 2\\)"):
        ExecutabilityReward(actions_only, ExecutabilityConfig(trajectory="end_effector"))
    with pytest.raises(ConfigError, match="trajectory='hand'"):
        ExecutabilityConfig(trajectory="hand")  # type: ignore[arg-type]
