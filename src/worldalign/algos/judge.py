"""Train the teacher judge, distil it into the student reward model, relabel during RL.

RoboAlign-R1 (arXiv:2605.03821): a teacher judge scores videos on six dimensions; a lightweight
student is distilled from it with a dimension-weighted Huber loss on normalised teacher scores,
on benchmark videos and on unlabelled world-model rollouts (the teacher labels them); every K
RL updates the teacher re-scores fresh rollouts, which join the distillation set, and the
student is refreshed (``relabel``), which counters reward hacking of a frozen student.

Reads top to bottom: loss, data pool, teacher training, distillation, relabel. The judge's
evaluation on the benchmark is ``eval/judge.py``.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from torch import Tensor, nn
from tqdm import tqdm

from worldalign.algos.training_run import check_finite
from worldalign.configs.judge import JudgeTrainConfig
from worldalign.data.pixels import to_pixels
from worldalign.data.types import Rollout
from worldalign.errors import ConfigError
from worldalign.models.checkpoint import write_checkpoint
from worldalign.models.judge.bench_data import JudgeData, load_split, read_meta
from worldalign.models.judge.configuration_judge import student_config, teacher_config
from worldalign.models.judge.modeling_judge import JudgeStudent, JudgeTeacher, expected_scores, incoming_actions
from worldalign.models.judge.video_input import frame_positions, frames_from_storage, pool_actions
from worldalign.models.text import InstructionEncoder
from worldalign.rewards.judge import check_clip_length, episode_actions

Judge = JudgeTeacher | JudgeStudent

ACTION_OUTCOME_KEY = "action_outcome_consistency"
"""The benchmark dimension (``bench.labels``) that says whether a clip shows its own actions as they happened."""


def weighted_huber(prediction: Tensor, target: Tensor, weights: Tensor, delta: float) -> Tensor:
    """Dimension-weighted Huber loss on ``(B, D)`` normalised scores: ``sum_d w_d mean_b huber``."""
    per_element = nn.functional.huber_loss(prediction, target, reduction="none", delta=delta)
    return (per_element.mean(dim=0) * weights).sum() / weights.sum()


def target_levels(targets: Tensor, max_scores: tuple[int, ...]) -> Tensor:
    """``(N, D)`` normalised scores -> ``(N, D)`` int64 score levels ``0..max_d``."""
    return torch.round(targets * torch.tensor(max_scores, dtype=targets.dtype)).long()


def inverse_dynamics_loss(decoded: Tensor, actions: Tensor, consistent: Tensor) -> Tensor:
    """Mean squared error of a judge's decoded actions ``(B, F, A)`` (``decode_incoming_actions``)
    against the given actions ``(B, T, A)``, pooled to the judge's ``F`` steps, over the clips
    whose video shows its own actions (``consistent``, ``(B,)`` bool); 0 when there are none.

    Step ``t``'s features see the change from frame ``t - 1`` to ``t``, which the action out of
    frame ``t - 1`` (the benchmark's convention) caused.
    """
    if not bool(consistent.any()):
        return decoded.sum() * 0.0
    pooled, _ = pool_actions(actions, actions.shape[0], decoded.shape[1], actions.shape[2])
    error = (decoded - incoming_actions(pooled).to(decoded.device))[:, 1:] ** 2
    return error[consistent].mean()


def consistent_clips(targets: Tensor, keys: tuple[str, ...]) -> Tensor:
    """``(B,)`` bool: the clips scored action-outcome consistent (all of them when the benchmark has
    no such dimension), whose actions the inverse dynamics head may learn from."""
    if ACTION_OUTCOME_KEY not in keys:
        return torch.ones(targets.shape[0], dtype=torch.bool)
    return targets[:, keys.index(ACTION_OUTCOME_KEY)] >= 0.5


def level_weights(targets: Tensor, max_scores: tuple[int, ...], power: float) -> list[Tensor]:
    """Per dimension, ``(max_d + 1,)`` class weights ``(N / (K * count_k))**power`` (0 for absent levels)."""
    levels = target_levels(targets, max_scores)
    weights = []
    for d, top in enumerate(max_scores):
        counts = torch.bincount(levels[:, d], minlength=top + 1).float()
        present = counts > 0
        balanced = torch.zeros(top + 1)
        balanced[present] = (len(levels) / (int(present.sum()) * counts[present])) ** power
        weights.append(balanced)
    return weights


def weighted_level_loss(
    logits: Tensor, levels: Tensor, class_weights: list[Tensor], weights: Tensor, max_scores: tuple[int, ...]
) -> Tensor:
    """Dimension-weighted, class-weighted cross-entropy over score levels: ``sum_d w_d CE_d / sum_d w_d``."""
    parts = logits.split([m + 1 for m in max_scores], dim=-1)
    losses = torch.stack(
        [nn.functional.cross_entropy(part, levels[:, d], weight=class_weights[d]) for d, part in enumerate(parts)]
    )
    return (losses * weights).sum() / weights.sum()


@dataclass
class DistillPool:
    """Videos with (teacher or rule) targets; rollouts join it on relabel.

    Attributes:
        frames: ``(N, V, T, H, W, 3)`` uint8.
        embeddings: ``(N, 384)`` instruction embeddings.
        actions: ``(N, T, A)`` float32 (zeros where ``has_actions`` is False).
        has_actions: ``(N,)`` bool.
        targets: ``(N, D)`` normalised scores in [0, 1].
    """

    frames: Tensor
    embeddings: Tensor
    actions: Tensor
    has_actions: Tensor
    targets: Tensor
    origin: list[str] = field(default_factory=list)

    def __len__(self) -> int:
        return int(self.frames.shape[0])

    def batch(self, index: Tensor) -> tuple[Tensor, Tensor, Tensor | None, Tensor]:
        """``(video (B, V, T, 3, H, W) float, embeddings, actions or None, targets)`` for ``index``."""
        video = frames_from_storage(self.frames[index])
        actions = self.actions[index] if bool(self.has_actions[index].all()) else None
        return video, self.embeddings[index], actions, self.targets[index]

    def extend(self, other: DistillPool) -> None:
        """Append ``other``'s items (its videos must have this pool's shape)."""
        if other.frames.shape[1:] != self.frames.shape[1:]:
            raise ConfigError(f"videos of shape {tuple(other.frames.shape[1:])} cannot join a pool of {tuple(self.frames.shape[1:])}")
        for name in ("frames", "embeddings", "actions", "has_actions", "targets"):
            setattr(self, name, torch.cat([getattr(self, name), getattr(other, name)]))
        self.origin.extend(other.origin)


def video_to_storage(video: Tensor) -> Tensor:
    """``(B, V, T, 3, H, W)`` float in [-1, 1] -> ``(B, V, T, H, W, 3)`` uint8."""
    return to_pixels(video)


def pool_from_data(data: JudgeData, encoder: InstructionEncoder, max_scores: tuple[int, ...], origin: str) -> DistillPool:
    """A pool whose targets are ``data``'s rule labels, normalised."""
    actions = data.actions if data.actions is not None else torch.zeros(len(data), data.frames.shape[2], 4)
    return DistillPool(
        frames=data.frames,
        embeddings=encoder.encode(data.instructions),
        actions=actions,
        has_actions=torch.full((len(data),), data.actions is not None),
        targets=data.scores / torch.tensor(max_scores, dtype=torch.float32),
        origin=[origin] * len(data),
    )


