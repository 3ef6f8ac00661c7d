"""Pretraining loops on the tiny preset: artifacts, previews, bad input, and exact resume."""

from __future__ import annotations

import dataclasses
import itertools
from pathlib import Path

import pytest
import torch
from pretrain_data import KilledAfter, SyntheticClips, SyntheticFrames, hashed_instruction_embeddings

from worldalign.algos.pretrain import noise_context, sample_context_length, train_autoencoder, train_world_model
from worldalign.algos.training_run import ema_decay_at, learning_rate
from worldalign.configs.presets import get_preset
from worldalign.configs.pretrain import OptimizerConfig
from worldalign.errors import ConfigError
from worldalign.models.autoencoder import Autoencoder
from worldalign.models.autoencoder.configuration_autoencoder import AutoencoderConfig
from worldalign.models.checkpoint import load_model
from worldalign.models.world_model import WorldModel

PRESET = get_preset("tiny")


@pytest.fixture(scope="module")
def autoencoder() -> Autoencoder:
    torch.manual_seed(0)
    model = Autoencoder(PRESET.autoencoder.model)
    model.calibrate([next(iter(SyntheticFrames(batch=32)))])
    return model


def test_autoencoder_training_writes_a_loadable_model(tmp_path: Path) -> None:
    previews: list[tuple[int, torch.Size, torch.Size]] = []
    config = dataclasses.replace(PRESET.autoencoder, run=dataclasses.replace(PRESET.autoencoder.run, preview_every=4))
    result = train_autoencoder(
        config,
        SyntheticFrames(),
        tmp_path,
        progress=False,
        preview=lambda step, real, recon: previews.append((step, real.shape, recon.shape)),
    )
    assert result.step == 8 and len(result.losses) == 8 and result.resumed_from == 0
    model = load_model(Autoencoder, result.model_dir, expected_config=PRESET.autoencoder.model)
    assert not torch.equal(model.latent_std, torch.ones_like(model.latent_std))  # calibrated
    assert previews == [(4, (8, 3, 16, 16), (8, 3, 16, 16)), (8, (8, 3, 16, 16), (8, 3, 16, 16))]
    files = {p.name for p in tmp_path.rglob("*") if p.is_file()}
    assert {"model.safetensors", "config.json", "training_state.safetensors", "training_state.json"} <= files
    assert "train_config.json" in files
    assert any(name.startswith("events.out.tfevents") for name in files)
    assert not [name for name in files if name.endswith((".pt", ".pth", ".pkl", ".bin"))]


def test_world_model_training_with_previews(tmp_path: Path, autoencoder: Autoencoder) -> None:
    config = PRESET.world_model
    config = dataclasses.replace(config, run=dataclasses.replace(config.run, preview_every=8))
    previews = []
    result = train_world_model(
        config,
        SyntheticClips(),
        autoencoder,
        tmp_path,
        instruction_encoder=hashed_instruction_embeddings,
        preview=lambda step, real, generated: previews.append((step, real.shape, generated.shape)),
        progress=False,
    )
    assert result.step == 8 and all(torch.isfinite(torch.tensor(result.losses)))
    load_model(WorldModel, result.model_dir, expected_config=config.model)
    assert previews == [(8, (4, 1, 6, 3, 16, 16), (4, 1, 6, 3, 16, 16))]
    kept = sorted(p.name for p in (tmp_path / "checkpoints").iterdir())
    assert kept == ["step_0000004", "step_0000008"]


@pytest.mark.parametrize(("bf16", "ema_decay"), [(False, 0.0), (True, 0.0), (False, 0.9)])
def test_world_model_training_resumes_exactly_after_a_kill(
    tmp_path: Path, autoencoder: Autoencoder, bf16: bool, ema_decay: float
) -> None:
    config = PRESET.world_model  # 8 steps, a checkpoint every 4
    config = dataclasses.replace(config, run=dataclasses.replace(config.run, bf16=bf16, ema_decay=ema_decay))
    kwargs = {"instruction_encoder": hashed_instruction_embeddings, "progress": False}
    reference = train_world_model(config, SyntheticClips(), autoencoder, tmp_path / "reference", **kwargs)

    with pytest.raises(KeyboardInterrupt):
        train_world_model(config, KilledAfter(SyntheticClips(), batches=6), autoencoder, tmp_path / "killed", **kwargs)
    resumed = train_world_model(config, SyntheticClips(), autoencoder, tmp_path / "killed", **kwargs)

    assert resumed.resumed_from == 4
    assert resumed.losses == reference.losses[4:]  # bit-identical on the CPU
    final = load_model(WorldModel, resumed.model_dir).state_dict()
    for name, tensor in load_model(WorldModel, reference.model_dir).state_dict().items():
        assert torch.equal(final[name], tensor), name


def test_autoencoder_training_resumes_exactly_after_a_kill(tmp_path: Path) -> None:
    config = PRESET.autoencoder
    reference = train_autoencoder(config, SyntheticFrames(), tmp_path / "reference", progress=False)
    with pytest.raises(KeyboardInterrupt):
        train_autoencoder(config, KilledAfter(SyntheticFrames(), batches=5), tmp_path / "killed", progress=False)
    resumed = train_autoencoder(config, SyntheticFrames(), tmp_path / "killed", progress=False)
    assert resumed.resumed_from == 4
    assert resumed.losses == reference.losses[4:]


def test_world_model_learns_a_predictable_world(tmp_path: Path, autoencoder: Autoencoder) -> None:
    config = dataclasses.replace(
        PRESET.world_model,
        model=dataclasses.replace(PRESET.world_model.model, instruction_dim=0),
        steps=60,
        optimizer=OptimizerConfig(learning_rate=3e-3, warmup_steps=5),
        time_sampling="uniform",
        run=dataclasses.replace(PRESET.world_model.run, checkpoint_every=60, log_every=60),
    )
    losses = train_world_model(config, SyntheticClips(batch=16), autoencoder, tmp_path, progress=False).losses
    assert sum(losses[-10:]) / 10 < 0.7 * sum(losses[:10]) / 10


