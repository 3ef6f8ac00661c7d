"""Training config of the inverse dynamics model (``algos.idm.train_idm``)."""

from __future__ import annotations

from dataclasses import dataclass, field

from worldalign.configs.pretrain import OptimizerConfig
from worldalign.models.idm import IDMConfig


@dataclass(frozen=True)
class IDMTrainingConfig:
    """Everything a ``train_idm`` run depends on; saved as ``OUT/config.json``."""

    model: IDMConfig = field(default_factory=IDMConfig)
    """The model's shape (views, frame window, widths)."""
    steps: int = 1500
    """Optimizer steps."""
    batch_size: int = 32
    """Windows per step."""
    learning_rate: float = 1e-3
    """AdamW peak learning rate (cosine decay to 10% of it)."""
    weight_decay: float = 1e-4
    """AdamW weight decay."""
    held_out_fraction: float = 0.2
    """Fraction of each task's episodes kept for evaluation."""
    max_frame_stride: int = 3
    """Windows are also drawn with their frames 2 .. max_frame_stride steps apart, the target
    being the summed displacement of the skipped actions, so that the IDM maps a k-times larger
    motion to a k-times larger action. A teleport in a generated video then decodes to an
    out-of-bounds action rather than a plausible one (EVA: artifacts become infeasible actions)."""
    strided_fraction: float = 0.3
    """Fraction of the windows drawn with a stride above 1."""
    init_from: str | None = None
    """An action-only IDM checkpoint folder (same views, window and widths) whose encoder, action
    head and action statistics are loaded and frozen: only the state head trains, so the decoded
    actions (and everything that executes them) stay exactly the checkpoint's. None: train all.
    Use the datasets and ``held_out_fraction`` it was trained with, so its held-out episodes stay
    unseen."""
    seed: int = 0
    """Seeds the weights and the window draws."""
    log_every: int = 25
    """Steps between TensorBoard writes."""
    checkpoint_every: int = 500
    """Steps between resumable checkpoints."""
    keep_checkpoints: int = 2
    """Resumable checkpoints kept (oldest deleted first)."""

    @property
    def optimizer(self) -> OptimizerConfig:
        """AdamW and its schedule: no warmup, cosine decay to 10% of the peak, gradient norm clipped to 1."""
        return OptimizerConfig(
            learning_rate=self.learning_rate,
            weight_decay=self.weight_decay,
            warmup_steps=0,
            min_lr_ratio=0.1,
            grad_clip=1.0,
        )
