"""Tiny judge configs, so judge tests run in seconds."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import torch
from judge_fakes import KEYS, MAX_SCORES, VIEWS

from worldalign.models.judge.configuration_judge import JudgeConfig


@pytest.fixture(autouse=True)
def one_torch_thread() -> Iterator[None]:
    """Tiny models gain nothing from threads, and on a shared 2-core machine two intra-op threads
    per process oversubscribe the cores and run ~5x slower."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture
def tiny_teacher_config() -> JudgeConfig:
    return JudgeConfig(
        KEYS, MAX_SCORES, VIEWS, num_frames=4, image_size=16, widths=(8, 16), width=32, depth=1, heads=2, samples=3
    )


@pytest.fixture
def tiny_student_config() -> JudgeConfig:
    return JudgeConfig(
        KEYS, MAX_SCORES, VIEWS, num_frames=3, image_size=16, widths=(8,), width=16, depth=0, dropout=0.0, samples=1
    )
