"""Checkpoints as folders: ``model.safetensors`` + ``config.json`` (+ training state). Never pickle.

A folder holds one model:

- ``model.safetensors``: the ``state_dict`` (weights and buffers);
- ``config.json``: ``{"model_type": ..., "config": {...}}``, the model's frozen dataclass config;
- ``assets/`` when the model has files besides its weights that rebuild it without its original
  source (``write_assets(folder)``; the VLA policy's language-model config and tokenizer);
- for a training checkpoint, ``training_state.safetensors`` (optimizer moments, RNG states:
  every tensor) and ``training_state.json`` (step, optimizer hyper-parameters, data-sampler
  state: everything else), enough to resume bit-exactly on the CPU.

Folders are written beside their final name and renamed into place, so a killed run leaves
either the previous checkpoint or the new one, never half of one. A model whose weights (or
training state) hold a NaN or an infinity is never written (``TrainingError``), and a file that
cannot be read back (truncated, corrupt, not finite) is a ``CheckpointError`` naming it.
"""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
import tempfile
import typing
from collections.abc import Collection
from pathlib import Path
from typing import Any, Protocol, TypeVar

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file
from torch import Tensor, nn

from worldalign.errors import CheckpointError, ConfigError, TrainingError
from worldalign.utils.atomic import make_folder, plain_mode
from worldalign.utils.config_serialization import config_differences, config_from_dict, config_to_dict
from worldalign.utils.json_values import strict_dumps

MODEL_FILE = "model.safetensors"
CONFIG_FILE = "config.json"
STATE_TENSORS_FILE = "training_state.safetensors"
STATE_JSON_FILE = "training_state.json"
ASSETS_DIR = "assets"


class ConfiguredModel(Protocol):
    """What a checkpointable model has: a frozen dataclass ``config`` and a ``model_type`` name."""

    config: Any
    model_type: str

    def state_dict(self) -> dict[str, Tensor]: ...

    def load_state_dict(self, state_dict: dict[str, Tensor], strict: bool = True) -> Any: ...


ModelT = TypeVar("ModelT", bound=nn.Module)


def _tensors_for_file(tensors: dict[str, Tensor]) -> dict[str, Tensor]:
    """Detached, contiguous CPU copies (safetensors refuses shared or strided storage)."""
    return {name: tensor.detach().to("cpu").contiguous().clone() for name, tensor in tensors.items()}


def nonfinite_tensors(tensors: dict[str, Tensor]) -> list[str]:
    """Names of the floating-point tensors of ``tensors`` holding a NaN or an infinity."""
    return [name for name, t in tensors.items() if t.is_floating_point() and not bool(torch.isfinite(t).all())]


def _refuse_nonfinite(tensors: dict[str, Tensor], destination: Path, what: str) -> None:
    """A ``TrainingError`` before anything is written when ``tensors`` are not all finite."""
    bad = nonfinite_tensors(tensors)
    if bad:
        raise TrainingError(
            f"not writing {destination}: {len(bad)} tensor(s) of the {what} hold NaN or infinite values "
            f"({', '.join(bad[:5])}); the previous checkpoints are kept"
        )


def read_safetensors(path: Path, device: str = "cpu") -> dict[str, Tensor]:
    """The tensors of a safetensors file; a ``CheckpointError`` naming it when it is missing,
    truncated or corrupt."""
    if not path.is_file():
        raise CheckpointError(f"{path}: not found; expected a safetensors file of weights")
    try:
        return load_file(path, device=device)
    except (SafetensorError, OSError, ValueError, RuntimeError) as error:
        raise CheckpointError(f"{path}: cannot read the safetensors file (truncated or corrupt): {error}") from None


def read_json_object(path: Path) -> dict[str, Any]:
    """A JSON object file of a checkpoint; a ``CheckpointError`` naming it when it is missing,
    truncated, corrupt or not an object."""
    if not path.is_file():
        raise CheckpointError(f"{path}: not found")
    try:
        stored = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise CheckpointError(f"{path}: not valid JSON (truncated or corrupt): {error}") from None
    if not isinstance(stored, dict):
        raise CheckpointError(f"{path}: expected a JSON object, got {type(stored).__name__}")
    return stored


def _staging_folder(destination: Path) -> Path:
    """A fresh hidden folder beside ``destination`` to build it in, with the permissions a plain
    ``mkdir`` would give (``mkdtemp`` makes it 0700, which would make every checkpoint private)."""
    staging = Path(tempfile.mkdtemp(prefix=f".{destination.name}.", suffix=".tmp", dir=destination.parent))
    staging.chmod(plain_mode(directory=True))
    return staging


def _publish(staging: Path) -> None:
    """Give the files and folders built in ``staging`` the permissions of plainly written ones
    (safetensors writes them 0600)."""
    for path in staging.rglob("*"):
        path.chmod(plain_mode(directory=path.is_dir()))


