"""The success reward: a success classifier trained on the simulator's labels reads each
generated frame, and a rollout has succeeded when some frame has.

WorldGym (ICLR 2026) evaluates a policy inside a world model by judging the generated video for
task success; the world model's success rate is then compared with the real one. Here the
judge is ``models.success.SuccessClassifier``, trained on Meta-World's per-step success flags
(``algos.success_classifier``). Meta-World counts an episode as solved when any step was
(``Episode.success``), so the reward is the highest per-frame probability over the rollout:

- ``success``: ``max_t p(frame t)`` in [0, 1];
- ``success/solved``: 1 when that maximum reaches the threshold, else 0;
- ``success/final``: the last frame's probability.
"""

from __future__ import annotations

import os

import torch
from torch import Tensor

from worldalign.data.types import Rollout
from worldalign.errors import ConfigError
from worldalign.models.checkpoint import load_model
from worldalign.models.success import SuccessClassifier
from worldalign.rewards.base import component_key

SOLVED = "solved"


class SuccessReward:
    """``rollout -> {"success", "success/solved", "success/final"}`` (module docstring).

    Args:
        classifier: the trained classifier (its config names the views it reads).
        threshold: the probability from which a frame counts as successful.
    """

    name = "success"

    def __init__(self, classifier: SuccessClassifier, threshold: float = 0.5) -> None:
        if not 0.0 < threshold < 1.0:
            raise ConfigError(f"success reward: threshold {threshold}; expected a probability in (0, 1)")
        self.classifier = classifier.eval()
        self.threshold = threshold

    @torch.no_grad()
    def __call__(self, rollout: Rollout) -> dict[str, Tensor]:
        views = tuple(self.classifier.config.views)
        if tuple(rollout.views) != views:
            raise ConfigError(
                f"success reward: the rollout's views {list(rollout.views)} differ from the classifier's {list(views)}"
            )
        device = next(self.classifier.parameters()).device
        batch, _, steps = rollout.frames.shape[:3]
        instants = rollout.frames.to(device).float().movedim(2, 1).flatten(0, 1)  # (B * T, V, 3, H, W)
        probabilities = self.classifier.probability(instants).reshape(batch, steps).cpu()
        best = probabilities.max(dim=1).values
        return {
            self.name: best,
            component_key(self.name, SOLVED): (best >= self.threshold).float(),
            component_key(self.name, "final"): probabilities[:, -1],
        }


def make_success_reward(
    success_checkpoint: str | os.PathLike[str], success_threshold: float = 0.5, device: str = "cpu"
) -> SuccessReward:
    """Registry factory: a ``SuccessReward`` from a classifier folder (``algos.success_classifier``)."""
    return SuccessReward(load_model(SuccessClassifier, success_checkpoint, device=device), success_threshold)
