"""The executability penalties on trajectories whose values are known by hand."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from worldalign.data.types import Rollout
from worldalign.models.idm import IDMConfig, InverseDynamicsModel
from worldalign.rewards.embodiment import EmbodimentLimits, metaworld_limits
from worldalign.rewards.executability import ExecutabilityReward, ExecutabilityWeights, motion_penalties

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


def test_the_reward_is_minus_the_weighted_sum_of_its_components() -> None:
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
