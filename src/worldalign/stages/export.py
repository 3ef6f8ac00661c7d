"""The export stage: a trained model as a self-contained folder to ship or share.

The final model of a run, or the weight EMA of one of its resumable checkpoints (the model the run
would have written had it stopped there), is copied as weights + config (no optimizer or RNG
state), optionally in float16, with the side files the other commands read beside a world model
(action statistics, the instruction-embedding cache, completed with every instruction of the
embedded suite so that using the folder on the embedded benchmark never writes into it).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch

from worldalign.algos.training_run import checkpoint_ema_weights
from worldalign.envs.tasks import all_instructions
from worldalign.models.checkpoint import STATE_TENSORS_FILE, export_checkpoint
from worldalign.models.text.instruction_encoder import InstructionEncoder
from worldalign.runs.layout import model_folder
from worldalign.runs.side_files import INSTRUCTION_CACHE_FILE, copy_side_files


@dataclass(frozen=True)
class ExportResult:
    """What ``export_model`` wrote.

    Attributes:
        source: the model folder exported.
        from_ema: whether its weight EMA was exported (a resumable checkpoint).
        side_files: the side files copied beside the model.
        size_bytes: the size of the destination folder.
    """

    source: Path
    from_ema: bool
    side_files: list[str]
    size_bytes: int


def export_model(run: str | Path, dest: str | Path, *, half: bool = False) -> ExportResult:
    """Export ``run`` (a run folder, a model folder or ``RUN/checkpoints/step_N``) to ``dest``
    (replaced whole); ``half`` stores the weights as float16 (they load back as float32)."""
    dest = Path(dest)
    model_dir = model_folder(run, "RUN", "train ...")
    ema = checkpoint_ema_weights(model_dir) if (model_dir / STATE_TENSORS_FILE).is_file() else None
    export_checkpoint(model_dir, dest, torch.float16 if half else None, weights=ema)
    copied = copy_side_files(model_dir, dest)
    if INSTRUCTION_CACHE_FILE in copied:
        InstructionEncoder(dest / INSTRUCTION_CACHE_FILE).encode(all_instructions())
    size = sum(p.stat().st_size for p in dest.iterdir())
    return ExportResult(source=model_dir, from_ema=ema is not None, side_files=list(copied), size_bytes=size)