def write_checkpoint(
    folder: str | os.PathLike[str],
    model: ConfiguredModel,
    state_tensors: dict[str, Tensor] | None = None,
    state_info: dict[str, Any] | None = None,
) -> Path:
    """Write ``model`` (and optionally a training state) as the checkpoint folder ``folder``.

    An existing folder of that name is replaced only once the new one is complete.
    """
    folder = Path(folder)
    weights = _tensors_for_file(model.state_dict())
    _refuse_nonfinite(weights, folder, f"model's weights ({model.model_type})")
    state = _tensors_for_file(state_tensors) if state_tensors is not None else None
    if state is not None:
        _refuse_nonfinite(state, folder, "training state")
    make_folder(folder.parent)
    for stale in folder.parent.glob(f".{folder.name}.*.tmp"):  # left by a run killed mid-write
        shutil.rmtree(stale, ignore_errors=True)
    staging = _staging_folder(folder)
    try:
        save_file(weights, staging / MODEL_FILE)
        config = {"model_type": model.model_type, "config": config_to_dict(model.config)}
        (staging / CONFIG_FILE).write_text(strict_dumps(config, where=str(folder / CONFIG_FILE), indent=2) + "\n")
        write_assets = getattr(model, "write_assets", None)
        if write_assets is not None:
            write_assets(staging / ASSETS_DIR)
        if state is not None:
            save_file(state, staging / STATE_TENSORS_FILE)
        if state_info is not None:
            text = strict_dumps(state_info, where=str(folder / STATE_JSON_FILE), indent=2)
            (staging / STATE_JSON_FILE).write_text(text + "\n")
        _publish(staging)
        if folder.exists():
            retired = folder.with_name(f".{folder.name}.old")
            shutil.rmtree(retired, ignore_errors=True)
            os.replace(folder, retired)
            os.replace(staging, folder)
            shutil.rmtree(retired, ignore_errors=True)
        else:
            os.replace(staging, folder)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return folder


def export_checkpoint(
    source: str | os.PathLike[str],
    destination: str | os.PathLike[str],
    storage_dtype: torch.dtype | None = None,
    weights: dict[str, Tensor] | None = None,
) -> Path:
    """Copy the model of checkpoint folder ``source`` (weights, config and assets, no training state) to
    ``destination``, its floating-point tensors stored as ``storage_dtype`` when given (e.g.
    ``torch.float16`` halves a checkpoint shipped in a repository; loading casts back to the
    model's dtype). ``weights`` replaces ``source``'s own (e.g. its weight EMA); it must have the
    same names and shapes. The folder appears complete or not at all."""
    source, destination = Path(source), Path(destination)
    if not (source / MODEL_FILE).is_file() or not (source / CONFIG_FILE).is_file():
        raise ConfigError(f"{source} is not a checkpoint folder ({MODEL_FILE} + {CONFIG_FILE})")
    stored = read_safetensors(source / MODEL_FILE)
    if weights is None:
        weights = stored
    elif {n: t.shape for n, t in weights.items()} != {n: t.shape for n, t in stored.items()}:
        missing, unexpected = _key_mismatch(stored, weights)
        raise ConfigError(
            f"the weights given to export {source} do not match its {MODEL_FILE}: missing {missing[:5]}, "
            f"unexpected {unexpected[:5]} (or the same names with other shapes)"
        )
    if storage_dtype is not None:
        weights = {name: t.to(storage_dtype) if t.is_floating_point() else t for name, t in weights.items()}
    _refuse_nonfinite(weights, destination, f"exported model of {source}")
    make_folder(destination.parent)
    staging = _staging_folder(destination)
    try:
        save_file(weights, staging / MODEL_FILE)
        shutil.copyfile(source / CONFIG_FILE, staging / CONFIG_FILE)
        if (source / ASSETS_DIR).is_dir():
            shutil.copytree(source / ASSETS_DIR, staging / ASSETS_DIR)
        _publish(staging)
        shutil.rmtree(destination, ignore_errors=True)
        os.replace(staging, destination)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return destination


def read_config(folder: str | os.PathLike[str], config_cls: type, model_type: str) -> Any:
    """The config stored in ``folder/config.json``, checked to be a ``model_type`` checkpoint."""
    path = Path(folder) / CONFIG_FILE
    if not path.is_file():
        raise ConfigError(f"{path} not found: {folder} is not a checkpoint folder (model.safetensors + config.json)")
    stored = read_json_object(path)
    found_type = stored.get("model_type")
    if found_type != model_type:
        raise ConfigError(f"{path} holds a {found_type!r} checkpoint, expected a {model_type!r} one")
    return config_from_dict(config_cls, stored.get("config", {}), where=str(path))


