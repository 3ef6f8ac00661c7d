"""The distilled judge as a reward: a weighted sum of the six predicted dimensions.

RoboAlign-R1 (arXiv:2605.03821) post-trains the world model with GRPO against a lightweight
student reward model distilled from its six-dimension judge; the reward is a weighted sum of the
predicted dimensions. The default weights count every point of every range once, so the reward
is the predicted total score (0..10). The six dimensions are returned as components and logged
as ``judge/<dimension>``.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

import torch
from torch import Tensor

from worldalign.data.types import Rollout
from worldalign.errors import ConfigError
from worldalign.models.checkpoint import load_model
from worldalign.models.judge.modeling_judge import JudgeStudent
from worldalign.models.text import InstructionEncoder


def episode_actions(rollout_actions: Tensor) -> Tensor:
    """Rollout actions ``(B, T, A)`` (``[:, t]`` leads *to* frame t) -> judge actions (``[:, t]`` leads *from* frame t).

    The judge's benchmark stores each frame's outgoing action; a rollout's last frame has none,
    so the last known action is repeated.
    """
    return torch.cat([rollout_actions[:, 1:], rollout_actions[:, -1:]], dim=1)


class JudgeReward:
    """``rollout -> {"judge": (B,), "judge/<dimension>": (B,) ...}`` from a distilled ``JudgeStudent``.

    Args:
        student: the distilled student (its config names the dimensions, ranges and views).
        encoder: the instruction encoder (MiniLM, cached).
        weights: weight per dimension key; missing keys weigh 1 (one unit per point of range).
        name: the reward's name (its value's key).
    """

    def __init__(
        self,
        student: JudgeStudent,
        encoder: InstructionEncoder,
        weights: Mapping[str, float] | None = None,
        name: str = "judge",
    ) -> None:
        keys = student.config.dimension_keys
        unknown = sorted(set(weights or {}) - set(keys))
        if unknown:
            raise ConfigError(f"judge reward weights name unknown dimensions {unknown}; known: {list(keys)}")
        self.name = name
        self.student = student.eval()
        self.encoder = encoder
        self.keys = keys
        self.weights = torch.tensor([float((weights or {}).get(key, 1.0)) for key in keys])
        self.max_scores = torch.tensor(student.config.max_scores, dtype=torch.float32)

    @torch.no_grad()
    def __call__(self, rollout: Rollout) -> dict[str, Tensor]:
        if rollout.instructions is None:
            raise ConfigError("the judge reward needs rollout.instructions (the judge scores instruction following)")
        if tuple(rollout.views) != tuple(self.student.config.views):
            raise ConfigError(f"rollout views {rollout.views} differ from the judge's {self.student.config.views}")
        device = next(self.student.parameters()).device
        embeddings = self.encoder.encode(rollout.instructions).to(device)
        actions = None if rollout.actions is None else episode_actions(rollout.actions.float()).to(device)
        normalised = self.student.predict(rollout.frames.to(device), embeddings, actions).cpu()
        scores = normalised * self.max_scores  # (B, 6) in each dimension's own range
        out = {self.name: scores @ self.weights}
        out.update({f"{self.name}/{key}": scores[:, d] for d, key in enumerate(self.keys)})
        return out


def make_judge_reward(
    judge_checkpoint: str | os.PathLike[str], judge_weights: Mapping[str, float] | None = None, device: str = "cpu"
) -> JudgeReward:
    """A ``JudgeReward`` from a student checkpoint folder (``worldalign distill --out``).

    The registry name is ``judge``; ``judge_checkpoint`` and ``judge_weights`` are the options
    ``build_rewards`` passes by name.
    """
    student = load_model(JudgeStudent, judge_checkpoint, device=device)
    return JudgeReward(student, InstructionEncoder(device=device), judge_weights)
