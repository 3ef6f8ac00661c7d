"""``MetaWorldEnv``: one Meta-World v3 task as a deterministic, restorable, rendered world.

Meta-World (Yu et al. 2019, arXiv:1910.10897) is a Gymnasium environment tuned for state-based
RL. This adapter makes it a source of robot episodes and an executor of decoded actions:

- determinism: a seed fixes the scene layout (``env.seed(s)`` with ``seeded_rand_vec``;
  Meta-World ignores ``reset(seed=...)``), so the same seed gives bitwise-identical frames;
- one policy action is held for ``action_repeat`` simulator steps, which sets the frame rate;
- fast multi-view rendering (``FastRenderer``), proprioception, privileged per-step state;
- exact ``snapshot``/``restore`` and ``execute`` (replay actions from a snapshot).

The goal-observable variant of each task is used: its observation carries the goal position,
which Meta-World's scripted experts read.
"""

from __future__ import annotations

import difflib
from collections.abc import Sequence
from dataclasses import dataclass

import mujoco
import numpy as np
from metaworld.env_dict import ALL_V3_ENVIRONMENTS, ALL_V3_ENVIRONMENTS_GOAL_OBSERVABLE

from worldalign.data.types import PRIVILEGED_FIELDS
from worldalign.envs.cameras import DEFAULT_VIEWS, resolve_views
from worldalign.envs.render import FastRenderer
from worldalign.envs.snapshot import ACTION_SIZE, Snapshot
from worldalign.errors import ConfigError

_STATE_SPEC = mujoco.mjtState.mjSTATE_INTEGRATION
_INFO_FIELDS = ("success", "grasp_success", "near_object", "obj_to_target")
"""Privileged fields read from Meta-World's ``info`` (the others come from the simulator)."""


@dataclass
class ExecutionResult:
    """What executing ``T`` actions from a snapshot produced.

    Attributes:
        frames: ``(V, T, H, W, 3)`` uint8; ``frames[:, t]`` is the view after action ``t``.
        state: ``(T, 4)`` float32 proprioception after each action.
        privileged: ``name -> (T, *shape)`` float32, as in ``PRIVILEGED_FIELDS``.
        step_success: ``(T,)`` bool, Meta-World's success flag after each action.
        success: whether the task was solved after any action.
        final_obj_to_target: Meta-World's ``obj_to_target`` distance after the last action.
    """

    frames: np.ndarray
    state: np.ndarray
    privileged: dict[str, np.ndarray]
    step_success: np.ndarray
    success: bool
    final_obj_to_target: float


def _check_task(task: str) -> None:
    if task not in ALL_V3_ENVIRONMENTS:
        close = difflib.get_close_matches(task, list(ALL_V3_ENVIRONMENTS), n=1)
        hint = f" Did you mean {close[0]!r}?" if close else ""
        raise ConfigError(f"unknown Meta-World v3 task {task!r}.{hint} Valid tasks: {', '.join(ALL_V3_ENVIRONMENTS)}.")


