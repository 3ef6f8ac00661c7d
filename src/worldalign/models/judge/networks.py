"""The teacher and student judge networks and their configs (RoboAlign-R1, arXiv:2605.03821).

Both map a video ``(B, V, T, 3, H, W)`` in [-1, 1], a ``(B, 384)`` instruction embedding and
optional ``(B, T, A)`` actions to ``(B, D)`` scores normalised to [0, 1] (score / max score), one
per dimension. The paper's teacher is a fine-tuned multimodal LLM whose 5 samples are averaged;
ours is a video transformer averaged over MC-dropout passes (``predict``). The paper's student is
a visual-text encoder with a linear head, about 10x cheaper; ours sees a few small frames.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor, nn

from worldalign.models.judge.video_input import check_video, pool_actions, prepare_video

TEXT_DIM = 384
"""MiniLM instruction-embedding width (``worldalign.models.text``)."""


@dataclass(frozen=True)
class JudgeConfig:
    """Shape of a judge network; saved in the checkpoint's ``config.json``."""

    dimension_keys: tuple[str, ...]
    """The scored dimensions, in output order (from the benchmark's meta.json)."""
    max_scores: tuple[int, ...]
    """Each dimension's top score; outputs are scores divided by it."""
    views: tuple[str, ...]
    """Camera names the judge expects, in order."""
    num_frames: int = 8
    """Frames the judge samples uniformly from any clip."""
    image_size: int = 64
    """Side the frames are resized to."""
    widths: tuple[int, ...] = (32, 48, 64, 96)
    """Channels of the stride-2 convolutions of the frame encoder."""
    width: int = 128
    """Token width (teacher) or fused feature width (student)."""
    depth: int = 2
    """Transformer layers (teacher only)."""
    heads: int = 4
    """Attention heads (teacher only)."""
    dropout: float = 0.1
    """Dropout, also the source of the teacher's stochastic passes."""
    action_dim: int = 4
    """Action width."""
    samples: int = 5
    """Stochastic passes ``predict`` averages (the paper averages 5 judge samples)."""


def frame_encoder(widths: tuple[int, ...], image_size: int, out: int) -> nn.Sequential:
    """``(N, 6, S, S)`` -> ``(N, out)``: stride-2 4x4 convolutions, then a linear map."""
    layers: list[nn.Module] = []
    channels = 6
    for width in widths:
        layers += [nn.Conv2d(channels, width, 4, stride=2, padding=1), nn.GELU()]
        channels = width
    side = image_size // 2 ** len(widths)
    return nn.Sequential(*layers, nn.Flatten(), nn.Linear(channels * side * side, out))


