"""Policies run in the simulator from a recorded state: the simulator's side of the world-model
policy evaluation."""

import numpy as np
import pytest

from worldalign.envs.experts import ScriptedExpert
from worldalign.envs.metaworld_env import MetaWorldEnv
from worldalign.envs.policy_runs import POLICY_NAMES, RandomPolicy, make_policy, run_policy
from worldalign.errors import ConfigError


def test_policy_names_build_the_expert_its_noisy_variants_and_random() -> None:
    built = [make_policy(name, "reach-v3", seed=0) for name in POLICY_NAMES]
    assert [type(p) for p in built] == [ScriptedExpert, ScriptedExpert, ScriptedExpert, RandomPolicy]
    assert [p.noise for p in built[:3]] == [0.0, 0.2, 0.5]  # type: ignore[attr-defined]
    for bad in ("expert-noise-x", "expert-noise--1", "greedy"):
        with pytest.raises(ConfigError, match="expected 'expert', 'expert-noise-S'"):
            make_policy(bad, "reach-v3", seed=0)


def test_runs_from_a_snapshot_record_the_actions_that_replay_to_the_same_successes() -> None:
    with MetaWorldEnv("reach-v3", views=()) as env:
        env.reset(seed=3)
        env.step(np.zeros(4, np.float32))
        start = env.snapshot()
        expert = run_policy(env, make_policy("expert", "reach-v3", seed=1), start, 40)
        again = run_policy(env, make_policy("expert", "reach-v3", seed=1), start, 40)
        random = run_policy(env, make_policy("random", "reach-v3", seed=1), start, 40)
        replayed = env.execute(expert.actions, start)
    assert expert.actions.shape == (40, 4) and expert.actions.dtype == np.float32
    np.testing.assert_array_equal(expert.actions, again.actions)
    np.testing.assert_array_equal(replayed.step_success, expert.step_success)
    assert expert.success and expert.success == bool(expert.step_success.any())
    assert not random.success  # a random arm does not find a reach goal in 40 steps
    assert not np.array_equal(random.actions, expert.actions)


def test_a_run_past_metaworlds_step_limit_is_refused() -> None:
    with MetaWorldEnv("reach-v3", views=()) as env:
        start = env.snapshot()
        with pytest.raises(ConfigError, match="allows 1..250 more"):
            run_policy(env, RandomPolicy(0), start, 251)
