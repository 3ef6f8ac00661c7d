"""Evaluations of trained models against recorded data.

- ``world_model``: rollouts of a world model from real episode starts, scored per horizon
  (PSNR, SSIM, LPIPS) per context policy, against baselines, the autoencoder ceiling and the
  action gap.
- ``world_model_env``: ``WorldModelEnv``, the world model as a Gymnasium environment (WorldGym).
- ``policy_ranking``: the world model as a policy evaluator: success of the same actions in the
  world model and the simulator, and their rank correlation.
- ``vla``: closed-loop episodes of a VLA policy in Meta-World, per task and layout seed, with
  either action head (imported from ``worldalign.eval.vla``: it loads MuJoCo).
- ``planning``: the world model as a planner executed in Meta-World (EVA), open loop against
  closed loop (replanning from the frames the simulator rendered); imported from
  ``worldalign.eval.planning`` (it loads MuJoCo).
- ``judge``: the judge on its benchmark (rank agreement per dimension, the report, throughput).
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
