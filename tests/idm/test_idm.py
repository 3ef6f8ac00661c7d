"""The inverse dynamics model: shapes, training run (checkpoints, exact resume, evaluation), CLI,
and the shipped checkpoint's accuracy against the mean-action baseline on unseen episodes."""

from __future__ import annotations

import argparse
import json
import shutil
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.torch import load_file

from worldalign.algos.idm import (
    _window_sampler,
    state_displacements,
    strided_windows,
    train_idm,
)
from worldalign.cli import idm as idm_commands
from worldalign.cli import rewards as reward_commands
from worldalign.cli.idm import add_train_idm_parser, parse_state_dims
from worldalign.configs.idm import IDMTrainingConfig
from worldalign.data.lerobot_reader import LeRobotDataset
from worldalign.data.stats import Normalizer
from worldalign.data.types import ClipBatch
from worldalign.envs.generate import GenerationConfig, generate_dataset
from worldalign.envs.recorder import record_episode
from worldalign.errors import ConfigError
from worldalign.models.checkpoint import write_checkpoint
from worldalign.models.idm import IDMConfig, InverseDynamicsModel
from worldalign.rewards.decode import SHIPPED_IDM, load_idm
from worldalign.rewards.episode_rollouts import episode_frames
from worldalign.runs.layout import TRAIN_CONFIG_FILE
from worldalign.runs.side_files import dataset_action_normalizer

TINY_MODEL = IDMConfig(
    views=("front",), past_frames=2, future_frames=2, image_size=32, channels=(8, 8), view_features=16, hidden=32
)


