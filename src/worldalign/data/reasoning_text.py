"""Reasoning text for VLA fine-tuning, written from privileged simulator state by templates.

RoboAlign ("Learning Test-Time Reasoning for Language-Action Alignment in Vision-Language-Action
Models"; summary in ``../shared/seeds/001_36de1df6bd8cbac4.txt``) has its VLA reason inside
``<think> … </think>`` before it emits FAST action tokens (arXiv:2501.09747). Here the reasoning a
model learns to write in SFT is never written by hand: for a step ``t`` of a recorded
episode, a template states

- the task **phase** (reach / grasp / move / place / release), from the state by the rules of
  ``task_phase`` below;
- where the **object** and the **goal** are, seen from the gripper: direction words along each
  axis with the distance in centimetres;
- the **next motion**: the hand's displacement over the next chunk of ``horizon`` steps, and
  what the gripper does (from the sign of the commanded gripper effort).

This function returns the text *inside* the think markers; the VLA processor wraps it.

Frame of the direction words: Meta-World's world axes seen from the robot, which faces +y:
+x is *right*, +y is *forward* (away from the robot base), +z is *up*. A component smaller than
``MIN_CM`` is left out; when all are, the text says ``at the gripper``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np

from worldalign.data.types import Episode
from worldalign.errors import DatasetError

Phase = Literal["reach", "grasp", "move", "place", "release"]
PHASES: tuple[Phase, ...] = ("reach", "grasp", "move", "place", "release")
TaskKind = Literal["reach", "free", "articulated"]

# Thresholds of the phase rules (metres unless stated).
CONTACT_RADIUS: dict[TaskKind, float] = {"reach": 0.0, "free": 0.05, "articulated": 0.10}
"""Hand-object distance under which the hand is at the object. 5 cm for free objects (puck, peg:
the experts close the gripper 3-4.5 cm from Meta-World's object point); 10 cm for articulated
parts, because ``object_pos`` is the handle point and the window experts push from 8-10 cm beside
it (measured on ``data generate --tasks mt10 --noise 0.2 --seed 1``)."""
MOVED = 0.01
"""Object displacement from its position at step 0 after which the object has started to move:
before it, a hand at the object is grasping (or pressing), after it, moving the object."""
PLACE_RADIUS = 0.05
"""Object-goal distance (reach: hand-goal distance) under which the object is being placed."""
PLACE_FRACTION = 0.25
"""Or: the fraction of the step-0 object-goal distance still to go under which it is being placed
(hinged parts end some centimetres from Meta-World's goal point even when solved)."""
MIN_CM = 1
"""Position and motion components below this many (rounded) centimetres are not mentioned."""
GRIPPER_INDEX = 3
"""Meta-World's gripper-effort action dimension: positive closes the fingers, negative opens them."""
GRIPPER_DEADBAND = 0.2
"""Mean gripper effort over the chunk within ``±`` this is described as neither closing nor opening."""

# Task -> (kind, the object's name in the text). Unknown tasks are "free" with an "object".
_TASKS: dict[str, tuple[TaskKind, str]] = {
    "reach-v3": ("reach", "object"),
    "push-v3": ("free", "puck"),
    "push-wall-v3": ("free", "puck"),
    "pick-place-v3": ("free", "puck"),
    "peg-insert-side-v3": ("free", "peg"),
    "plate-slide-v3": ("free", "plate"),
    "door-open-v3": ("articulated", "door handle"),
    "door-close-v3": ("articulated", "door handle"),
    "drawer-open-v3": ("articulated", "drawer handle"),
    "drawer-close-v3": ("articulated", "drawer handle"),
    "window-open-v3": ("articulated", "window handle"),
    "window-close-v3": ("articulated", "window handle"),
    "button-press-topdown-v3": ("articulated", "button"),
    "button-press-v3": ("articulated", "button"),
    "coffee-button-v3": ("articulated", "button"),
    "handle-press-v3": ("articulated", "handle"),
    "faucet-open-v3": ("articulated", "faucet handle"),
    "faucet-close-v3": ("articulated", "faucet handle"),
}
_AXES = (("right", "left"), ("forward", "back"), ("up", "down"))
_REQUIRED = ("hand_pos", "object_pos", "goal_pos", "success")


def task_kind(task: str) -> tuple[TaskKind, str]:
    """``(kind, object name)`` of a task; tasks not listed are treated as free objects."""
    return _TASKS.get(task, ("free", "object"))


@dataclass(frozen=True)
class StepState:
    """The privileged facts of one step that the rules read (metres)."""

    hand: np.ndarray
    object: np.ndarray
    goal: np.ndarray
    object_start: np.ndarray
    success: bool


def task_phase(kind: TaskKind, state: StepState) -> Phase:
    """The phase of a step, by these rules in order:

    - reach tasks: ``place`` when solved or the hand is within ``PLACE_RADIUS`` of the goal, else
      ``reach`` (there is nothing to grasp or release);
    - otherwise: ``release`` when Meta-World flags the step a success; ``reach`` while the hand is
      farther than ``CONTACT_RADIUS[kind]`` from the object; ``grasp`` while the object is still
      within ``MOVED`` of its step-0 position; ``place`` when the object is within
      ``PLACE_RADIUS`` of the goal or has under ``PLACE_FRACTION`` of its step-0 distance to go;
      ``move`` otherwise.
    """
    if kind == "reach":
        return "place" if state.success or np.linalg.norm(state.goal - state.hand) <= PLACE_RADIUS else "reach"
    if state.success:
        return "release"
    if np.linalg.norm(state.object - state.hand) > CONTACT_RADIUS[kind]:
        return "reach"
    if np.linalg.norm(state.object - state.object_start) < MOVED:
        return "grasp"
    to_goal = float(np.linalg.norm(state.goal - state.object))
    start_to_goal = float(np.linalg.norm(state.goal - state.object_start))
    return "place" if to_goal <= PLACE_RADIUS or to_goal <= PLACE_FRACTION * start_to_goal else "move"


def direction_words(offset: np.ndarray) -> str:
    """``(3,)`` metres → e.g. ``"3 cm right, 12 cm forward"``; ``"here"`` when every component
    rounds below ``MIN_CM``."""
    parts = []
    for value, (positive, negative) in zip(offset, _AXES):
        cm = int(round(abs(float(value)) * 100))
        if cm >= MIN_CM:
            parts.append(f"{cm} cm {positive if value > 0 else negative}")
    return ", ".join(parts) if parts else "here"


def _gripper_words(efforts: np.ndarray) -> str:
    mean = float(efforts.mean()) if efforts.size else 0.0
    if mean > GRIPPER_DEADBAND:
        return "close gripper"
    if mean < -GRIPPER_DEADBAND:
        return "open gripper"
    return "gripper still"


def _check(episode: Episode, step: int, horizon: int) -> None:
    where = f"episode of task {episode.task!r}"
    missing = [name for name in _REQUIRED if name not in episode.privileged]
    if missing:
        raise DatasetError(
            f"{where}: reasoning text needs the privileged fields {list(_REQUIRED)}, missing {missing} "
            "(recorded by worldalign's Meta-World generator; real-robot data has none)"
        )
    if not 0 <= step < episode.length:
        raise DatasetError(f"{where}: step {step} outside 0..{episode.length - 1}")
    if horizon < 1:
        raise DatasetError(f"reasoning text: horizon={horizon}; expected >= 1 step")


def step_state(episode: Episode, step: int) -> StepState:
    """The privileged facts of ``step`` (checked present)."""
    _check(episode, step, 1)
    privileged = episode.privileged
    return StepState(
        hand=privileged["hand_pos"][step].reshape(3),
        object=privileged["object_pos"][step].reshape(3),
        goal=privileged["goal_pos"][step].reshape(3),
        object_start=privileged["object_pos"][0].reshape(3),
        success=bool(np.asarray(privileged["success"][step]).reshape(-1)[0] > 0.5),
    )


def reasoning_text(episode: Episode, step: int, horizon: int) -> str:
    """The reasoning for acting at ``step`` with a chunk of ``horizon`` actions, e.g.
    ``"phase: move. puck: 2 cm down. goal: 9 cm left, 4 cm forward. next: 3 cm left, 1 cm forward,
    close gripper."`` (reach tasks name only the goal). A ``DatasetError`` when the episode has
    no privileged state (real-robot data) or ``step`` is outside it."""
    _check(episode, step, horizon)
    kind, object_name = task_kind(episode.task)
    state = step_state(episode, step)
    end = min(step + horizon, episode.length - 1)
    motion = episode.privileged["hand_pos"][end].reshape(3) - state.hand
    has_gripper = episode.actions.shape[1] > GRIPPER_INDEX
    gripper = episode.actions[step : step + horizon, GRIPPER_INDEX] if has_gripper else np.zeros(0)
    parts = [f"phase: {task_phase(kind, state)}."]
    if kind != "reach":
        parts.append(f"{object_name}: {direction_words(state.object - state.hand)}.")
    parts.append(f"goal: {direction_words(state.goal - state.hand)}.")
    parts.append(f"next: {direction_words(motion)}, {_gripper_words(gripper)}.")
    return " ".join(parts)


def episode_phases(episode: Episode) -> list[Phase]:
    """The phase of every step of ``episode``."""
    kind, _ = task_kind(episode.task)
    return [task_phase(kind, step_state(episode, step)) for step in range(episode.length)]
