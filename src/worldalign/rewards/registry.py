"""Rewards by name: ``register_reward`` and ``build_rewards("fidelity=1.0,executability=0.5")``.

The command line chooses rewards as ``name=weight`` pairs; this module turns that string into a
``RewardComposer``. A factory is any callable ``factory(**options) -> Reward``; ``build_rewards``
passes each factory only the options its signature names (all of them if it takes
``**kwargs``), so one call can carry, say, ``idm_checkpoint=...`` for the executability reward
and ``view_weights=...`` for the fidelity reward.

The built-in rewards are registered lazily (their modules import the simulator or load a
model), so importing the registry stays cheap.

Weights must be finite numbers. A negative weight is allowed and makes the reward a penalty
(e.g. ``fidelity=1,judge=-0.5``); a zero weight computes and logs a reward without optimising
it. A factory's required parameter (one without a default) that no option supplies is a
``ConfigError`` naming the option and how the command line gives it, before anything loads.
"""

from __future__ import annotations

import difflib
import importlib
import inspect
import math
from collections.abc import Callable, Sequence
from typing import Any

from worldalign.errors import ConfigError
from worldalign.rewards.base import Reward
from worldalign.rewards.compose import RewardComposer

RewardFactory = Callable[..., Reward]

# name -> "module:function" of the built-in factories, imported on first use.
_BUILTIN: dict[str, str] = {
    "fidelity": "worldalign.rewards.fidelity:make_fidelity_reward",
    "executability": "worldalign.rewards.executability:make_executability_reward",
    "execution": "worldalign.rewards.execution:make_execution_reward",
    "judge": "worldalign.rewards.judge:make_judge_reward",
    "judge_teacher": "worldalign.rewards.judge:make_teacher_judge_reward",
    "brightness": "worldalign.rewards.brightness:make_brightness_reward",
    "motion_match": "worldalign.rewards.motion_match:make_motion_match_reward",
    "placebo": "worldalign.rewards.placebo:make_placebo_reward",
    "speed_match": "worldalign.rewards.speed_match:make_speed_match_reward",
    "success": "worldalign.rewards.success:make_success_reward",
}
_FACTORIES: dict[str, RewardFactory] = {}

# How the command line supplies a factory option, for the error when it is missing.
OPTION_FLAGS: dict[str, str] = {
    "idm": "--idm IDM (an inverse dynamics model folder)",
    "success_checkpoint": "a success classifier folder (worldalign.algos.success_classifier)",
}

WEIGHT_RULE = "a finite number (negative: a penalty; 0: computed and logged, not optimised)"


def register_reward(name: str, factory: RewardFactory) -> None:
    """Make ``factory`` available as ``name`` in ``build_rewards`` specs.

    Raises:
        ConfigError: ``name`` is empty, contains ``=`` or ``,``, or is already registered to
            another factory.
    """
    if not name or "=" in name or "," in name or name != name.strip():
        raise ConfigError(f"reward name {name!r}: expected a non-empty name without '=', ',' or surrounding spaces")
    known = _FACTORIES.get(name)
    if known is not None and known is not factory:
        raise ConfigError(f"reward {name!r} is already registered (to {known!r})")
    _FACTORIES[name] = factory


def available_rewards() -> list[str]:
    """Every reward name ``build_rewards`` accepts, sorted."""
    return sorted(set(_FACTORIES) | set(_BUILTIN))


def _factory(name: str) -> RewardFactory:
    if name not in _FACTORIES and name in _BUILTIN:
        module_name, function = _BUILTIN[name].split(":")
        register_reward(name, getattr(importlib.import_module(module_name), function))
    if name not in _FACTORIES:
        names = available_rewards()
        close = difflib.get_close_matches(name, names, n=1)
        hint = f" Did you mean {close[0]!r}?" if close else ""
        raise ConfigError(f"unknown reward {name!r}.{hint} Available rewards: {', '.join(names)}.")
    return _FACTORIES[name]


def parse_reward_spec(spec: str, names: Sequence[str] | None = None) -> dict[str, float]:
    """``"fidelity=1.0,executability=0.5"`` -> ``{"fidelity": 1.0, "executability": 0.5}``.

    A name without ``=weight`` gets weight 1.0. Names are checked against ``names`` when given
    (the VLA's rewards, which score completions), else against the registry of rollout rewards.
    """
    weights: dict[str, float] = {}
    for item in (part.strip() for part in spec.split(",")):
        if not item:
            continue
        name, _, weight_text = item.partition("=")
        name = name.strip()
        try:
            weight = float(weight_text) if weight_text.strip() else 1.0
        except ValueError:
            raise ConfigError(
                f"reward spec {spec!r}: weight {weight_text!r} of {name!r} is not a number; expected {WEIGHT_RULE}"
            ) from None
        if not math.isfinite(weight):
            raise ConfigError(f"reward spec {spec!r}: weight {weight_text.strip()} of {name!r}; expected {WEIGHT_RULE}")
        if name in weights:
            raise ConfigError(f"reward spec {spec!r}: {name!r} appears twice")
        if names is None:
            _factory(name)
        elif name not in names:
            raise ConfigError(f"reward spec {spec!r}: unknown reward {name!r}; available: {', '.join(names)}")
        weights[name] = weight
    if not weights:
        raise ConfigError(f"reward spec {spec!r}: expected name=weight pairs, e.g. 'fidelity=1.0,executability=0.5'")
    return weights


def _check_required_options(name: str, factory: RewardFactory, options: dict[str, Any]) -> None:
    """A ``ConfigError`` naming every required parameter of ``factory`` that ``options`` lacks."""
    parameters = inspect.signature(factory).parameters.values()
    missing = [
        p.name
        for p in parameters
        if p.default is p.empty and p.kind in (p.KEYWORD_ONLY, p.POSITIONAL_OR_KEYWORD) and options.get(p.name) is None
    ]
    if missing:
        how = "; ".join(f"{option}: {OPTION_FLAGS.get(option, 'pass it to build_rewards')}" for option in missing)
        raise ConfigError(f"reward {name!r} needs the option(s) {missing}, which were not given ({how})")


def _accepted_options(factory: RewardFactory, options: dict[str, Any]) -> dict[str, Any]:
    parameters = inspect.signature(factory).parameters.values()
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters):
        return dict(options)
    names = {p.name for p in parameters if p.kind in (p.KEYWORD_ONLY, p.POSITIONAL_OR_KEYWORD)}
    return {key: value for key, value in options.items() if key in names}


def build_rewards(spec: str, **options: Any) -> RewardComposer:
    """The ``RewardComposer`` of the rewards and weights in ``spec``.

    Args:
        spec: ``name=weight`` pairs separated by commas, e.g. ``"fidelity=1.0,executability=0.5"``.
        **options: passed to every factory that names them in its signature.

    Raises:
        ConfigError: an unknown reward name (with the closest known name and the full list), a
            malformed or non-finite weight, a required option missing (checked for every reward
            before any is built), or a factory rejecting its options.
    """
    weights = parse_reward_spec(spec)
    for name in weights:
        _check_required_options(name, _factory(name), options)
    rewards = []
    for name in weights:
        factory = _factory(name)
        reward = factory(**_accepted_options(factory, options))
        if reward.name != name:
            raise ConfigError(f"the factory registered as {name!r} built a reward named {reward.name!r}")
        rewards.append(reward)
    return RewardComposer(weights, rewards)
