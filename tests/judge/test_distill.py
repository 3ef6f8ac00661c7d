"""Distillation: the weighted Huber loss, fitting a fixed batch, the relabel hook."""

from __future__ import annotations

import dataclasses

import pytest
import torch
from judge_fakes import KEYS, VIEWS, FakeEncoder

from worldalign.algos.judge import (
    DistillPool,
    JudgeRelabelHook,
    consistent_clips,
    fit,
    inverse_dynamics_loss,
    level_weights,
    predict_pool,
    relabel,
    video_to_storage,
    weighted_huber,
    weighted_level_loss,
)
from worldalign.configs.judge import JudgeTrainConfig
from worldalign.data.types import Rollout
from worldalign.errors import ConfigError
from worldalign.models.judge.configuration_judge import JudgeConfig
from worldalign.models.judge.modeling_judge import JudgeStudent, JudgeTeacher


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


def test_level_weights_balance_rare_score_levels() -> None:
    targets = torch.zeros(8, 6)
    targets[:6, 3] = 1.0  # temporal consistency: 6 ones, 2 zeros
    weights = level_weights(targets, (3, 2, 1, 1, 1, 2), power=1.0)
    torch.testing.assert_close(weights[3], torch.tensor([2.0, 8 / 12]))  # N / (K * count)
    torch.testing.assert_close(weights[0], torch.tensor([1.0, 0.0, 0.0, 0.0]))  # absent levels weigh 0
    assert torch.equal(level_weights(targets, (3, 2, 1, 1, 1, 2), power=0.0)[3], torch.ones(2))


def test_level_loss_ignores_a_zero_weight_dimension_and_counts_rare_levels_more() -> None:
    max_scores = (3, 2, 1, 1, 1, 2)
    logits = torch.zeros(2, 16)
    levels = torch.zeros(2, 6, dtype=torch.long)
    class_weights = [torch.ones(m + 1) for m in max_scores]
    weights = torch.ones(6)
    base = weighted_level_loss(logits, levels, class_weights, weights, max_scores)
    logits[:, 7] = 5.0  # confident in level 0 of action-outcome consistency: that dimension's loss drops
    assert weighted_level_loss(logits, levels, class_weights, weights, max_scores) < base
    weights = torch.zeros(6)
    weights[2] = 1.0
    assert weighted_level_loss(logits, levels, class_weights, weights, max_scores) < 0.01
    logits = torch.zeros(2, 16)
    logits[:, 8] = 5.0  # confident in level 1, one item is level 0 and one level 1
    levels[0, 2] = 1
    balanced = [w.clone() for w in class_weights]
    balanced[2] = torch.tensor([3.0, 1.0])  # the wrongly predicted level 0 counts 3x
    assert weighted_level_loss(logits, levels, balanced, weights, max_scores) > weighted_level_loss(
        logits, levels, class_weights, weights, max_scores
    )


def test_teacher_fits_score_levels_of_a_fixed_batch(tiny_teacher_config: JudgeConfig, tiny_student_config: JudgeConfig) -> None:
    torch.manual_seed(0)
    teacher = JudgeTeacher(tiny_teacher_config)
    data = pool(8, seed=1)
    data.targets = torch.round(data.targets * torch.tensor([3.0, 2, 1, 1, 1, 2])) / torch.tensor([3.0, 2, 1, 1, 1, 2])
    config = JudgeTrainConfig(steps=80, batch_size=8, lr=3e-3, nuisance_augment=False, objective="levels")
    losses = fit(teacher, data, config, progress=False)
    assert losses[-1] < 0.5 * losses[0]
    with pytest.raises(ConfigError, match="score-level heads"):
        fit(JudgeStudent(tiny_student_config), data, config, progress=False)
    with pytest.raises(ConfigError, match="objective"):
        JudgeTrainConfig(objective="mse")  # type: ignore[arg-type]


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
    hook = JudgeRelabelHook(teacher, student, FakeEncoder(), JudgeTrainConfig(batch_size=4, lr=3e-3), steps=5)
    before = [p.detach().clone() for p in student.parameters()]
    rollout = Rollout(
        frames=torch.rand(3, len(VIEWS), 5, 3, 16, 16) * 2 - 1, views=VIEWS, fps=10, instructions=["open the drawer"] * 3
    )
    first = hook(rollout)
    second = hook(rollout)
    assert first["pool"] == 3 and second["pool"] == 6 and hook.pool is not None and len(hook.pool) == 6
    assert not torch.isnan(hook.pool.targets).any()  # teacher scores, not NaN
    assert hook.pool.frames.shape[2] == teacher.config.num_frames != student.config.num_frames  # no repeated frames
    assert any(not torch.equal(a, b) for a, b in zip(before, student.parameters(), strict=True))
    assert not student.training  # back in eval mode for the reward


