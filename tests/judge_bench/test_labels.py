"""The label rules of docs/judge_labels.md on hand-made privileged-state cases, one per source."""

from __future__ import annotations

import numpy as np
import pytest

from worldalign.errors import ConfigError
from worldalign.judge_bench.corruptions import (
    ARTIFACT_KINDS,
    TEMPORAL_KINDS,
    apply_artifact,
    apply_nuisance,
    can_swell,
    temporal_indices,
)
from worldalign.judge_bench.labels import DIMENSION_KEYS, MAX_SCORES, LabelEvidence, label

R = 20  # rendered frames
T = 16  # shown frames


def trajectory(*, solved: bool = True, progress: float = 1.0) -> dict[str, np.ndarray]:
    """A clean push: the hand reaches the puck, then pushes it (hand touching) toward the goal."""
    t = np.linspace(0.0, 1.0, R)
    obj_to_target = 0.3 * (1.0 - progress * np.clip((t - 0.3) / 0.6, 0, 1))
    success = (obj_to_target < 0.05) if solved else np.zeros(R, bool)
    object_pos = np.stack([0.3 - obj_to_target, np.full(R, 0.6), np.full(R, 0.02)], axis=1)
    hand_pos = object_pos + np.array([-0.03, 0.0, 0.03])
    hand_pos[:6, 0] -= np.linspace(0.25, 0.0, 6)  # approaching (far, object still) during the first frames
    return {"obj_to_target": obj_to_target, "success": success, "hand_pos": hand_pos, "object_pos": object_pos}


def evidence(
    states: dict[str, np.ndarray], frame_index: np.ndarray | None = None, **overrides: object
) -> LabelEvidence:
    fields: dict[str, object] = dict(
        frame_index=np.arange(T) if frame_index is None else frame_index,
        object_free=True,
        rest_height=0.02,
        instruction_matches=True,
        actions_are_own=True,
        **states,
    )
    fields.update(overrides)
    return LabelEvidence(**fields)  # type: ignore[arg-type]


def scores(ev: LabelEvidence) -> dict[str, int]:
    return dict(zip(DIMENSION_KEYS, label(ev).astype(int).tolist()))


def test_dimensions_have_the_paper_ranges() -> None:
    assert MAX_SCORES == (3, 2, 1, 1, 1, 2)


def test_expert_success_gets_top_scores() -> None:
    states = trajectory()
    # the clip's 16 shown frames end after the puck reached the goal
    states["success"][10:] = True
    assert label(evidence(states)).tolist() == [3, 2, 1, 1, 1, 2]


def test_wrong_instruction_zeroes_task_dimensions_only() -> None:
    states = trajectory()
    states["success"][10:] = True
    got = scores(evidence(states, instruction_matches=False))
    assert (got["instruction_following"], got["manipulation_success"]) == (0, 0)
    assert (got["temporal_consistency"], got["contact_realism"], got["physics_adherence"]) == (1, 1, 2)


@pytest.mark.parametrize(("progress", "following", "success"), [(0.0, 0, 0), (0.3, 1, 0), (0.8, 2, 1)])
def test_partial_progress_scales_task_dimensions(progress: float, following: int, success: int) -> None:
    got = scores(evidence(trajectory(solved=False, progress=progress)))
    assert (got["instruction_following"], got["manipulation_success"]) == (following, success)


def test_mismatched_actions_break_action_outcome_consistency_only() -> None:
    got = scores(evidence(trajectory(), actions_are_own=False))
    assert got["action_outcome_consistency"] == 0
    assert got["temporal_consistency"] == 1 and got["physics_adherence"] == 2


@pytest.mark.parametrize("kind", TEMPORAL_KINDS)
def test_temporal_corruptions_fail_temporal_consistency_but_keep_physics(kind: str) -> None:
    order = temporal_indices(kind, T, np.random.default_rng(0))  # type: ignore[arg-type]
    got = scores(evidence(trajectory(), order))
    assert got["temporal_consistency"] == 0
    assert got["action_outcome_consistency"] == 0
    # physics is judged in true time order: a shuffled clean push is still physically clean
    assert (got["contact_realism"], got["physics_adherence"]) == (1, 2)


def test_reversed_success_does_not_follow_the_instruction() -> None:
    states = trajectory()
    states["success"][10:] = True
    got = scores(evidence(states, np.arange(T)[::-1].copy()))
    assert got["instruction_following"] == 0
    assert got["manipulation_success"] == 0


def test_object_sliding_with_the_hand_far_is_a_contact_violation() -> None:
    states = trajectory()
    states["object_pos"][2:, 1] += 0.15  # jumps sideways between frames 1 and 2, hand still far
    got = scores(evidence(states))
    assert (got["contact_realism"], got["physics_adherence"]) == (0, 1)


