"""Evaluations of trained models against recorded data.

- ``world_model``: rollouts of a world model from real episode starts, scored per horizon
  (PSNR, SSIM, LPIPS) per context policy, against baselines, the autoencoder ceiling and the
  action gap.
"""

from worldalign.eval.world_model import (
    ActionGap,
    Curves,
    PolicyResult,
    WorldModelReport,
    derangement,
    evaluate_world_model,
    usable_episodes,
)

__all__ = [
    "ActionGap",
    "Curves",
    "PolicyResult",
    "WorldModelReport",
    "derangement",
    "evaluate_world_model",
    "usable_episodes",
]
