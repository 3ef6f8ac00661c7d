"""Tiny random models for the rollout tests (output layers randomised so predictions vary)."""

from __future__ import annotations

import dataclasses

import pytest
import torch
from torch import nn

from worldalign.configs.presets import get_preset
from worldalign.models.autoencoder import Autoencoder
from worldalign.models.world_model import WorldModel


@pytest.fixture(scope="module")
def autoencoder() -> Autoencoder:
    torch.manual_seed(0)
    return Autoencoder(get_preset("tiny").autoencoder.model).eval()


def random_world_model(**changes: int | bool) -> WorldModel:
    """The tiny preset's world model with ``changes`` to its config, zero-initialised layers randomised."""
    torch.manual_seed(0)
    model = WorldModel(dataclasses.replace(get_preset("tiny").world_model.model, **changes))
    with torch.no_grad():
        for module in model.modules():
            if isinstance(module, nn.Linear) and module.weight.abs().sum() == 0:
                module.weight.normal_(0, 0.05)
    return model.eval()


@pytest.fixture(scope="module")
def world_model() -> WorldModel:
    """The tiny preset with 2 views, context up to 4 frames, chunks of 2 frames."""
    return random_world_model(num_views=2, instruction_dim=0)


@pytest.fixture(scope="module")
def instructed_world_model() -> WorldModel:
    """The tiny preset conditioned on actions and a 6-dimensional instruction."""
    return random_world_model(instruction_dim=6)


@pytest.fixture(scope="module")
def causal_world_model() -> WorldModel:
    """``instructed_world_model`` with a causal context (``WorldModelConfig.causal_context``)."""
    return random_world_model(instruction_dim=6, causal_context=True)