def test_object_moved_by_the_touching_hand_is_realistic() -> None:
    states = trajectory()
    states["object_pos"][8:, 1] += 0.05
    states["hand_pos"][8:, 1] += 0.05
    assert scores(evidence(states))["contact_realism"] == 1


def test_floating_sinking_and_teleporting_break_physics() -> None:
    floating = trajectory()
    floating["object_pos"][2:4, 2] += np.array([0.02, 0.08])
    floating["object_pos"][4:, 2] += 0.1
    floating["hand_pos"][:, 1] -= 0.3  # the hand never comes near
    assert scores(evidence(floating))["physics_adherence"] == 0

    sinking = trajectory()
    sinking["object_pos"][3:, 2] -= 0.03
    assert scores(evidence(sinking))["physics_adherence"] == 0

    teleport = trajectory()
    teleport["hand_pos"][9:, 2] += 0.3
    got = scores(evidence(teleport))
    assert (got["physics_adherence"], got["action_outcome_consistency"]) == (0, 0)


def test_hinged_objects_never_float_or_sink() -> None:
    states = trajectory()
    states["object_pos"][:, 2] -= 0.1  # a button pressed down is not sinking
    states["hand_pos"][:, 2] -= 0.1
    assert scores(evidence(states, object_free=False))["physics_adherence"] == 2


def test_nuisance_changes_pixels_slightly_and_never_the_label() -> None:
    rng = np.random.default_rng(0)
    frames = rng.integers(0, 256, size=(2, 4, 16, 16, 3), dtype=np.uint8)
    for kind in ("blur", "noise", "brightness"):
        changed = apply_nuisance(frames, kind, rng)  # type: ignore[arg-type]
        assert changed.shape == frames.shape and changed.dtype == np.uint8
        assert 0 < np.abs(changed.astype(int) - frames).mean() < 80
    # the rules read privileged state only: the same evidence gives the same label
    states = trajectory()
    assert label(evidence(states)).tolist() == label(evidence(states)).tolist()


def test_painted_matter_breaks_physics_and_nothing_the_simulator_did() -> None:
    clean, painted = (label(evidence(trajectory(), painted=flag)) for flag in (False, True))
    physics = DIMENSION_KEYS.index("physics_adherence")
    assert clean[physics] == 2 and painted[physics] == 0
    assert np.delete(painted, physics).tolist() == np.delete(clean, physics).tolist()


def arm_scene() -> np.ndarray:
    """``(2, 8, 32, 32, 3)`` uint8: grey table, a red bar (the arm) moving right in view 0 only."""
    frames = np.full((2, 8, 32, 32, 3), 120, dtype=np.uint8)
    for t in range(8):
        frames[0, t, 10:14, 4 + t : 12 + t] = (200, 20, 20)
    return frames


def test_artifacts_grow_in_one_view_and_add_red_matter() -> None:
    frames = arm_scene()
    for kind in ARTIFACT_KINDS:
        painted = apply_artifact(frames, kind, np.random.default_rng(1), view=0)
        assert painted.shape == frames.shape and painted.dtype == np.uint8
        assert np.array_equal(painted[1], frames[1]), "only the chosen view is painted"
        changed = np.any(painted[0] != frames[0], axis=-1).sum(axis=(1, 2))  # pixels per frame
        assert changed[-1] > 0 and np.all(np.diff(changed) >= 0), (kind, changed.tolist())
        new = painted[0][np.any(painted[0] != frames[0], axis=-1)]
        assert np.all(new[:, 0] > 2 * new[:, 1]) and np.all(new[:, 0] > 2 * new[:, 2]), "red matter"
    swollen = apply_artifact(frames, "swelling", np.random.default_rng(1), view=0)
    grown = np.any(swollen[0] != frames[0], axis=-1)
    assert not np.any(grown[:, :6, :]) and not np.any(grown[:, 19:, :]), "swelling stays beside the arm"


def test_swelling_needs_red_pixels_and_unknown_artifacts_are_named() -> None:
    frames = arm_scene()
    assert can_swell(frames[0]) and not can_swell(frames[1])
    with pytest.raises(ConfigError, match="no red"):
        apply_artifact(frames, "swelling", np.random.default_rng(0), view=1)
    with pytest.raises(ConfigError, match="unknown artifact 'smear'"):
        apply_artifact(frames, "smear", np.random.default_rng(0))  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match=r"\(V, T, H, W, 3\)"):
        apply_artifact(frames[0], "blob", np.random.default_rng(0))


def test_evidence_checks_its_shapes() -> None:
    with pytest.raises(ConfigError, match="frame_index"):
        evidence(trajectory(), np.array([0, 25]))
    states = trajectory()
    states["hand_pos"] = states["hand_pos"][:, :2]
    with pytest.raises(ConfigError, match="hand_pos"):
        evidence(states)