def resample_data(data: JudgeData, frames: int) -> JudgeData:
    """``data`` with every clip cut to ``frames`` frames spread uniformly (actions: window means)."""
    length = data.frames.shape[2]
    picked = data.frames[:, :, frame_positions(length, frames)]
    actions = None
    if data.actions is not None:
        actions, _ = pool_actions(data.actions, len(data), frames, data.actions.shape[-1])
    return JudgeData(picked, actions, data.scores, data.instructions, data.items)


def pool_from_rollout(rollout: Rollout, encoder: InstructionEncoder, frames: int) -> DistillPool:
    """Unlabelled world-model rollouts as a pool for ``relabel`` (targets NaN until the teacher scores them)."""
    if rollout.instructions is None:
        raise ConfigError("rollouts need instructions to be judged")
    stored = video_to_storage(rollout.frames)
    actions = None if rollout.actions is None else episode_actions(rollout.actions.float())
    data = JudgeData(stored, actions, torch.full((rollout.batch_size, 6), float("nan")), list(rollout.instructions), pd.DataFrame())
    data = resample_data(data, frames)
    return pool_from_data(data, encoder, (1,) * 6, "rollouts")


def _brightness(video: Tensor, generator: torch.Generator) -> Tensor:
    factor = 1.0 + (torch.rand(video.shape[0], 1, 1, 1, 1, 1, generator=generator) - 0.5) * 0.3
    return ((video + 1) * factor - 1).clamp(-1, 1)


