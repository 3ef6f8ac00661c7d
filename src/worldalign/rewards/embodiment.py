"""The embodiment's limits the executability reward checks decoded actions against.

For Meta-World (Yu et al. 2019, arXiv:1910.10897) the action is ``[dx, dy, dz, gripper]`` in
[-1, 1]: the hand's mocap target moves by ``action * action_scale`` metres per simulator step
(held for ``action_repeat`` steps per policy action) and is clipped to the task's box
``[mocap_low, mocap_high]``; the hand cannot leave that box. The values are read from the
task's Meta-World environment, not copied, so they follow Meta-World.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np
from metaworld.env_dict import ALL_V3_ENVIRONMENTS

from worldalign.errors import ConfigError


@dataclass(frozen=True)
class EmbodimentLimits:
    """Action bounds and hand workspace of one task.

    Attributes:
        action_low, action_high: ``(A,)`` bounds of a valid action.
        workspace_low, workspace_high: ``(3,)`` box the hand can reach, metres.
        metres_per_action: hand displacement, metres, of a unit action held for one policy step.
    """

    action_low: np.ndarray
    action_high: np.ndarray
    workspace_low: np.ndarray
    workspace_high: np.ndarray
    metres_per_action: float


@functools.cache
def metaworld_limits(task: str, action_repeat: int = 2) -> EmbodimentLimits:
    """The limits of Meta-World task ``task`` at ``action_repeat`` simulator steps per action."""
    if task not in ALL_V3_ENVIRONMENTS:
        raise ConfigError(f"no embodiment limits for task {task!r}: not a Meta-World v3 task")
    env = ALL_V3_ENVIRONMENTS[task]()
    try:
        return EmbodimentLimits(
            action_low=np.asarray(env.action_space.low, dtype=np.float64),
            action_high=np.asarray(env.action_space.high, dtype=np.float64),
            workspace_low=np.asarray(env.mocap_low, dtype=np.float64),
            workspace_high=np.asarray(env.mocap_high, dtype=np.float64),
            metres_per_action=float(env.action_scale) * action_repeat,
        )
    finally:
        env.close()
