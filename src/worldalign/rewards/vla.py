"""The VLA's GRPO rewards on generated completions: action-token accuracy and format (RoboAlign).

RoboAlign (summary in ``../shared/seeds/001_36de1df6bd8cbac4.txt``) aligns a VLA's language
backbone with GRPO on two rewards: the accuracy of the low-level FAST action tokens it writes
(Pertsch et al. 2025, arXiv:2501.09747) against the expert's, and the format of the completion
(``<think> … </think>`` reasoning, then the action tokens). Both follow the house's reward
contract (``rewards.base``): a name, one value per completion, components logged under
``name/component``, composed with weights by ``RewardComposer``.

- ``action_accuracy`` = the length of the longest prefix of the completion's FAST ids equal to
  the expert's, divided by the expert's length (1: the expert's chunk exactly). A prefix, not a
  per-position match: FAST writes the low-frequency DCT coefficients first, and one wrong token
  shifts the meaning of every token after it. Components: ``exact`` (1 when equal).
- ``format`` = the steps of the grammar the completion gets right, in order, over three:
  ``think`` (the text is one ``<think> … </think>`` block), then ``decodable`` (the action tokens
  after it spell exactly one chunk: ``models.vla.decoding_vla``), then ``ended`` (the end token
  right after them). A step counts only when the ones before it do: partial credit ranks a group
  whose completions all miss the end, and ending early without reasoning or actions earns nothing
  (measured: with independent checks, GRPO on the fixture learned to write the end token at once
  for a third of the reward). Components: each check on its own.
- ``format_strict`` = the same three checks, but 0 unless the action tokens decode (a completion
  without a decodable chunk earns no format reward, whatever its reasoning): ``decodable x
  (think + 1 + ended) / 3``. Measured (docs/vla.md): under ``format`` GRPO's gain went to the
  ``think`` check of sampled completions, never to the greedy chunk the token head lacks.
- ``action_distance`` = ``exp(-mean((a - a*)^2))`` between the completion's decoded chunk and
  the expert's, both in the tokenizer's normalised units (unit std per action dimension), 0 when
  the completion does not decode (an overlong one acts with its first chunk, as in evaluation,
  and is scored on it). A dense accuracy: ``action_accuracy`` is ~0.002 on the tiny SFT policy
  (the first FAST token almost never equals the expert's), so it cannot rank a group; the
  distance ranks every decodable completion: 1 at the expert's chunk, ``exp(-1) = 0.37`` on
  average for the data's mean action, ``exp(-2) = 0.14`` for an unrelated chunk of the data (two
  independent unit-variance values differ by 2 in mean square). Component: ``decoded``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor

from worldalign.data.fast_tokenizer import FastActionTokenizer
from worldalign.errors import ConfigError
from worldalign.models.vla.decoding_vla import decode_completion, decode_normalised
from worldalign.models.vla.processor_vla import THINK_CLOSE, THINK_OPEN, Completion
from worldalign.rewards.base import component_key

ACTION_ACCURACY = "action_accuracy"
ACTION_DISTANCE = "action_distance"
FORMAT = "format"
FORMAT_STRICT = "format_strict"
VLA_REWARDS = (ACTION_ACCURACY, FORMAT, FORMAT_STRICT, ACTION_DISTANCE)
"""The names ``vla_rewards`` builds, in its order."""


@dataclass(frozen=True)
class CompletionGroup:
    """What the VLA rewards score: completions and, for each, the expert's FAST ids (not LM ids)
    of the observation it was generated for."""

    completions: Sequence[Completion]
    expert_ids: Sequence[Sequence[int]]

    def __post_init__(self) -> None:
        if len(self.completions) != len(self.expert_ids):
            raise ConfigError(
                f"{len(self.completions)} completions for {len(self.expert_ids)} expert token sequences; "
                "expected one each"
            )
        empty = [row for row, ids in enumerate(self.expert_ids) if not ids]
        if empty:
            raise ConfigError(f"expert FAST ids of rows {empty} are empty; every expert chunk has at least one token")

    @property
    def batch_size(self) -> int:
        return len(self.completions)

    @property
    def device(self) -> torch.device:
        return torch.device("cpu")


def matching_prefix(generated: Sequence[int], expert: Sequence[int]) -> int:
    """Length of the longest common prefix of two id sequences."""
    length = 0
    for mine, theirs in zip(generated, expert):
        if int(mine) != int(theirs):
            break
        length += 1
    return length


class ActionTokenAccuracy:
    """``action_accuracy``: the matching prefix of the FAST ids over the expert's length."""

    name = ACTION_ACCURACY

    def __call__(self, batch: CompletionGroup) -> dict[str, Tensor]:
        pairs = list(zip(batch.completions, batch.expert_ids))
        prefixes = [matching_prefix(c.action_tokens, e) for c, e in pairs]
        exact = [tuple(map(int, c.action_tokens)) == tuple(map(int, e)) for c, e in pairs]
        return {
            self.name: torch.tensor([p / len(e) for p, e in zip(prefixes, batch.expert_ids)], dtype=torch.float32),
            component_key(self.name, "exact"): torch.tensor(exact, dtype=torch.float32),
        }