def fit(model: Judge, pool: DistillPool, config: JudgeTrainConfig, *, steps: int | None = None, desc: str = "train", progress: bool = True) -> list[float]:
    """Minimise ``config.objective``'s loss of ``model`` on ``pool``, plus its inverse dynamics
    head's loss when it has one; returns the loss of every step. A NaN or infinite loss stops
    the fit before its update (``TrainingError``, ``training_run.check_finite``): the caller
    writes no checkpoint."""
    if len(pool) == 0:
        raise ConfigError("cannot train a judge on an empty set of videos")
    if len(config.dimension_weights) != pool.targets.shape[1]:
        raise ConfigError(f"dimension_weights has {len(config.dimension_weights)} entries for {pool.targets.shape[1]} dimensions")
    steps = config.steps if steps is None else steps
    generator = torch.Generator().manual_seed(config.seed)
    weights = torch.tensor(config.dimension_weights, dtype=torch.float32)
    optimizer = torch.optim.AdamW(model.parameters(), lr=config.lr, weight_decay=config.weight_decay)
    schedule = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda s: 0.1 + 0.9 * 0.5 * (1 + np.cos(np.pi * s / max(steps, 1))))
    max_scores = model.config.max_scores
    if config.objective == "levels":
        if not isinstance(model, JudgeTeacher):
            raise ConfigError("the 'levels' objective needs a model with score-level heads (the teacher)")
        class_weights = level_weights(pool.targets, max_scores, config.class_balance)
    model.train()
    losses = []
    bar = tqdm(range(steps), desc=desc, disable=not progress)
    for step in bar:
        index = torch.randint(len(pool), (min(config.batch_size, len(pool)),), generator=generator)
        video, embeddings, actions, targets = pool.batch(index)
        if config.nuisance_augment:
            video = _brightness(video, generator)
        if isinstance(model, JudgeTeacher):
            frames = model.encode_frames(video)
            logits = model.level_logits(frames, embeddings, actions)
            decoded = model.decode_actions(frames)
            if config.objective == "levels":
                loss = weighted_level_loss(logits, target_levels(targets, max_scores), class_weights, weights, max_scores)
            else:
                loss = weighted_huber(expected_scores(logits, model.config), targets, weights, config.huber_delta)
        else:
            scores, decoded = model.scores_and_decoded_actions(video, embeddings, actions)
            loss = weighted_huber(scores, targets, weights, config.huber_delta)
        terms = {"score loss": loss.detach()}
        if decoded is not None and actions is not None:
            consistent = consistent_clips(targets, model.config.dimension_keys)
            decoding = inverse_dynamics_loss(decoded, actions, consistent)
            terms["inverse dynamics loss"] = decoding.detach()
            loss = loss + config.inverse_dynamics_weight * decoding
        check_finite(f"{desc}: step {step + 1} of {steps}", {**terms, "loss": loss.detach()})
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        schedule.step()
        losses.append(loss.item())
        bar.set_postfix(loss=f"{losses[-1]:.4f}")
    return losses


@torch.no_grad()
def predict_pool(model: Judge, pool: DistillPool, batch_size: int = 32, *, rubric: bool = False) -> Tensor:
    """``(N, D)`` normalised predictions (the teacher averages its MC-dropout samples); with
    ``rubric``, the judge's rubric scores (``model.rubric``: whole score levels, the student rounded)."""
    outputs = []
    for begin in range(0, len(pool), batch_size):
        video, embeddings, actions, _ = pool.batch(torch.arange(begin, min(begin + batch_size, len(pool))))
        predictions = model.predict(video, embeddings, actions)
        outputs.append(model.to_rubric(predictions) if rubric else predictions)
    return torch.cat(outputs) if outputs else torch.empty(0, pool.targets.shape[1])


def train_teacher(bench: str | Path, out: str | Path, config: JudgeTrainConfig, *, progress: bool = True) -> JudgeTeacher:
    """Train the teacher on the benchmark's train split and write its checkpoint folder ``out``."""
    meta = read_meta(bench)
    torch.manual_seed(config.seed)
    encoder = InstructionEncoder()
    pool = pool_from_data(load_split(bench, "train"), encoder, meta.max_scores, "bench:train")
    teacher = JudgeTeacher(teacher_config(meta.keys, meta.max_scores, meta.views))
    losses = fit(teacher, pool, config, desc="teacher", progress=progress)
    write_checkpoint(out, teacher, state_info={"train": asdict(config), "losses": losses[-50:], "bench": str(bench)})
    return teacher


