"""Evaluations of trained models against recorded data.

- ``world_model``: rollouts of a world model from real episode starts, scored per horizon
  (PSNR, SSIM, LPIPS) per context policy, against baselines, the autoencoder ceiling and the
  action gap.
- ``world_model_env``: ``WorldModelEnv``, the world model as a Gymnasium environment (WorldGym).
- ``policy_ranking``: the world model as a policy evaluator: success of the same actions in the
  world model and the simulator, and their rank correlation.
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
