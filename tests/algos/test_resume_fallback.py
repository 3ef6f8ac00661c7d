"""A resume takes the newest checkpoint that loads: a truncated or corrupt newest checkpoint is
skipped with a warning naming it and why, and the run continues exactly from the older one."""

from __future__ import annotations

import dataclasses
import logging
import re
from pathlib import Path

import pytest
import torch
from pretrain_data import KilledAfter, SyntheticFrames

from worldalign.algos.pretrain import train_autoencoder
from worldalign.configs.presets import get_preset
from worldalign.errors import CheckpointError
from worldalign.models.autoencoder import Autoencoder
from worldalign.models.checkpoint import load_model

BASE = get_preset("tiny").autoencoder
CONFIG = dataclasses.replace(BASE, run=dataclasses.replace(BASE.run, checkpoint_every=2, keep_checkpoints=2))


@pytest.fixture(scope="module")
def reference(tmp_path_factory: pytest.TempPathFactory) -> tuple[list[float], dict[str, torch.Tensor]]:
    """The losses and final weights of the uninterrupted 8-step run."""
    result = train_autoencoder(CONFIG, SyntheticFrames(), tmp_path_factory.mktemp("reference"), progress=False)
    return result.losses, load_model(Autoencoder, result.model_dir).state_dict()


def killed_run(out: Path) -> Path:
    """A run killed during step 7: it kept checkpoints step_4 and step_6."""
    with pytest.raises(KeyboardInterrupt):
        train_autoencoder(CONFIG, KilledAfter(SyntheticFrames(), batches=7), out, progress=False)
    kept = sorted(p.name for p in (out / "checkpoints").iterdir())
    assert kept == ["step_0000004", "step_0000006"]
    return out / "checkpoints" / "step_0000006"


def truncate(path: Path) -> None:
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 3])


@pytest.mark.parametrize(
    ("damaged", "reason"),
    [
        ("model.safetensors", r"model\.safetensors: cannot read the safetensors file \(truncated or corrupt\)"),
        ("training_state.json", r"training_state\.json: not valid JSON \(truncated or corrupt\)"),
        ("training_state.safetensors", r"training_state\.safetensors: cannot read the safetensors file"),
    ],
)
def test_a_corrupt_newest_checkpoint_is_skipped_and_the_older_one_resumes_exactly(
    tmp_path: Path,
    reference: tuple[list[float], dict[str, torch.Tensor]],
    caplog: pytest.LogCaptureFixture,
    damaged: str,
    reason: str,
) -> None:
    newest = killed_run(tmp_path)
    truncate(newest / damaged)
    with caplog.at_level(logging.WARNING):
        resumed = train_autoencoder(CONFIG, SyntheticFrames(), tmp_path, progress=False)
    assert resumed.resumed_from == 4 and resumed.step == 8
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    skipped = [w for w in warnings if "skipped checkpoint" in w and "step_0000006" in w]
    assert len(skipped) == 1 and re.search(reason, skipped[0]), warnings
    assert any("resumed from the older checkpoint" in w and "step_0000004" in w for w in warnings), warnings
    losses, weights = reference
    assert resumed.losses == losses[4:]  # bit-identical on the CPU
    final = load_model(Autoencoder, resumed.model_dir).state_dict()
    assert all(torch.equal(final[name], tensor) for name, tensor in weights.items())


def test_when_no_checkpoint_loads_the_error_says_how_to_start_afresh(tmp_path: Path) -> None:
    newest = killed_run(tmp_path)
    truncate(newest / "model.safetensors")
    (newest.parent / "step_0000004" / "training_state.json").write_text("{")
    expected = r"no checkpoint of .*checkpoints loads \(step_0000006: .*; step_0000004: .*--no-resume or a new --out"
    with pytest.raises(CheckpointError, match=expected):
        train_autoencoder(CONFIG, SyntheticFrames(), tmp_path, progress=False)
    fresh = train_autoencoder(CONFIG, SyntheticFrames(), tmp_path, progress=False, resume=False)
    assert fresh.resumed_from == 0 and fresh.step == 8
