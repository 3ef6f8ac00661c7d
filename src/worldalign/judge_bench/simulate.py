"""Simulate one short benchmark clip, optionally editing the MuJoCo state mid-episode.

A clip is ``R`` frames rendered every ``stride`` policy steps of a (noisy) scripted expert in
Meta-World (Yu et al. 2019, arXiv:1910.10897), with the privileged state of each rendered frame.
The edits make the contact and physics violations of the RoboAlign-R1 judge benchmark
(arXiv:2605.03821): the object slides by itself, floats up, sinks into the table, or the arm
jumps. They write ``qpos``/``mocap_pos`` directly, so the rendered frames show exactly what the
privileged state (and so the label rules) sees.
"""

from __future__ import annotations

import atexit
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import mujoco
import numpy as np

from worldalign.envs.experts import ScriptedExpert
from worldalign.envs.metaworld_env import MetaWorldEnv
from worldalign.envs.tasks import pick_instruction
from worldalign.errors import ConfigError
from worldalign.judge_bench.labels import CONTACT_DISTANCE

EditKind = Literal["none", "slide", "float", "sink", "teleport"]

SLIDE_DISTANCE = 0.15
"""How far a sliding object travels by itself (well over the 0.03 the contact rule needs)."""
FLOAT_RISE = 0.12
"""How high a floating object rises above where the edit found it."""
SINK_DEPTH = 0.04
"""How deep below its resting height a sinking object goes (its centre passes into the table)."""
TELEPORT_JUMP = 0.35
"""How far the arm's target jumps; the arm covers it within one frame interval."""
EDIT_FRAMES = 2
"""Frames over which a float or sink unfolds (then it is held); a slide takes one."""
TELEPORT_SETTLE_STEPS = 200
"""Physics steps the arm gets to reach the jumped target before the next frame is rendered."""
_JOINT_PROBE = 0.05
# A jump must happen between two shown frames; the other edits unfold after the frame they start at.
_MIN_TELEPORT_FRAME = 1

_INSTRUCTION_STREAM = 0x4A554447


@dataclass(frozen=True)
class Edit:
    """A mid-episode edit of the simulator state.

    Attributes:
        kind: ``"none"``, ``"slide"`` (object moves with nothing touching it), ``"float"``,
            ``"sink"`` (free objects only) or ``"teleport"`` (the arm jumps).
        latest_frame: the edit starts at the first rendered frame (the second for a jump)
            where the hand is out of reach of the object, and at this frame at the latest.
        direction: ``(2,)`` unit vector: the arm's jump (xy), or a free object's slide relative
            to the direction away from the hand (``(1, 0)`` = straight away, so the hand stays
            out of reach); a hinged or sliding joint moves the way it has the most room to.
    """

    kind: EditKind
    latest_frame: int = 2
    direction: tuple[float, float] = (1.0, 0.0)


@dataclass
class SimulatedClip:
    """``R`` rendered frames of one simulation and their privileged state.

    Attributes:
        task: Meta-World task name.
        seed: the layout and noise seed.
        instruction: a paraphrase of the task's instruction.
        frames: ``(V, R, H, W, 3)`` uint8.
        actions: ``(R, 4)`` float32 mean policy action over the ``stride`` steps after each frame.
        obj_to_target: ``(R,)`` float32; success ``(R,)`` bool; hand_pos, object_pos ``(R, 3)``.
        object_free: whether the object sits on a free joint (floats and sinks apply).
        rest_height: the object's height at reset.
        edit_frame: the rendered frame after which the edit began, ``-1`` if none.
    """

    task: str
    seed: int
    instruction: str
    frames: np.ndarray
    actions: np.ndarray
    obj_to_target: np.ndarray
    success: np.ndarray
    hand_pos: np.ndarray
    object_pos: np.ndarray
    object_free: bool
    rest_height: float
    edit_frame: int


@dataclass(frozen=True)
class ObjectJoint:
    """The joint that moves the task object, and how far the object moves per unit of it."""

    qpos_address: int
    dof_address: int
    free: bool
    metres_per_unit: float
    low: float
    high: float


