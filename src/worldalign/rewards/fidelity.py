"""Multi-view visual fidelity reward: generated future vs the real one, LPIPS + SSIM + PSNR.

PersistWorld ("Persistent Robot World Models: Stabilizing Multi-Step Rollouts via Reinforcement
Learning", arXiv:2603.25685) scores each candidate continuation against the ground-truth future
with complementary perceptual metrics, combined across camera views and aggregated at the clip
level, for a dense, low-variance training signal.

Per frame and view, each metric is mapped to a comparable [0, 1] "higher is better" score:

- LPIPS (Zhang et al. 2018, arXiv:1801.03924): ``1 - lpips`` clipped to [0, 1] (AlexNet LPIPS
  lies in [0, ~1]; 0 is identical);
- SSIM (Wang et al. 2004): ``ssim`` clipped to [0, 1] (negative SSIM, anti-correlated
  structure, is as useless as zero for a video model);
- PSNR: ``psnr / psnr_max_db`` clipped to [0, 1] (identical frames, +inf dB, score 1).

The frame score is the metric-weighted mean; views are combined with per-view weights (e.g. the
wrist camera, which sees the contact, may count more), then frames are averaged with an optional
discount ``gamma^t`` (``gamma < 1`` weights the first frames more: errors there compound in an
autoregressive rollout).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import torch
from torch import Tensor

from worldalign.data.types import Rollout
from worldalign.errors import ConfigError
from worldalign.metrics import METRIC_NAMES, compare_frames
from worldalign.rewards.base import component_key, normalized_view_weights


@dataclass(frozen=True)
class FidelityConfig:
    """How the fidelity reward weighs metrics, views and frames."""

    metric_weights: Mapping[str, float] = field(default_factory=lambda: {"lpips": 1.0, "ssim": 1.0, "psnr": 1.0})
    """Weight of each metric's normalised score (normalised to sum 1); equal by default, as
    PersistWorld combines them: each catches errors the others miss (texture, structure, pixels)."""
    view_weights: Mapping[str, float] | None = None
    """Weight per camera name (normalised over the rollout's views); a view not named gets 1.0.
    ``None``: all views equal."""
    psnr_max_db: float = 40.0
    """PSNR that counts as perfect; 40 dB is near-invisible error at 8 bits."""
    discount: float = 1.0
    """Per-frame discount gamma of the clip average (1.0: plain mean over frames)."""

    def __post_init__(self) -> None:
        unknown = sorted(set(self.metric_weights) - set(METRIC_NAMES))
        if unknown or not self.metric_weights:
            raise ConfigError(
                f"FidelityConfig.metric_weights names {unknown or 'nothing'}; expected names from {list(METRIC_NAMES)}"
            )
        if any(w < 0 for w in self.metric_weights.values()) or sum(self.metric_weights.values()) <= 0:
            raise ConfigError(
                f"FidelityConfig.metric_weights {dict(self.metric_weights)}: expected weights >= 0, not all 0"
            )
        if self.view_weights is not None and any(w < 0 for w in self.view_weights.values()):
            raise ConfigError(f"FidelityConfig.view_weights {dict(self.view_weights)}: expected weights >= 0")
        if self.psnr_max_db <= 0:
            raise ConfigError(f"FidelityConfig.psnr_max_db={self.psnr_max_db}; expected > 0")
        if not 0 < self.discount <= 1:
            raise ConfigError(f"FidelityConfig.discount={self.discount}; expected 0 < discount <= 1")


def normalized_scores(raw: Mapping[str, Tensor], psnr_max_db: float) -> dict[str, Tensor]:
    """Map raw metric values ``(...)`` to [0, 1] scores, higher is better (module docstring)."""
    maps = {
        "lpips": lambda v: (1.0 - v).clamp(0.0, 1.0),
        "ssim": lambda v: v.clamp(0.0, 1.0),
        "psnr": lambda v: (v / psnr_max_db).clamp(0.0, 1.0),
    }
    return {name: maps[name](values) for name, values in raw.items()}


class FidelityReward:
    """The multi-view fidelity reward (PersistWorld); needs ``rollout.reference``.

    Returns ``fidelity`` (B,) in [0, 1] and components ``fidelity/{lpips,ssim,psnr}`` (the raw
    metrics, view-weighted clip means) and ``fidelity/view/<name>`` (each view's score).
    """

    name = "fidelity"

    def __init__(self, config: FidelityConfig | None = None) -> None:
        self.config = config or FidelityConfig()

    def view_weights(self, views: tuple[str, ...]) -> Tensor:
        """``(V,)`` normalised weights of the rollout's views."""
        return normalized_view_weights(self.config.view_weights, views, self.name)

    @torch.no_grad()
    def __call__(self, rollout: Rollout) -> dict[str, Tensor]:
        if rollout.reference is None:
            raise ConfigError(
                "fidelity reward: the rollout has no reference (ground-truth future); build the Rollout with "
                "reference=(B, V, T, 3, H, W) frames, or drop 'fidelity' from --rewards"
            )
        config = self.config
        metrics = [name for name, weight in config.metric_weights.items() if weight > 0]
        # A reward needs no scikit-image-exact SSIM: the fast path differs by ~3e-5 at most.
        raw = compare_frames(
            rollout.frames, rollout.reference, metrics, psnr_max_db=config.psnr_max_db, precise=False
        )  # (B, V, T)
        scores = normalized_scores(raw, config.psnr_max_db)
        metric_total = sum(config.metric_weights[name] for name in metrics)
        frame_score = sum(config.metric_weights[name] / metric_total * scores[name] for name in metrics)  # (B, V, T)
        device = rollout.frames.device
        view_w = self.view_weights(rollout.views).to(device)  # (V,)
        steps = rollout.frames.shape[2]
        time_w = config.discount ** torch.arange(steps, dtype=torch.float32, device=device)
        time_w = time_w / time_w.sum()  # (T,)

        def clip_mean(per_view_frame: Tensor) -> Tensor:  # (B, V, T) -> (B,)
            return torch.einsum("bvt,v,t->b", per_view_frame.float(), view_w, time_w)

        out = {self.name: clip_mean(frame_score)}
        for name in metrics:
            out[component_key(self.name, name)] = clip_mean(raw[name])
        per_view = torch.einsum("bvt,t->bv", frame_score.float(), time_w)  # (B, V)
        for index, view in enumerate(rollout.views):
            out[component_key(self.name, f"view/{view}")] = per_view[:, index]
        return out


def make_fidelity_reward(
    metric_weights: Mapping[str, float] | None = None,
    view_weights: Mapping[str, float] | None = None,
    psnr_max_db: float = 40.0,
    discount: float = 1.0,
) -> FidelityReward:
    """Registry factory of ``FidelityReward`` (options as in ``FidelityConfig``)."""
    defaults = FidelityConfig()
    return FidelityReward(
        FidelityConfig(
            metric_weights=metric_weights if metric_weights is not None else defaults.metric_weights,
            view_weights=view_weights,
            psnr_max_db=psnr_max_db,
            discount=discount,
        )
    )
