"""Policies run in the simulator from a recorded state, their actions kept: the simulator's side
of evaluating policies in a world model.

WorldGym (ICLR 2026) ranks policies by their success in a world model and checks the ranking
against real success. The policies compared here are Meta-World's scripted expert, the same
expert with Gaussian action noise (``experts.ScriptedExpert``) and a uniformly random policy.
The scripted experts read privileged state (object and goal positions) that a world model does
not have, so they cannot act inside it. What can be done honestly: run each policy in the
simulator from the state of the episode's last context frame (an exact ``Snapshot``), record
the actions it took and whether it succeeded, and replay those actions open-loop in the world
model from the same real context. The world model then answers "what would this action
sequence have done?", and its success is compared with the simulator's for the same actions.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import numpy as np

from worldalign.envs.experts import ScriptedExpert
from worldalign.envs.metaworld_env import MetaWorldEnv
from worldalign.envs.snapshot import ACTION_SIZE, Snapshot
from worldalign.errors import ConfigError

POLICY_NAMES = ("expert", "expert-noise-0.2", "expert-noise-0.5", "random")
"""The policies of the world-model policy evaluation, best to worst in the simulator."""
_EXPERT_PREFIX = "expert-noise-"


class Policy(Protocol):
    """Maps a Meta-World observation ``(39,)`` to a ``(4,)`` action in [-1, 1]."""

    def act(self, observation: np.ndarray) -> np.ndarray: ...


class RandomPolicy:
    """Uniform random actions in [-1, 1]^4, seeded."""

    def __init__(self, seed: int) -> None:
        self._rng = np.random.default_rng(seed)

    def act(self, observation: np.ndarray) -> np.ndarray:
        """A fresh uniform action (the observation is ignored)."""
        return self._rng.uniform(-1.0, 1.0, size=ACTION_SIZE).astype(np.float32)


def make_policy(name: str, task: str, seed: int) -> Policy:
    """``expert``, ``expert-noise-S`` (the expert with action noise std S) or ``random``."""
    if name == "expert":
        return ScriptedExpert(task, noise=0.0, seed=seed)
    if name == "random":
        return RandomPolicy(seed)
    if name.startswith(_EXPERT_PREFIX):
        try:
            noise = float(name.removeprefix(_EXPERT_PREFIX))
        except ValueError:
            noise = -1.0
        if noise >= 0:
            return ScriptedExpert(task, noise=noise, seed=seed)
    raise ConfigError(f"policy {name!r}: expected 'expert', 'expert-noise-S' (S >= 0, e.g. 0.2) or 'random'")


@dataclass(frozen=True)
class SimulatorRun:
    """What one policy did in the simulator.

    Attributes:
        actions: ``(T, 4)`` float32, the actions it took, in order.
        step_success: ``(T,)`` bool, Meta-World's success flag after each action.
        success: whether any step succeeded.
    """

    actions: np.ndarray
    step_success: np.ndarray
    success: bool


def run_policy(env: MetaWorldEnv, policy: Policy, start: Snapshot, steps: int) -> SimulatorRun:
    """Restore ``start`` and let ``policy`` act for ``steps`` steps (all of them: the actions are
    replayed elsewhere, so a success does not end the run)."""
    remaining = env.max_policy_steps - start.step // env.action_repeat
    if not 1 <= steps <= remaining:
        raise ConfigError(
            f"{env.task}: {steps} policy steps from simulator step {start.step}; Meta-World allows 1..{remaining} more"
        )
    observation = env.restore(start)
    actions, successes = [], []
    for _ in range(steps):
        action = np.asarray(policy.act(observation), dtype=np.float32)
        observation = env.step(action)
        actions.append(action)
        successes.append(env.success())
    step_success = np.array(successes, dtype=bool)
    return SimulatorRun(np.stack(actions), step_success, bool(step_success.any()))
