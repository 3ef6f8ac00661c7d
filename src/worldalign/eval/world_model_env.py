"""The world model as a Gymnasium environment: real context in, generated frames out.

WorldGym (ICLR 2026) uses an action-conditioned video world model as the environment in which a
policy is evaluated: the episode starts from real observations, every action chunk the policy
sends is turned into the next frames by the world model, and a judge of the generated frames
says whether the task was solved. ``WorldModelEnv`` is that loop for worldalign's latent world
models:

- ``reset(seed, options)``: one episode of a recorded dataset (``options["episode"]``, or drawn
  from ``episodes`` by the seed) gives its first ``context`` real frames, the actions between
  them and its instruction; the frames are encoded by the autoencoder. The observation is the
  last real frame.
- ``step(actions)``: ``(chunk, A)`` actions in the embodiment's units (Meta-World: hand
  displacement and gripper, in [-1, 1]), one per generated frame, the first taken at the current
  frame. The world model generates ``chunk`` frames with them under a context policy
  (RoboAlign-R1's Sliding Window Re-encoding by default; ``sampling.context_policies``), the
  context carried from step to step as one long ``sampling.rollout.rollout`` would carry it.
  The observation is the last generated frame; ``info["frames"]`` holds all of the chunk's.
- reward and success come from a named reward of ``rewards`` (``rewards.success``: a classifier
  trained on the simulator's success labels; or the judge): the reward is its value on the
  chunk's frames, ``success`` is ``component >= threshold``, and a success ends the episode
  (Meta-World counts an episode solved when any step is). ``max_steps`` steps truncate it.

Observations are uint8 ``(V, H, W, 3)``, the dataset's views in the model's order, as stored.
Noise: ``reset(seed)`` seeds the generator every chunk's noise is drawn from, so the same seed
and actions give the same frames.

Why in ``eval``: the environment composes the models, the sampler and the rewards, and ``eval``
is the lowest room allowed all three (``tests/test_architecture.py``); ``envs`` is the simulator's
room and must not load models.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import gymnasium as gym
import numpy as np
import torch
from gymnasium import spaces
from torch import Tensor

from worldalign.data import lerobot_format as fmt
from worldalign.data.lerobot_reader import LeRobotDataset
from worldalign.data.pixels import to_uint8_video, to_unit_range
from worldalign.data.selection import check_image_size, select_views
from worldalign.data.stats import Normalizer
from worldalign.data.types import Rollout
from worldalign.errors import ConfigError, DatasetError
from worldalign.models.autoencoder import Autoencoder
from worldalign.models.text.instruction_encoder import InstructionEncoder
from worldalign.models.world_model import WorldModel
from worldalign.rewards.base import Reward
from worldalign.sampling.context_policies import ContextPolicy, SlidingWindowReencode, check_policy
from worldalign.sampling.rollout import rollout
from worldalign.sampling.samplers import EulerODESampler


@dataclass(frozen=True)
class _Start:
    """An episode's real start: ``frames (V, context, H, W, 3)`` uint8, ``actions (context - 1, A)``."""

    frames: np.ndarray
    actions: np.ndarray
    instruction: str
    task: str