class JudgeTeacher(nn.Module):
    """A video transformer over (view, frame) tokens, an instruction token and action tokens."""

    model_type = "judge_teacher"

    def __init__(self, config: JudgeConfig) -> None:
        super().__init__()
        self.config = config
        width, frames, views = config.width, config.num_frames, len(config.views)
        self.frames = frame_encoder(config.widths, config.image_size, width)
        self.view_embedding = nn.Parameter(torch.zeros(views, 1, width))
        self.time_embedding = nn.Parameter(torch.randn(1, frames, width) * 0.02)
        self.instruction = nn.Linear(TEXT_DIM, width)
        self.actions = nn.Linear(config.action_dim + 1, width)
        layer = nn.TransformerEncoderLayer(
            width, config.heads, 4 * width, config.dropout, activation="gelu", batch_first=True, norm_first=True
        )
        self.transformer = nn.TransformerEncoder(layer, config.depth, enable_nested_tensor=False)
        self.head = nn.Sequential(nn.LayerNorm(width), nn.Dropout(config.dropout), nn.Linear(width, len(config.max_scores)))

    def forward(self, video: Tensor, instruction: Tensor, actions: Tensor | None = None) -> Tensor:
        """``(B, D)`` normalised scores of one (stochastic in train mode) pass."""
        config = self.config
        check_video(video, len(config.views))
        batch, views = video.shape[:2]
        x = prepare_video(video, config.num_frames, config.image_size)
        tokens = self.frames(x.flatten(0, 2)).view(batch, views, config.num_frames, -1)
        tokens = (tokens + self.view_embedding + self.time_embedding).flatten(1, 2)  # (B, V*F, W)
        pooled, present = pool_actions(actions, batch, config.num_frames, config.action_dim)
        pooled, present = pooled.to(video.device), present.to(video.device)
        action_tokens = self.actions(torch.cat([pooled, present[:, None].expand(-1, config.num_frames, -1)], -1))
        text = self.instruction(instruction)[:, None]
        sequence = torch.cat([text, tokens, action_tokens + self.time_embedding], dim=1)
        encoded = self.transformer(sequence)
        return torch.sigmoid(self.head(encoded[:, 0] + encoded[:, 1:].mean(dim=1)))

    @torch.no_grad()
    def predict(self, video: Tensor, instruction: Tensor, actions: Tensor | None = None, samples: int | None = None) -> Tensor:
        """``(B, D)`` mean of ``samples`` MC-dropout passes (dropout on, no gradient)."""
        was_training = self.training
        self.train()
        try:
            passes = [self(video, instruction, actions) for _ in range(samples or self.config.samples)]
        finally:
            self.train(was_training)
        return torch.stack(passes).mean(dim=0)


class JudgeStudent(nn.Module):
    """Tiny frame encoder on a few small frames + instruction + pooled actions, then a linear head."""

    model_type = "judge_student"

    def __init__(self, config: JudgeConfig) -> None:
        super().__init__()
        self.config = config
        feature = 32
        self.frames = frame_encoder(config.widths, config.image_size, feature)
        joint = len(config.views) * config.num_frames * (feature + config.action_dim) + 1 + TEXT_DIM
        # LayerNorm first: unnormalised conv features saturate the sigmoid head and stall training.
        self.fuse = nn.Sequential(nn.LayerNorm(joint), nn.Linear(joint, config.width), nn.GELU())
        self.head = nn.Linear(config.width, len(config.max_scores))

    def forward(self, video: Tensor, instruction: Tensor, actions: Tensor | None = None) -> Tensor:
        """``(B, D)`` normalised scores."""
        config = self.config
        check_video(video, len(config.views))
        batch, views = video.shape[:2]
        x = prepare_video(video, config.num_frames, config.image_size)
        features = self.frames(x.flatten(0, 2)).view(batch, views, config.num_frames, -1)
        pooled, present = pool_actions(actions, batch, config.num_frames, config.action_dim)
        pooled = pooled.to(video.device)[:, None].expand(-1, views, -1, -1)
        joint = torch.cat([torch.cat([features, pooled], -1).flatten(1), present.to(video.device), instruction], dim=1)
        return torch.sigmoid(self.head(self.fuse(joint)))

    @torch.no_grad()
    def predict(self, video: Tensor, instruction: Tensor, actions: Tensor | None = None) -> Tensor:
        """``(B, D)`` deterministic normalised scores (eval mode)."""
        was_training = self.training
        self.eval()
        try:
            return self(video, instruction, actions)
        finally:
            self.train(was_training)


def teacher_config(dimension_keys: tuple[str, ...], max_scores: tuple[int, ...], views: tuple[str, ...]) -> JudgeConfig:
    """The default teacher: 8 frames at full 64 px (objects are a few pixels wide), a 2-layer transformer, 5 MC-dropout samples."""
    return JudgeConfig(dimension_keys, max_scores, views)


def student_config(dimension_keys: tuple[str, ...], max_scores: tuple[int, ...], views: tuple[str, ...]) -> JudgeConfig:
    """The default student: 8 frames at 24 px through three narrow convolutions, no transformer."""
    return JudgeConfig(
        dimension_keys, max_scores, views, num_frames=8, image_size=24, widths=(16, 24, 32), width=128, depth=0, dropout=0.0, samples=1
    )
