"""Execution in the simulator: decode a plan video's actions with the IDM and run them.

EVA ("Executable Video Alignment") uses a video world model as a planner: generate a video of
the task from the current observation and instruction, decode its actions with the inverse
dynamics model, execute them on the robot. Here the robot is Meta-World, restored exactly to
the rollout's start state (``Rollout.starts``), so "did the plan work?" has a ground truth.

- ``ExecutionReward`` (``execution``): per sample, ``success + progress_weight * progress`` with
  ``progress = (d_0 - d_T) / d_0`` clipped to [-1, 1], the fraction of Meta-World's
  ``obj_to_target`` distance the plan removed (dense where success is rare). Slow (the
  simulator steps every action), exact.
- ``evaluate_decoded_execution``: the same test on recorded episodes (real expert videos):
  decode each episode's video, execute from its first snapshot, report the success rate per task
  beside the success of replaying the recorded actions.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor
from tqdm import tqdm

from worldalign.data.lerobot_reader import LeRobotDataset
from worldalign.data.pixels import to_unit_range
from worldalign.data.types import Rollout
from worldalign.envs.metaworld_env import MetaWorldEnv
from worldalign.envs.snapshot import Snapshot
from worldalign.errors import ConfigError
from worldalign.models.idm import InverseDynamicsModel
from worldalign.rewards.base import component_key
from worldalign.rewards.decode import decode_rollout_actions, load_idm


@dataclass
class ExecutionOutcome:
    """What executing one action sequence from one snapshot did.

    Attributes:
        success: Meta-World's success flag was set after some action.
        start_distance: ``obj_to_target`` at the start state.
        final_distance: ``obj_to_target`` after the last action.
        steps: actions executed (a plan longer than the episode's remaining steps is cut).
    """

    success: bool
    start_distance: float
    final_distance: float
    steps: int

    @property
    def progress(self) -> float:
        """Fraction of the start distance removed, clipped to [-1, 1]."""
        if self.start_distance <= 1e-9:
            return 0.0
        return float(np.clip((self.start_distance - self.final_distance) / self.start_distance, -1.0, 1.0))


class SimulatorExecutor:
    """Executes action sequences from snapshots, one cached environment per task (image-less
    unless ``views`` are given: ``eval.planning`` renders what it executes)."""

    def __init__(self, action_repeat: int = 2, views: tuple[str, ...] = (), image_size: int = 64) -> None:
        self.action_repeat = action_repeat
        self.views = views
        self.image_size = image_size
        self._envs: dict[str, MetaWorldEnv] = {}

    def env(self, task: str) -> MetaWorldEnv:
        if task not in self._envs:
            self._envs[task] = MetaWorldEnv(
                task, views=self.views, image_size=self.image_size, action_repeat=self.action_repeat
            )
        return self._envs[task]

    def run(self, task: str, snapshot: Snapshot, actions: np.ndarray) -> ExecutionOutcome:
        """Restore ``snapshot`` in ``task``'s environment and apply ``actions (N, A)``."""
        env = self.env(task)
        env.restore(snapshot)
        start_distance = float(env.privileged()["obj_to_target"][0])
        remaining = env.max_policy_steps - snapshot.step // self.action_repeat
        actions = np.asarray(actions, dtype=np.float32)[:remaining]
        if len(actions) == 0:
            raise ConfigError(f"{task}: the start snapshot is at Meta-World's step limit; no action can be executed")
        result = env.execute(actions, snapshot)
        return ExecutionOutcome(result.success, start_distance, result.final_obj_to_target, len(actions))

    def close(self) -> None:
        for env in self._envs.values():
            env.close()
        self._envs.clear()


class ExecutionReward:
    """Success and progress of the rollout's decoded plan executed in the simulator.

    Returns ``execution`` (B,), and components ``execution/success``, ``execution/progress``
    and ``execution/final_distance``. A sample whose decoded actions are not finite cannot be
    executed: its values are NaN (the composer drops it).
    """

    name = "execution"

    def __init__(self, idm: InverseDynamicsModel, *, progress_weight: float = 1.0, action_repeat: int = 2) -> None:
        self.idm = idm.eval()
        self.progress_weight = progress_weight
        self.executor = SimulatorExecutor(action_repeat)

    @torch.no_grad()
    def __call__(self, rollout: Rollout) -> dict[str, Tensor]:
        if rollout.starts is None:
            raise ConfigError(
                "execution reward: the rollout has no start states; build the Rollout with "
                "starts=[SimulatorStart, ...] (one per sample), or drop 'execution' from --rewards"
            )
        actions = decode_rollout_actions(self.idm, rollout, with_state=False).actions.cpu().numpy()  # (B, N, A)
        success, progress, final = (np.full(rollout.batch_size, np.nan) for _ in range(3))
        for b, start in enumerate(rollout.starts):
            if not np.all(np.isfinite(actions[b])):
                continue
            outcome = self.executor.run(start.task, Snapshot.from_vector(start.snapshot, start.layout), actions[b])
            success[b], progress[b], final[b] = float(outcome.success), outcome.progress, outcome.final_distance
        value = success + self.progress_weight * progress
        as_tensor = lambda x: torch.as_tensor(x, dtype=torch.float32)  # noqa: E731
        return {
            self.name: as_tensor(value),
            component_key(self.name, "success"): as_tensor(success),
            component_key(self.name, "progress"): as_tensor(progress),
            component_key(self.name, "final_distance"): as_tensor(final),
        }


def make_execution_reward(
    idm: InverseDynamicsModel | str | os.PathLike[str] | None = None,
    progress_weight: float = 1.0,
    action_repeat: int = 2,
    device: str | torch.device = "cpu",
) -> ExecutionReward:
    """Registry factory: ``idm`` is a model, a checkpoint folder, or None for the shipped IDM."""
    return ExecutionReward(load_idm(idm, device), progress_weight=progress_weight, action_repeat=action_repeat)


@dataclass
class EpisodeExecution:
    """Decoded-plan execution of one recorded episode."""

    episode: int
    task: str
    decoded: ExecutionOutcome
    replayed: ExecutionOutcome


def evaluate_decoded_execution(
    idm: InverseDynamicsModel,
    dataset: LeRobotDataset,
    episodes: Sequence[int] | None = None,
    *,
    action_repeat: int | None = None,
    progress: bool = True,
) -> list[EpisodeExecution]:
    """Decode each episode's recorded video with ``idm`` and execute the actions open-loop from
    its first snapshot; also replay the recorded actions (the upper bound).

    Args:
        action_repeat: simulator steps per action; by default the episode's recorded value.
    """
    indices = list(range(dataset.num_episodes)) if episodes is None else list(episodes)
    executors: dict[int, SimulatorExecutor] = {}
    results = []
    try:
        for index in tqdm(indices, desc="executing decoded plans", disable=not progress):
            episode = dataset.episode(index, views=idm.config.views)
            if episode.snapshots is None or episode.layout is None:
                raise ConfigError(f"{dataset.root}: episode {index} has no sim.snapshot rows; it cannot be executed")
            repeat = action_repeat or int(episode.metadata.get("action_repeat", 2))  # type: ignore[arg-type]
            executor = executors.setdefault(repeat, SimulatorExecutor(repeat))
            frames = to_unit_range(episode.frames)[None]  # (1, V, T, 3, H, W)
            decoded = idm.decode_video(frames, episode.views)[0].cpu().numpy()  # (T-1, A)
            start = Snapshot.from_vector(episode.snapshots[0], episode.layout)
            results.append(
                EpisodeExecution(
                    episode=index,
                    task=episode.task,
                    decoded=executor.run(episode.task, start, decoded),
                    replayed=executor.run(episode.task, start, episode.actions[:-1]),
                )
            )
    finally:
        for executor in executors.values():
            executor.close()
    return results


def success_by_task(results: Sequence[EpisodeExecution]) -> dict[str, dict[str, float]]:
    """``{task: {"episodes", "decoded_success", "replayed_success", "decoded_progress"}}`` rates."""
    table: dict[str, dict[str, float]] = {}
    for task in dict.fromkeys(r.task for r in results):
        rows = [r for r in results if r.task == task]
        table[task] = {
            "episodes": len(rows),
            "decoded_success": float(np.mean([r.decoded.success for r in rows])),
            "replayed_success": float(np.mean([r.replayed.success for r in rows])),
            "decoded_progress": float(np.mean([r.decoded.progress for r in rows])),
        }
    return table
