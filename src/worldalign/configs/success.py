"""How the success classifier (``models/success``) is trained (``algos/success_classifier.py``)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class SuccessTrainingConfig:
    """How the success classifier is trained."""

    steps: int = 1500
    """Optimizer steps."""
    batch_size: int = 64
    """Frames (instants, all views) per step."""
    learning_rate: float = 1e-3
    """AdamW learning rate (constant)."""
    held_out: float = 0.1
    """Fraction of each task's episodes held out for the reported numbers."""
    max_episodes_per_task: int | None = None
    """Most training episodes read per task (None: all); bounds memory and reading time."""
    seed: int = 0
    """Seeds the weights and the batch order."""
    threshold: float = 0.5
    """Probability from which a frame counts as successful in the reported numbers."""