def find_object_joint(env: MetaWorldEnv) -> ObjectJoint:
    """The joint whose ``qpos`` moves the task object most, found by probing each joint."""
    model, data = env.model, env.data
    start = env.privileged()["object_pos"].copy()
    best: tuple[float, int] | None = None
    saved = data.qpos.copy()
    for joint in range(model.njnt):
        data.qpos[model.jnt_qposadr[joint]] += _JOINT_PROBE
        mujoco.mj_forward(model, data)
        moved = float(np.linalg.norm(_object_position(env) - start))
        data.qpos[:] = saved
        mujoco.mj_forward(model, data)
        if moved > 1e-4 and (best is None or moved > best[0]):
            best = (moved, joint)
    if best is None:
        raise ConfigError(f"{env.task}: no joint of the scene moves the task object; it cannot be edited")
    moved, joint = best
    free = model.jnt_type[joint] == mujoco.mjtJoint.mjJNT_FREE
    limited = bool(model.jnt_limited[joint]) and not free
    low, high = (model.jnt_range[joint] if limited else (-np.inf, np.inf))
    return ObjectJoint(
        int(model.jnt_qposadr[joint]), int(model.jnt_dofadr[joint]), bool(free), moved / _JOINT_PROBE, float(low), float(high)
    )


def _object_position(env: MetaWorldEnv) -> np.ndarray:
    return np.asarray(env._env._get_pos_objects()[:3], dtype=np.float64)


class _EditRunner:
    """Applies one ``Edit`` step by step; a kinematic override written after every policy step."""

    def __init__(self, env: MetaWorldEnv, joint: ObjectJoint, edit: Edit, stride: int) -> None:
        self.env, self.joint, self.edit = env, joint, edit
        self.steps = EDIT_FRAMES * stride
        self.started_at_step: int | None = None
        self.origin = np.zeros(0)
        self.slide = np.zeros(2)

    def maybe_start(self, frame: int, step: int, hand: np.ndarray, obj: np.ndarray) -> bool:
        earliest = _MIN_TELEPORT_FRAME if self.edit.kind == "teleport" else 0
        if self.edit.kind == "none" or self.started_at_step is not None or frame < earliest:
            return False
        out_of_reach = np.linalg.norm(hand - obj) > CONTACT_DISTANCE + 0.02
        if not out_of_reach and frame < self.edit.latest_frame:
            return False
        self.started_at_step = step
        address = self.joint.qpos_address
        self.origin = self.env.data.qpos[address : address + (3 if self.joint.free else 1)].copy()
        away = (obj - hand)[:2] / max(float(np.linalg.norm((obj - hand)[:2])), 1e-6)
        cos, sin = self.edit.direction
        self.slide = np.array([cos * away[0] - sin * away[1], sin * away[0] + cos * away[1]])
        if self.edit.kind == "teleport":
            self._teleport()
        return True

    def after_step(self, step: int) -> None:
        if self.started_at_step is None or self.edit.kind in ("none", "teleport"):
            return
        elapsed = step - self.started_at_step
        # A slide is over within one frame interval, before the approaching hand can reach it;
        # physics then takes the object from where it stopped.
        duration = self.steps // EDIT_FRAMES if self.edit.kind == "slide" else self.steps
        if self.edit.kind == "slide" and elapsed >= duration:
            return
        fraction = min(1.0, (elapsed + 1) / duration)
        model, data, joint = self.env.model, self.env.data, self.joint
        address = joint.qpos_address
        if joint.free:
            target = self.origin.copy()
            if self.edit.kind == "slide":
                target[:2] += SLIDE_DISTANCE * fraction * self.slide
            elif self.edit.kind == "float":
                target[2] += FLOAT_RISE * fraction
            else:
                target[2] = self.origin[2] - SINK_DEPTH * fraction
            data.qpos[address : address + 3] = target
            data.qvel[joint.dof_address : joint.dof_address + 6] = 0.0
        else:
            room_up, room_down = joint.high - self.origin[0], self.origin[0] - joint.low
            sign = 1.0 if room_up >= room_down else -1.0
            delta = sign * SLIDE_DISTANCE / max(joint.metres_per_unit, 1e-3) * fraction
            data.qpos[address] = np.clip(self.origin[0] + delta, joint.low, joint.high)
            data.qvel[joint.dof_address] = 0.0
        mujoco.mj_forward(model, data)

    def _teleport(self) -> None:
        env, data = self.env, self.env.data
        low, high = env._env.hand_low, env._env.hand_high
        jump = np.array([*self.edit.direction, 0.0]) * TELEPORT_JUMP
        target = data.mocap_pos[0] + jump
        if np.any(target < low) or np.any(target > high):
            target = data.mocap_pos[0] - jump  # jump the other way when the first leaves the workspace
        data.mocap_pos[0] = np.clip(target, low, high)
        for _ in range(TELEPORT_SETTLE_STEPS):
            mujoco.mj_step(env.model, data)
        mujoco.mj_forward(env.model, data)


