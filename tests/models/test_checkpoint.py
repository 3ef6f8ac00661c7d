"""Checkpoint folders: safetensors + JSON round trips, config mismatches named, atomic replace."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file, save_file

from worldalign.configs.presets import get_preset
from worldalign.errors import ConfigError
from worldalign.models.autoencoder import Autoencoder
from worldalign.models.checkpoint import (
    export_checkpoint,
    load_model,
    load_optimizer_state,
    load_weights,
    optimizer_state,
    read_training_state,
    write_checkpoint,
)
from worldalign.models.world_model import WorldModel
from worldalign.utils.config_serialization import config_from_dict, config_to_dict

CONFIG = get_preset("tiny").world_model.model


def test_model_round_trip(tmp_path: Path) -> None:
    torch.manual_seed(0)
    model = WorldModel(CONFIG)
    folder = write_checkpoint(tmp_path / "wm", model)
    assert sorted(p.name for p in folder.iterdir()) == ["config.json", "model.safetensors"]
    loaded = load_model(WorldModel, folder, expected_config=CONFIG)
    assert loaded.config == CONFIG
    for name, tensor in model.state_dict().items():
        assert torch.equal(tensor, loaded.state_dict()[name]), name


def test_autoencoder_statistics_are_saved(tmp_path: Path) -> None:
    model = Autoencoder(get_preset("tiny").autoencoder.model)
    model.latent_std.fill_(3.0)
    loaded = load_model(Autoencoder, write_checkpoint(tmp_path / "ae", model))
    assert torch.equal(loaded.latent_std, model.latent_std)


def test_mismatched_config_names_field_and_both_values(tmp_path: Path) -> None:
    folder = write_checkpoint(tmp_path / "wm", WorldModel(CONFIG))
    other = dataclasses.replace(CONFIG, width=64)
    with pytest.raises(ConfigError, match=r"width: expected 64, checkpoint has 48"):
        load_model(WorldModel, folder, expected_config=other)
    with pytest.raises(ConfigError, match=r"width: model has 64, checkpoint has 48"):
        load_weights(WorldModel(other), folder)


def test_weights_of_another_model_version_are_named_with_both_shapes(tmp_path: Path) -> None:
    folder = write_checkpoint(tmp_path / "wm", WorldModel(CONFIG))
    weights = dict(load_file(folder / "model.safetensors"))
    name = next(iter(weights))
    weights[name] = torch.zeros(*weights[name].shape[:-1], weights[name].shape[-1] + 1)  # same config, other code
    save_file(weights, folder / "model.safetensors")
    with pytest.raises(ConfigError, match=rf"another version of WorldModel.*{name} \("):
        load_model(WorldModel, folder)


def test_wrong_model_type_is_named(tmp_path: Path) -> None:
    folder = write_checkpoint(tmp_path / "ae", Autoencoder(get_preset("tiny").autoencoder.model))
    with pytest.raises(ConfigError, match="'frame_autoencoder' checkpoint, expected a 'latent_flow_world_model'"):
        load_model(WorldModel, folder)


def test_not_a_checkpoint_folder(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="not a checkpoint folder"):
        load_model(WorldModel, tmp_path)


def test_configs_round_trip_through_json() -> None:
    for name in ("tiny", "cpu", "gpu"):
        preset = get_preset(name)
        for config in (preset.autoencoder, preset.world_model):
            text = json.dumps(config_to_dict(config))
            assert config_from_dict(type(config), json.loads(text)) == config


def test_unknown_config_field_is_an_error() -> None:
    with pytest.raises(ConfigError, match=r"unknown WorldModelConfig field\(s\) \['widht'\]"):
        config_from_dict(type(CONFIG), {"widht": 3})


def test_optimizer_state_round_trip(tmp_path: Path) -> None:
    torch.manual_seed(0)
    model = WorldModel(CONFIG)
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3)
    for _ in range(2):
        optimizer.zero_grad()
        sum(p.square().sum() for p in model.parameters()).backward()
        optimizer.step()
    tensors, info = optimizer_state(optimizer)
    write_checkpoint(tmp_path / "ckpt", model, tensors, {"optimizer": info})
    loaded_tensors, loaded_info = read_training_state(tmp_path / "ckpt")
    fresh = torch.optim.AdamW(model.parameters(), lr=5.0)
    load_optimizer_state(fresh, loaded_tensors, loaded_info["optimizer"])
    original, restored = optimizer.state_dict(), fresh.state_dict()
    assert restored["param_groups"] == original["param_groups"]
    for index, state in original["state"].items():
        for key, value in state.items():
            assert torch.equal(torch.as_tensor(restored["state"][index][key]), torch.as_tensor(value))


def test_rewriting_a_folder_replaces_it_whole(tmp_path: Path) -> None:
    model = WorldModel(CONFIG)
    write_checkpoint(tmp_path / "ckpt", model, {"x": torch.zeros(1)}, {"step": 1})
    write_checkpoint(tmp_path / "ckpt", model)
    assert not (tmp_path / "ckpt" / "training_state.json").exists()
    assert [p.name for p in tmp_path.iterdir()] == ["ckpt"]  # no staging or retired folders left


def test_export_in_half_precision_loads_back_as_float32(tmp_path: Path) -> None:
    torch.manual_seed(0)
    model = WorldModel(CONFIG)
    source = write_checkpoint(tmp_path / "run" / "checkpoints" / "step_0000001", model, {"rng": torch.ones(3)}, {})
    shipped = export_checkpoint(source, tmp_path / "shipped", storage_dtype=torch.float16)
    assert sorted(p.name for p in shipped.iterdir()) == ["config.json", "model.safetensors"]  # no training state
    assert (shipped / "model.safetensors").stat().st_size < 0.6 * (source / "model.safetensors").stat().st_size
    loaded = load_model(WorldModel, shipped)
    for name, tensor in model.state_dict().items():
        restored = loaded.state_dict()[name]
        assert restored.dtype == torch.float32
        assert torch.equal(restored, tensor.half().float()), name
    with pytest.raises(ConfigError, match="not a checkpoint folder"):
        export_checkpoint(tmp_path / "nothing", tmp_path / "out")


def test_checkpoint_folders_get_the_permissions_of_a_plain_mkdir(tmp_path: Path) -> None:
    (tmp_path / "plain").mkdir()
    expected = (tmp_path / "plain").stat().st_mode & 0o777
    model = WorldModel(CONFIG)
    written = write_checkpoint(tmp_path / "ckpt", model, {"rng": torch.ones(3)}, {"step": 1})
    exported = export_checkpoint(written, tmp_path / "shipped")
    assert written.stat().st_mode & 0o777 == expected
    assert exported.stat().st_mode & 0o777 == expected
    # Files too (safetensors writes its files 0600, which would make checkpoints private).
    (tmp_path / "plain" / "file").write_bytes(b"")
    plain_file = (tmp_path / "plain" / "file").stat().st_mode & 0o777
    files = [*written.iterdir(), *exported.iterdir()]
    assert len(files) == 6 and {path.stat().st_mode & 0o777 for path in files} == {plain_file}
