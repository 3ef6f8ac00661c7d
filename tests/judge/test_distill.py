"""Distillation: the weighted Huber loss, fitting a fixed batch, the relabel hook."""

from __future__ import annotations

import torch

from judge_fakes import VIEWS, FakeEncoder

from worldalign.algos.judge import (
    RelabelHook,
    DistillPool,
    JudgeTrainConfig,
    fit,
    predict_pool,
    relabel,
    video_to_storage,
    weighted_huber,
)
from worldalign.data.types import Rollout
from worldalign.models.judge.networks import JudgeConfig, JudgeStudent, JudgeTeacher


def pool(count: int, seed: int) -> DistillPool:
    generator = torch.Generator().manual_seed(seed)
    frames = torch.randint(0, 256, (count, 2, 4, 16, 16, 3), dtype=torch.uint8, generator=generator)
    return DistillPool(
        frames=frames,
        embeddings=torch.randn(count, 384, generator=generator),
        actions=torch.randn(count, 4, 4, generator=generator),
        has_actions=torch.ones(count, dtype=torch.bool),
        targets=torch.rand(count, 6, generator=generator),
        origin=["test"] * count,
    )


def test_weighted_huber_ignores_a_zero_weight_dimension() -> None:
    prediction, target = torch.zeros(4, 6), torch.zeros(4, 6)
    target[:, 2] = 1.0
    weights = torch.ones(6)
    assert weighted_huber(prediction, target, weights, 0.2) > 0
    weights[2] = 0.0
    assert weighted_huber(prediction, target, weights, 0.2) == 0


def test_distillation_reduces_the_loss_on_a_fixed_batch(tiny_student_config: JudgeConfig) -> None:
    torch.manual_seed(0)
    student = JudgeStudent(tiny_student_config)
    data = pool(8, seed=1)
    config = JudgeTrainConfig(steps=60, batch_size=8, lr=3e-3, nuisance_augment=False)
    losses = fit(student, data, config, progress=False)
    assert losses[-1] < 0.5 * losses[0]


def test_relabel_scores_fresh_rollouts_with_the_teacher_and_refreshes_the_student(
    tiny_teacher_config: JudgeConfig, tiny_student_config: JudgeConfig
) -> None:
    torch.manual_seed(0)
    teacher, student = JudgeTeacher(tiny_teacher_config), JudgeStudent(tiny_student_config)
    distill_set = pool(6, seed=2)
    fresh = pool(4, seed=3)
    fresh.targets = torch.full_like(fresh.targets, float("nan"))  # rollouts come unlabelled
    stats = relabel(teacher, student, fresh, distill_set, JudgeTrainConfig(batch_size=10, lr=3e-3), steps=30)
    assert stats["pool"] == 10 and stats["fresh"] == 4
    assert not torch.isnan(distill_set.targets).any()  # the teacher's scores, not NaN, joined the set
    torch.manual_seed(1)
    expected = predict_pool(teacher, fresh)
    assert expected.shape == (4, 6)
    assert stats["student_error_after"] < stats["student_error_before"]


def test_rollout_frames_round_trip_to_storage() -> None:
    frames = torch.randint(0, 256, (2, 1, 3, 8, 8, 3), dtype=torch.uint8)
    from worldalign.models.judge.video_input import frames_from_storage

    assert torch.equal(video_to_storage(frames_from_storage(frames)), frames)


def test_rollouts_become_an_unlabelled_pool_of_the_clip_length() -> None:
    from judge_fakes import FakeEncoder

    from worldalign.algos.judge import pool_from_rollout
    from worldalign.data.types import Rollout

    rollout = Rollout(
        frames=torch.rand(2, 2, 9, 3, 16, 16) * 2 - 1,
        views=("oblique", "front"),
        fps=8,
        instructions=["push", "open"],
        actions=torch.randn(2, 9, 4),
    )
    fresh = pool_from_rollout(rollout, FakeEncoder(), frames=4)  # type: ignore[arg-type]
    assert fresh.frames.shape == (2, 2, 4, 16, 16, 3) and fresh.actions.shape == (2, 4, 4)
    assert bool(fresh.has_actions.all()) and bool(torch.isnan(fresh.targets).all())


def test_relabel_hook_grows_its_pool_and_refreshes_the_reward_student(
    tiny_teacher_config: JudgeConfig, tiny_student_config: JudgeConfig
) -> None:
    torch.manual_seed(0)
    teacher, student = JudgeTeacher(tiny_teacher_config), JudgeStudent(tiny_student_config)
    hook = RelabelHook(teacher, student, FakeEncoder(), JudgeTrainConfig(batch_size=4, lr=3e-3), steps=5)
    before = [p.detach().clone() for p in student.parameters()]
    rollout = Rollout(
        frames=torch.rand(3, len(VIEWS), 5, 3, 16, 16) * 2 - 1, views=VIEWS, fps=10, instructions=["open the drawer"] * 3
    )
    first = hook(rollout)
    second = hook(rollout)
    assert first["pool"] == 3 and second["pool"] == 6 and hook.pool is not None and len(hook.pool) == 6
    assert not torch.isnan(hook.pool.targets).any()  # teacher scores, not NaN
    assert any(not torch.equal(a, b) for a, b in zip(before, student.parameters(), strict=True))
    assert not student.training  # back in eval mode for the reward
