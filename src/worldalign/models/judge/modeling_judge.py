"""The teacher and student judge networks (RoboAlign-R1, arXiv:2605.03821); their config is
``configuration_judge``.

Both map a video ``(B, V, T, 3, H, W)`` in [-1, 1], a ``(B, 384)`` instruction embedding and
optional ``(B, T, A)`` actions to ``(B, D)`` scores normalised to [0, 1] (score / max score), one
per dimension. The paper's teacher is a fine-tuned multimodal LLM whose 5 sampled integer scores
are averaged; ours is a video transformer that classifies each dimension into its score levels,
and ``predict`` averages the level of each of 5 MC-dropout passes. The paper's student is a
visual-text encoder with a linear head, about 10x cheaper; ours sees a few small frames and
regresses the teacher's scores (``rubric`` rounds them to levels for ranking against labels).
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from worldalign.models.judge.configuration_judge import JudgeConfig
from worldalign.models.judge.video_input import check_video, motion_statistics, pool_actions, prepare_video

TEXT_DIM = 384
"""MiniLM instruction-embedding width (``worldalign.models.text``)."""


def frame_encoder(widths: tuple[int, ...], image_size: int, out: int, stem_stride: int = 2) -> nn.Sequential:
    """``(N, 6, S, S)`` -> ``(N, out)``: a stride-``stem_stride`` stem, stride-2 4x4 convolutions, then a linear map."""
    layers: list[nn.Module] = []
    channels = 6
    for index, width in enumerate(widths):
        if index == 0 and stem_stride > 2:
            layers += [nn.Conv2d(channels, width, stem_stride, stride=stem_stride), nn.GELU()]
        else:
            layers += [nn.Conv2d(channels, width, 4, stride=2, padding=1), nn.GELU()]
        channels = width
    side = image_size // (max(stem_stride, 2) * 2 ** (len(widths) - 1))
    return nn.Sequential(*layers, nn.Flatten(), nn.Linear(channels * side * side, out))


def score_levels(config: JudgeConfig) -> list[int]:
    """Number of score levels of each dimension (``max_score + 1``)."""
    return [m + 1 for m in config.max_scores]


def expected_scores(logits: Tensor, config: JudgeConfig) -> Tensor:
    """``(B, sum levels)`` logits -> ``(B, D)`` expected score of each dimension, normalised to [0, 1]."""
    outputs = []
    for part, top in zip(logits.split(score_levels(config), dim=-1), config.max_scores):
        levels = torch.arange(top + 1, dtype=part.dtype, device=part.device) / top
        outputs.append(part.softmax(dim=-1) @ levels)
    return torch.stack(outputs, dim=-1)


def level_scores(logits: Tensor, config: JudgeConfig) -> Tensor:
    """``(B, sum levels)`` logits -> ``(B, D)`` most likely score level of each dimension, normalised."""
    parts = logits.split(score_levels(config), dim=-1)
    return torch.stack([part.argmax(dim=-1).float() / top for part, top in zip(parts, config.max_scores)], dim=-1)


def rubric_scores(normalised: Tensor, max_scores: tuple[int, ...]) -> Tensor:
    """``(B, D)`` normalised scores rounded to the nearest rubric level (the integer scores labels use), normalised.

    Ranking against integer labels needs scores that can tie: a continuous score that orders
    every pair of levels right but varies within a level has a Spearman correlation of at most
    ``sqrt(3 p (1 - p))`` with a binary label whose rarer level has frequency ``p`` (0.57 at
    ``p = 0.125``), so the issue's 0.8 target is only reachable by a judge that scores in levels.
    """
    scale = torch.tensor(max_scores, dtype=normalised.dtype, device=normalised.device)
    return torch.round(normalised * scale) / scale


def inverse_dynamics_head(width: int, action_dim: int) -> nn.Sequential:
    """``(B, F, width)`` per-step features -> ``(B, F, action_dim)`` decoded actions."""
    return nn.Sequential(nn.LayerNorm(width), nn.Linear(width, width), nn.GELU(), nn.Linear(width, action_dim))


def decode_incoming_actions(head: nn.Module | None, step_features: Tensor) -> Tensor | None:
    """``(B, F, A)`` the action into each step decoded from ``(B, F, C)`` features that see the
    change from the previous frame (step 0 has none: zeros); ``None`` without a head."""
    if head is None:
        return None
    decoded = head(step_features[:, 1:])
    return torch.cat([torch.zeros_like(decoded[:, :1]), decoded], dim=1)


def incoming_actions(pooled: Tensor) -> Tensor:
    """``(B, F, A)`` the action into each step (the benchmark stores the action out of each frame)."""
    return torch.cat([torch.zeros_like(pooled[:, :1]), pooled[:, :-1]], dim=1)


def action_residual(incoming: Tensor, decoded: Tensor, present: Tensor) -> Tensor:
    """``(B, F, A)`` given minus decoded action into each step; zero when no actions are given.

    A measurement for the score heads, not a target for them: the decoder learns only from its
    own loss (``algos.judge.inverse_dynamics_loss``), so the residual keeps its meaning.
    """
    return (incoming - decoded.detach()) * present[:, None]


class JudgeTeacher(nn.Module):
    """A video transformer over per-time-step tokens, an instruction token, with score-level heads.

    Each time step's token fuses the frame and frame-difference features of every view, explicit
    motion statistics of every view (``motion_statistics``) and the actions into and out of that
    frame, so the transformer compares commanded with observed motion
    and sees frame order (stalls, gaps, reversals, shuffles) at every step. Each dimension has a
    classifier over its score levels ``0..max``; ``forward`` returns the expected score.

    With ``config.inverse_dynamics``, a head decodes the action into each step from that step's
    features (the inverse dynamics model of EVA, here a measurement inside the judge): the token
    also carries ``given - decoded``, which is near zero when the video shows the commanded
    motion, so Action-Outcome Consistency reads a residual instead of learning the
    video-to-action map from one bit per clip.
    """

    model_type = "judge_teacher"

    def __init__(self, config: JudgeConfig) -> None:
        super().__init__()
        self.config = config
        width, views = config.width, len(config.views)
        self.frames = frame_encoder(config.widths, config.image_size, width, config.stem_stride)
        self.fuse_views = nn.Sequential(nn.LayerNorm(views * width), nn.Linear(views * width, width))
        self.motion = nn.Linear(3 * views, width)
        self.time_embedding = nn.Parameter(torch.randn(1, config.num_frames, width) * 0.02)
        self.instruction = nn.Linear(TEXT_DIM, width)
        # The action into frame t (which its frame difference shows), the action out of it and,
        # with the inverse dynamics head, the given-minus-decoded residual of the action into it.
        self.inverse_dynamics = inverse_dynamics_head(width, config.action_dim) if config.inverse_dynamics else None
        action_inputs = (3 if config.inverse_dynamics else 2) * config.action_dim + 1
        self.actions = nn.Linear(action_inputs, width)
        layer = nn.TransformerEncoderLayer(
            width, config.heads, 4 * width, config.dropout, activation="gelu", batch_first=True, norm_first=True
        )
        self.transformer = nn.TransformerEncoder(layer, config.depth, enable_nested_tensor=False)
        self.head = nn.Sequential(
            nn.LayerNorm(2 * width), nn.Dropout(config.dropout), nn.Linear(2 * width, sum(score_levels(config)))
        )

    def encode_frames(self, video: Tensor) -> Tensor:
        """``(B, F, W)`` per-time-step features of all views (deterministic: no dropout before the transformer)."""
        config = self.config
        check_video(video, len(config.views))
        batch, views = video.shape[:2]
        x = prepare_video(video, config.num_frames, config.image_size)
        features = self.frames(x.flatten(0, 2)).view(batch, views, config.num_frames, -1)
        return self.fuse_views(features.transpose(1, 2).flatten(2)) + self.motion(motion_statistics(x[:, :, :, :3]))

    def decode_actions(self, frames: Tensor) -> Tensor | None:
        """``(B, F, A)`` the action into each step decoded from ``encode_frames`` features; ``None``
        without the inverse dynamics head."""
        return decode_incoming_actions(self.inverse_dynamics, frames)

    def level_logits(self, frames: Tensor, instruction: Tensor, actions: Tensor | None = None) -> Tensor:
        """``(B, sum_d (max_d + 1))`` score-level logits from ``encode_frames`` features (stochastic in train mode)."""
        config = self.config
        batch = frames.shape[0]
        pooled, present = pool_actions(actions, batch, config.num_frames, config.action_dim)
        pooled, present = pooled.to(frames.device), present.to(frames.device)
        incoming = incoming_actions(pooled)
        parts = [incoming, pooled]
        decoded = self.decode_actions(frames)
        if decoded is not None:
            parts.append(action_residual(incoming, decoded, present))
        step_actions = torch.cat([*parts, present[:, None].expand(-1, config.num_frames, -1)], -1)
        tokens = frames + self.actions(step_actions) + self.time_embedding
        encoded = self.transformer(torch.cat([self.instruction(instruction)[:, None], tokens], dim=1))
        return self.head(torch.cat([encoded[:, 0], encoded[:, 1:].mean(dim=1)], dim=-1))

    def logits(self, video: Tensor, instruction: Tensor, actions: Tensor | None = None) -> Tensor:
        """``(B, sum_d (max_d + 1))`` score-level logits of one pass."""
        return self.level_logits(self.encode_frames(video), instruction, actions)

    def forward(self, video: Tensor, instruction: Tensor, actions: Tensor | None = None) -> Tensor:
        """``(B, D)`` expected normalised scores of one (stochastic in train mode) pass."""
        return expected_scores(self.logits(video, instruction, actions), self.config)

    @torch.no_grad()
    def predict(self, video: Tensor, instruction: Tensor, actions: Tensor | None = None, samples: int | None = None) -> Tensor:
        """``(B, D)`` mean over ``samples`` MC-dropout passes of each pass's score level (its argmax), normalised.

        RoboAlign-R1's teacher samples an integer score per dimension several times and averages
        the samples; each dropout pass here gives its most likely level. The frames are encoded
        once (the frame encoder has no dropout); only the transformer and head are re-run.
        """
        was_training = self.training
        self.train()
        try:
            frames = self.encode_frames(video)
            passes = [
                level_scores(self.level_logits(frames, instruction, actions), self.config)
                for _ in range(samples or self.config.samples)
            ]
        finally:
            self.train(was_training)
        return torch.stack(passes).mean(dim=0)

    def to_rubric(self, predictions: Tensor) -> Tensor:
        """The teacher's ``predict`` output is already its rubric score: averaged whole score levels."""
        return predictions

    def rubric(self, video: Tensor, instruction: Tensor, actions: Tensor | None = None) -> Tensor:
        """``(B, D)`` the judge's rubric scores, normalised: the teacher's averaged score levels (``predict``)."""
        return self.to_rubric(self.predict(video, instruction, actions))


