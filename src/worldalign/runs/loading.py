"""Loading trained models by the folder a user names: a run folder, its ``model/``, one of its
checkpoints, or an exported folder, with the side files the model needs."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch

from worldalign.data.stats import Normalizer
from worldalign.models.autoencoder import Autoencoder
from worldalign.models.checkpoint import load_model
from worldalign.models.text.instruction_encoder import InstructionEncoder
from worldalign.models.world_model import WorldModel
from worldalign.runs.layout import model_folder, run_folder_of
from worldalign.runs.side_files import instruction_cache_file, model_action_normalizer


@dataclass
class WorldModelRun:
    """A trained world model loaded from its folder, with what rolling it out needs."""

    model_dir: Path
    model: WorldModel
    normalizer: Normalizer | None
    instruction_encoder: InstructionEncoder | None


def load_world_model_run(path: Path, device: str | torch.device = "cpu") -> WorldModelRun:
    """The world model at ``path`` (in eval mode), its action statistics (action-conditioned
    models) and instruction encoder (instruction-conditioned models, cached in the run's
    ``instruction_embeddings.safetensors``)."""
    model_dir = model_folder(path, "--world-model", "train world-model")
    model = load_model(WorldModel, model_dir, device=device).eval()
    normalizer = model_action_normalizer(model_dir) if model.config.action_dim > 0 else None
    instructions = None
    if model.config.instruction_dim > 0:
        instructions = InstructionEncoder(instruction_cache_file(run_folder_of(model_dir)))
    return WorldModelRun(model_dir, model, normalizer, instructions)


def autoencoder_folder(path: Path) -> Path:
    """The model folder of an autoencoder given as its run folder or its ``model/``."""
    return model_folder(path, "--autoencoder", "train autoencoder")


def load_autoencoder(path: Path, device: str | torch.device = "cpu") -> Autoencoder:
    """The autoencoder at ``path`` (a run folder or a model folder), in eval mode."""
    return load_model(Autoencoder, autoencoder_folder(path), device=device).eval()
