"""Recording expert episodes: every Episode field, determinism, exact replay from snapshots."""

import numpy as np
import pytest

from worldalign.data.types import PRIVILEGED_FIELDS, Episode
from worldalign.envs.metaworld_env import MetaWorldEnv
from worldalign.envs.recorder import record_episode
from worldalign.envs.snapshot import Snapshot
from worldalign.envs.tasks import TASKS
from worldalign.errors import ConfigError

VIEWS = ("oblique", "gripperPOV")
SIZE = 32
STEPS = 16


def _record(seed: int = 3, **overrides: object) -> Episode:
    options = dict(seed=seed, noise=0.3, views=VIEWS, image_size=SIZE, max_steps=STEPS)
    options.update(overrides)
    return record_episode("push-v3", **options)  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def episode() -> Episode:
    return _record()


def test_episode_fills_every_field(episode: Episode) -> None:
    assert episode.task == "push-v3" and episode.views == VIEWS
    assert episode.instruction in TASKS["push-v3"].instructions
    assert episode.frames.shape == (2, STEPS, SIZE, SIZE, 3) and episode.frames.dtype == np.uint8
    assert episode.actions.shape == (STEPS, 4) and episode.actions.dtype == np.float32
    assert np.all(np.abs(episode.actions) <= 1.0)
    assert episode.state.shape == (STEPS, 4) and episode.state.dtype == np.float32
    for name, shape in PRIVILEGED_FIELDS.items():
        assert episode.privileged[name].shape == (STEPS, *shape)
    assert episode.snapshots is not None and episode.snapshots.dtype == np.float64
    assert episode.snapshots.shape[0] == STEPS
    assert episode.layout is not None and episode.layout.shape == (6,)
    assert episode.fps == 40
    assert episode.success is False  # 16 noisy steps are too few to push the puck home
    assert episode.metadata["seed"] == 3 and episode.metadata["noise"] == 0.3
    assert episode.metadata["action_repeat"] == 2 and "generator" in episode.metadata


def test_recording_is_bitwise_deterministic_by_seed(episode: Episode) -> None:
    again = _record()
    for field in ("frames", "actions", "state", "snapshots", "layout"):
        np.testing.assert_array_equal(getattr(again, field), getattr(episode, field))
    assert again.instruction == episode.instruction
    other = _record(seed=4)
    assert not np.array_equal(other.layout, episode.layout)
    assert not np.array_equal(other.actions, episode.actions)


@pytest.mark.parametrize("start", [0, STEPS // 2])
def test_replaying_recorded_actions_from_a_snapshot_reproduces_the_episode(episode: Episode, start: int) -> None:
    assert episode.snapshots is not None and episode.layout is not None
    snapshot = Snapshot.from_vector(episode.snapshots[start], episode.layout)
    with MetaWorldEnv("push-v3", views=VIEWS, image_size=SIZE, seed=123) as env:
        # Restoring alone reproduces the recorded row.
        env.restore(snapshot)
        np.testing.assert_array_equal(env.render(), episode.frames[:, start])
        # Row t's action leads to row t + 1; the last action's outcome is not recorded.
        result = env.execute(episode.actions[start:-1], from_snapshot=snapshot)
    np.testing.assert_array_equal(result.frames, episode.frames[:, start + 1 :])
    np.testing.assert_array_equal(result.state, episode.state[start + 1 :])
    for name in PRIVILEGED_FIELDS:
        np.testing.assert_array_equal(result.privileged[name], episode.privileged[name][start + 1 :])
    np.testing.assert_array_equal(result.step_success, episode.privileged["success"][start + 1 :, 0] > 0)
    assert result.final_obj_to_target == episode.privileged["obj_to_target"][-1, 0]


def test_noise_free_reach_succeeds_and_can_stop_after_success() -> None:
    episode = record_episode(
        "reach-v3", seed=0, views=("front",), image_size=16, max_steps=60, post_success_steps=2, instruction_split="heldout"
    )
    assert episode.success is True
    first = episode.metadata["first_success_step"]
    assert isinstance(first, int) and episode.length == first + 3
    assert episode.privileged["success"][first, 0] == 1.0 and not episode.privileged["success"][:first].any()
    assert episode.instruction in TASKS["reach-v3"].heldout_instructions


def test_episode_longer_than_metaworlds_limit_is_refused() -> None:
    with pytest.raises(ConfigError, match=r"max_steps must be in \[1, 250\]"):
        record_episode("reach-v3", seed=0, views=(), max_steps=251)