class WorldModelEnv(gym.Env[np.ndarray, np.ndarray]):
    """A world model driven by action chunks from real dataset starts (module docstring).

    Args:
        model: an action-conditioned world model (eval mode; its device is used).
        autoencoder: the autoencoder whose latents the model generates.
        dataset: the episodes that give the real context.
        reward: a named reward (``rewards.build_rewards`` or a reward object), scored per step.
        normalizer: the action statistics the model was trained with.
        instruction_encoder: embeds instructions (instruction-conditioned models).
        views: the dataset's views in the model's order (default: all of them).
        episodes: episode indices ``reset`` draws from without ``options["episode"]`` (default: all).
        context: real frames the episode starts from.
        chunk: frames (and actions) per step (default: the model's ``future_frames``).
        max_steps: steps before the episode is truncated.
        policy: the context policy (default: Sliding Window Re-encoding, W = 6).
        sampling_steps: Euler steps of the probability-flow ODE per world-model call.
        guidance_scale: classifier-free guidance scale (1 = none).
        success_key: the key of the reward's output that says success (e.g. ``success/solved``,
            ``judge/manipulation_success``).
        success_threshold: ``success`` is ``output[success_key] >= success_threshold``.
        render_mode: ``"rgb_array"`` (the views side by side) or None.
    """

    metadata = {"render_modes": ["rgb_array"], "render_fps": 10}

    def __init__(
        self,
        model: WorldModel,
        autoencoder: Autoencoder,
        dataset: LeRobotDataset,
        reward: Reward,
        *,
        normalizer: Normalizer | None,
        instruction_encoder: InstructionEncoder | None = None,
        views: Sequence[str] | None = None,
        episodes: Sequence[int] | None = None,
        context: int = 2,
        chunk: int | None = None,
        max_steps: int = 12,
        policy: ContextPolicy = SlidingWindowReencode(),
        sampling_steps: int = 10,
        guidance_scale: float = 1.0,
        success_key: str = "success/solved",
        success_threshold: float = 0.5,
        render_mode: str | None = None,
    ) -> None:
        config = model.config
        if config.action_dim <= 0 or normalizer is None:
            raise ConfigError(
                "an environment is driven by actions: the world model must be action-conditioned "
                f"(WorldModelConfig.action_dim={config.action_dim}) and its action normalizer given"
            )
        if config.instruction_dim > 0 and instruction_encoder is None:
            raise ConfigError("the world model is instruction-conditioned: pass its instruction encoder")
        self.views = select_views(dataset, views)
        info_file = dataset.root / fmt.INFO_PATH
        if len(self.views) != config.num_views:
            raise ConfigError(
                f"{info_file}: views {list(self.views)} ({len(self.views)}); the world model was trained on "
                f"{config.num_views} view(s): pass views= with {config.num_views} of the dataset's views, in the "
                "model's order"
            )
        check_image_size(dataset, self.views, autoencoder.config.image_size, "the world model's autoencoder")
        if dataset.action_dim != config.action_dim:
            raise ConfigError(
                f"{info_file}: feature {fmt.ACTION!r} has {dataset.action_dim} dimensions, the world model takes "
                f"{config.action_dim} (WorldModelConfig.action_dim)"
            )
        chunk = config.future_frames if chunk is None else chunk
        for name, value in {"context": context, "chunk": chunk, "max_steps": max_steps}.items():
            if value < 1:
                raise ConfigError(f"WorldModelEnv {name}={value}: expected >= 1")
        if context > config.max_context_frames:
            raise ConfigError(
                f"WorldModelEnv context={context}: the world model accepts at most {config.max_context_frames} "
                "context frames (WorldModelConfig.max_context_frames)"
            )
        check_policy(policy.resolved(config.max_context_frames), config.max_context_frames, config.future_frames)
        if render_mode is not None and render_mode not in self.metadata["render_modes"]:
            raise ConfigError(f"render_mode={render_mode!r}: expected None or one of {self.metadata['render_modes']}")
        self.episodes = list(range(dataset.num_episodes)) if episodes is None else list(episodes)
        for index in self.episodes:
            self._check_episode(dataset, index, context, "episodes")
        self.model, self.autoencoder, self.dataset, self.reward = model, autoencoder, dataset, reward
        self.normalizer, self.instruction_encoder = normalizer, instruction_encoder
        self.context, self.chunk, self.max_steps, self.policy = context, chunk, max_steps, policy
        self.sampler = EulerODESampler(steps=sampling_steps)
        self.guidance_scale = guidance_scale
        self.success_key, self.success_threshold = success_key, success_threshold
        self.render_mode = render_mode
        self.device = next(model.parameters()).device
        size = autoencoder.config.image_size
        self.observation_space = spaces.Box(0, 255, (len(self.views), size, size, 3), np.uint8)
        stats = dataset.stats[fmt.ACTION]
        low, high = (
            np.broadcast_to(np.asarray(stats[key], np.float32), (chunk, config.action_dim)) for key in ("min", "max")
        )
        self.action_space = spaces.Box(low.copy(), high.copy(), (chunk, config.action_dim), np.float32)
        self.metadata = {**self.metadata, "render_fps": dataset.fps}
        self._observation = np.zeros(self.observation_space.shape, np.uint8)
        self._started = False
        self._starts: dict[int, _Start] = {}

    def _check_episode(self, dataset: LeRobotDataset, index: int, context: int, where: str) -> None:
        if not isinstance(index, (int, np.integer)) or not 0 <= index < dataset.num_episodes:
            raise ConfigError(
                f"{where}: episode {index!r} does not exist; {dataset.root} has {dataset.num_episodes} episodes "
                f"(0..{dataset.num_episodes - 1})"
            )
        length = int(dataset.episode_lengths[index])
        if length < context:
            raise DatasetError(
                f"episode {index} of {dataset.root} has {length} frames; context {context} needs {context}"
            )

    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[np.ndarray, dict[str, Any]]:
        """Start from an episode's first ``context`` real frames (``options["episode"]`` or drawn)."""
        super().reset(seed=seed)
        options = dict(options or {})
        unknown = sorted(set(options) - {"episode"})
        if unknown:
            raise ConfigError(f"reset options {unknown} are not understood; the only option is 'episode'")
        index = options.get("episode", self.episodes[int(self.np_random.integers(len(self.episodes)))])
        self._check_episode(self.dataset, index, self.context, "reset(options={'episode': ...})")
        start = self._start(int(index))
        with torch.no_grad():
            self._latents = self.autoencoder.encode(to_unit_range(start.frames).unsqueeze(0).to(self.device))
        # actions[i] moves frame i to i + 1: the context's own come from the recording.
        self._actions = [self.normalizer.normalize(fmt.ACTION, row) for row in start.actions]
        self._first_frame = 0  # rollout frame index of the first context latent
        self._instruction_text = start.instruction
        self._instruction = None
        if self.instruction_encoder is not None:
            self._instruction = self.instruction_encoder([start.instruction]).to(self.device)
        self._generator = torch.Generator().manual_seed(int(self.np_random.integers(2**63 - 1)))
        self._task, self._episode, self._steps = start.task, int(index), 0
        self._observation = start.frames[:, -1].copy()
        self._started = True
        return self._observation.copy(), {
            "episode": self._episode,
            "task": self._task,
            "instruction": start.instruction,
        }

    def _start(self, index: int) -> _Start:
        """The real start of episode ``index``, read once (decoding an episode's videos costs seconds)."""
        if index not in self._starts:
            episode = self.dataset.episode(index, self.views)
            frames = episode.frames[:, : self.context].copy()
            self._starts[index] = _Start(
                frames, episode.actions[: self.context - 1].copy(), episode.instruction, episode.task
            )
        return self._starts[index]

    def _check_action(self, action: Any) -> np.ndarray:
        array = np.asarray(action, dtype=np.float32)
        if array.shape != self.action_space.shape:
            raise ConfigError(
                f"WorldModelEnv.step: actions of shape {array.shape}, expected {self.action_space.shape}: "
                f"{self.chunk} action(s) (the chunk, one per generated frame) of {self.model.config.action_dim} "
                "dimensions (WorldModelConfig.action_dim)"
            )
        if not np.isfinite(array).all():
            raise ConfigError(f"WorldModelEnv.step: actions hold NaN or infinite values: {array.tolist()}")
        return array

    def step(self, action: np.ndarray) -> tuple[np.ndarray, float, bool, bool, dict[str, Any]]:
        """Generate ``chunk`` frames with ``action`` ``(chunk, A)``; the classic five-tuple."""
        if not self._started:
            raise ConfigError("WorldModelEnv.step before reset: call reset() first")
        actions = self._check_action(action)
        self._actions.extend(self.normalizer.normalize(fmt.ACTION, actions))
        conditions = torch.from_numpy(np.stack(self._actions[self._first_frame :])).float().unsqueeze(0)
        result = rollout(
            self.model,
            self.autoencoder,
            self._latents,
            self.chunk,
            self.policy,
            sampler=self.sampler,
            actions=conditions.to(self.device),
            instruction=self._instruction,
            guidance_scale=self.guidance_scale,
            generator=self._generator,
        )
        assert result.frames is not None
        self._latents = result.final_context
        self._first_frame += result.final_context_first_frame
        self._steps += 1
        terms = self._score(result.frames, actions)
        if self.success_key not in terms:
            raise ConfigError(
                f"the reward {self.reward.name!r} returns {sorted(terms)}; success_key {self.success_key!r} is not "
                "one of them"
            )
        success = terms[self.success_key] >= self.success_threshold
        frames = to_uint8_video(result.frames[0])  # (V, chunk, H, W, 3)
        self._observation = frames[:, -1].copy()
        info = {"success": success, "frames": frames, "terms": terms, "episode": self._episode, "task": self._task}
        truncated = self._steps >= self.max_steps and not success
        return self._observation.copy(), terms[self.reward.name], success, truncated, info

    def _score(self, frames: Tensor, actions: np.ndarray) -> dict[str, float]:
        generated = Rollout(
            frames=frames.cpu(),
            views=self.views,
            fps=self.dataset.fps,
            instructions=[self._instruction_text],
            tasks=[self._task],
            actions=torch.from_numpy(actions).unsqueeze(0),
        )
        return {key: float(value[0]) for key, value in self.reward(generated).items()}

    def render(self) -> np.ndarray | None:
        """The current observation's views side by side, ``(H, V * W, 3)`` uint8 (``rgb_array``)."""
        if self.render_mode != "rgb_array":
            return None
        return np.concatenate(list(self._observation), axis=1)
