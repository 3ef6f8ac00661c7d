"""The layout of a training run's output folder, shared by every training loop.

``OUT/checkpoints/step_NNNNNNN/`` resumable checkpoints, ``OUT/model/`` the final model (weights
+ config only), ``OUT/tensorboard/`` the logs.
"""

from __future__ import annotations

import re
from pathlib import Path

CHECKPOINTS_DIR = "checkpoints"
FINAL_MODEL_DIR = "model"
TENSORBOARD_DIR = "tensorboard"


CHECKPOINT_NAME = re.compile(r"step_(\d+)")


def latest_checkpoint(out_dir: str | Path) -> Path | None:
    """The highest-step checkpoint folder under ``out_dir/checkpoints``, if any."""
    folder = Path(out_dir) / CHECKPOINTS_DIR
    steps = [(int(m.group(1)), p) for p in folder.glob("step_*") if (m := CHECKPOINT_NAME.fullmatch(p.name))]
    return max(steps)[1] if steps else None


def is_resumable_checkpoint(folder: str | Path) -> bool:
    """Whether ``folder`` is named like a run's ``checkpoints/step_NNNNNNN`` (not, say, a model
    exported into a folder that happens to be called ``checkpoints``)."""
    folder = Path(folder)
    return folder.parent.name == CHECKPOINTS_DIR and CHECKPOINT_NAME.fullmatch(folder.name) is not None
