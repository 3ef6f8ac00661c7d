"""What a reward is: a named callable scoring a batch, one value per sample.

The contract every reward of worldalign follows (shared by the world-model rewards on rollouts:
fidelity, executability, execution, judge; and by the VLA's rewards on completions: action-token
accuracy, format), relied on by ``RewardComposer`` and the RL algorithms:

- ``name``: a short identifier, the name the command line selects it by
  (``--rewards fidelity=1.0,executability=0.5``);
- ``reward(batch) -> {name: (B,), f"{name}/{component}": (B,), ...}``: float tensors, one
  value per sample. The key ``name`` is the reward (higher is better); every other key is a
  component that explains it and is logged under its key. A sample the reward cannot score is
  NaN, never a made-up number: the composer reports it and drops that sample.

The composition into one scalar lives in ``compose``, so no reward knows about the others
(TRL's reward functions are plain callables for the same reason).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol, runtime_checkable

import torch
from torch import Tensor

from worldalign.errors import ConfigError


class Scored(Protocol):
    """What rewards score: a batch that knows its size and device (``data.types.Rollout``, the
    VLA's ``rewards.vla.CompletionGroup``)."""

    @property
    def batch_size(self) -> int: ...

    @property
    def device(self) -> torch.device: ...


@runtime_checkable
class Reward(Protocol):
    """A reward function on a ``Scored`` batch (see the module docstring for the contract)."""

    name: str

    def __call__(self, batch: Any) -> dict[str, Tensor]:
        """``{name: (B,) value, f"{name}/{component}": (B,), ...}``, float, higher is better."""
        ...


def component_key(reward_name: str, component: str) -> str:
    """The key a component of ``reward_name`` is returned and logged under."""
    return f"{reward_name}/{component}"


def normalized_view_weights(given: Mapping[str, float] | None, views: tuple[str, ...], reward_name: str) -> Tensor:
    """``(V,)`` weights of a rollout's ``views`` summing to 1, from a reward's ``{view: weight}``
    (a view not named weighs 1); an unknown view or all-zero weights are a ``ConfigError``."""
    given = dict(given or {})
    unknown = sorted(set(given) - set(views))
    if unknown:
        raise ConfigError(
            f"{reward_name} reward: view weights name views {unknown} that the rollout lacks; "
            f"its views are {list(views)}"
        )
    weights = torch.tensor([float(given.get(view, 1.0)) for view in views])
    if weights.sum() <= 0:
        raise ConfigError(f"{reward_name} reward: view weights {given} give every view of {list(views)} weight 0")
    return weights / weights.sum()
