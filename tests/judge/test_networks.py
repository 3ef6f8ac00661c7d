"""Teacher and student: output shapes and ranges, MC-dropout averaging, bad-input errors."""

from __future__ import annotations

import pytest
import torch

from worldalign.errors import ConfigError
from worldalign.models.judge.networks import JudgeConfig, JudgeStudent, JudgeTeacher
from worldalign.models.judge.video_input import frame_positions, frames_from_storage, pool_actions, prepare_video


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


def test_teacher_prediction_is_the_mean_of_its_stochastic_passes(tiny_teacher_config: JudgeConfig) -> None:
    teacher = JudgeTeacher(tiny_teacher_config).eval()
    clip, text = video(), torch.randn(3, 384)
    torch.manual_seed(5)
    averaged = teacher.predict(clip, text, samples=3)
    torch.manual_seed(5)
    teacher.train()
    with torch.no_grad():
        passes = [teacher(clip, text) for _ in range(3)]
    assert not torch.allclose(passes[0], passes[1])  # dropout makes the passes differ
    torch.testing.assert_close(averaged, torch.stack(passes).mean(0))
    teacher.eval()
    teacher.predict(clip, text)
    assert not teacher.training  # predict restores the mode it found


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
    torch.testing.assert_close(prepared[:, :, 2, 3:], clip[:, :, 2] - clip[:, :, 1])  # motion channels
    assert prepared[:, :, 0, 3:].abs().max() == 0
    pooled, present = pool_actions(torch.arange(8.0).view(1, 8, 1).expand(1, 8, 4), 1, 4, 4)
    assert pooled[0, :, 0].tolist() == [0.5, 2.5, 4.5, 6.5] and present.item() == 1
    assert pool_actions(None, 2, 4, 4)[1].sum() == 0
