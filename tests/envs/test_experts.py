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


def _actions(expert: ScriptedExpert, steps: int) -> np.ndarray:
    """The expert's actions on a fixed observation (the policy's output does not move)."""
    with MetaWorldEnv("push-v3", views=()) as env:
        observation = env.reset(0)
    return np.stack([expert.act(observation) for _ in range(steps)])


def test_exploration_holds_random_actions_for_segments_and_leaves_the_rest_alone() -> None:
    noisy = _actions(ScriptedExpert("push-v3", noise=0.2, seed=4), 400)
    exploring = _actions(ScriptedExpert("push-v3", noise=0.2, seed=4, explore=0.3), 400)
    # Off the segments the noise stream is untouched: the actions are exactly the noisy expert's.
    from_expert = np.all(noisy == exploring, axis=1)
    held = ~from_expert
    assert 0.15 < held.mean() < 0.45
    # Segments: runs of one repeated action, 4-12 steps long (two may touch; the last one may be
    # cut off by the end of the recording, so it is not counted).
    lengths, run = [], 0
    for t in range(len(exploring)):
        if held[t] and run and np.array_equal(exploring[t], exploring[t - 1]):
            run += 1
        else:
            lengths += [run] if run else []
            run = int(held[t])
    assert len(lengths) >= 5 and all(4 <= n <= 12 for n in lengths)
    assert np.all(np.abs(exploring) <= 1.0)
    np.testing.assert_array_equal(exploring, _actions(ScriptedExpert("push-v3", noise=0.2, seed=4, explore=0.3), 400))


def test_exploration_fraction_must_be_below_one() -> None:
    with pytest.raises(ConfigError, match=r"\[0, 1\).*1.0"):
        ScriptedExpert("push-v3", explore=1.0)
