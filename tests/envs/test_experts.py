"""Scripted experts: noise-free success, seeded noise, clipping, evaluation."""

import numpy as np
import pytest

from worldalign.envs.experts import ScriptedExpert, evaluate_expert
from worldalign.envs.metaworld_env import MetaWorldEnv
from worldalign.errors import ConfigError


def test_noise_free_expert_solves_reach() -> None:
    stats = evaluate_expert("reach-v3", noise=0.0, seeds=range(3), max_steps=60)
    assert stats.success_rate == 1.0
    assert len(stats.steps_to_success) == 3 and max(stats.steps_to_success) < 60


def test_noise_changes_actions_reproducibly_and_stays_in_the_action_box() -> None:
    with MetaWorldEnv("push-v3", views=()) as env:
        observation = env.reset(0)
    clean = ScriptedExpert("push-v3", noise=0.0).act(observation)
    noisy = [ScriptedExpert("push-v3", noise=0.5, seed=seed).act(observation) for seed in (1, 1, 2)]
    assert not np.array_equal(noisy[0], clean)
    np.testing.assert_array_equal(noisy[0], noisy[1])
    assert not np.array_equal(noisy[0], noisy[2])
    big = ScriptedExpert("push-v3", noise=50.0, seed=3).act(observation)
    assert big.dtype == np.float32 and np.all(np.abs(big) <= 1.0) and np.any(np.abs(big) == 1.0)


def test_expert_rejects_negative_noise_and_unknown_tasks() -> None:
    with pytest.raises(ConfigError, match="-0.1"):
        ScriptedExpert("push-v3", noise=-0.1)
    with pytest.raises(ConfigError, match="push-v9"):
        ScriptedExpert("push-v9")