def test_relabel_pool_starts_with_the_teacher_scored_anchor_clips(
    tiny_teacher_config: JudgeConfig, tiny_student_config: JudgeConfig
) -> None:
    torch.manual_seed(0)
    teacher, student = JudgeTeacher(tiny_teacher_config), JudgeStudent(tiny_student_config)
    anchor = Rollout(
        frames=torch.rand(4, len(VIEWS), 6, 3, 16, 16) * 2 - 1, views=VIEWS, fps=10, instructions=["open the drawer"] * 4
    )
    hook = JudgeRelabelHook(
        teacher, student, FakeEncoder(), JudgeTrainConfig(batch_size=4, lr=3e-3), steps=5, anchor=anchor
    )
    fresh = Rollout(
        frames=torch.rand(3, len(VIEWS), 5, 3, 16, 16) * 2 - 1, views=VIEWS, fps=10, instructions=["open the drawer"] * 3
    )
    assert hook(fresh)["pool"] == 4 + 3 and hook.pool is not None
    assert not torch.isnan(hook.pool.targets).any(), "the teacher scored the anchor clips too"
    short = Rollout(frames=anchor.frames[:, :, :2], views=VIEWS, fps=10, instructions=["open the drawer"] * 4)
    with pytest.raises(ConfigError, match="relabel anchor"):
        JudgeRelabelHook(teacher, student, FakeEncoder(), anchor=short)(fresh)


def moving_square_pool(count: int, seed: int) -> DistillPool:
    """Clips where a bright square moves by 2 px x the action into each frame (own actions:
    action-outcome consistency 1), so the action is readable from every frame difference."""
    generator = torch.Generator().manual_seed(seed)
    actions = torch.zeros(count, 4, 4)
    actions[:, :, :2] = torch.randint(-1, 2, (count, 4, 2), generator=generator).float()
    frames = torch.zeros(count, 2, 4, 16, 16, 3, dtype=torch.uint8)
    for clip in range(count):
        row, column = 6, 6
        for step in range(4):
            if step:
                row, column = row + 2 * int(actions[clip, step - 1, 1]), column + 2 * int(actions[clip, step - 1, 0])
            frames[clip, :, step, row : row + 4, column : column + 4] = 255
    targets = torch.ones(count, 6)
    return DistillPool(frames, torch.zeros(count, 384), actions, torch.ones(count, dtype=torch.bool), targets, ["squares"] * count)


def test_inverse_dynamics_loss_pairs_each_step_with_the_action_into_it_on_consistent_clips_only() -> None:
    actions = torch.tensor([[[1.0], [2.0], [3.0]], [[9.0], [9.0], [9.0]]])
    decoded = torch.tensor([[[0.0], [1.0], [2.0]], [[0.0], [0.0], [0.0]]])  # step t decodes action t - 1
    consistent = torch.tensor([True, False])
    assert inverse_dynamics_loss(decoded, actions, consistent).item() == 0.0
    assert inverse_dynamics_loss(decoded + 1, actions, consistent).item() == pytest.approx(1.0)
    assert inverse_dynamics_loss(decoded, actions, torch.tensor([False, False])).item() == 0.0
    targets = torch.tensor([[1.0, 1.0, 0.0, 1.0, 1.0, 1.0], [1.0, 1.0, 1.0, 0.0, 1.0, 1.0]])
    assert consistent_clips(targets, KEYS).tolist() == [False, True]


def decoded_actions(judge: JudgeTeacher | JudgeStudent, video: torch.Tensor, actions: torch.Tensor) -> torch.Tensor | None:
    if isinstance(judge, JudgeTeacher):
        return judge.decode_actions(judge.encode_frames(video))
    return judge.scores_and_decoded_actions(video, torch.zeros(len(video), 384), actions)[1]


@pytest.mark.parametrize("kind", ["teacher", "student"])
def test_inverse_dynamics_head_learns_to_decode_actions_and_feeds_its_residual(
    kind: str, tiny_teacher_config: JudgeConfig, tiny_student_config: JudgeConfig
) -> None:
    torch.manual_seed(0)
    model = JudgeTeacher if kind == "teacher" else JudgeStudent
    plain = tiny_teacher_config if kind == "teacher" else dataclasses.replace(tiny_student_config, num_frames=4)
    judge = model(dataclasses.replace(plain, inverse_dynamics=True))
    train, held_out = moving_square_pool(32, seed=1), moving_square_pool(16, seed=2)
    objective = "levels" if kind == "teacher" else "huber"
    options = JudgeTrainConfig(steps=150, batch_size=16, lr=3e-3, nuisance_augment=False, objective=objective)  # type: ignore[arg-type]
    fit(judge, train, options, progress=False)
    video, embeddings, actions, _ = held_out.batch(torch.arange(16))
    with torch.no_grad():
        decoded = decoded_actions(judge, video, actions)
    assert decoded is not None
    error = inverse_dynamics_loss(decoded, actions, torch.ones(16, dtype=torch.bool)).item()
    assert error < 0.3 * actions[:, :-1].pow(2).mean().item()  # far better than decoding "no motion"
    # The residual is an input of the score heads: other actions change the scores.
    judge.eval()
    with torch.no_grad():
        assert not torch.allclose(judge(video, embeddings, actions), judge(video, embeddings, actions.flip(0)))
    assert decoded_actions(model(plain), video, actions) is None
