"""The judge reward follows the reward contract: (B,) tensors, the value and six components."""

from __future__ import annotations

import pytest
import torch
from judge_fakes import KEYS, FakeEncoder

from worldalign.data.types import Rollout
from worldalign.errors import ConfigError
from worldalign.models.judge.configuration_judge import JudgeConfig
from worldalign.models.judge.modeling_judge import JudgeStudent, JudgeTeacher
from worldalign.rewards.judge import JudgeReward, episode_actions


def rollout(batch: int = 3, views: tuple[str, ...] = ("oblique", "front"), instructions: bool = True) -> Rollout:
    return Rollout(
        frames=torch.rand(batch, len(views), 5, 3, 16, 16) * 2 - 1,
        views=views,
        fps=8,
        instructions=[f"push the puck {i}" for i in range(batch)] if instructions else None,
        actions=torch.randn(batch, 5, 4),
    )


def test_reward_value_is_the_sum_of_the_six_dimensions_by_default(tiny_student_config: JudgeConfig) -> None:
    reward = JudgeReward(JudgeStudent(tiny_student_config), FakeEncoder())  # type: ignore[arg-type]
    out = reward(rollout())
    assert reward.name == "judge"
    assert set(out) == {"judge", *(f"judge/{key}" for key in KEYS)}
    assert all(value.shape == (3,) and value.dtype == torch.float32 for value in out.values())
    torch.testing.assert_close(out["judge"], sum(out[f"judge/{key}"] for key in KEYS))
    assert bool((out["judge/instruction_following"] <= 3).all()) and bool((out["judge/contact_realism"] <= 1).all())


def test_the_teacher_scores_as_a_reward_under_its_own_name(tiny_teacher_config: JudgeConfig) -> None:
    """RoboAlign-R1 evaluates with the teacher what it optimised with the student."""
    reward = JudgeReward(JudgeTeacher(tiny_teacher_config), FakeEncoder(), name="judge_teacher")  # type: ignore[arg-type]
    out = reward(rollout())
    assert set(out) == {"judge_teacher", *(f"judge_teacher/{key}" for key in KEYS)}
    torch.testing.assert_close(out["judge_teacher"], sum(out[f"judge_teacher/{key}"] for key in KEYS))
    # The teacher's score is a mean of whole score levels over its MC-dropout passes: within each range.
    assert bool((out["judge_teacher/instruction_following"] <= 3).all()) and bool((out["judge_teacher"] >= 0).all())


def test_weights_are_configurable_per_dimension(tiny_student_config: JudgeConfig) -> None:
    reward = JudgeReward(
        JudgeStudent(tiny_student_config), FakeEncoder(), weights={"physics_adherence": 0.0, "contact_realism": 2.0}
    )  # type: ignore[arg-type]
    out = reward(rollout())
    expected = (
        sum(out[f"judge/{k}"] for k in KEYS if k not in ("physics_adherence", "contact_realism"))
        + 2 * out["judge/contact_realism"]
    )
    torch.testing.assert_close(out["judge"], expected)
    with pytest.raises(ConfigError, match="unknown dimensions"):
        JudgeReward(JudgeStudent(tiny_student_config), FakeEncoder(), weights={"realism": 1.0})  # type: ignore[arg-type]


def test_rollouts_the_judge_cannot_score_are_errors(tiny_student_config: JudgeConfig) -> None:
    reward = JudgeReward(JudgeStudent(tiny_student_config), FakeEncoder())  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="instructions"):
        reward(rollout(instructions=False))
    with pytest.raises(ConfigError, match="views"):
        reward(rollout(views=("front", "wrist")))


def test_clips_shorter_than_the_judge_reads_are_errors(tiny_teacher_config: JudgeConfig) -> None:
    """Stretched by repeated frames, they would read as stalls whatever they show."""
    reward = JudgeReward(JudgeTeacher(tiny_teacher_config), FakeEncoder(), name="judge_teacher")  # type: ignore[arg-type]
    short = rollout()
    short.frames = short.frames[:, :, : tiny_teacher_config.num_frames - 1]
    expected = f"reads {tiny_teacher_config.num_frames} frames per clip and these rollouts have"
    with pytest.raises(ConfigError, match=expected):
        reward(short)


def test_rollout_actions_are_shifted_to_the_outgoing_convention() -> None:
    actions = torch.arange(4.0).view(1, 4, 1)
    assert episode_actions(actions)[0, :, 0].tolist() == [1.0, 2.0, 3.0, 3.0]
