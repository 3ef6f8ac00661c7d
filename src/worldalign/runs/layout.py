"""The names inside a run folder, and how to find a run's model and its newest checkpoint.

``OUT/checkpoints/step_NNNNNNN/`` resumable checkpoints, ``OUT/model/`` the final model (weights +
config only), ``OUT/tensorboard/`` the logs, ``OUT/previews/`` what the run drew while training,
and each trainer's own files (its config, log, evaluation, tokenizer), named here.
A model folder given to a command may be a run folder, its ``model/``, one of its checkpoints or
a folder written by ``worldalign export``.
"""

from __future__ import annotations

import re
from pathlib import Path

from worldalign.errors import ConfigError
from worldalign.models.checkpoint import CONFIG_FILE

CHECKPOINTS_DIR = "checkpoints"
FINAL_MODEL_DIR = "model"
TENSORBOARD_DIR = "tensorboard"
PREVIEWS_DIR = "previews"

CHECKPOINT_NAME = re.compile(r"step_(\d+)")

TRAIN_CONFIG_FILE = "train_config.json"
"""A trainer's configuration, at the top of its run folder (``configs/``: every trainer's)."""
ALIGN_CONFIG_FILE = "align_config.json"
"""An alignment run's ``AlignConfig``."""
ALIGN_LOG_FILE = "log.jsonl"
"""An alignment run's log: one JSON line per update and per held-out evaluation."""
IDM_EVAL_FILE = "eval.json"
"""An inverse dynamics model run's held-out evaluation."""
SUCCESS_TRAINING_FILE = "training.json"
"""A success classifier run's training report (held-out accuracy, ...)."""
FAST_TOKENIZER_DIR = "fast_tokenizer"
"""A VLA run's FAST action tokenizer (the one its action tokens were made with)."""


def checkpoint_folder(out_dir: str | Path, step: int) -> Path:
    """``out_dir/checkpoints/step_NNNNNNN``, the resumable checkpoint of ``step``."""
    return Path(out_dir) / CHECKPOINTS_DIR / f"step_{step:07d}"


def run_tokenizer_folder(run_dir: str | Path) -> Path:
    """Where a VLA run keeps its FAST tokenizer."""
    return Path(run_dir) / FAST_TOKENIZER_DIR


def checkpoints_newest_first(out_dir: str | Path) -> list[Path]:
    """The resumable checkpoint folders under ``out_dir/checkpoints``, highest step first."""
    folder = Path(out_dir) / CHECKPOINTS_DIR
    steps = [(int(m.group(1)), p) for p in folder.glob("step_*") if (m := CHECKPOINT_NAME.fullmatch(p.name))]
    return [path for _, path in sorted(steps, reverse=True)]


def is_resumable_checkpoint(folder: str | Path) -> bool:
    """Whether ``folder`` is named like a run's ``checkpoints/step_NNNNNNN`` (not, say, a model
    exported into a folder that happens to be called ``checkpoints``)."""
    folder = Path(folder)
    return folder.parent.name == CHECKPOINTS_DIR and CHECKPOINT_NAME.fullmatch(folder.name) is not None


def model_folder(path: str | Path, option: str, command: str) -> Path:
    """The model folder of ``path``, given as a run's ``--out`` folder or a model folder.

    ``option`` names where the path came from and ``command`` what makes such a run, both for the
    error when neither holds a checkpoint.
    """
    path = Path(path)
    if (path / CONFIG_FILE).is_file():
        return path
    if (path / FINAL_MODEL_DIR / CONFIG_FILE).is_file():
        return path / FINAL_MODEL_DIR
    raise ConfigError(
        f"{option} {path}: neither it nor {path / FINAL_MODEL_DIR} holds a checkpoint ({CONFIG_FILE}); "
        f"pass the --out folder of `worldalign {command}` once it has finished (for a run still training, "
        f"`worldalign export RUN/checkpoints/step_N DEST` writes one to pass)"
    )


def run_folder_of(model_dir: Path) -> Path:
    """Where a model's side files are: the run folder of a ``RUN/model`` or
    ``RUN/checkpoints/step_N`` folder, else the model folder itself (as ``worldalign export``
    writes it)."""
    if model_dir.name == FINAL_MODEL_DIR:
        return model_dir.parent
    if is_resumable_checkpoint(model_dir):
        return model_dir.parent.parent
    return model_dir