_ENVIRONMENTS: dict[tuple[str, tuple[str, ...], int], tuple[MetaWorldEnv, ObjectJoint]] = {}


def _close_environments() -> None:
    for env, _ in _ENVIRONMENTS.values():
        env.close()
    _ENVIRONMENTS.clear()


def environment(task: str, views: tuple[str, ...], image_size: int) -> tuple[MetaWorldEnv, ObjectJoint]:
    """A per-process cached environment of ``task`` and its object joint (loading a scene is slow)."""
    key = (task, views, image_size)
    if key not in _ENVIRONMENTS:
        env = MetaWorldEnv(task, views=views, image_size=image_size)
        _ENVIRONMENTS[key] = (env, find_object_joint(env))
        if len(_ENVIRONMENTS) == 1:
            # After mujoco's own EGL exit hook, so ours runs first and frees renderers while EGL is up.
            atexit.register(_close_environments)
    return _ENVIRONMENTS[key]


def simulate_clip(
    task: str,
    *,
    seed: int,
    noise: float,
    edit: Edit,
    frames: int,
    stride: int,
    views: Sequence[str],
    image_size: int,
) -> SimulatedClip:
    """Run the expert with ``noise`` for ``frames * stride`` policy steps, rendering every ``stride``.

    A pure function of its arguments (the seed fixes layout, noise and instruction).
    """
    env, joint = environment(task, tuple(views), image_size)
    expert = ScriptedExpert(task, noise=noise, seed=seed)
    observation = env.reset(seed)
    instruction = pick_instruction(task, np.random.default_rng((seed, _INSTRUCTION_STREAM)))
    runner = _EditRunner(env, joint, edit, stride)
    rest_height = float(_object_position(env)[2])
    images, actions, privileged = [], [], []
    edit_frame = -1
    step = 0
    for frame in range(frames):
        state = env.privileged()
        if runner.maybe_start(frame, step, state["hand_pos"], state["object_pos"]):
            edit_frame = frame
            if edit.kind == "teleport":
                state = env.privileged()
        images.append(env.render())
        privileged.append(state)
        taken = []
        for _ in range(stride):
            action = expert.act(observation)
            observation = env.step(action)
            runner.after_step(step)
            taken.append(action)
            step += 1
        actions.append(np.mean(taken, axis=0))
    stacked = {name: np.stack([row[name] for row in privileged]) for name in privileged[0]}
    return SimulatedClip(
        task=task,
        seed=seed,
        instruction=instruction,
        frames=np.stack(images, axis=1),
        actions=np.stack(actions).astype(np.float32),
        obj_to_target=stacked["obj_to_target"][:, 0],
        success=stacked["success"][:, 0] > 0,
        hand_pos=stacked["hand_pos"],
        object_pos=stacked["object_pos"],
        object_free=joint.free,
        rest_height=rest_height,
        edit_frame=edit_frame,
    )
