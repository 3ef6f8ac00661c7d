"""The Meta-World adapter: frame rate, determinism by seed, state, the step limit, snapshots."""

import numpy as np
import pytest

from worldalign.data.types import PRIVILEGED_FIELDS
from worldalign.envs.metaworld_env import MetaWorldEnv
from worldalign.envs.snapshot import Snapshot
from worldalign.errors import ConfigError, DatasetError

VIEWS = ("oblique", "gripperPOV")
SIZE = 32


def _rollout(env: MetaWorldEnv, seed: int, steps: int = 5) -> np.ndarray:
    env.reset(seed)
    frames = [env.render()]
    for step in range(steps):
        env.step(np.array([0.5, -0.3, 0.2, np.sin(step)], dtype=np.float32))
        frames.append(env.render())
    return np.stack(frames)


def test_fps_is_one_frame_per_policy_action() -> None:
    # Meta-World: 2.5 ms physics step, frame_skip 5, so 12.5 ms per simulator step.
    with MetaWorldEnv("reach-v3", views=(), action_repeat=2) as env:
        assert env.fps == 40
        assert env.max_policy_steps == 250
    with MetaWorldEnv("reach-v3", views=(), action_repeat=1) as env:
        assert env.fps == 80


def test_same_seed_gives_bitwise_identical_frames_and_other_seeds_other_layouts() -> None:
    with MetaWorldEnv("push-v3", views=VIEWS, image_size=SIZE) as first, MetaWorldEnv(
        "push-v3", views=VIEWS, image_size=SIZE, seed=99
    ) as second:
        frames = _rollout(first, seed=4)
        layout = first.layout
        np.testing.assert_array_equal(_rollout(second, seed=4), frames)
        np.testing.assert_array_equal(second.layout, layout)
        other = _rollout(second, seed=5)
        assert not np.array_equal(second.layout, layout)
        assert not np.array_equal(other, frames)


def test_proprio_and_privileged_state_have_the_declared_shapes() -> None:
    with MetaWorldEnv("pick-place-v3", views=()) as env:
        env.reset(0)
        state = env.proprio()
        assert state.shape == (4,) and state.dtype == np.float32
        assert 0.0 <= state[3] <= 1.0  # gripper opening
        privileged = env.privileged()
        assert set(privileged) == set(PRIVILEGED_FIELDS)
        for name, shape in PRIVILEGED_FIELDS.items():
            assert privileged[name].shape == shape and privileged[name].dtype == np.float32
        np.testing.assert_allclose(privileged["hand_pos"], state[:3], atol=1e-6)
        np.testing.assert_array_equal(privileged["goal_pos"], env.observation[-3:].astype(np.float32))


def test_stepping_past_metaworlds_500_simulator_steps_is_a_clear_error() -> None:
    with MetaWorldEnv("reach-v3", views=(), action_repeat=100) as env:
        assert env.max_policy_steps == 5
        for _ in range(5):
            env.step(np.zeros(4))
        with pytest.raises(ConfigError, match="policy step 6 passes Meta-World's limit of 500 simulator steps"):
            env.step(np.zeros(4))
        env.reset()
        env.step(np.zeros(4))


def test_bad_actions_and_tasks_are_config_errors() -> None:
    with pytest.raises(ConfigError, match="Did you mean 'reach-v3'"):
        MetaWorldEnv("reach-v4", views=())
    with MetaWorldEnv("reach-v3", views=()) as env:
        with pytest.raises(ConfigError, match=r"shape \(4,\)"):
            env.step(np.zeros(3))
        with pytest.raises(ConfigError, match="not finite"):
            env.step(np.array([0.0, np.nan, 0.0, 0.0]))


def test_snapshot_row_round_trips_and_restores_the_exact_state() -> None:
    with MetaWorldEnv("drawer-open-v3", views=VIEWS, image_size=SIZE) as env:
        env.reset(2)
        for _ in range(3):
            env.step(np.array([0.1, 0.8, -0.4, 1.0]))
        snapshot = env.snapshot()
        row = snapshot.to_vector()
        assert row.dtype == np.float64 and row.ndim == 1
        frame, privileged, observation = env.render(), env.privileged(), env.observation
        for _ in range(4):
            env.step(np.array([-0.7, 0.2, 0.3, -1.0]))
        env.restore(Snapshot.from_vector(row, snapshot.layout))
        np.testing.assert_array_equal(env.snapshot().to_vector(), row)
        np.testing.assert_array_equal(env.render(), frame)
        np.testing.assert_array_equal(env.observation, observation)
        for name, value in env.privileged().items():
            np.testing.assert_array_equal(value, privileged[name])
        assert env.policy_step == 3


def test_malformed_or_foreign_snapshots_are_rejected() -> None:
    with pytest.raises(DatasetError, match="longer than"):
        Snapshot.from_vector(np.zeros(10), np.zeros(3))
    with MetaWorldEnv("reach-v3", views=()) as reach, MetaWorldEnv("door-open-v3", views=()) as door:
        with pytest.raises(ConfigError, match="another task"):
            door.restore(reach.snapshot())
