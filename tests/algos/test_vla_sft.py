"""VLA supervised fine-tuning on the tiny backbone: samples, the loss falling on a tiny overfit,
exact resume, and bad input (a tokenizer of another dataset, NaN actions, a NaN loss)."""

from __future__ import annotations

import dataclasses
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from moving_squares import moving_square_episode
from vla_fixtures import AUTOENCODER, HORIZON, STEPS, vla_dataset_and_tokenizer

from worldalign.algos.vla_sft import (
    build_sft_samples,
    load_sft_tokenizer,
    train_vla_sft,
    vla_sft_config,
)
from worldalign.configs.pretrain import OptimizerConfig, RunConfig
from worldalign.configs.vla_sft import VLASFTConfig
from worldalign.data.fast_tokenizer import FastActionTokenizer
from worldalign.data.lerobot_reader import LeRobotDataset
from worldalign.data.lerobot_writer import LeRobotWriter
from worldalign.errors import ConfigError, TrainingError
from worldalign.models.checkpoint import MODEL_FILE
from worldalign.models.vla import VLAConfig
from worldalign.runs.layout import CHECKPOINTS_DIR, run_tokenizer_folder
from worldalign.stages.vla_tokenizer import fit_action_tokenizer

SMALL = VLAConfig(flow_hidden=64, flow_layers=2, flow_steps=4)


@pytest.fixture(scope="module")
def prepared(tmp_path_factory: pytest.TempPathFactory) -> tuple[LeRobotDataset, FastActionTokenizer]:
    dataset, fast = vla_dataset_and_tokenizer(tmp_path_factory.mktemp("vla-sft"))
    data = LeRobotDataset(dataset)
    return data, load_sft_tokenizer(fast, data)


def _config(data: LeRobotDataset, tokenizer: FastActionTokenizer, steps: int, **run: int) -> VLASFTConfig:
    base = VLASFTConfig(
        model=SMALL,
        steps=steps,
        batch_size=4,
        optimizer=OptimizerConfig(learning_rate=2e-3, warmup_steps=2),
        release_keep=1.0,
        run=RunConfig(log_every=1, **run),
    )
    return vla_sft_config(base, data, tokenizer)


def test_samples_carry_reasoning_fast_ids_and_the_chunk(prepared: tuple[LeRobotDataset, FastActionTokenizer]) -> None:
    data, tokenizer = prepared
    chosen = build_sft_samples(data, tokenizer, SMALL.views, release_keep=1.0, seed=0)
    assert len(chosen.samples) == 2 * (STEPS - HORIZON + 1) == sum(chosen.available.values())
    sample = chosen.samples[0]
    assert sample.frames.shape == (3, 64, 64, 3) and sample.state.shape == (4,)
    assert sample.reasoning.startswith("phase: ") and "next:" in sample.reasoning
    np.testing.assert_allclose(tokenizer.decode(sample.fast_ids), sample.actions, atol=0.5 / tokenizer.scale * 2)
    fewer = build_sft_samples(data, tokenizer, SMALL.views, release_keep=0.01, seed=0)
    assert fewer.kept()["release"] <= chosen.kept()["release"]
    assert {p: n for p, n in fewer.kept().items() if p != "release"} == {
        p: n for p, n in chosen.kept().items() if p != "release"
    }


def test_sft_loss_falls_on_a_tiny_overfit(prepared: tuple[LeRobotDataset, FastActionTokenizer], tmp_path: Path) -> None:
    data, tokenizer = prepared
    samples = build_sft_samples(data, tokenizer, SMALL.views, 1.0, 0).samples[:4]
    result = train_vla_sft(_config(data, tokenizer, 40), samples, tokenizer, AUTOENCODER, tmp_path, progress=False)
    assert np.mean(result.losses[-5:]) < 0.5 * np.mean(result.losses[:3])
    assert (result.model_dir / MODEL_FILE).is_file()
    assert FastActionTokenizer.load(run_tokenizer_folder(tmp_path)).config == tokenizer.config
    assert any((tmp_path / "tensorboard").iterdir())


def test_resume_after_a_kill_gives_identical_weights(
    prepared: tuple[LeRobotDataset, FastActionTokenizer], tmp_path: Path
) -> None:
    data, tokenizer = prepared
    samples = build_sft_samples(data, tokenizer, SMALL.views, 1.0, 0).samples
    config = _config(data, tokenizer, 6, checkpoint_every=3)
    straight = train_vla_sft(config, samples, tokenizer, AUTOENCODER, tmp_path / "a", progress=False)
    train_vla_sft(config, samples, tokenizer, AUTOENCODER, tmp_path / "b", progress=False)
    # A kill after the step-3 checkpoint: the later checkpoint and the final model never existed.
    shutil.rmtree(tmp_path / "b" / CHECKPOINTS_DIR / "step_0000006")
    shutil.rmtree(tmp_path / "b" / "model")
    resumed = train_vla_sft(config, samples, tokenizer, AUTOENCODER, tmp_path / "b", progress=False)
    assert resumed.resumed_from == 3 and len(resumed.losses) == 3
    assert resumed.losses == straight.losses[3:]
    from safetensors.torch import load_file

    a, b = load_file(straight.model_dir / MODEL_FILE), load_file(resumed.model_dir / MODEL_FILE)
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def test_a_tokenizer_of_another_action_dimension_names_its_file(
    prepared: tuple[LeRobotDataset, FastActionTokenizer], tmp_path: Path
) -> None:
    episodes = [moving_square_episode(seed) for seed in range(2)]
    with LeRobotWriter(tmp_path / "d2", fps=10, views=("front",), image_size=(16, 16), action_dim=2, state_dim=5) as w:
        for episode in episodes:
            w.add_episode(dataclasses.replace(episode, actions=episode.actions[:, :2].copy()))
    fit_action_tokenizer(LeRobotDataset(tmp_path / "d2"), tmp_path / "fast2", horizon=HORIZON, vocab_size=64)
    with pytest.raises(ConfigError, match=r"fast2/fast_config.json: action_dim is 2, .* has 4 action dimensions"):
        load_sft_tokenizer(tmp_path / "fast2", prepared[0])


def test_a_nan_loss_stops_the_run_and_saves_nothing(
    prepared: tuple[LeRobotDataset, FastActionTokenizer], tmp_path: Path
) -> None:
    data, tokenizer = prepared
    samples = build_sft_samples(data, tokenizer, SMALL.views, 1.0, 0).samples[:4]
    samples = [dataclasses.replace(s, actions=np.full_like(s.actions, np.nan)) for s in samples]
    with pytest.raises(TrainingError, match=r"step 1 of 2: non-finite .*flow_loss = nan"):
        train_vla_sft(_config(data, tokenizer, 2), samples, tokenizer, AUTOENCODER, tmp_path, progress=False)
    assert not (tmp_path / CHECKPOINTS_DIR).exists() and not (tmp_path / "model").exists()
