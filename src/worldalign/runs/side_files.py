"""The files a world model needs wherever it goes, kept beside it in its run or exported folder.

- ``action_normalizer.json``: the action statistics it was trained with (its inputs' meaning);
- ``instruction_embeddings.safetensors``: the cache of its instruction embeddings, so a model
  used on known instructions never loads the sentence encoder.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

from worldalign.data import lerobot_format as fmt
from worldalign.data.lerobot_reader import LeRobotDataset
from worldalign.data.stats import Normalizer
from worldalign.errors import ConfigError
from worldalign.runs.layout import run_folder_of
from worldalign.utils.atomic import make_folder

NORMALIZER_FILE = "action_normalizer.json"
INSTRUCTION_CACHE_FILE = "instruction_embeddings.safetensors"
SIDE_FILES = (NORMALIZER_FILE, INSTRUCTION_CACHE_FILE)


def dataset_action_normalizer(dataset: LeRobotDataset) -> Normalizer:
    """Mean/std action statistics of a dataset (``meta/stats.json``), as a new run records them."""
    return Normalizer(dataset.stats, features=(fmt.ACTION,), source=str(dataset.root / fmt.STATS_PATH))


def model_action_normalizer(model_dir: Path) -> Normalizer:
    """The action statistics a world model was trained with, beside it or in its run folder."""
    path = run_folder_of(model_dir) / NORMALIZER_FILE
    if not path.is_file():
        raise ConfigError(
            f"{path} not found: the world model's action statistics are written there by `worldalign train world-model`"
        )
    return Normalizer.from_file(path, features=(fmt.ACTION,))


def save_action_normalizer(normalizer: Normalizer, run_dir: Path) -> None:
    """Record the action statistics a run trains with in ``run_dir``."""
    make_folder(run_dir)
    normalizer.save(run_dir / NORMALIZER_FILE)


def instruction_cache_file(run_dir: Path) -> Path:
    """Where a run keeps its instruction-embedding cache."""
    return run_dir / INSTRUCTION_CACHE_FILE


def scratch_instruction_cache(model_dir: Path) -> Path:
    """A copy of a model's instruction-embedding cache in a new temporary folder (the path of the
    copy, or of where a cache would go when the model has none): for a process that embeds new
    instructions without ever writing into the model's run folder."""
    scratch = Path(tempfile.mkdtemp()) / INSTRUCTION_CACHE_FILE
    cache = instruction_cache_file(run_folder_of(model_dir))
    if cache.is_file():
        shutil.copyfile(cache, scratch)
    return scratch


def copy_side_files(model_dir: Path, dest: Path) -> list[str]:
    """Copy the side files of ``model_dir``'s run (those it has) into ``dest``; their names."""
    source = run_folder_of(model_dir)
    copied = [name for name in SIDE_FILES if (source / name).is_file()]
    if copied:
        make_folder(dest)
    for name in copied:
        shutil.copyfile(source / name, dest / name)
    return copied