def test_mismatched_data_and_models_are_named(tmp_path: Path, autoencoder: Autoencoder) -> None:
    config = PRESET.world_model
    kwargs = {"instruction_encoder": hashed_instruction_embeddings, "progress": False}
    with pytest.raises(ConfigError, match="2 views, the world model was configured for num_views=1"):
        train_world_model(config, SyntheticClips(views=2), autoencoder, tmp_path / "a", **kwargs)
    with pytest.raises(ConfigError, match=r"3 future frames.*future_frames=2"):
        train_world_model(config, SyntheticClips(future=3), autoencoder, tmp_path / "b", **kwargs)
    other = Autoencoder(AutoencoderConfig(image_size=16, latent_channels=8, channels=(8, 8, 16), norm_groups=4))
    with pytest.raises(ConfigError, match=r"\(8, 2, 2\).*\(4, 2, 2\)"):
        train_world_model(config, SyntheticClips(), other, tmp_path / "c", **kwargs)
    with pytest.raises(ConfigError, match="pass an instruction_encoder"):
        train_world_model(config, SyntheticClips(), autoencoder, tmp_path / "d", progress=False)


def test_resuming_with_another_architecture_is_refused(tmp_path: Path, autoencoder: Autoencoder) -> None:
    config = PRESET.world_model
    kwargs = {"instruction_encoder": hashed_instruction_embeddings, "progress": False}
    train_world_model(config, SyntheticClips(), autoencoder, tmp_path, **kwargs)
    wider = dataclasses.replace(config, model=dataclasses.replace(config.model, width=64), steps=12)
    with pytest.raises(ConfigError, match="width: model has 64, checkpoint has 48"):
        train_world_model(wider, SyntheticClips(), autoencoder, tmp_path, **kwargs)


def test_lr_schedule_warms_up_then_decays_to_the_minimum() -> None:
    config = OptimizerConfig(learning_rate=1.0, warmup_steps=10, min_lr_ratio=0.1)
    assert learning_rate(0, 100, config) == pytest.approx(0.1)
    assert learning_rate(9, 100, config) == pytest.approx(1.0)
    assert learning_rate(100, 100, config) == pytest.approx(0.1)
    values = [learning_rate(step, 100, config) for step in range(10, 101)]
    assert all(a >= b for a, b in itertools.pairwise(values))


def test_context_lengths_cover_the_range_and_favour_short_ones() -> None:
    config = get_preset("cpu").world_model
    generator = torch.Generator().manual_seed(0)
    lengths = [sample_context_length(config, 16, generator) for _ in range(4000)]
    assert min(lengths) == 1 and max(lengths) == 16
    assert lengths.count(1) > 3 * lengths.count(16)
    assert {sample_context_length(config, 3, generator) for _ in range(200)} == {1, 2, 3}


def test_the_final_model_is_the_weight_average_when_asked(tmp_path: Path, autoencoder: Autoencoder) -> None:
    config = PRESET.world_model
    averaged = dataclasses.replace(config, run=dataclasses.replace(config.run, ema_decay=0.5))
    kwargs = {"instruction_encoder": hashed_instruction_embeddings, "progress": False}
    plain = train_world_model(config, SyntheticClips(), autoencoder, tmp_path / "plain", **kwargs)
    ema = train_world_model(averaged, SyntheticClips(), autoencoder, tmp_path / "ema", **kwargs)
    assert ema.losses == plain.losses  # the average never feeds back into training
    trained = load_model(WorldModel, plain.model_dir).state_dict()
    average = load_model(WorldModel, ema.model_dir).state_dict()
    assert any(not torch.equal(average[name], trained[name]) for name in trained)
    assert ema_decay_at(0, 0.999) == 0.1 and ema_decay_at(10_000, 0.999) == 0.999


def test_context_noise_moves_each_clip_toward_noise_to_its_level_and_changes_training(
    tmp_path: Path, autoencoder: Autoencoder
) -> None:
    context = torch.ones(64, 2, 3, 4, 8, 8)
    noisy, times = noise_context(context, 0.5, torch.Generator().manual_seed(0))
    assert times.shape == (64,) and 0 <= times.min() < 0.05 and 0.45 < times.max() <= 0.5
    # On the rectified-flow path x_s = (1 - s) x + s eps: the mean shrinks by 1 - s, the std is s.
    per_clip = noisy.flatten(1)
    torch.testing.assert_close(per_clip.mean(dim=1), 1 - times, atol=0.05, rtol=0)
    torch.testing.assert_close(per_clip.std(dim=1), times, atol=0.03, rtol=0)
    clean, zero = noise_context(context, 0.0, torch.Generator().manual_seed(0))
    assert torch.equal(clean, context) and torch.equal(zero, torch.zeros(64))
    for bad in (-0.1, 1.0):
        with pytest.raises(ConfigError, match="context_noise"):
            dataclasses.replace(PRESET.world_model, context_noise=bad)

    kwargs = {"instruction_encoder": hashed_instruction_embeddings, "progress": False}
    clean = train_world_model(PRESET.world_model, SyntheticClips(), autoencoder, tmp_path / "clean", **kwargs)
    noised = dataclasses.replace(PRESET.world_model, context_noise=0.5)
    augmented = train_world_model(noised, SyntheticClips(), autoencoder, tmp_path / "noised", **kwargs)
    assert augmented.losses[0] != clean.losses[0]
