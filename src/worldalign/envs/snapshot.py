"""Exact snapshots of a Meta-World simulator state, flattened to one float64 row.

Meta-World's own ``get_env_state``/``set_env_state`` (Yu et al. 2019, arXiv:1910.10897) keep
only ``qpos``/``qvel``: the mocap target that drives the arm, the actuator controls, the
solver's warm start and the scene layout are lost, so a replay drifts. A ``Snapshot`` keeps
everything a bitwise replay needs:

- ``layout``: the random vector that placed objects and goal (``_last_rand_vec``);
- ``physics``: MuJoCo's full integration state (``mj_getState(..., mjSTATE_INTEGRATION)``:
  time, qpos, qvel, activations, warm start, controls, applied forces, mocap poses);
- ``step``: Meta-World's simulator step counter (its 500-step limit counts from it);
- ``prev_obs``: the 18 values Meta-World frame-stacks into its next observation;
- ``obs``: the 39-value observation of this state (what a scripted expert acts on);
- ``last_action``: the action that led here (zeros after a reset): Meta-World computes the
  state's ``info`` flags from it.

An episode stores ``layout`` once and the rest as one row per frame (``to_vector``), so the
``(T, D)`` snapshot matrix fits a parquet column.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from worldalign.errors import DatasetError

PREV_OBS_SIZE = 18
"""Meta-World's per-frame observation without the goal: hand (3), gripper (1), objects (14)."""
OBS_SIZE = 39
"""Meta-World's observation: this frame (18), the previous frame (18), goal (3)."""
ACTION_SIZE = 4
"""Meta-World's action: hand displacement (3), gripper effort (1)."""

# Row layout of ``to_vector``: fixed-size fields first, so the physics state (whose size
# depends on the task's model) is simply the remainder.
_HEADER = 1 + ACTION_SIZE + PREV_OBS_SIZE + OBS_SIZE


@dataclass(frozen=True)
class Snapshot:
    """Everything needed to put a Meta-World environment back into one exact state.

    Attributes:
        layout: ``(L,)`` float64 random layout vector of the scene.
        physics: ``(P,)`` float64 MuJoCo integration state.
        step: Meta-World's simulator step counter.
        prev_obs: ``(18,)`` float64 frame-stacking buffer.
        obs: ``(39,)`` float64 observation of this state.
        last_action: ``(4,)`` float32 action that led to this state.
    """

    layout: np.ndarray
    physics: np.ndarray
    step: int
    prev_obs: np.ndarray
    obs: np.ndarray
    last_action: np.ndarray

    def to_vector(self) -> np.ndarray:
        """``(D,)`` float64: ``[step, last_action, prev_obs, obs, physics]`` (``layout`` apart)."""
        return np.concatenate(
            [
                np.array([self.step], dtype=np.float64),
                self.last_action.astype(np.float64),
                self.prev_obs,
                self.obs,
                self.physics,
            ]
        )

    @classmethod
    def from_vector(cls, vector: np.ndarray, layout: np.ndarray) -> Snapshot:
        """Inverse of ``to_vector``; ``layout`` is the episode's ``(L,)`` layout vector."""
        vector = np.asarray(vector, dtype=np.float64)
        # Datasets of several tasks pad narrower snapshot rows with NaN (LeRobotWriter).
        if vector.ndim == 1 and np.isnan(vector[-1]):
            vector = vector[: int(np.flatnonzero(~np.isnan(vector))[-1]) + 1]
        if vector.ndim != 1 or vector.shape[0] <= _HEADER:
            raise DatasetError(
                f"a snapshot row must be a 1-D float64 vector longer than {_HEADER} values, got shape {vector.shape}"
            )
        step = vector[0]
        if step != int(step) or step < 0:
            raise DatasetError(f"snapshot row starts with step counter {step}, expected a non-negative integer")
        actions_end = 1 + ACTION_SIZE
        prev_end = actions_end + PREV_OBS_SIZE
        return cls(
            layout=np.array(layout, dtype=np.float64),
            physics=vector[_HEADER:].copy(),
            step=int(step),
            prev_obs=vector[actions_end:prev_end].copy(),
            obs=vector[prev_end:_HEADER].copy(),
            last_action=vector[1:actions_end].astype(np.float32),
        )