def load_weights(
    model: ConfiguredModel,
    folder: str | os.PathLike[str],
    may_differ: Collection[str] = (),
    may_lack: Collection[str] = (),
) -> None:
    """Load ``folder``'s weights into ``model`` after checking the configs agree field by field,
    but for the fields ``may_differ`` names (switches a model is fine-tuned into, e.g. the world
    model's ``causal_context``). Tensors whose names start with a ``may_lack`` prefix may be
    missing from the checkpoint (ones such a switch adds): they keep the model's values."""
    stored = read_config(folder, type(model.config), model.model_type)
    stored = dataclasses.replace(stored, **{name: getattr(model.config, name) for name in may_differ})
    differences = config_differences(model.config, stored, labels=("model has", "checkpoint has"))
    if differences:
        raise ConfigError(f"checkpoint {folder} does not match the model: " + "; ".join(differences))
    device = next(iter(model.state_dict().values())).device
    path = Path(folder) / MODEL_FILE
    weights = read_safetensors(path, device=str(device))
    bad = nonfinite_tensors(weights)
    if bad:
        raise CheckpointError(f"{path}: tensor(s) {bad[:5]} hold NaN or infinite values (corrupt weights)")
    expected = model.state_dict()
    missing, unexpected = _key_mismatch(expected, weights)
    added = [name for name in missing if name.startswith(tuple(may_lack))]
    missing = [name for name in missing if name not in added]
    if missing or unexpected:
        raise ConfigError(f"{folder}/{MODEL_FILE}: missing tensors {missing}, unexpected tensors {unexpected}")
    weights.update({name: expected[name] for name in added})
    reshaped = [f"{name} {tuple(weights[name].shape)} (model: {tuple(tensor.shape)})" for name, tensor in expected.items() if weights[name].shape != tensor.shape]
    if reshaped:
        raise ConfigError(
            f"{folder}/{MODEL_FILE} was written by another version of {type(model).__name__}; tensors of another shape: "
            + "; ".join(reshaped)
        )
    model.load_state_dict(weights)


def _key_mismatch(expected: dict[str, Tensor], found: dict[str, Tensor]) -> tuple[list[str], list[str]]:
    return sorted(set(expected) - set(found)), sorted(set(found) - set(expected))


def load_model(
    model_cls: type[ModelT],
    folder: str | os.PathLike[str],
    expected_config: Any = None,
    device: str | torch.device = "cpu",
) -> ModelT:
    """Build ``model_cls`` from ``folder``'s config and load its weights.

    With ``expected_config``, a checkpoint whose config differs is a ``ConfigError`` listing
    every differing field with both values.
    """
    config_cls = type(expected_config) if expected_config is not None else _config_class(model_cls)
    stored = read_config(folder, config_cls, model_cls.model_type)  # type: ignore[attr-defined]
    if expected_config is not None:
        differences = config_differences(expected_config, stored, labels=("expected", "checkpoint has"))
        if differences:
            raise ConfigError(
                f"checkpoint {folder}/{CONFIG_FILE} does not match the expected {config_cls.__name__}: "
                + "; ".join(differences)
            )
    model = model_cls(stored).to(device)  # type: ignore[call-arg]
    load_weights(model, folder)  # type: ignore[arg-type]
    return model


def _config_class(model_cls: type) -> type:
    """The config dataclass a model class is built from (its ``__init__``'s ``config`` annotation)."""
    hints = typing.get_type_hints(model_cls.__init__)
    if "config" not in hints:
        raise TypeError(f"{model_cls.__name__}.__init__ has no annotated 'config' parameter")
    return hints["config"]


def read_training_state(folder: str | os.PathLike[str]) -> tuple[dict[str, Tensor], dict[str, Any]]:
    """``(tensors, info)`` of a training checkpoint; a ``CheckpointError`` if it has none or if
    one of its files is truncated or corrupt."""
    folder = Path(folder)
    tensors_path, info_path = folder / STATE_TENSORS_FILE, folder / STATE_JSON_FILE
    if not tensors_path.is_file() or not info_path.is_file():
        raise CheckpointError(
            f"{folder} has no training state ({STATE_TENSORS_FILE} + {STATE_JSON_FILE}): cannot resume"
        )
    return read_safetensors(tensors_path), read_json_object(info_path)


def optimizer_state(
    optimizer: torch.optim.Optimizer, prefix: str = "optimizer"
) -> tuple[dict[str, Tensor], dict[str, Any]]:
    """Split an optimizer's ``state_dict`` into tensors (moments) and JSON (hyper-parameters)."""
    state = optimizer.state_dict()
    tensors: dict[str, Tensor] = {}
    scalars: dict[str, dict[str, Any]] = {}
    for param_id, param_state in state["state"].items():
        for key, value in param_state.items():
            if isinstance(value, Tensor):
                tensors[f"{prefix}.{param_id}.{key}"] = value
            else:
                scalars.setdefault(str(param_id), {})[key] = value
    return tensors, {"param_groups": state["param_groups"], "scalars": scalars}


def load_optimizer_state(
    optimizer: torch.optim.Optimizer, tensors: dict[str, Tensor], info: dict[str, Any], prefix: str = "optimizer"
) -> None:
    """Inverse of ``optimizer_state``."""
    state: dict[int, dict[str, Any]] = {}
    for name, tensor in tensors.items():
        if not name.startswith(prefix + "."):
            continue
        param_id, key = name[len(prefix) + 1 :].split(".", 1)
        state.setdefault(int(param_id), {})[key] = tensor
    for param_id, values in info["scalars"].items():
        state.setdefault(int(param_id), {}).update(values)
    groups = [
        {**group, "betas": tuple(group["betas"])} if "betas" in group else group for group in info["param_groups"]
    ]
    optimizer.load_state_dict({"state": state, "param_groups": groups})
