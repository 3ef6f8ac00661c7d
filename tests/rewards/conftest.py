"""Episodes recorded once per test session, shared by the reward tests.

Scripted-expert (noise 0) and noisy-policy (action noise 0.5) episodes of four easy Meta-World
tasks, three layouts each, the same seeds for both (same scenes), in the views of the shipped
IDM. Seeds >= 1000 are not among those ``data generate`` drew for the IDM's training set (its
seeds come from a SeedSequence), so the IDM has not seen these scenes.
"""

from __future__ import annotations

import pytest

from worldalign.data.types import Episode
from worldalign.envs.recorder import record_episode
from worldalign.models.idm import InverseDynamicsModel
from worldalign.rewards.decode import SHIPPED_IDM, load_idm

EASY_TASKS = ("reach-v3", "button-press-topdown-v3", "drawer-close-v3", "window-close-v3")
SEEDS_PER_TASK = 3
STEPS = 40
VIEWS = ("oblique", "front", "wrist")


def _record(noise: float) -> list[Episode]:
    """Task-major: episodes ``[k * SEEDS_PER_TASK, (k + 1) * SEEDS_PER_TASK)`` are task ``k``'s."""
    return [
        record_episode(task, seed=1000 + SEEDS_PER_TASK * k + i, noise=noise, views=VIEWS, max_steps=STEPS)
        for k, task in enumerate(EASY_TASKS)
        for i in range(SEEDS_PER_TASK)
    ]


@pytest.fixture(scope="session")
def shipped_idm() -> InverseDynamicsModel:
    idm = load_idm(SHIPPED_IDM)
    assert idm.config.views == VIEWS, "the recorded test episodes must hold the views the shipped IDM reads"
    return idm


@pytest.fixture(scope="session")
def expert_episodes() -> list[Episode]:
    return _record(noise=0.0)


@pytest.fixture(scope="session")
def noisy_episodes() -> list[Episode]:
    return _record(noise=0.5)