class JudgeStudent(nn.Module):
    """Tiny frame encoder on a few small frames + their explicit motion statistics + instruction +
    pooled actions (+ the inverse dynamics residual, as the teacher's), then a linear head."""

    model_type = "judge_student"

    def __init__(self, config: JudgeConfig) -> None:
        super().__init__()
        self.config = config
        feature = 32
        self.frames = frame_encoder(config.widths, config.image_size, feature)
        views = len(config.views)
        joint = views * config.num_frames * (feature + config.action_dim + 3) + 1 + TEXT_DIM
        self.inverse_dynamics = inverse_dynamics_head(views * feature, config.action_dim) if config.inverse_dynamics else None
        if config.inverse_dynamics:
            joint += config.num_frames * config.action_dim
        # LayerNorm first: unnormalised conv features saturate the sigmoid head and stall training.
        self.fuse = nn.Sequential(nn.LayerNorm(joint), nn.Linear(joint, config.width), nn.GELU())
        self.head = nn.Linear(config.width, len(config.max_scores))

    def forward(self, video: Tensor, instruction: Tensor, actions: Tensor | None = None) -> Tensor:
        """``(B, D)`` normalised scores."""
        return self.scores_and_decoded_actions(video, instruction, actions)[0]

    def scores_and_decoded_actions(
        self, video: Tensor, instruction: Tensor, actions: Tensor | None = None
    ) -> tuple[Tensor, Tensor | None]:
        """``(B, D)`` normalised scores and the ``(B, F, A)`` decoded actions into each step
        (``None`` without the inverse dynamics head), from one pass over the frames."""
        config = self.config
        check_video(video, len(config.views))
        batch, views = video.shape[:2]
        x = prepare_video(video, config.num_frames, config.image_size)
        features = self.frames(x.flatten(0, 2)).view(batch, views, config.num_frames, -1)
        pooled, present = pool_actions(actions, batch, config.num_frames, config.action_dim)
        pooled, present = pooled.to(video.device), present.to(video.device)
        motion = motion_statistics(x[:, :, :, :3]).flatten(1)
        per_view = torch.cat([features, pooled[:, None].expand(-1, views, -1, -1)], -1).flatten(1)
        parts = [per_view, motion, present, instruction]
        decoded = decode_incoming_actions(self.inverse_dynamics, features.transpose(1, 2).flatten(2))
        if decoded is not None:
            parts.append(action_residual(incoming_actions(pooled), decoded, present).flatten(1))
        return torch.sigmoid(self.head(self.fuse(torch.cat(parts, dim=1)))), decoded

    @torch.no_grad()
    def predict(self, video: Tensor, instruction: Tensor, actions: Tensor | None = None) -> Tensor:
        """``(B, D)`` deterministic normalised scores (eval mode)."""
        was_training = self.training
        self.eval()
        try:
            return self(video, instruction, actions)
        finally:
            self.train(was_training)

    def to_rubric(self, predictions: Tensor) -> Tensor:
        """``predict`` output rounded to the nearest score level (normalised).

        The reward uses the continuous ``predict``; ranking against integer labels uses the
        rubric score, as a continuous score cannot tie within a label level (see ``rubric_scores``).
        """
        return rubric_scores(predictions, self.config.max_scores)

    def rubric(self, video: Tensor, instruction: Tensor, actions: Tensor | None = None) -> Tensor:
        """``(B, D)`` the judge's rubric scores, normalised: ``predict`` rounded to the nearest score level."""
        return self.to_rubric(self.predict(video, instruction, actions))
