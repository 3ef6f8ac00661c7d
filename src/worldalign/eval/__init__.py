"""Evaluations of trained models against recorded data.

- ``world_model``: rollouts of a world model from real episode starts, scored per horizon
  (PSNR, SSIM, LPIPS) per context policy, against baselines, the autoencoder ceiling and the
  action gap.
- ``vla``: closed-loop episodes of a VLA policy in Meta-World, per task and layout seed, with
  either action head (imported from ``worldalign.eval.vla``: it loads MuJoCo).
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