def distill(
    teacher: JudgeTeacher,
    bench: str | Path,
    out: str | Path,
    config: JudgeTrainConfig,
    *,
    rollouts: JudgeData | None = None,
    progress: bool = True,
) -> tuple[JudgeStudent, DistillPool]:
    """Distil ``teacher`` into a new student on the train split (+ ``rollouts``), teacher-labelled."""
    meta = read_meta(bench)
    torch.manual_seed(config.seed)
    encoder = InstructionEncoder()
    pool = pool_from_data(load_split(bench, "train"), encoder, meta.max_scores, "bench:train")
    if rollouts is not None:
        clip_frames = pool.frames.shape[2]
        pool.extend(pool_from_data(resample_data(rollouts, clip_frames), encoder, meta.max_scores, "rollouts"))
    pool.targets = predict_pool(teacher, pool)
    student = JudgeStudent(student_config(meta.keys, meta.max_scores, meta.views))
    losses = fit(student, pool, config, desc="distill", progress=progress)
    write_checkpoint(out, student, state_info={"train": asdict(config), "losses": losses[-50:], "pool": len(pool)})
    return student, pool


def relabel(teacher: JudgeTeacher, student: JudgeStudent, fresh: DistillPool, pool: DistillPool, config: JudgeTrainConfig, steps: int = 20) -> dict[str, float]:
    """The RL hook: the teacher scores ``fresh`` rollouts, they join ``pool``, the student is refreshed.

    Returns the student's error against the teacher on the fresh videos before and after the
    refresh, the pool size and the refresh's mean loss.
    """
    fresh.targets = predict_pool(teacher, fresh)
    before = float((predict_pool(student, fresh) - fresh.targets).abs().mean())
    pool.extend(fresh)
    losses = fit(student, pool, config, steps=steps, desc="relabel", progress=False)
    after = float((predict_pool(student, fresh) - fresh.targets).abs().mean())
    return {"fresh": float(len(fresh)), "pool": float(len(pool)), "student_error_before": before, "student_error_after": after, "loss": float(np.mean(losses))}


@dataclass
class JudgeRelabelHook:
    """RoboAlign-R1's anti-reward-hacking refresh, as ``align``'s ``relabel`` callback.

    Every call: the teacher scores the fresh candidates, they join the distillation pool, and the
    student that the judge reward uses is refreshed on the pool for ``steps`` updates (in place,
    so the reward sees it at once). The pool starts with ``anchor`` (clips of real episodes,
    scored by the teacher at the first call): refreshed on a handful of fresh candidates alone,
    the student forgets its distillation and gives every candidate the same score (measured:
    docs/benchmarks.md, RoboAlign-R1 seed 0), which leaves GRPO nothing to learn from.
    """

    teacher: JudgeTeacher
    student: JudgeStudent
    encoder: InstructionEncoder
    config: JudgeTrainConfig = field(default_factory=JudgeTrainConfig)
    steps: int = 20
    anchor: Rollout | None = None
    pool: DistillPool | None = None

    def __call__(self, rollout: Rollout) -> dict[str, float]:
        # At the teacher's frame count: a clip resampled to fewer frames and stretched back would
        # repeat frames, which the teacher rightly reads as stalls (the student resamples itself).
        check_clip_length(rollout.frames.shape[2], self.teacher.config.num_frames, "relabel (teacher)")
        fresh = pool_from_rollout(rollout, self.encoder, self.teacher.config.num_frames)
        if self.pool is None:
            self.pool = self._first_pool(fresh)
        stats = relabel(self.teacher, self.student, fresh, self.pool, self.config, self.steps)
        self.student.eval()
        return stats

    def _first_pool(self, fresh: DistillPool) -> DistillPool:
        """The anchor clips with the teacher's scores, or an empty pool shaped like ``fresh``."""
        if self.anchor is None:
            empty = {name: getattr(fresh, name)[:0] for name in ("frames", "embeddings", "actions", "has_actions")}
            return DistillPool(**empty, targets=fresh.targets[:0])
        check_clip_length(self.anchor.frames.shape[2], self.teacher.config.num_frames, "relabel anchor (teacher)")
        anchor = pool_from_rollout(self.anchor, self.encoder, self.teacher.config.num_frames)
        anchor.targets = predict_pool(self.teacher, anchor)
        return anchor
