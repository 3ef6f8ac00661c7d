"""The judge networks' config (RoboAlign-R1, arXiv:2605.03821) and the default teacher and
student shapes; the networks are ``modeling_judge``'s."""

from __future__ import annotations

from dataclasses import dataclass


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
    stem_stride: int = 2
    """Stride (and kernel side, when over 2) of the first convolution: 4 embeds 4x4 patches
    losslessly in 4x less compute."""
    inverse_dynamics: bool = False
    """Decode the action into every step from its frame features (an inverse dynamics head,
    trained on clips whose actions are their own) and give the score heads the residual between
    the given and the decoded action (``action_residual``)."""


def teacher_config(dimension_keys: tuple[str, ...], max_scores: tuple[int, ...], views: tuple[str, ...]) -> JudgeConfig:
    """The default teacher: all 16 frames at full 64 px (objects are a few pixels wide; stalls and gaps
    need every frame) through a 4x4-patch stem, a 2-layer transformer, an inverse dynamics head, 5
    MC-dropout samples."""
    return JudgeConfig(dimension_keys, max_scores, views, num_frames=16, widths=(32, 64, 96), stem_stride=4, inverse_dynamics=True)


def student_config(dimension_keys: tuple[str, ...], max_scores: tuple[int, ...], views: tuple[str, ...]) -> JudgeConfig:
    """The default student: 8 frames at 24 px through three narrow convolutions, their motion
    statistics and an inverse dynamics head, no transformer."""
    return JudgeConfig(
        dimension_keys, max_scores, views, num_frames=8, image_size=24, widths=(16, 24, 32), width=128, depth=0, dropout=0.0,
        samples=1, inverse_dynamics=True,
    )
