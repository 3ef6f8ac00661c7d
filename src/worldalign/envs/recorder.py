"""Record one scripted-expert episode of a Meta-World task as a ``worldalign`` ``Episode``.

Every row ``t`` holds the frame and state at time ``t``, the exact snapshot of that state
(taken *before* its action), and the action ``a_t`` the noisy expert (Meta-World's scripted
policy, Yu et al. 2019, arXiv:1910.10897) took from it. The episode is a function of its
arguments: the seed fixes the layout, the instruction paraphrase and the action noise, so
recording twice gives bitwise-identical arrays.
"""

from __future__ import annotations

from collections.abc import Sequence
from importlib.metadata import version

import numpy as np

from worldalign.data.types import PRIVILEGED_FIELDS, Episode
from worldalign.envs.cameras import DEFAULT_VIEWS
from worldalign.envs.experts import ScriptedExpert
from worldalign.envs.metaworld_env import MetaWorldEnv
from worldalign.envs.tasks import DEFAULT_MAX_STEPS, InstructionSplit, pick_instruction
from worldalign.errors import ConfigError

GENERATOR = "worldalign.envs.recorder: Meta-World scripted expert with Gaussian action noise and exploration segments"

# Stream constant for the instruction draw: independent of the layout and noise streams that
# share the episode's seed.
_INSTRUCTION_STREAM = 0x494E535452


def record_episode(
    task: str,
    *,
    seed: int,
    noise: float = 0.0,
    explore: float = 0.0,
    views: str | Sequence[str] = DEFAULT_VIEWS,
    image_size: int = 64,
    action_repeat: int = 2,
    max_steps: int = DEFAULT_MAX_STEPS,
    instruction_split: InstructionSplit = "train",
    post_success_steps: int | None = None,
) -> Episode:
    """Record one episode of ``task`` in a fresh environment (see ``record_in_env``)."""
    with MetaWorldEnv(task, views=views, image_size=image_size, action_repeat=action_repeat, seed=seed) as env:
        return record_in_env(
            env,
            seed=seed,
            noise=noise,
            explore=explore,
            max_steps=max_steps,
            instruction_split=instruction_split,
            post_success_steps=post_success_steps,
        )


def record_in_env(
    env: MetaWorldEnv,
    *,
    seed: int,
    noise: float = 0.0,
    explore: float = 0.0,
    max_steps: int = DEFAULT_MAX_STEPS,
    instruction_split: InstructionSplit = "train",
    post_success_steps: int | None = None,
) -> Episode:
    """Record one episode in an existing environment (reusing it saves the scene load).

    Args:
        env: the environment; its task (one of the suite's, for the instruction), views, image
            size and action repeat are used.
        seed: fixes the layout, the instruction paraphrase and the action noise.
        noise: standard deviation of the expert's Gaussian action noise.
        explore: expected fraction of steps in the expert's random-action exploration segments
            (see ``ScriptedExpert``).
        max_steps: most frames (== actions) to record.
        instruction_split: draw the instruction from the ``"train"`` or ``"heldout"``
            paraphrases.
        post_success_steps: stop this many frames after the first successful frame; ``None``
            records ``max_steps`` frames always. Fixed lengths are the default because an
            episode that ends early tells a model it succeeded without looking at it.
    """
    if not 1 <= max_steps <= env.max_policy_steps:
        raise ConfigError(
            f"max_steps must be in [1, {env.max_policy_steps}] (Meta-World's 500 simulator steps at "
            f"action_repeat={env.action_repeat}), got {max_steps}"
        )
    if post_success_steps is not None and post_success_steps < 0:
        raise ConfigError(f"post_success_steps must be >= 0 or None, got {post_success_steps}")
    instruction = pick_instruction(env.task, np.random.default_rng((seed, _INSTRUCTION_STREAM)), instruction_split)
    expert = ScriptedExpert(env.task, noise=noise, seed=seed, explore=explore)
    observation = env.reset(seed)
    frames, actions, states, snapshots = [], [], [], []
    privileged: dict[str, list[np.ndarray]] = {name: [] for name in PRIVILEGED_FIELDS}
    first_success: int | None = None
    for t in range(max_steps):
        snapshots.append(env.snapshot().to_vector())
        frames.append(env.render())
        states.append(env.proprio())
        for name, value in env.privileged().items():
            privileged[name].append(value)
        if first_success is None and env.success():
            first_success = t
        action = expert.act(observation)
        actions.append(action)
        # The last action is applied too, so that every recorded action is one the robot took.
        observation = env.step(action)
        if first_success is not None and post_success_steps is not None and t >= first_success + post_success_steps:
            break
    return Episode(
        task=env.task,
        instruction=instruction,
        views=env.views,
        frames=np.stack(frames, axis=1),
        actions=np.stack(actions),
        state=np.stack(states),
        privileged={name: np.stack(rows) for name, rows in privileged.items()},
        success=first_success is not None,
        fps=env.fps,
        snapshots=np.stack(snapshots),
        layout=env.layout,
        metadata={
            "generator": GENERATOR,
            "seed": seed,
            "noise": noise,
            "explore": explore,
            "action_repeat": env.action_repeat,
            "image_size": env.image_size,
            "max_steps": max_steps,
            "post_success_steps": post_success_steps,
            "instruction_split": instruction_split,
            "first_success_step": first_success,
            "metaworld_version": version("metaworld"),
            "mujoco_version": version("mujoco"),
        },
    )