class ActionDistance:
    """``action_distance``: ``exp(-mean squared error)`` of the decoded chunk against the expert's,
    in normalised units; 0 without a decodable chunk (module docstring)."""

    name = ACTION_DISTANCE

    def __init__(self, tokenizer: FastActionTokenizer) -> None:
        self.tokenizer = tokenizer

    def __call__(self, batch: CompletionGroup) -> dict[str, Tensor]:
        values, decoded = [], []
        for completion, expert_ids in zip(batch.completions, batch.expert_ids):
            chunk = decode_normalised(completion, self.tokenizer)
            squared_error = np.mean((chunk.actions - self.tokenizer.decode(list(expert_ids))) ** 2)
            decoded.append(not chunk.fallback)
            values.append(0.0 if chunk.fallback else float(np.exp(-squared_error)))
        return {
            self.name: torch.tensor(values, dtype=torch.float32),
            component_key(self.name, "decoded"): torch.tensor(decoded, dtype=torch.float32),
        }


class FormatReward:
    """``format``: ``think``, then ``decodable``, then ``ended``, each counted only after the
    previous, over three; ``strict``: ``format_strict``, nothing without a decodable chunk
    (module docstring)."""

    def __init__(self, tokenizer: FastActionTokenizer, strict: bool = False) -> None:
        self.tokenizer = tokenizer
        self.strict = strict
        self.name = FORMAT_STRICT if strict else FORMAT

    def __call__(self, batch: CompletionGroup) -> dict[str, Tensor]:
        checks: dict[str, list[float]] = {"think": [], "decodable": [], "ended": []}
        for completion in batch.completions:
            text = completion.text.strip()
            checks["think"].append(float(
                text.startswith(THINK_OPEN) and text.endswith(THINK_CLOSE) and text.count(THINK_OPEN) == 1
                and text.count(THINK_CLOSE) == 1
            ))
            decoded = decode_completion(completion, self.tokenizer)
            checks["decodable"].append(float(bool(completion.action_tokens) and not decoded.fallback
                                             and not decoded.overlong))
            checks["ended"].append(float(completion.ended and completion.trailing == 0))
        values = {component_key(self.name, check): torch.tensor(v, dtype=torch.float32) for check, v in checks.items()}
        think, decodable, ended = values.values()
        if self.strict:
            value = decodable * (think + 1 + ended) / 3
        else:
            value = torch.cumprod(torch.stack([think, decodable, ended]), dim=0).sum(0) / 3
        return {self.name: value, **values}


def vla_rewards(
    tokenizer: FastActionTokenizer, names: Sequence[str] = VLA_REWARDS
) -> list[ActionTokenAccuracy | FormatReward | ActionDistance]:
    """The VLA rewards ``names`` (of ``VLA_REWARDS``), in that order."""
    built = {ACTION_ACCURACY: ActionTokenAccuracy, FORMAT: lambda: FormatReward(tokenizer),
             FORMAT_STRICT: lambda: FormatReward(tokenizer, strict=True),
             ACTION_DISTANCE: lambda: ActionDistance(tokenizer)}
    unknown = [name for name in names if name not in built]
    if unknown:
        raise ConfigError(f"unknown VLA reward(s) {unknown}; available: {', '.join(VLA_REWARDS)}")
    return [built[name]() for name in names]
