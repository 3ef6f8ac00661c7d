"""A NaN target (a broken teacher score) stops judge training and distillation before the update."""

from __future__ import annotations

import pytest
import torch

from worldalign.algos.judge import DistillPool, fit
from worldalign.configs.judge import JudgeTrainConfig
from worldalign.errors import TrainingError
from worldalign.models.judge.configuration_judge import JudgeConfig
from worldalign.models.judge.modeling_judge import JudgeStudent


def test_a_nan_target_stops_the_fit_naming_the_step_and_term(tiny_student_config: JudgeConfig) -> None:
    torch.manual_seed(0)
    student = JudgeStudent(tiny_student_config)
    before = {name: value.clone() for name, value in student.state_dict().items()}
    count = 4
    targets = torch.rand(count, 6)
    targets[:, 1] = float("nan")
    data = DistillPool(
        frames=torch.zeros(count, 2, 4, 16, 16, 3, dtype=torch.uint8),
        embeddings=torch.zeros(count, 384),
        actions=torch.zeros(count, 4, 4),
        has_actions=torch.ones(count, dtype=torch.bool),
        targets=targets,
        origin=["broken teacher"] * count,
    )
    config = JudgeTrainConfig(steps=3, batch_size=4, nuisance_augment=False)
    with pytest.raises(TrainingError, match=r"distill: step 1 of 3: non-finite score loss = nan.*loss = nan"):
        fit(student, data, config, desc="distill", progress=False)
    assert all(torch.equal(student.state_dict()[name], value) for name, value in before.items())
