"""The trained model each reward reads, and a digest of its weights.

A reward spec names a reward, not its weights: ``judge=1.0`` scored with the judges first shipped
(commit c407a96) and with the ones retrained after them are two different yardsticks under one
name. ``stages.reproduce`` records ``reward_model_digest`` of every reward model a run read, so
that such runs stay two arms on the results page instead of one replacing the other.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from worldalign.errors import ConfigError
from worldalign.rewards.decode import SHIPPED_IDM
from worldalign.rewards.judge import SHIPPED_JUDGE_STUDENT, SHIPPED_JUDGE_TEACHER

WEIGHTS_FILE = "model.safetensors"
DIGEST_LENGTH = 12
"""Hex digits of the SHA-256 kept: enough to tell checkpoints apart, short enough to read."""

REWARD_MODEL_OPTIONS: dict[str, tuple[str, Path | None]] = {
    "judge": ("judge_checkpoint", SHIPPED_JUDGE_STUDENT),
    "judge_teacher": ("teacher_checkpoint", SHIPPED_JUDGE_TEACHER),
    "executability": ("idm", SHIPPED_IDM),
    "execution": ("idm", SHIPPED_IDM),
    "success": ("success_checkpoint", None),
}
"""Reward name -> (the factory option naming its checkpoint folder, the folder read without it)."""


def reward_model_folder(name: str, options: Mapping[str, Any]) -> Path | None:
    """The checkpoint folder the reward ``name`` reads with the factory ``options``, or None for a
    reward that reads no trained model (fidelity's LPIPS weights are fixed, not trained here)."""
    if name not in REWARD_MODEL_OPTIONS:
        return None
    option, shipped = REWARD_MODEL_OPTIONS[name]
    given = options.get(option)
    if given is not None and not isinstance(given, str | os.PathLike):
        return None  # a model object passed from Python: no folder to digest
    return Path(given) if given is not None else shipped


def reward_model_digest(folder: str | os.PathLike[str]) -> str:
    """The first ``DIGEST_LENGTH`` hex digits of the SHA-256 of ``folder``'s weights."""
    path = Path(folder) / WEIGHTS_FILE
    try:
        digest = hashlib.sha256(path.read_bytes()).hexdigest()
    except OSError as error:
        raise ConfigError(f"{path}: cannot read the reward model's weights ({error}); expected a checkpoint folder")
    return digest[:DIGEST_LENGTH]
