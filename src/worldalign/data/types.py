"""The typed objects that flow between the rooms of worldalign: ``Episode``, ``ClipBatch`` and its
latent twin ``LatentClipBatch``, ``Rollout``.

An ``Episode`` is one recorded robot trajectory, in memory, in storage layout (uint8 pixels,
numpy arrays). A ``ClipBatch`` is a batch of training windows cut from episodes, in model
layout (float tensors in [-1, 1], views before time before channels).

Time convention (the LeRobot one): row ``t`` holds the observation at time ``t`` and the action
``a_t`` taken from it, so an episode has as many actions as frames and ``a_t`` moves frame ``t``
to frame ``t + 1``. The last action has no recorded outcome.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields, replace
from typing import TypeVar

import numpy as np
import torch

from worldalign.errors import DatasetError

# Per-step privileged simulator state recorded with every episode (name -> per-step shape).
# Meta-World v3 names: hand = end-effector position, object = first object's position,
# goal = target position; the flags and distance come from the step's ``info``.
PRIVILEGED_FIELDS: dict[str, tuple[int, ...]] = {
    "hand_pos": (3,),
    "object_pos": (3,),
    "goal_pos": (3,),
    "success": (1,),
    "grasp_success": (1,),
    "near_object": (1,),
    "obj_to_target": (1,),
}


@dataclass
class Episode:
    """One recorded trajectory with all its views.

    Attributes:
        task: task name, e.g. ``"reach-v3"``.
        instruction: the natural-language instruction the episode was recorded under.
        views: camera names, in the order of ``frames``' first axis.
        frames: ``(V, T, H, W, 3)`` uint8 RGB.
        actions: ``(T, A)`` float32; ``actions[t]`` is taken at frame ``t``.
        state: ``(T, S)`` float32 proprioception (what a real robot would log as
            ``observation.state``).
        privileged: per-step simulator truth, ``name -> (T, *shape)`` float32 arrays
            (see ``PRIVILEGED_FIELDS``); empty for real-robot data.
        success: whether the task was solved at any step of the episode; ``None`` when the
            source does not record it (most real-robot datasets).
        fps: frames per second of the recording.
        snapshots: ``(T, D)`` float64 exact simulator states, one per frame, from which
            ``execute`` can replay; ``None`` for data that has none (real robots).
        layout: ``(L,)`` float64 random layout vector of the scene (object and goal
            placement), needed with ``snapshots`` to restore a state; ``None`` if unknown.
        metadata: free-form JSON-serialisable facts (seed, noise, generator version).
    """

    task: str
    instruction: str
    views: tuple[str, ...]
    frames: np.ndarray
    actions: np.ndarray
    state: np.ndarray
    privileged: dict[str, np.ndarray] = field(default_factory=dict)
    success: bool | None = None
    fps: int = 10
    snapshots: np.ndarray | None = None
    layout: np.ndarray | None = None
    metadata: dict[str, object] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.validate()

    @property
    def length(self) -> int:
        """Number of frames (== number of actions)."""
        return int(self.frames.shape[1])

    def validate(self) -> None:
        """Raise ``DatasetError`` naming the field if shapes or dtypes disagree."""
        where = f"episode of task {self.task!r}"
        if self.frames.ndim != 5 or self.frames.shape[-1] != 3 or self.frames.dtype != np.uint8:
            raise DatasetError(
                f"{where}: frames must be (V, T, H, W, 3) uint8, got {self.frames.shape} {self.frames.dtype}"
            )
        if self.frames.shape[0] != len(self.views):
            raise DatasetError(f"{where}: {len(self.views)} view names {self.views} for {self.frames.shape[0]} views of frames")
        n = self.length
        for name, array in (("actions", self.actions), ("state", self.state)):
            if array.ndim != 2 or array.shape[0] != n:
                raise DatasetError(f"{where}: {name} must be ({n}, D) to match {n} frames, got {array.shape}")
        for name, array in self.privileged.items():
            if array.shape[0] != n:
                raise DatasetError(f"{where}: privileged[{name!r}] has {array.shape[0]} steps, expected {n}")
        if self.snapshots is not None and self.snapshots.shape[0] != n:
            raise DatasetError(f"{where}: snapshots has {self.snapshots.shape[0]} rows, expected {n}")


@dataclass
class ClipBatch:
    """A batch of training windows: C context frames, F future frames, and the actions between.

    Attributes:
        frames: ``(B, V, C + F, 3, H, W)`` float32 in [-1, 1].
        actions: ``(B, C + F - 1, A)`` float32, normalised; ``actions[:, t]`` moves frame ``t``
            to frame ``t + 1``, so the future frames ``C .. C+F-1`` follow from actions
            ``C-1 .. C+F-2``.
        context_frames: C, the number of leading frames that are context.
        instructions: the B instructions.
        tasks: the B task names.
        episode_index: ``(B,)`` int64 dataset episode index of each clip.
        start_frame: ``(B,)`` int64 frame index (within its episode) of each clip's first frame;
            negative for a clip padded before the episode's start (``ClipSampler(pad_start=...)``).
    """

    frames: torch.Tensor
    actions: torch.Tensor
    context_frames: int
    instructions: list[str]
    tasks: list[str]
    episode_index: torch.Tensor
    start_frame: torch.Tensor

    @property
    def context(self) -> torch.Tensor:
        """``(B, V, C, 3, H, W)``: the context frames."""
        return self.frames[:, :, : self.context_frames]

    @property
    def future(self) -> torch.Tensor:
        """``(B, V, F, 3, H, W)``: the frames to predict."""
        return self.frames[:, :, self.context_frames :]

    def to(self, device: torch.device | str, *, non_blocking: bool = False) -> ClipBatch:
        """This batch with its tensors on ``device`` (e.g. the training GPU)."""
        return _tensors_on(self, device, non_blocking)


@dataclass(frozen=True)
class LatentClipBatch:
    """A batch of training windows as latents encoded once, before training (``data.latent_clips``):
    a ``ClipBatch`` whose frames went through the frozen autoencoder already.

    Attributes:
        latents: ``(B, V, C + F, Cl, h, w)`` float32 autoencoder latents (``Autoencoder.encode``).
        actions, context_frames, instructions, tasks, episode_index, start_frame: as in ``ClipBatch``.
    """

    latents: torch.Tensor
    actions: torch.Tensor
    context_frames: int
    instructions: list[str]
    tasks: list[str]
    episode_index: torch.Tensor
    start_frame: torch.Tensor

    def to(self, device: torch.device | str, *, non_blocking: bool = False) -> LatentClipBatch:
        """This batch with its tensors on ``device``."""
        return _tensors_on(self, device, non_blocking)


@dataclass(frozen=True)
class SimulatorStart:
    """Where a rollout starts in the simulator, so its plan can be executed there.

    Attributes:
        task: simulator task name, e.g. ``"reach-v3"``.
        snapshot: ``(D,)`` float64 exact state (an ``Episode.snapshots`` row; NaN padding allowed).
        layout: ``(L,)`` float64 scene layout vector (``Episode.layout``).
    """

    task: str
    snapshot: np.ndarray
    layout: np.ndarray


@dataclass
class Rollout:
    """Generated videos and everything that produced them: what rewards and evaluations score.

    Attributes:
        frames: ``(B, V, T, 3, H, W)`` float32 in [-1, 1], the generated future frames.
        views: the V camera names.
        fps: frames per second of the video.
        instructions: the B instructions the videos were conditioned on (``None`` if none).
        tasks: the B task names, when known.
        actions: ``(B, T, A)`` commanded actions in the embodiment's units (not normalised),
            for action-conditioned rollouts: ``actions[:, t]`` leads from frame ``t - 1`` (the
            last context frame for ``t = 0``) to generated frame ``t``. ``None`` otherwise.
        context: ``(B, V, C, 3, H, W)`` the frames the generation started from, if kept.
        reference: ``(B, V, T, 3, H, W)`` the ground-truth future, when it exists.
        starts: B simulator start states (the state of the last context frame), when known.
        log_probs: ``(B, S)`` per-denoising-step log-probabilities of an SDE sample, if any.
    """

    frames: torch.Tensor
    views: tuple[str, ...]
    fps: int
    instructions: list[str] | None = None
    tasks: list[str] | None = None
    actions: torch.Tensor | None = None
    context: torch.Tensor | None = None
    reference: torch.Tensor | None = None
    starts: list[SimulatorStart] | None = None
    log_probs: torch.Tensor | None = None

    def __post_init__(self) -> None:
        if self.frames.ndim != 6 or self.frames.shape[3] != 3:
            raise DatasetError(f"Rollout.frames must be (B, V, T, 3, H, W), got {tuple(self.frames.shape)}")
        batch, views, steps = self.frames.shape[:3]
        if views != len(self.views):
            raise DatasetError(f"Rollout has {views} views of frames but {len(self.views)} view names {self.views}")
        if self.reference is not None and self.reference.shape != self.frames.shape:
            raise DatasetError(
                f"Rollout.reference {tuple(self.reference.shape)} must match frames {tuple(self.frames.shape)}"
            )
        if self.actions is not None and tuple(self.actions.shape[:2]) != (batch, steps):
            raise DatasetError(f"Rollout.actions must be ({batch}, {steps}, A), got {tuple(self.actions.shape)}")
        for name in ("instructions", "tasks", "starts"):
            values = getattr(self, name)
            if values is not None and len(values) != batch:
                raise DatasetError(f"Rollout.{name} has {len(values)} entries for a batch of {batch}")

    @property
    def batch_size(self) -> int:
        return int(self.frames.shape[0])

    @property
    def device(self) -> torch.device:
        return self.frames.device


BatchT = TypeVar("BatchT", ClipBatch, LatentClipBatch)


def _tensors_on(batch: BatchT, device: torch.device | str, non_blocking: bool) -> BatchT:
    """``batch`` with every tensor field moved to ``device`` (the other fields shared)."""
    moved = {
        item.name: value.to(device, non_blocking=non_blocking)
        for item in fields(batch)
        if isinstance(value := getattr(batch, item.name), torch.Tensor)
    }
    return replace(batch, **moved)
