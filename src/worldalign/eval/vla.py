"""Closed-loop evaluation of a VLA policy in Meta-World (RoboAlign's success-rate evaluation).

Each episode: reset the task to a seeded layout, then until success or ``max_steps``: observe
(the policy's views, ``observation.state``), predict a chunk of ``H`` actions with one head, run
its first ``execute_steps`` actions, re-plan. Heads:

- ``tokens``: greedy generation of ``<think> … </think>`` and FAST ids (arXiv:2501.09747),
  decoded with the run's FAST tokenizer (a completion that writes a full chunk and does not stop
  is decoded from its first full chunk, counted as ``overlong``). A completion with no decodable action tokens (none, or
  ids that do not decode to a full chunk) acts with the tokenizer's defined fallback, the
  hold-still chunk (``FastActionTokenizer.decode_safe``); it is counted and logged, never raised;
- ``tokens-constrained``: the same, generated under ``FastGrammar`` (the end token only once the
  action tokens spell exactly one chunk, no token that would overshoot it): every completion
  that reaches its action tokens within ``max_new_tokens`` decodes;
- ``flow``: the flow-matching action head on the prefix (pi0, arXiv:2410.24164), no text.

Success is Meta-World's flag at any step, as ``data generate`` records it.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
import torch
from torch import Tensor

from worldalign.data.fast_tokenizer import FastActionTokenizer
from worldalign.envs.metaworld_env import MetaWorldEnv
from worldalign.envs.tasks import pick_instruction
from worldalign.errors import ConfigError
from worldalign.models.vla import VLAObservation, VLAPolicy
from worldalign.models.vla.decoding_vla import (
    DecodedAction,
    FastGrammar,
    check_tokenizer_fits,
    decode_completion,
    robot_actions,
)

logger = logging.getLogger(__name__)

Head = Literal["tokens", "tokens-constrained", "flow"]
HEADS: tuple[Head, ...] = ("tokens", "tokens-constrained", "flow")
DEFAULT_SEED_BASE = 1_000_000
"""Layout seeds of the evaluation are ``seed_base + i``. ``data generate`` seeds its episodes
with 32-bit hashes (``envs.generate.episode_seed``), so these layouts are unseen in training
except by a ~1e-9 chance per episode."""


@dataclass
class EpisodeRun:
    """One closed-loop episode.

    Attributes:
        task, seed, instruction, head: what was run.
        success: Meta-World's success flag at any step.
        steps: actions executed.
        frames: ``(V, T + 1, H, W, 3)`` uint8, the views before each action and after the last.
        captions: per frame, what the policy said when it planned the chunk being executed.
        chunk_ms: milliseconds of each prediction (prefix, generation or flow sampling, decoding).
        fallbacks: chunks that acted with the fallback (token head only).
        overlong: chunks decoded from the first full chunk of a completion that did not stop.
    """

    task: str
    seed: int
    instruction: str
    head: Head
    success: bool
    steps: int
    frames: np.ndarray
    captions: list[str]
    chunk_ms: list[float] = field(default_factory=list)
    fallbacks: int = 0
    overlong: int = 0


def _plan(
    policy: VLAPolicy,
    tokenizer: FastActionTokenizer,
    observation: VLAObservation,
    head: Head,
    max_new_tokens: int,
    generator: torch.Generator,
    grammar: Callable[[Sequence[Sequence[int]]], Tensor] | None,
) -> tuple[np.ndarray, str, DecodedAction | None]:
    """``(robot actions (H, A), caption, how the tokens decoded (None: flow head))``; the token
    heads generate under ``grammar`` when given (``FastGrammar.allowed``)."""
    if head == "flow":
        actions = robot_actions(policy.act_with_flow_head(observation, generator=generator)[0].cpu().numpy(), tokenizer)
        return actions, "first action " + " ".join(f"{v:+.2f}" for v in actions[0]), None
    completion = policy.generate(observation, max_new_tokens=max_new_tokens, allowed=grammar)[0]
    decoded = decode_completion(completion, tokenizer)
    caption = completion.text.strip() or "(no text)"
    if decoded.fallback:
        logger.warning("%s: fallback action (hold still): %s", observation.instruction, decoded.reason)
        caption = f"[fallback: hold still] {caption}"
    return decoded.actions, caption, decoded


@torch.no_grad()
def run_episode(
    policy: VLAPolicy,
    tokenizer: FastActionTokenizer,
    task: str,
    seed: int,
    *,
    head: Head = "tokens",
    execute_steps: int = 5,
    max_steps: int = 100,
    max_new_tokens: int = 256,
    instruction_split: Literal["train", "heldout"] = "train",
) -> EpisodeRun:
    """Run ``policy`` on ``task`` at layout ``seed`` (an instruction paraphrase of
    ``instruction_split`` drawn with ``seed``) until success or ``max_steps`` actions."""
    config = policy.config
    if head not in HEADS:
        raise ConfigError(f"head {head!r}; expected one of {HEADS}")
    if not 1 <= execute_steps <= config.horizon:
        raise ConfigError(f"execute_steps={execute_steps}; expected 1..{config.horizon} (the policy's horizon)")
    check_tokenizer_fits(tokenizer, policy.processor)
    grammar = FastGrammar(tokenizer, policy.processor).allowed if head == "tokens-constrained" else None
    policy.eval()
    generator = torch.Generator().manual_seed(seed)
    size = config.autoencoder.image_size
    with MetaWorldEnv(task, views=config.views, image_size=size, seed=seed) as env:
        if not 1 <= max_steps <= env.max_policy_steps:
            raise ConfigError(f"max_steps={max_steps}; expected 1..{env.max_policy_steps} (Meta-World's limit)")
        instruction = pick_instruction(task, np.random.default_rng(seed), instruction_split)
        env.reset(seed)
        run = EpisodeRun(task, seed, instruction, head, False, 0, np.zeros(0), [])
        frames = [env.render()]
        while run.steps < max_steps and not run.success:
            state = env.proprio() if config.state_dim else None
            observation = VLAObservation(frames[-1], instruction, state)
            start = time.perf_counter()
            actions, caption, decoded = _plan(policy, tokenizer, observation, head, max_new_tokens, generator, grammar)
            run.chunk_ms.append(1000 * (time.perf_counter() - start))
            run.fallbacks += int(decoded is not None and decoded.fallback)
            run.overlong += int(decoded is not None and decoded.overlong)
            for action in actions[: min(execute_steps, max_steps - run.steps)]:
                env.step(action)
                run.steps += 1
                run.captions.append(caption)
                frames.append(env.render())
                if env.success():
                    run.success = True
                    break
        run.captions.append(run.captions[-1] if run.captions else "")
        run.frames = np.stack(frames, axis=1)
    return run


@dataclass
class TaskResult:
    """Every seed of one task: success per seed and their mean and standard deviation."""

    task: str
    episodes: list[EpisodeRun]

    @property
    def successes(self) -> list[bool]:
        return [episode.success for episode in self.episodes]

    def summary(self) -> dict[str, object]:
        """JSON-ready: success per seed, mean and std over seeds, fallbacks, ms per chunk."""
        rates = np.array(self.successes, dtype=np.float64)
        chunk_ms = [ms for episode in self.episodes for ms in episode.chunk_ms]
        return {
            "success_by_seed": {str(e.seed): e.success for e in self.episodes},
            "success_mean": float(rates.mean()),
            "success_std": float(rates.std()),
            "steps_by_seed": {str(e.seed): e.steps for e in self.episodes},
            "chunks": len(chunk_ms),
            "fallbacks": sum(e.fallbacks for e in self.episodes),
            "overlong": sum(e.overlong for e in self.episodes),
            "ms_per_chunk": float(np.mean(chunk_ms)) if chunk_ms else 0.0,
        }


def evaluate_tasks(
    policy: VLAPolicy,
    tokenizer: FastActionTokenizer,
    tasks: Sequence[str],
    seeds: Sequence[int],
    **options: object,
) -> list[TaskResult]:
    """``run_episode`` for every task and seed (``options`` as there)."""
    return [
        TaskResult(task, [run_episode(policy, tokenizer, task, seed, **options) for seed in seeds])  # type: ignore[arg-type]
        for task in tasks
    ]
