"""The judge as a reward: a weighted sum of the six predicted dimensions.

RoboAlign-R1 (arXiv:2605.03821) post-trains the world model with GRPO against a lightweight
student reward model distilled from its six-dimension judge, and scores the results with the
judge itself; the reward is a weighted sum of the predicted dimensions. The default weights count
every point of every range once, so the reward is the predicted total score (0..10). The six
dimensions are returned as components and logged as ``<name>/<dimension>``.

Two registered rewards: ``judge`` (the distilled student, fast: the one to optimise) and
``judge_teacher`` (the teacher, its MC-dropout mean of score levels: the one to evaluate with).
Both default to the judges that ship in ``checkpoints/``.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

import torch
from torch import Tensor

from worldalign.data.types import Rollout
from worldalign.errors import ConfigError
from worldalign.models.checkpoint import load_model
from worldalign.models.judge.modeling_judge import JudgeStudent, JudgeTeacher
from worldalign.models.text import InstructionEncoder

SHIPPED = Path(__file__).resolve().parents[3] / "checkpoints"
SHIPPED_JUDGE_STUDENT = SHIPPED / "judge-student-cpu"
"""The distilled student that ships with the repository (``scripts/ship_judge.sh``)."""
SHIPPED_JUDGE_TEACHER = SHIPPED / "judge-teacher-cpu"
"""The teacher it was distilled from."""


def episode_actions(rollout_actions: Tensor) -> Tensor:
    """Rollout actions ``(B, T, A)`` (``[:, t]`` leads *to* frame t) -> judge actions (``[:, t]`` leads *from* frame t).

    The judge's benchmark stores each frame's outgoing action; a rollout's last frame has none,
    so the last known action is repeated.
    """
    return torch.cat([rollout_actions[:, 1:], rollout_actions[:, -1:]], dim=1)


def check_clip_length(frames: int, judge_frames: int, name: str) -> None:
    """A ``ConfigError`` for clips shorter than the frames a judge reads: they would be stretched
    by repeating frames, a pattern the judges learnt as a stall (the benchmark's frozen-frame
    corruption), and scored as such whatever they show (measured: real 8-frame clips get 0 on all
    six dimensions from the 16-frame teacher; docs/benchmarks.md)."""
    if frames < judge_frames:
        raise ConfigError(
            f"the {name} reward's judge reads {judge_frames} frames per clip and these rollouts have {frames}: "
            f"generate at least {judge_frames} frames (--horizon, --eval-horizon), or use a judge trained on "
            "shorter clips"
        )


class JudgeReward:
    """``rollout -> {name: (B,), f"{name}/<dimension>": (B,) ...}`` from a judge's predicted scores.

    Args:
        judge: the distilled student or the teacher (its config names the dimensions, ranges
            and views); both ``predict`` normalised scores.
        encoder: the instruction encoder (MiniLM, cached).
        weights: weight per dimension key; missing keys weigh 1 (one unit per point of range).
        name: the reward's name (its value's key).
    """

    def __init__(
        self,
        judge: JudgeStudent | JudgeTeacher,
        encoder: InstructionEncoder,
        weights: Mapping[str, float] | None = None,
        name: str = "judge",
    ) -> None:
        keys = judge.config.dimension_keys
        unknown = sorted(set(weights or {}) - set(keys))
        if unknown:
            raise ConfigError(f"judge reward weights name unknown dimensions {unknown}; known: {list(keys)}")
        self.name = name
        self.judge = judge.eval()
        self.encoder = encoder
        self.keys = keys
        self.weights = torch.tensor([float((weights or {}).get(key, 1.0)) for key in keys])
        self.max_scores = torch.tensor(judge.config.max_scores, dtype=torch.float32)

    @torch.no_grad()
    def __call__(self, rollout: Rollout) -> dict[str, Tensor]:
        if rollout.instructions is None:
            raise ConfigError("the judge reward needs rollout.instructions (the judge scores instruction following)")
        if tuple(rollout.views) != tuple(self.judge.config.views):
            raise ConfigError(f"rollout views {rollout.views} differ from the judge's {self.judge.config.views}")
        check_clip_length(rollout.frames.shape[2], self.judge.config.num_frames, self.name)
        device = next(self.judge.parameters()).device
        embeddings = self.encoder.encode(rollout.instructions).to(device)
        actions = None if rollout.actions is None else episode_actions(rollout.actions.float()).to(device)
        normalised = self.judge.predict(rollout.frames.to(device), embeddings, actions).cpu()
        scores = normalised * self.max_scores  # (B, 6) in each dimension's own range
        out = {self.name: scores @ self.weights}
        out.update({f"{self.name}/{key}": scores[:, d] for d, key in enumerate(self.keys)})
        return out


def make_judge_reward(
    judge_checkpoint: str | os.PathLike[str] | None = None,
    judge_weights: Mapping[str, float] | None = None,
    device: str = "cpu",
) -> JudgeReward:
    """A ``JudgeReward`` of a student folder (``worldalign distill --out``; default: the shipped one).

    The registry name is ``judge``; ``judge_checkpoint`` and ``judge_weights`` are the options
    ``build_rewards`` passes by name.
    """
    student = load_model(JudgeStudent, _judge_folder(judge_checkpoint, SHIPPED_JUDGE_STUDENT, "--judge"), device=device)
    return JudgeReward(student, InstructionEncoder(device=device), judge_weights)


def make_teacher_judge_reward(
    teacher_checkpoint: str | os.PathLike[str] | None = None,
    judge_weights: Mapping[str, float] | None = None,
    device: str = "cpu",
) -> JudgeReward:
    """A ``JudgeReward`` named ``judge_teacher`` of a teacher folder (``worldalign train judge
    --out``; default: the shipped one): RoboAlign-R1's evaluation of what the student optimised."""
    folder = _judge_folder(teacher_checkpoint, SHIPPED_JUDGE_TEACHER, "--teacher")
    teacher = load_model(JudgeTeacher, folder, device=device)
    return JudgeReward(teacher, InstructionEncoder(device=device), judge_weights, name="judge_teacher")


def _judge_folder(given: str | os.PathLike[str] | None, shipped: Path, option: str) -> Path:
    folder = Path(given) if given is not None else shipped
    if not folder.is_dir():
        raise ConfigError(
            f"judge checkpoint folder {folder} not found: pass {option} FOLDER, or make the shipped judges with "
            "`bash scripts/ship_judge.sh`"
        )
    return folder
