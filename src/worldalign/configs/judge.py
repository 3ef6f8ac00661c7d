"""Training config of the judge teacher and the distilled student (``algos.judge``)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from worldalign.errors import ConfigError


@dataclass(frozen=True)
class JudgeTrainConfig:
    """Optimisation of a teacher or a student; saved beside the checkpoint."""

    steps: int = 400
    """Optimiser updates."""
    batch_size: int = 16
    """Videos per update."""
    lr: float = 1e-3
    """AdamW learning rate (cosine decay to 10%)."""
    weight_decay: float = 0.01
    """AdamW weight decay."""
    huber_delta: float = 0.2
    """Huber transition on normalised scores (a fifth of a dimension's range)."""
    dimension_weights: tuple[float, ...] = (1.0, 1.0, 1.0, 1.0, 1.0, 1.0)
    """Per-dimension loss weights (the paper's dimension-weighted Huber loss)."""
    seed: int = 0
    """Seeds initialisation and batch order."""
    nuisance_augment: bool = True
    """Random brightness on training videos, so the judge ignores what must not change scores."""
    objective: Literal["huber", "levels"] = "huber"
    """``huber``: the dimension-weighted Huber loss on normalised scores (distillation);
    ``levels``: class-balanced cross-entropy over each dimension's score levels (the teacher on
    rule labels, whose physical dimensions are 80-90% one level)."""
    class_balance: float = 0.5
    """``levels`` only: a level's weight is ``(N / (K * count))**class_balance`` (0 = unweighted, 1 = fully balanced)."""
    inverse_dynamics_weight: float = 1.0
    """Weight of the inverse dynamics head's loss (judges that have the head)."""

    def __post_init__(self) -> None:
        if self.objective not in ("huber", "levels"):
            raise ConfigError(f"objective must be 'huber' or 'levels', got {self.objective!r}")
        if not 0.0 <= self.class_balance <= 1.0:
            raise ConfigError(f"class_balance (--class-balance) must be in [0, 1], got {self.class_balance}")
        if self.inverse_dynamics_weight < 0:
            raise ConfigError(f"inverse_dynamics_weight must be >= 0, got {self.inverse_dynamics_weight}")
