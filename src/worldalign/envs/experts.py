"""Scripted experts: Meta-World's hand-written policies with seeded Gaussian action noise and
optional exploration segments.

Meta-World (Yu et al. 2019, arXiv:1910.10897) ships one scripted policy per task
(``metaworld.policies.ENV_POLICY_MAP``) that solves nearly every layout. Gaussian noise on its
actions turns it into a source of realistic failures (missed grasps, pushes off course), the
negatives that reward models and judges need.

Exploration segments hold one uniformly random action for several steps before the expert takes
over again (it is a feedback policy, so it recovers). They exist for action-conditioned world
models: on pure expert data the next action is predictable from the scene and the task, so a
model can ignore its action input; a random held action moves the arm somewhere the context does
not tell, and only the action does. (Fine-tuning the shipped world model on such data made it
follow its actions only a little more: docs/benchmarks.md.)
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from metaworld.policies import ENV_POLICY_MAP

from worldalign.envs.metaworld_env import MetaWorldEnv
from worldalign.errors import ConfigError

# Meta-World seeds its layout generator with ``SeedSequence(seed)``; the noise generator
# mixes in this constant so that one integer seed drives two independent streams.
_NOISE_STREAM = 0x4E4F495345
_EXPLORE_STREAM = 0x4558504C52

EXPLORE_SEGMENT_STEPS = (4, 12)
"""Shortest and longest exploration segment, in policy steps (inclusive): 8-24 simulator steps
at action repeat 2, long enough for a held action to move the arm visibly."""
_MEAN_SEGMENT_STEPS = sum(EXPLORE_SEGMENT_STEPS) / 2


class ScriptedExpert:
    """Meta-World's scripted policy for one task, plus ``N(0, noise^2)`` noise clipped to [-1, 1],
    interrupted by exploration segments for a fraction ``explore`` of the steps.

    Args:
        task: Meta-World v3 task name.
        noise: standard deviation of the Gaussian noise added to every action component.
        seed: seeds the noise and exploration generators, so a (seed, observations) pair fixes
            the actions; the streams are independent of the layout generator seeded with the same
            integer, and ``explore=0`` gives the same actions as before exploration existed.
        explore: expected fraction of steps in exploration segments, in [0, 1): each segment
            holds one action drawn uniformly from [-1, 1]^4 for ``EXPLORE_SEGMENT_STEPS`` steps.
    """

    def __init__(self, task: str, noise: float = 0.0, seed: int = 0, explore: float = 0.0) -> None:
        if task not in ENV_POLICY_MAP:
            raise ConfigError(f"Meta-World has no scripted policy for task {task!r}")
        if noise < 0:
            raise ConfigError(f"expert action noise must be a standard deviation >= 0, got {noise}")
        if not 0 <= explore < 1:
            raise ConfigError(f"the exploration fraction must be in [0, 1), got {explore}")
        self.task = task
        self.noise = noise
        self.explore = explore
        self._policy = ENV_POLICY_MAP[task]()
        self._rng = np.random.default_rng((seed, _NOISE_STREAM))
        self._explore_rng = np.random.default_rng((seed, _EXPLORE_STREAM))
        # Segments of mean length m starting with probability p after each expert step take
        # m / (m + 1/p) of the steps: p = f / (m (1 - f)) makes that fraction f.
        self._segment_start_probability = explore / (_MEAN_SEGMENT_STEPS * (1 - explore))
        self._segment_steps_left = 0
        self._segment_action = np.zeros(4)

    def act(self, observation: np.ndarray) -> np.ndarray:
        """``(4,)`` float32 action in [-1, 1] for a Meta-World goal-observable observation."""
        # The policies warn on every step whose proportional gain saturates the action; the
        # environment clips it by design, so the warning carries no information here.
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message="Constant\\(s\\) may be too high")
            action = np.asarray(self._policy.get_action(observation), dtype=np.float64)
        if self.noise > 0:
            action = action + self._rng.normal(0.0, self.noise, size=action.shape)
        if self._segment_steps_left == 0 and self.explore > 0:
            if self._explore_rng.random() < self._segment_start_probability:
                low, high = EXPLORE_SEGMENT_STEPS
                self._segment_steps_left = int(self._explore_rng.integers(low, high + 1))
                self._segment_action = self._explore_rng.uniform(-1.0, 1.0, size=action.shape)
        if self._segment_steps_left > 0:
            self._segment_steps_left -= 1
            action = self._segment_action
        return np.clip(action, -1.0, 1.0).astype(np.float32)


@dataclass(frozen=True)
class ExpertStats:
    """How a noisy expert fares on one task over several seeded layouts.

    Attributes:
        task: task name.
        noise: action noise standard deviation.
        success_rate: fraction of episodes solved within ``max_steps``.
        steps_to_success: policy steps until the first success, per solved episode.
    """

    task: str
    noise: float
    success_rate: float
    steps_to_success: tuple[int, ...]


def evaluate_expert(
    task: str, *, noise: float, seeds: Sequence[int], max_steps: int, action_repeat: int = 2
) -> ExpertStats:
    """Run the expert without rendering on each seeded layout until success or ``max_steps``."""
    solved_at: list[int] = []
    with MetaWorldEnv(task, views=(), action_repeat=action_repeat) as env:
        for seed in seeds:
            expert = ScriptedExpert(task, noise=noise, seed=seed)
            observation = env.reset(seed)
            for step in range(1, max_steps + 1):
                observation = env.step(expert.act(observation))
                if env.success():
                    solved_at.append(step)
                    break
    return ExpertStats(task=task, noise=noise, success_rate=len(solved_at) / len(seeds), steps_to_success=tuple(solved_at))
