"""The six judge dimensions and the rules that score a clip on them from privileged state.

RoboAlign-R1 (arXiv:2605.03821) scores a robot video on six dimensions: three of task alignment
(Instruction Following 0-3, Manipulation Success 0-2, Action-Outcome Consistency 0-1) and three
of physical realism (Temporal Consistency 0-1, Contact Realism 0-1, Physics Adherence 0-2).
Its labels come from annotators; here each one is a rule over simulator truth, written down once
in ``docs/judge_labels.md`` (the section numbers below refer to it). Nothing is labelled by hand.

Two orders matter. The *shown* order is the order of the frames in the video (a reversed clip
shows the goal first); task dimensions are judged on what is shown. The *true* order is the
simulation's; physical dimensions are judged on what the simulator did over the span of time
the clip covers, so that a temporal corruption is charged to temporal consistency alone.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from worldalign.errors import ConfigError


@dataclass(frozen=True)
class Dimension:
    """One scored dimension: its key, its display title, and its integer range ``0..max_score``."""

    key: str
    title: str
    max_score: int


DIMENSIONS: tuple[Dimension, ...] = (
    Dimension("instruction_following", "Instruction Following", 3),
    Dimension("manipulation_success", "Manipulation Success", 2),
    Dimension("action_outcome_consistency", "Action-Outcome Consistency", 1),
    Dimension("temporal_consistency", "Temporal Consistency", 1),
    Dimension("contact_realism", "Contact Realism", 1),
    Dimension("physics_adherence", "Physics Adherence", 2),
)
DIMENSION_KEYS: tuple[str, ...] = tuple(d.key for d in DIMENSIONS)
MAX_SCORES: tuple[int, ...] = tuple(d.max_score for d in DIMENSIONS)

# Thresholds of the rules (metres unless stated); docs/judge_labels.md gives the reasons.
PROGRESS_PARTIAL = 0.15
"""Fraction of the initial object-to-target distance removed that counts as some progress (§1)."""
PROGRESS_MOSTLY = 0.5
"""Fraction removed that counts as most of the way (§1, §2)."""
CONTACT_DISTANCE = 0.10
"""Hand-object distance beyond which the hand cannot be touching the object (§5, §6)."""
UNEXPLAINED_MOTION = 0.03
"""Object displacement between two frames that needs a cause (§5)."""
FLOAT_HEIGHT = 0.04
"""Height above its resting height at which a free object unsupported by the hand floats (§6)."""
SINK_DEPTH = 0.015
"""Depth below its resting height at which a free object has passed into the table (§6)."""
TELEPORT_DISTANCE = 0.25
"""Hand displacement between two frames the arm cannot cover (the fastest experts move < 0.21) (§3, §6)."""


@dataclass(frozen=True)
class LabelEvidence:
    """Everything the rules read about one item.

    ``R`` is the number of frames rendered from the simulation; ``T`` the number shown.

    Attributes:
        frame_index: ``(T,)`` int, which rendered frame each shown frame is.
        obj_to_target: ``(R,)`` Meta-World's object-to-target distance at each rendered frame.
        success: ``(R,)`` bool, Meta-World's success flag at each rendered frame.
        hand_pos: ``(R, 3)`` end-effector position.
        object_pos: ``(R, 3)`` the task object's position.
        object_free: whether the object rests on the table on a free joint (puck, peg), so that
            floating and sinking apply to it; hinged and sliding parts cannot do either.
        rest_height: the free object's height resting on the table (its height at reset).
        instruction_matches: whether the instruction is one of the video's own task.
        actions_are_own: whether the actions are the ones executed between the shown frames.
        painted: whether an artifact is painted over the rendered frames: matter the simulation
            did not have (``corruptions.apply_artifact``).
    """

    frame_index: np.ndarray
    obj_to_target: np.ndarray
    success: np.ndarray
    hand_pos: np.ndarray
    object_pos: np.ndarray
    object_free: bool
    rest_height: float
    instruction_matches: bool
    actions_are_own: bool
    painted: bool = False

    def __post_init__(self) -> None:
        rendered = self.obj_to_target.shape[0]
        if self.frame_index.ndim != 1 or self.frame_index.size < 2:
            raise ConfigError(f"frame_index must be (T,) with T >= 2, got {self.frame_index.shape}")
        if self.frame_index.min() < 0 or self.frame_index.max() >= rendered:
            raise ConfigError(f"frame_index {self.frame_index.tolist()} points outside the {rendered} rendered frames")
        for name, shape in (("success", (rendered,)), ("hand_pos", (rendered, 3)), ("object_pos", (rendered, 3))):
            if getattr(self, name).shape != shape:
                raise ConfigError(f"{name} must have shape {shape}, got {getattr(self, name).shape}")


@dataclass(frozen=True)
class Violations:
    """Physical events found in the true-order span of a clip (§5, §6)."""

    unexplained_motion: bool
    floating: bool
    sinking: bool
    arm_teleport: bool
    painted_matter: bool = False


def task_progress(obj_to_target_shown: np.ndarray) -> float:
    """Fraction of the first shown object-to-target distance removed by the last shown frame."""
    first, last = float(obj_to_target_shown[0]), float(obj_to_target_shown[-1])
    return (first - last) / max(first, 1e-6)


def instruction_following(evidence: LabelEvidence) -> int:
    """§1: 3 solved at the end, 2 most of the way, 1 some progress, 0 none or another task's instruction."""
    if not evidence.instruction_matches:
        return 0
    shown_success = evidence.success[evidence.frame_index]
    progress = task_progress(evidence.obj_to_target[evidence.frame_index])
    if shown_success[-1]:
        return 3
    if progress >= PROGRESS_MOSTLY:
        return 2
    return 1 if progress >= PROGRESS_PARTIAL else 0


