"""The world model as a Gymnasium environment, and the success classifier that judges it: tiny
models trained for 2 steps on moving squares, so every test takes seconds."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
import torch
from gymnasium.utils.env_checker import check_env
from moving_squares import EPISODES, SIZE, moving_square_episode, run_cli, tiny_runs

from worldalign.algos.success_classifier import (
    success_probabilities,
    train_success_classifier,
)
from worldalign.data.lerobot_reader import LeRobotDataset
from worldalign.data.lerobot_writer import LeRobotWriter
from worldalign.errors import ConfigError, DatasetError
from worldalign.eval.world_model_env import WorldModelEnv
from worldalign.models.checkpoint import load_model
from worldalign.models.success import SuccessClassifier
from worldalign.rewards import build_rewards
from worldalign.rewards.success import SuccessReward
from worldalign.runs.layout import SUCCESS_TRAINING_FILE
from worldalign.runs.loading import load_autoencoder, load_world_model_run
from worldalign.sampling.context_policies import SlidingWindowReencode


def _square_corner(frames: np.ndarray) -> np.ndarray:
    """``(V, T, H, W, 3)`` -> ``(T,)``: whether the square's top-left corner is past the middle."""
    square = (frames[0, ..., 0] == 250) & (frames[0, ..., 1] == 200)  # (T, H, W)
    return np.array([np.argwhere(mask)[0, 0] >= (SIZE - 4) // 2 for mask in square])


def _labelled_dataset(root: Path, views: tuple[str, ...] = ("front",), episodes: int = 8) -> Path:
    """Moving squares whose per-step success is 'the square is in the lower-right half'."""
    with LeRobotWriter(root, fps=10, views=views, image_size=(SIZE, SIZE), action_dim=4, state_dim=5) as writer:
        for seed in range(episodes):
            episode = moving_square_episode(seed)
            episode.views = views
            episode.frames = np.repeat(episode.frames, len(views), axis=0)
            episode.privileged = {"success": _square_corner(episode.frames).astype(np.float32)[:, None]}
            episode.success = bool(episode.privileged["success"].any())
            writer.add_episode(episode)
    return root


@pytest.fixture(scope="module")
def setup(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("wm_env")
    runs = tiny_runs(root / "runs")
    labelled = _labelled_dataset(root / "labelled")
    argv = ["train", "success", "--dataset", str(labelled), "--out", str(root / "success"), "--steps", "150"]
    assert run_cli([*argv, "--batch-size", "32", "--held-out", "0.25", "--lr", "3e-3"]) == 0
    return {**runs, "labelled": labelled, "success": root / "success"}


def _env(setup: dict[str, Path], dataset: Path | None = None, **kwargs: object) -> WorldModelEnv:
    run = load_world_model_run(setup["wm"])
    reward = build_rewards("success", success_checkpoint=setup["success"]).rewards[0]
    return WorldModelEnv(
        run.model,
        load_autoencoder(setup["ae"]),
        LeRobotDataset(dataset or setup["dataset"]),
        reward,
        normalizer=run.normalizer,
        instruction_encoder=run.instruction_encoder,
        sampling_steps=2,
        max_steps=3,
        policy=SlidingWindowReencode(window=3),  # the tiny model takes at most 4 context frames
        **kwargs,  # type: ignore[arg-type]
    )


def test_success_classifier_learns_the_simulator_labels_and_loads_back(setup: dict[str, Path]) -> None:
    import json

    report = json.loads((setup["success"] / SUCCESS_TRAINING_FILE).read_text())
    # A square's position is trivially visible: a classifier that learnt nothing scores ~0.5.
    assert report["held_out"]["balanced_accuracy"] >= 0.8, report["held_out"]
    loaded = load_model(SuccessClassifier, setup["success"])
    dataset = LeRobotDataset(setup["labelled"])
    pixels = np.moveaxis(dataset.episode(0).frames, 1, 0)  # (T, V, H, W, 3)
    first = success_probabilities(loaded, pixels)
    again = success_probabilities(load_model(SuccessClassifier, setup["success"]), pixels)
    assert first.shape == (pixels.shape[0],) and np.array_equal(first, again)
    assert np.all((first >= 0) & (first <= 1))


def test_success_classifier_refuses_a_dataset_without_success_labels(setup: dict[str, Path], tmp_path: Path) -> None:
    with pytest.raises(DatasetError, match="observation.privileged.success"):
        train_success_classifier(LeRobotDataset(setup["dataset"]), tmp_path / "c", progress=False)


def test_success_reward_is_the_best_frame_and_solved_follows_the_threshold(setup: dict[str, Path]) -> None:
    from worldalign.data.pixels import to_unit_range
    from worldalign.data.types import Rollout

    classifier = load_model(SuccessClassifier, setup["success"])
    frames = to_unit_range(LeRobotDataset(setup["labelled"]).episode(0).frames).unsqueeze(0)  # (1, V, T, 3, H, W)
    out = SuccessReward(classifier, threshold=0.5)(Rollout(frames=frames, views=("front",), fps=10))
    probabilities = classifier.probability(frames[0].movedim(1, 0)).detach()
    assert torch.allclose(out["success"], probabilities.max()[None])
    assert torch.allclose(out["success/final"], probabilities[-1:])
    assert float(out["success/solved"][0]) == float(probabilities.max() >= 0.5)
    with pytest.raises(ConfigError, match="views"):
        SuccessReward(classifier)(Rollout(frames=frames, views=("wrist",), fps=10))


def test_the_environment_passes_the_gymnasium_checker(setup: dict[str, Path]) -> None:
    check_env(_env(setup), skip_render_check=True)


def test_step_returns_generated_views_as_uint8(setup: dict[str, Path]) -> None:
    env = _env(setup, render_mode="rgb_array")
    observation, info = env.reset(seed=0, options={"episode": 1})
    real = LeRobotDataset(setup["dataset"]).episode(1).frames
    assert observation.dtype == np.uint8 and observation.shape == (1, SIZE, SIZE, 3)
    assert np.array_equal(observation, real[:, env.context - 1]), "reset shows the last real context frame"
    assert info["episode"] == 1
    observation, reward, terminated, truncated, info = env.step(env.action_space.sample())
    assert observation.shape == (1, SIZE, SIZE, 3) and observation.dtype == np.uint8
    assert info["frames"].shape == (1, env.chunk, SIZE, SIZE, 3) and info["frames"].dtype == np.uint8
    assert np.array_equal(observation, info["frames"][:, -1])
    assert isinstance(reward, float) and 0.0 <= reward <= 1.0
    assert terminated == info["success"]
    assert env.render().shape == (SIZE, SIZE, 3)


def test_episodes_truncate_after_max_steps(setup: dict[str, Path]) -> None:
    env = _env(setup, success_threshold=2.0)  # never successful: only truncation ends it
    env.reset(seed=0)
    ends = [env.step(np.zeros(env.action_space.shape, np.float32))[2:4] for _ in range(env.max_steps)]
    assert ends == [(False, False)] * (env.max_steps - 1) + [(False, True)]


def test_same_seed_same_frames_other_seed_other_frames(setup: dict[str, Path]) -> None:
    env = _env(setup)
    actions = np.random.default_rng(0).uniform(-1, 1, size=(2, *env.action_space.shape)).astype(np.float32)

    def frames(seed: int) -> np.ndarray:
        env.reset(seed=seed, options={"episode": 0})
        return np.stack([env.step(action)[4]["frames"] for action in actions])

    first = frames(3)
    assert np.array_equal(first, frames(3))
    assert not np.array_equal(first, frames(4))


def test_reset_draws_the_episode_from_the_seed(setup: dict[str, Path]) -> None:
    env = _env(setup, episodes=[0, 2])
    drawn = {env.reset(seed=seed)[1]["episode"] for seed in range(12)}
    assert drawn == {0, 2}
    assert env.reset(seed=5)[1]["episode"] == env.reset(seed=5)[1]["episode"]


def test_bad_actions_name_the_expected_shape(setup: dict[str, Path]) -> None:
    env = _env(setup)
    env.reset(seed=0)
    with pytest.raises(ConfigError, match=re.escape(f"expected {env.action_space.shape}")):
        env.step(np.zeros((env.chunk + 1, 4), np.float32))
    with pytest.raises(ConfigError, match="action_dim"):
        env.step(np.zeros((env.chunk, 3), np.float32))
    with pytest.raises(ConfigError, match="NaN"):
        env.step(np.full(env.action_space.shape, np.nan, np.float32))


def test_an_episode_out_of_range_names_the_dataset_and_the_range(setup: dict[str, Path]) -> None:
    env = _env(setup)
    with pytest.raises(ConfigError, match=rf"episode {EPISODES} does not exist.*has {EPISODES} episodes"):
        env.reset(options={"episode": EPISODES})
    with pytest.raises(ConfigError, match="episodes: episode -1 does not exist"):
        _env(setup, episodes=[-1])
    with pytest.raises(ConfigError, match="only option is 'episode'"):
        env.reset(options={"episod": 0})


def test_a_dataset_whose_views_differ_from_the_models_is_refused(setup: dict[str, Path], tmp_path: Path) -> None:
    two_views = _labelled_dataset(tmp_path / "two", views=("front", "wrist"), episodes=2)
    with pytest.raises(ConfigError, match=r"meta/info\.json: views \['front', 'wrist'\] \(2\).*trained on 1 view"):
        _env(setup, dataset=two_views)
    # Choosing one of its views, in the model's order, is what the error asks for.
    _env(setup, dataset=two_views, views=["wrist"])


def test_step_before_reset_is_an_error(setup: dict[str, Path]) -> None:
    with pytest.raises(ConfigError, match="before reset"):
        _env(setup).step(np.zeros((4, 4), np.float32))


def test_world_model_success_replays_actions_in_chunks_and_stops_at_the_first_success(setup: dict[str, Path]) -> None:
    from worldalign.eval.policy_ranking import world_model_success

    actions = np.zeros((8, 4), np.float32)
    never = _env(setup, success_threshold=2.0)
    assert world_model_success(never, 0, actions[:4], seed=0)[0] is False
    always = _env(setup, success_threshold=0.0)
    success, best = world_model_success(always, 0, actions, seed=0)
    assert success is True and always._steps == 1 and 0.0 <= best <= 1.0
    with pytest.raises(ConfigError, match="multiple of the environment's chunk 2"):
        world_model_success(always, 0, actions[:3], seed=0)
