"""Teacher and student: output shapes and ranges, MC-dropout averaging, bad-input errors."""

from __future__ import annotations

import pytest
import torch

from worldalign.errors import ConfigError
from worldalign.models.judge.configuration_judge import JudgeConfig
from worldalign.models.judge.modeling_judge import (
    JudgeStudent,
    JudgeTeacher,
    expected_scores,
    frame_encoder,
    level_scores,
    rubric_scores,
)
from worldalign.models.judge.video_input import (
    frame_positions,
    frames_from_storage,
    motion_statistics,
    pool_actions,
    prepare_video,
    resample_video,
    signed_sqrt,
)


def video(batch: int = 3, views: int = 2, frames: int = 7, size: int = 20) -> torch.Tensor:
    return torch.rand(batch, views, frames, 3, size, size, generator=torch.Generator().manual_seed(0)) * 2 - 1


@pytest.mark.parametrize("cls", [JudgeTeacher, JudgeStudent])
def test_forward_gives_normalised_scores_per_dimension(
    cls: type, tiny_teacher_config: JudgeConfig, tiny_student_config: JudgeConfig
) -> None:
    config = tiny_teacher_config if cls is JudgeTeacher else tiny_student_config
    model = cls(config)
    for actions in (None, torch.randn(3, 7, 4)):
        out = model.predict(video(), torch.randn(3, 384), actions)
        assert out.shape == (3, 6)
        assert bool(((out >= 0) & (out <= 1)).all())


def test_teacher_prediction_is_the_mean_of_its_stochastic_passes_score_levels(tiny_teacher_config: JudgeConfig) -> None:
    teacher = JudgeTeacher(tiny_teacher_config).eval()
    clip, text = video(), torch.randn(3, 384)
    torch.manual_seed(5)
    averaged = teacher.predict(clip, text, samples=3)
    torch.manual_seed(5)
    teacher.train()
    with torch.no_grad():
        frames = teacher.encode_frames(clip)
        logits = [teacher.level_logits(frames, text) for _ in range(3)]
    assert not torch.allclose(logits[0], logits[1])  # dropout makes the passes differ
    torch.testing.assert_close(averaged, torch.stack([level_scores(x, tiny_teacher_config) for x in logits]).mean(0))
    # Each pass gives a whole score level, so the mean of 3 passes is a multiple of 1 / (3 * max score).
    steps = averaged * 3 * torch.tensor(tiny_teacher_config.max_scores)
    torch.testing.assert_close(steps, steps.round())
    torch.manual_seed(6)
    rubric = teacher.rubric(clip, text)
    torch.manual_seed(6)
    torch.testing.assert_close(rubric, teacher.predict(clip, text))  # the averaged levels are the rubric score
    teacher.eval()
    teacher.predict(clip, text)
    assert not teacher.training  # predict restores the mode it found


def test_score_level_heads_give_expected_and_most_likely_levels(tiny_teacher_config: JudgeConfig) -> None:
    # Levels per dimension: 4, 3, 2, 2, 2, 3 (max scores 3, 2, 1, 1, 1, 2).
    logits = torch.full((1, 16), -30.0)
    for offset in (3, 4 + 1, 7 + 0, 9 + 1, 11 + 1, 13 + 2):  # levels 3, 1, 0, 1, 1, 2
        logits[0, offset] = 30.0
    torch.testing.assert_close(level_scores(logits, tiny_teacher_config), torch.tensor([[1.0, 0.5, 0.0, 1.0, 1.0, 1.0]]))
    torch.testing.assert_close(expected_scores(logits, tiny_teacher_config), torch.tensor([[1.0, 0.5, 0.0, 1.0, 1.0, 1.0]]))
    uniform = expected_scores(torch.zeros(1, 16), tiny_teacher_config)
    torch.testing.assert_close(uniform, torch.full((1, 6), 0.5))  # the mean of levels 0..max is max / 2


def test_student_rubric_rounds_to_whole_score_levels(tiny_student_config: JudgeConfig) -> None:
    normalised = torch.tensor([[0.49, 0.26, 0.51, 0.49, 0.0, 0.74]])
    torch.testing.assert_close(
        rubric_scores(normalised, tiny_student_config.max_scores), torch.tensor([[1 / 3, 0.5, 1.0, 0.0, 0.0, 0.5]])
    )
    student = JudgeStudent(tiny_student_config)
    clip, text = video(), torch.randn(3, 384)
    scale = torch.tensor(tiny_student_config.max_scores, dtype=torch.float32)
    rubric = student.rubric(clip, text) * scale
    torch.testing.assert_close(rubric, rubric.round())
    assert (rubric - student.predict(clip, text) * scale).abs().max() <= 0.5


