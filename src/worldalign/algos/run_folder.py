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


def latest_checkpoint(out_dir: str | Path) -> Path | None:
    """The highest-step checkpoint folder under ``out_dir/checkpoints``, if any."""
    folder = Path(out_dir) / CHECKPOINTS_DIR
    steps = [(int(m.group(1)), p) for p in folder.glob("step_*") if (m := re.fullmatch(r"step_(\d+)", p.name))]
    return max(steps)[1] if steps else None