@pytest.fixture(scope="module")
def tiny_dataset(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("idm") / "data"
    config = GenerationConfig(
        tasks=("reach-v3",),
        episodes_per_task=3,
        noise=0.3,
        views=("front",),
        image_size=32,
        action_repeat=2,
        max_steps=12,
        seed=0,
    )
    generate_dataset(config, out, workers=1, progress=False)
    return out


def test_decode_video_gives_one_action_per_transition() -> None:
    model = InverseDynamicsModel(TINY_MODEL)
    video = torch.rand(2, 2, 7, 3, 32, 32) * 2 - 1
    actions = model.decode_video(video, ("wrist", "front"))  # the model picks "front" by name
    assert actions.shape == (2, 6, 4)
    # Transition 3 reads frames 1..5 (past 2, future 2) of the front view only; the last one,
    # 5 -> 6, repeats the last frame where the window runs past the video.
    front = video[:, 1]
    torch.testing.assert_close(actions[:, 3], model.predict(front[:, 1:6][:, None]))
    torch.testing.assert_close(actions[:, 5], model.predict(front[:, [3, 4, 5, 6, 6]][:, None]))
    torch.testing.assert_close(model.decode_video(video, ("wrist", "front"), first=3), actions[:, 3:])
    with pytest.raises(ConfigError, match="missing \\['front'\\]"):
        model.decode_video(video, ("wrist", "oblique"))


def test_strided_windows_skip_frames_and_sum_the_skipped_displacements() -> None:
    stride_max, clip_length = 3, (TINY_MODEL.window - 1) * 3 + 1  # 13 frames, centre frame 6
    # Every pixel of frame i holds the value i, so a window's pixels name its frames.
    frames = torch.arange(clip_length, dtype=torch.float32).view(1, 1, -1, 1, 1, 1).expand(2, 1, -1, 3, 32, 32)
    actions = torch.arange(clip_length - 1, dtype=torch.float32)[None, :, None].expand(2, -1, 4) / 10
    clip = ClipBatch(
        frames.contiguous(), actions.contiguous(), 7, ["i", "i"], ["t", "t"], torch.zeros(2), torch.zeros(2)
    )
    identity = Normalizer({"action": {"mean": np.zeros(4), "std": np.ones(4)}}, features=("action",))
    windows, target = strided_windows(clip, torch.tensor([1, 3]), TINY_MODEL, identity, stride_max)
    assert windows[:, 0, :, 0, 0, 0].tolist() == [[4, 5, 6, 7, 8], [0, 3, 6, 9, 12]]
    # xyz: a_6 (stride 1) and a_6 + a_7 + a_8 (stride 3); the gripper keeps a_6's effort.
    torch.testing.assert_close(target, torch.tensor([[0.6, 0.6, 0.6, 0.6], [2.1, 2.1, 2.1, 0.6]]))


def test_the_state_head_predicts_displacements_in_state_units() -> None:
    torch.manual_seed(0)
    model = InverseDynamicsModel(replace(TINY_MODEL, state_dims=(0, 1, 2))).eval()
    mean, std = torch.tensor([0.001, -0.002, 0.003]), torch.tensor([0.004, 0.005, 0.006])
    model.set_state_statistics(mean, std)
    windows = torch.rand(3, 1, TINY_MODEL.window, 3, 32, 32) * 2 - 1
    outputs = model(windows)
    assert outputs.shape == (3, 4 + 3)
    actions, state = model.predict_with_state(windows)
    torch.testing.assert_close(actions, model.predict(windows))
    torch.testing.assert_close(actions, outputs[:, :4] * model.action_std + model.action_mean)
    torch.testing.assert_close(state, outputs[:, 4:] * std + mean)
    torch.testing.assert_close(model.state_to_normalized(state), outputs[:, 4:])
    # One pass over a video gives both, aligned transition by transition.
    video = torch.rand(2, 1, 7, 3, 32, 32) * 2 - 1
    decoded_actions, decoded_state = model.decode_video_with_state(video, ("front",))
    assert decoded_actions.shape == (2, 6, 4) and decoded_state.shape == (2, 6, 3)
    torch.testing.assert_close(decoded_actions, model.decode_video(video, ("front",)))
    torch.testing.assert_close(decoded_state[:, 3], model.predict_with_state(video[:, :, 1:6])[1])


def test_a_checkpoint_without_state_dims_loads_and_predicts_as_before(tmp_path: Path) -> None:
    """A checkpoint written before ``state_dims`` existed (no such key in its config.json, no
    state buffers in its weights) loads into a model without a state head and predicts the same."""
    torch.manual_seed(0)
    model = InverseDynamicsModel(TINY_MODEL).eval()
    model.set_action_statistics(torch.tensor([0.1, 0.2, 0.3, 0.4]), torch.tensor([0.5, 0.6, 0.7, 0.8]))
    write_checkpoint(tmp_path / "old", model)
    config_path = tmp_path / "old" / "config.json"
    stored = json.loads(config_path.read_text())
    assert stored["config"].pop("state_dims") == []
    config_path.write_text(json.dumps(stored))
    assert not any(name.startswith("state_") for name in load_file(tmp_path / "old" / "model.safetensors"))
    loaded = load_idm(tmp_path / "old")
    assert loaded.config == TINY_MODEL and not loaded.has_state_head
    windows = torch.rand(3, 1, TINY_MODEL.window, 3, 32, 32) * 2 - 1
    torch.testing.assert_close(loaded.predict(windows), model.predict(windows), rtol=0, atol=0)
    assert loaded.predict_with_state(windows)[1].shape == (3, 0)
    with pytest.raises(ConfigError, match="no state head"):
        loaded.set_state_statistics(torch.zeros(3), torch.ones(3))


def test_state_targets_are_the_state_displacement_over_each_windows_stride(tiny_dataset: Path) -> None:
    dataset = LeRobotDataset(tiny_dataset)
    config = replace(TINY_MODEL, state_dims=(0, 2))
    sampler = _window_sampler(dataset, config, dataset_action_normalizer(dataset), 4, [0, 2], seed=0, max_stride=2)
    clip = sampler.sample(np.random.default_rng(1))
    strides = torch.tensor([1, 2, 1, 2])
    targets = state_displacements(sampler.cache, clip, strides, config, max_stride=2)
    assert targets.shape == (4, 2)
    for row in range(4):
        state = dataset.episode(int(clip.episode_index[row])).state
        centre = int(clip.start_frame[row]) + config.past_frames * 2
        expected = state[centre + int(strides[row]), [0, 2]] - state[centre, [0, 2]]
        np.testing.assert_allclose(targets[row].numpy(), expected, rtol=0, atol=1e-7)
    assert targets.abs().sum() > 0  # the hand moves in these episodes


def test_state_dims_outside_the_datasets_state_are_a_clear_error(tiny_dataset: Path, tmp_path: Path) -> None:
    config = IDMTrainingConfig(model=replace(TINY_MODEL, state_dims=(0, 4)), steps=1, batch_size=4)
    with pytest.raises(ConfigError, match=r"state_dims=\(0, 4\).*observation.state has 4 dimension\(s\).*0..3"):
        train_idm(tiny_dataset, tmp_path / "bad", config, progress=False, device="cpu")
    with pytest.raises(ConfigError, match="state_dims"):
        IDMConfig(state_dims=(1, 1))
    with pytest.raises(ConfigError, match="--state-dims 'x'"):
        parse_state_dims("x")
    assert parse_state_dims("none") == () and parse_state_dims("0, 1,2") == (0, 1, 2)


def test_config_errors_name_the_field() -> None:
    with pytest.raises(ConfigError, match="divisible"):
        IDMConfig(image_size=40, channels=(8, 8, 8, 8))
    with pytest.raises(ConfigError, match="future_frames"):
        IDMConfig(future_frames=0)


def test_training_writes_checkpoints_evaluates_and_resumes_exactly(tiny_dataset: Path, tmp_path: Path) -> None:
    config = IDMTrainingConfig(
        model=TINY_MODEL, steps=4, batch_size=8, checkpoint_every=2, held_out_fraction=0.3, max_frame_stride=2
    )
    run_a, run_b = tmp_path / "a", tmp_path / "b"
    train_idm(tiny_dataset, run_a, config, progress=False, device="cpu")
    train_idm(tiny_dataset, run_b, config, progress=False, device="cpu")
    # Pretend run b was killed after step 2: only the step-2 checkpoint survives.
    shutil.rmtree(run_b / "checkpoints" / "step_0000004")
    shutil.rmtree(run_b / "model")
    train_idm(tiny_dataset, run_b, config, progress=False, device="cpu")
    weights_a, weights_b = (
        load_file(run_a / "model" / "model.safetensors"),
        load_file(run_b / "model" / "model.safetensors"),
    )
    assert weights_a.keys() == weights_b.keys()
    for name in weights_a:
        torch.testing.assert_close(weights_a[name], weights_b[name], rtol=0, atol=0)
    results = json.loads((run_a / "eval.json").read_text())
    assert len(results["mae"]) == len(results["baseline_mae"]) == 4
    assert results["episodes"] == [2] and results["windows"] > 0
    assert 0.0 <= results["gripper_accuracy"] <= 1.0
    assert (run_a / "tensorboard").is_dir() and json.loads((run_a / TRAIN_CONFIG_FILE).read_text())["steps"] == 4
    # The final model carries its action statistics: predict() is in action units.
    model = load_idm(run_a / "model")
    assert not torch.allclose(model.action_std, torch.ones(4))


def test_training_with_state_dims_learns_and_evaluates_the_state_displacement(
    tiny_dataset: Path, tmp_path: Path
) -> None:
    model_config = replace(TINY_MODEL, state_dims=(0, 1, 2))
    config = IDMTrainingConfig(model=model_config, steps=3, batch_size=8, held_out_fraction=0.3, max_frame_stride=2)
    train_idm(tiny_dataset, tmp_path / "run", config, progress=False, device="cpu")
    results = json.loads((tmp_path / "run" / "eval.json").read_text())
    assert results["state_dims"] == [0, 1, 2]
    assert len(results["state_mae"]) == len(results["baseline_state_mae"]) == 3
    assert all(0 < base < 0.1 for base in results["baseline_state_mae"])  # metres per step
    model = load_idm(tmp_path / "run" / "model")
    assert model.config.state_dims == (0, 1, 2)
    # The stored statistics are those of the training episodes' one-step hand displacements.
    dataset = LeRobotDataset(tiny_dataset)
    steps = np.concatenate([np.diff(dataset.episode(e).state[:, :3], axis=0) for e in (0, 1)])
    np.testing.assert_allclose(model.state_mean.numpy(), steps.mean(0), atol=1e-6)
    np.testing.assert_allclose(model.state_std.numpy(), steps.std(0, ddof=1), rtol=1e-4)


def test_training_a_state_head_on_a_frozen_idm_keeps_its_actions_exactly(tiny_dataset: Path, tmp_path: Path) -> None:
    base = IDMTrainingConfig(model=TINY_MODEL, steps=2, batch_size=8, held_out_fraction=0.3, max_frame_stride=2)
    train_idm(tiny_dataset, tmp_path / "actions", base, progress=False, device="cpu")
    with_state = replace(
        base, model=replace(TINY_MODEL, state_dims=(0, 1, 2)), steps=3, init_from=str(tmp_path / "actions" / "model")
    )
    train_idm(tiny_dataset, tmp_path / "state", with_state, progress=False, device="cpu")
    frozen, trained = load_file(tmp_path / "actions" / "model" / "model.safetensors"), load_file(
        tmp_path / "state" / "model" / "model.safetensors"
    )
    for name, tensor in frozen.items():
        torch.testing.assert_close(trained[name], tensor, rtol=0, atol=0)
    windows = torch.rand(2, 1, TINY_MODEL.window, 3, 32, 32) * 2 - 1
    actions_only, state_model = load_idm(tmp_path / "actions" / "model"), load_idm(tmp_path / "state" / "model")
    torch.testing.assert_close(state_model.predict(windows), actions_only.predict(windows), rtol=0, atol=0)
    # The state head did train: it no longer predicts what a fresh one with the same seed would.
    torch.manual_seed(0)
    fresh = InverseDynamicsModel(state_model.config)
    assert not torch.equal(fresh.state_head[-1].weight, state_model.state_head[-1].weight)
    wider = replace(with_state, model=replace(with_state.model, hidden=64))
    with pytest.raises(ConfigError, match="expected an action-only IDM shaped like"):
        train_idm(tiny_dataset, tmp_path / "bad", wider, progress=False, device="cpu")


def test_training_on_several_datasets_shares_batches_and_evaluates_each(tiny_dataset: Path, tmp_path: Path) -> None:
    config = IDMTrainingConfig(model=TINY_MODEL, steps=2, batch_size=5, held_out_fraction=0.3, max_frame_stride=2)
    _, evaluations = train_idm([tiny_dataset, tiny_dataset], tmp_path / "run", config, progress=False, device="cpu")
    results = json.loads((tmp_path / "run" / "eval.json").read_text())
    # The first dataset's evaluation at the top level (as for one dataset), the others after it.
    assert results["dataset"] == str(tiny_dataset) and results["episodes"] == [2]
    assert [other["dataset"] for other in results["other_datasets"]] == [str(tiny_dataset)]
    assert len(evaluations) == 2 and evaluations[0] == evaluations[1]  # same model, same held-out episodes
    with pytest.raises(ConfigError, match="batch_size=2"):
        train_idm([tiny_dataset] * 3, tmp_path / "bad", replace(config, batch_size=2), progress=False, device="cpu")


def test_cli_parses_train_idm_and_the_reward_verbs(tmp_path: Path) -> None:
    parser = argparse.ArgumentParser(prog="worldalign")
    verbs = parser.add_subparsers(dest="verb", required=True)
    idm_commands.register(verbs)
    reward_commands.register(verbs)
    train = verbs.add_parser("train").add_subparsers(dest="train_verb", required=True)
    add_train_idm_parser(train)
    args = parser.parse_args(
        ["train", "idm", "--dataset", "d", "--out", str(tmp_path), "--views", "front,wrist", "--steps", "7"]
    )
    assert args.views == "front,wrist" and args.steps == 7 and callable(args.handler)
    assert args.state_dims == "none"  # actions only unless asked: the head is trained beside a frozen IDM
    assert args.dataset == [Path("d")]
    args = parser.parse_args(["train", "idm", "--dataset", "d1", "d2", "--out", str(tmp_path)])
    assert args.dataset == [Path("d1"), Path("d2")]
    args = parser.parse_args(["reward", "score", "d", "--rewards", "executability=1.0,execution=0.5"])
    assert args.rewards == "executability=1.0,execution=0.5"
    assert callable(parser.parse_args(["execute", "d"]).handler)
    assert callable(parser.parse_args(["idm", "evaluate", "ckpt", "--dataset", "d"]).handler)


def test_shipped_idm_beats_the_mean_action_on_unseen_episodes() -> None:
    """Episodes recorded here with seeds the training datasets never used, as in training
    (easy tasks, action noise 0.2, one of its four noise levels): the IDM's mean absolute error
    on the hand displacement must be well under the mean-action baseline's, and its gripper
    sign accuracy at least as good."""
    model = load_idm(SHIPPED_IDM)
    errors, baseline_errors, gripper_right, baseline_right = [], [], [], []
    for index, task in enumerate(("reach-v3", "drawer-close-v3")):
        episode = record_episode(task, seed=2000 + index, noise=0.2, views=model.config.views, max_steps=40)
        decoded = model.decode_video(episode_frames(episode)[None], episode.views)[0].numpy()  # (T-1, A)
        truth = episode.actions[:-1]
        baseline = model.action_mean.numpy()
        errors.append(np.abs(decoded - truth))
        baseline_errors.append(np.abs(baseline - truth))
        gripper_right.append(np.sign(decoded[:, 3]) == np.sign(truth[:, 3]))
        baseline_right.append(np.sign(baseline[3]) == np.sign(truth[:, 3]))
    mae, baseline_mae = np.concatenate(errors).mean(0), np.concatenate(baseline_errors).mean(0)
    assert mae[:3].mean() < 0.6 * baseline_mae[:3].mean(), (mae, baseline_mae)
    assert np.concatenate(gripper_right).mean() >= np.concatenate(baseline_right).mean()