class MetaWorldEnv:
    """One Meta-World v3 task, rendered from named views, with exact snapshot and replay.

    Args:
        task: Meta-World v3 task name, e.g. ``"reach-v3"``.
        views: camera view names (see ``worldalign.envs.cameras.CAMERAS``); may be empty when
            no images are needed (expert evaluation).
        image_size: square image side, pixels.
        action_repeat: simulator steps (each of Meta-World's ``frame_skip`` physics steps) per
            policy action; the recording frame rate is ``fps``.
        seed: seeds the layout generator; ``reset(seed=...)`` reseeds it.
    """

    def __init__(
        self,
        task: str,
        views: str | Sequence[str] = DEFAULT_VIEWS,
        image_size: int = 64,
        action_repeat: int = 2,
        seed: int = 0,
    ) -> None:
        _check_task(task)
        if action_repeat < 1:
            raise ConfigError(f"action_repeat must be >= 1, got {action_repeat}")
        self.task = task
        self.views = resolve_views(views)
        self.image_size = image_size
        self.action_repeat = action_repeat
        self._env = ALL_V3_ENVIRONMENTS_GOAL_OBSERVABLE[f"{task}-goal-observable"](seed=seed)
        self._env.seeded_rand_vec = True
        self._renderer = FastRenderer(self._env.model, self.views, image_size) if self.views else None
        self._obs = np.zeros(0)
        self._last_action = np.zeros(ACTION_SIZE, dtype=np.float32)
        self._info: dict[str, float] = {}
        self.reset(seed)

    @property
    def model(self) -> mujoco.MjModel:
        """The MuJoCo model (read it; the scene layout lives in it after a reset)."""
        return self._env.model

    @property
    def data(self) -> mujoco.MjData:
        """The MuJoCo state, for deliberate edits (e.g. moving an object mid-episode).

        After editing ``qpos``/``qvel``/``mocap_pos``, call ``mujoco.mj_forward`` so that
        ``render`` and the positions in ``privileged`` see the edit; ``observation`` and the
        ``info`` flags follow at the next ``step``. ``snapshot`` keeps the edited state.
        """
        return self._env.data

    @property
    def fps(self) -> int:
        """Frames per second of a recording: one frame per policy action."""
        seconds_per_action = self._env.model.opt.timestep * self._env.frame_skip * self.action_repeat
        return round(1.0 / seconds_per_action)

    @property
    def max_policy_steps(self) -> int:
        """Policy actions Meta-World allows after a reset (its limit is in simulator steps)."""
        return self._env.max_path_length // self.action_repeat

    @property
    def policy_step(self) -> int:
        """Policy actions taken since the last reset."""
        return self._env.curr_path_length // self.action_repeat

    @property
    def observation(self) -> np.ndarray:
        """``(39,)`` float64 Meta-World observation of the current state (expert input)."""
        return self._obs.copy()

    @property
    def layout(self) -> np.ndarray:
        """``(L,)`` float64 random vector that placed this episode's objects and goal."""
        return np.array(self._env._last_rand_vec, dtype=np.float64)

    def reset(self, seed: int | None = None) -> np.ndarray:
        """Start an episode with a new random layout; returns the observation.

        With ``seed`` the layout generator is reseeded first, so the layout, and every frame
        that follows from the same actions, is a function of the seed.
        """
        if seed is not None:
            self._env.seed(seed)
        self._env._freeze_rand_vec = False
        self._obs, _ = self._env.reset()
        # Meta-World moves the goal site in the model after its last forward pass, so the
        # first frame would show the goal where the previous episode had it.
        mujoco.mj_forward(self._env.model, self._env.data)
        self._last_action = np.zeros(ACTION_SIZE, dtype=np.float32)
        self._info = self._env.evaluate_state(self._obs, self._last_action)[1]
        return self.observation

    def step(self, action: np.ndarray) -> np.ndarray:
        """Hold one policy action for ``action_repeat`` simulator steps; returns the observation.

        The action is cast to float32 and clipped to Meta-World's box [-1, 1]^4 (what it
        applies anyway), so a recorded float32 action replays exactly.
        """
        action = np.asarray(action, dtype=np.float32)
        if action.shape != (ACTION_SIZE,):
            raise ConfigError(f"{self.task}: an action must have shape ({ACTION_SIZE},), got {action.shape}")
        if not np.all(np.isfinite(action)):
            raise ConfigError(f"{self.task}: action {action} is not finite")
        if self.policy_step + 1 > self.max_policy_steps:
            raise ConfigError(
                f"{self.task}: policy step {self.policy_step + 1} passes Meta-World's limit of "
                f"{self._env.max_path_length} simulator steps ({self.max_policy_steps} policy steps at "
                f"action_repeat={self.action_repeat}); reset first, or ask for at most {self.max_policy_steps} steps"
            )
        action = np.clip(action, -1.0, 1.0)
        for _ in range(self.action_repeat):
            obs, _, _, _, info = self._env.step(action)
        self._obs = obs
        self._last_action = action
        self._info = info
        return self.observation

    def render(self) -> np.ndarray:
        """``(V, H, W, 3)`` uint8 images of the current state, one per view."""
        if self._renderer is None:
            return np.zeros((0, self.image_size, self.image_size, 3), dtype=np.uint8)
        return self._renderer.render(self._env.data)

    def proprio(self) -> np.ndarray:
        """``(4,)`` float32: hand position (m) and gripper opening (0 closed .. 1 open)."""
        return self._obs[:4].astype(np.float32)

    def success(self) -> bool:
        """Meta-World's success flag for the current state."""
        return bool(self._info["success"])

    def privileged(self) -> dict[str, np.ndarray]:
        """Simulator truth of the current state, ``PRIVILEGED_FIELDS`` names and shapes, float32.

        Positions come from the simulator (hand body, first object, goal); the flags and the
        object-to-target distance are Meta-World's ``info`` values for this state.
        """
        env = self._env
        values = {
            "hand_pos": env.get_endeff_pos(),
            "object_pos": env._get_pos_objects()[:3],
            "goal_pos": env._target_pos,
            **{name: np.array([self._info[name]]) for name in _INFO_FIELDS},
        }
        return {name: np.asarray(values[name], dtype=np.float32).reshape(shape) for name, shape in PRIVILEGED_FIELDS.items()}

    def snapshot(self) -> Snapshot:
        """The exact current state (see ``worldalign.envs.snapshot``)."""
        model, data = self._env.model, self._env.data
        physics = np.empty(mujoco.mj_stateSize(model, _STATE_SPEC), dtype=np.float64)
        mujoco.mj_getState(model, data, physics, _STATE_SPEC)
        return Snapshot(
            layout=self.layout,
            physics=physics,
            step=int(self._env.curr_path_length),
            prev_obs=np.array(self._env._prev_obs, dtype=np.float64),
            obs=self._obs.copy(),
            last_action=self._last_action.copy(),
        )

    def restore(self, snapshot: Snapshot) -> np.ndarray:
        """Put the environment back into ``snapshot``'s exact state; returns the observation.

        Resetting with the saved layout frozen rebuilds what Meta-World derives from it outside
        MuJoCo's state (goal site, object placement in the model, reward constants); the
        integration state then overwrites the physics.
        """
        env, model, data = self._env, self._env.model, self._env.data
        expected_physics = mujoco.mj_stateSize(model, _STATE_SPEC)
        expected_layout = env._random_reset_space.low.size
        if snapshot.physics.shape != (expected_physics,) or snapshot.layout.shape != (expected_layout,):
            raise ConfigError(
                f"{self.task}: snapshot has physics {snapshot.physics.shape} and layout {snapshot.layout.shape}, "
                f"expected ({expected_physics},) and ({expected_layout},); was it recorded on another task?"
            )
        env._last_rand_vec = snapshot.layout.copy()
        env._freeze_rand_vec = True
        env.reset()
        mujoco.mj_setState(model, data, snapshot.physics, _STATE_SPEC)
        mujoco.mj_forward(model, data)
        # The forward pass recomputes positions for rendering and rewards, but its constraint
        # solve also rewrites the solver warm start (by a few ulps); the next step would then
        # start from a different guess and drift. Setting the state again restores it exactly.
        mujoco.mj_setState(model, data, snapshot.physics, _STATE_SPEC)
        env.curr_path_length = snapshot.step
        env._prev_obs = snapshot.prev_obs.copy()
        self._obs = snapshot.obs.copy()
        self._last_action = snapshot.last_action.astype(np.float32)
        self._info = env.evaluate_state(self._obs, self._last_action)[1]
        return self.observation

    def execute(self, actions: np.ndarray, from_snapshot: Snapshot) -> ExecutionResult:
        """Restore ``from_snapshot``, apply ``(T, 4)`` actions, and report what happened.

        Recorded actions replayed from a recorded snapshot reproduce the recorded frames and
        states bitwise.
        """
        actions = np.asarray(actions, dtype=np.float32)
        if actions.ndim != 2 or actions.shape[1] != ACTION_SIZE or actions.shape[0] == 0:
            raise ConfigError(f"{self.task}: execute needs (T, {ACTION_SIZE}) actions with T >= 1, got {actions.shape}")
        self.restore(from_snapshot)
        frames, states, privileged = [], [], []
        for action in actions:
            self.step(action)
            frames.append(self.render())
            states.append(self.proprio())
            privileged.append(self.privileged())
        stacked = {name: np.stack([row[name] for row in privileged]) for name in PRIVILEGED_FIELDS}
        step_success = stacked["success"][:, 0] > 0
        return ExecutionResult(
            frames=np.stack(frames, axis=1),
            state=np.stack(states),
            privileged=stacked,
            step_success=step_success,
            success=bool(step_success.any()),
            final_obj_to_target=float(stacked["obj_to_target"][-1, 0]),
        )

    def close(self) -> None:
        """Free the renderer's GL context and the simulator."""
        if self._renderer is not None:
            self._renderer.close()
            self._renderer = None
        self._env.close()

    def __enter__(self) -> MetaWorldEnv:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()