def manipulation_success(evidence: LabelEvidence) -> int:
    """§2: 2 solved at the last shown frame, 1 solved then lost or most of the way, 0 otherwise."""
    if not evidence.instruction_matches:
        return 0
    shown_success = evidence.success[evidence.frame_index]
    progress = task_progress(evidence.obj_to_target[evidence.frame_index])
    if shown_success[-1]:
        return 2
    if progress >= PROGRESS_MOSTLY or (shown_success.any() and progress > 0):
        return 1
    return 0


def temporal_consistency(frame_index: np.ndarray) -> int:
    """§4: 1 iff the shown frames are consecutive rendered frames in time order."""
    return int(bool(np.all(np.diff(frame_index) == 1)))


def find_violations(evidence: LabelEvidence) -> Violations:
    """§5-6: scan the rendered frames the clip spans, in true order, for unphysical events."""
    span = slice(int(evidence.frame_index.min()), int(evidence.frame_index.max()) + 1)
    hand, obj = evidence.hand_pos[span], evidence.object_pos[span]
    hand_far = np.linalg.norm(hand - obj, axis=1) > CONTACT_DISTANCE
    object_step = np.linalg.norm(np.diff(obj, axis=0), axis=1)
    hand_step = np.linalg.norm(np.diff(hand, axis=0), axis=1)
    # Far at both ends of the interval: no touch can have caused the motion in between.
    unexplained = bool(np.any((object_step > UNEXPLAINED_MOTION) & hand_far[:-1] & hand_far[1:]))
    floating = sinking = False
    if evidence.object_free:
        height = obj[:, 2] - evidence.rest_height
        floating = bool(np.any((height > FLOAT_HEIGHT) & hand_far))
        sinking = bool(np.any(height < -SINK_DEPTH))
    return Violations(unexplained, floating, sinking, bool(np.any(hand_step > TELEPORT_DISTANCE)), evidence.painted)


def action_outcome_consistency(evidence: LabelEvidence, violations: Violations) -> int:
    """§3: 1 iff the actions are the clip's own, shown in order, and the arm moved as commanded."""
    in_order = temporal_consistency(evidence.frame_index) == 1
    return int(evidence.actions_are_own and in_order and not violations.arm_teleport)


def contact_realism(violations: Violations) -> int:
    """§5: 0 if the object moved while the hand was too far to touch it, else 1."""
    return int(not violations.unexplained_motion)


def physics_adherence(violations: Violations) -> int:
    """§6: 0 floating, sinking, teleporting or painted matter; 1 only unexplained motion; 2 none."""
    if violations.floating or violations.sinking or violations.arm_teleport or violations.painted_matter:
        return 0
    return 1 if violations.unexplained_motion else 2


def label(evidence: LabelEvidence) -> np.ndarray:
    """``(6,)`` float32 scores in ``DIMENSIONS`` order."""
    violations = find_violations(evidence)
    return np.array(
        [
            instruction_following(evidence),
            manipulation_success(evidence),
            action_outcome_consistency(evidence, violations),
            temporal_consistency(evidence.frame_index),
            contact_realism(violations),
            physics_adherence(violations),
        ],
        dtype=np.float32,
    )