def test_patch_stem_keeps_full_resolution_in_fewer_operations() -> None:
    encoder = frame_encoder((32, 64, 96), 64, 128, stem_stride=4)
    assert encoder(torch.zeros(2, 6, 64, 64)).shape == (2, 128)
    first = encoder[0]
    assert isinstance(first, torch.nn.Conv2d) and first.kernel_size == (4, 4) and first.stride == (4, 4)


def test_wrong_view_count_and_tiny_frames_are_refused(tiny_teacher_config: JudgeConfig) -> None:
    teacher = JudgeTeacher(tiny_teacher_config)
    with pytest.raises(ConfigError, match="3 views; this judge was trained on 2 views"):
        teacher(video(views=3), torch.randn(3, 384))
    with pytest.raises(ConfigError, match="at least 16 px"):
        teacher(video(size=8), torch.randn(3, 384))
    with pytest.raises(ConfigError, match=r"\(B, V, T, 3, H, W\)"):
        teacher(torch.zeros(3, 2, 7, 20, 20), torch.randn(3, 384))
    with pytest.raises(ConfigError, match="actions must be"):
        teacher(video(), torch.randn(3, 384), torch.randn(3, 7, 5))


def test_video_preparation() -> None:
    assert frame_positions(16, 4).tolist() == [0, 5, 10, 15]
    stored = torch.randint(0, 256, (1, 2, 5, 20, 20, 3), dtype=torch.uint8)
    clip = frames_from_storage(stored)
    assert clip.shape == (1, 2, 5, 3, 20, 20) and clip.min() >= -1 and clip.max() <= 1
    prepared = prepare_video(clip, 5, 20)
    assert prepared.shape == (1, 2, 5, 6, 20, 20)
    difference = clip[:, :, 2] - clip[:, :, 1]
    torch.testing.assert_close(prepared[:, :, 2, 3:], difference.sign() * difference.abs().sqrt())  # motion channels
    one_level = torch.tensor([0.0, 1 / 127.5, -4 / 127.5])
    torch.testing.assert_close(signed_sqrt(one_level), torch.tensor([0.0, (1 / 127.5) ** 0.5, -((4 / 127.5) ** 0.5)]))
    assert prepared[:, :, 0, 3:].abs().max() == 0
    pooled, present = pool_actions(torch.arange(8.0).view(1, 8, 1).expand(1, 8, 4), 1, 4, 4)
    assert pooled[0, :, 0].tolist() == [0.5, 2.5, 4.5, 6.5] and present.item() == 1
    assert pool_actions(None, 2, 4, 4)[1].sum() == 0


def moving_square_clip(positions: list[int], size: int = 32) -> torch.Tensor:
    """``(1, 1, T, 3, size, size)``: a white 6-px square on black at column ``positions[t]``."""
    clip = -torch.ones(1, 1, len(positions), 3, size, size)
    for t, column in enumerate(positions):
        clip[0, 0, t, :, 12:18, column : column + 6] = 1.0
    return clip


def test_motion_statistics_expose_stalls_and_gaps() -> None:
    smooth = motion_statistics(resample_video(moving_square_clip([2, 4, 6, 8, 10, 12, 14, 16]), 8, 32))
    frozen = motion_statistics(resample_video(moving_square_clip([2, 4, 6, 6, 8, 10, 12, 14]), 8, 32))
    gap = motion_statistics(resample_video(moving_square_clip([2, 4, 6, 12, 14, 16, 18, 20]), 8, 32))
    assert smooth.shape == (1, 8, 3)  # per step: log energy, changed fraction, contrast to neighbours
    assert smooth[0, 1:, 2].abs().max() < 1e-5  # steady motion: every step like its neighbours
    assert frozen[0, 3, 1] == 0 and frozen[0, 3, 2] < -1.5  # the stall: nothing changed, far below its neighbours
    assert gap[0, 3, 0] > smooth[0, 3, 0] and gap[0, 3, 2] > 0.1  # the gap: more moved than around it
    assert (smooth[0, 1:, 1] > 0).all() and smooth[0, 0, 1] == 0  # the first step has no previous frame

