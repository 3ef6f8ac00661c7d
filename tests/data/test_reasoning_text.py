"""Reasoning text from privileged state: phases, directions, next motion, bad input."""

from __future__ import annotations

import numpy as np
import pytest

from worldalign.data.reasoning_text import (
    PHASES,
    direction_words,
    episode_phases,
    reasoning_text,
)
from worldalign.data.types import Episode
from worldalign.errors import DatasetError


def _episode(task: str, hand: np.ndarray, obj: np.ndarray, goal: np.ndarray, success: np.ndarray,
             gripper: float = 1.0) -> Episode:
    steps = hand.shape[0]
    actions = np.zeros((steps, 4), np.float32)
    actions[:, 3] = gripper
    return Episode(
        task=task, instruction="do it", views=("front",), frames=np.zeros((1, steps, 4, 4, 3), np.uint8),
        actions=actions, state=np.zeros((steps, 4), np.float32),
        privileged={"hand_pos": hand.astype(np.float32), "object_pos": obj.astype(np.float32),
                    "goal_pos": goal.astype(np.float32), "success": success.astype(np.float32)[:, None]},
    )


def _pick_place_episode() -> Episode:
    """Hand 30 cm from a puck, reaches it, grasps (puck still), carries it 40 cm, places it, solved."""
    goal = np.array([0.4, 0.0, 0.0])
    hand = np.array([[0.0, -0.3, 0.0], [0.0, 0.0, 0.02], [0.0, 0.0, 0.02], [0.2, 0.0, 0.02], [0.37, 0.0, 0.02],
                     [0.4, 0.0, 0.02]])
    obj = np.array([[0.0, 0.0, 0.0]] * 3 + [[0.2, 0.0, 0.0], [0.37, 0.0, 0.0], [0.4, 0.0, 0.0]])
    success = np.array([0, 0, 0, 0, 0, 1])
    return _episode("pick-place-v3", hand, obj, np.tile(goal, (6, 1)), success)


def test_every_phase_is_reached_in_order() -> None:
    episode = _pick_place_episode()
    assert episode_phases(episode) == ["reach", "grasp", "grasp", "move", "place", "release"]
    assert set(episode_phases(episode)) == set(PHASES)


def test_reach_tasks_reach_then_place() -> None:
    hand = np.array([[0.0, 0.0, 0.0], [0.0, 0.1, 0.0], [0.0, 0.19, 0.0]])
    goal = np.tile([0.0, 0.2, 0.0], (3, 1))
    episode = _episode("reach-v3", hand, np.zeros((3, 3)), goal, np.zeros(3))
    assert episode_phases(episode) == ["reach", "reach", "place"]
    assert "object" not in reasoning_text(episode, 0, 1)


def test_direction_words_follow_the_robot_frame() -> None:
    assert direction_words(np.array([0.03, 0.0, 0.0])) == "3 cm right"
    assert direction_words(np.array([-0.03, 0.12, -0.05])) == "3 cm left, 12 cm forward, 5 cm down"
    assert direction_words(np.array([0.0, -0.02, 0.07])) == "2 cm back, 7 cm up"
    assert direction_words(np.array([0.004, -0.004, 0.0])) == "here"


def test_text_names_object_goal_and_next_motion() -> None:
    episode = _pick_place_episode()
    text = reasoning_text(episode, 0, horizon=1)
    assert text == ("phase: reach. puck: 30 cm forward. goal: 40 cm right, 30 cm forward. "
                    "next: 30 cm forward, 2 cm up, close gripper.")
    # The horizon is clipped at the episode's end: the last step has no motion left.
    assert reasoning_text(episode, 5, horizon=4).endswith("next: here, close gripper.")


def test_gripper_words_follow_the_effort_sign() -> None:
    episode = _pick_place_episode()
    episode.actions[:, 3] = -1.0
    assert "open gripper" in reasoning_text(episode, 1, 2)
    episode.actions[:, 3] = 0.0
    assert "gripper still" in reasoning_text(episode, 1, 2)


def test_deterministic() -> None:
    episode = _pick_place_episode()
    assert [reasoning_text(episode, t, 3) for t in range(6)] == [reasoning_text(episode, t, 3) for t in range(6)]


def test_empty_privileged_state_is_a_clear_error() -> None:
    episode = _pick_place_episode()
    episode.privileged = {}
    with pytest.raises(DatasetError, match="privileged fields .*missing"):
        reasoning_text(episode, 0, 2)


def test_step_outside_the_episode_is_a_clear_error() -> None:
    with pytest.raises(DatasetError, match="step 6 outside 0..5"):
        reasoning_text(_pick_place_episode(), 6, 2)
