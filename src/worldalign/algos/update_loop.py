"""What one update of an alignment algorithm needs from the loop that runs it.

``algos.align`` owns the models, the optimizer and the processes of a run; Flow-GRPO's
``grpo_update`` and DiffusionNFT's ``nft_update`` each read as one update, top to bottom, in their
own file, through this interface: the trained model, the frozen models, the loop's generator, one
backward per loss term (gradients exchanged on the last only) and the optimizer step.
"""

from __future__ import annotations

import contextlib
from typing import Any, Protocol

import torch
from torch import Tensor, nn


class UpdateLoop(Protocol):
    """The alignment loop's side of an update (``algos.align._AlignRun``)."""

    model: nn.Module
    """The trained world model (possibly DDP-wrapped)."""
    reference: nn.Module | None
    """The frozen pretrained model of the KL term, or None when the KL weight is 0."""
    old: nn.Module | None
    """DiffusionNFT's EMA "old" model (None for Flow-GRPO)."""
    generator: torch.Generator
    """The loop's generator (this process's draws)."""
    iteration: int
    """Updates completed before this one."""
    accelerator: Any
    """The ``accelerate.Accelerator`` (its ``backward`` scales and syncs)."""

    def no_sync(self, last: bool) -> contextlib.AbstractContextManager[None]:
        """Gradients are exchanged between processes on the last backward of an update only."""
        ...

    def step(self, losses: dict[str, Tensor]) -> float:
        """Clip, step, zero; returns the gradient norm (a ``TrainingError`` if it is not finite)."""
        ...


def mean_stats(stats: list[dict[str, Tensor]]) -> dict[str, float]:
    """The mean of each statistic over an update's loss terms."""
    if not stats:
        return {}
    return {key: float(torch.stack([s[key].detach().float().cpu() for s in stats]).mean()) for key in stats[0]}
