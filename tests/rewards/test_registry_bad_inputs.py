"""Reward specs the registry refuses, before anything loads: non-finite weights and missing
required options (named with the flag that gives them)."""

from __future__ import annotations

import pytest

from worldalign.errors import ConfigError
from worldalign.rewards.compose import RewardComposer
from worldalign.rewards.registry import build_rewards, parse_reward_spec


@pytest.mark.parametrize("weight", ["nan", "inf", "-inf", "NaN"])
def test_a_non_finite_weight_is_refused_saying_what_is_allowed(weight: str) -> None:
    with pytest.raises(ConfigError, match=rf"weight {weight} of 'fidelity'; expected a finite number \(negative: a penalty"):
        parse_reward_spec(f"fidelity={weight}")


def test_negative_and_zero_weights_are_allowed_and_a_missing_weight_is_one() -> None:
    assert parse_reward_spec("fidelity=-0.5,executability=0,judge") == {"fidelity": -0.5, "executability": 0.0, "judge": 1.0}


def test_a_reward_without_its_required_option_names_the_option() -> None:
    with pytest.raises(ConfigError, match=r"reward 'success' needs the option\(s\) \['success_checkpoint'\].*classifier"):
        build_rewards("fidelity=1.0,success=1.0", device="cpu")


def test_the_composer_refuses_a_non_finite_weight() -> None:
    class Constant:
        name = "constant"

        def __call__(self, rollout: object) -> dict[str, object]:
            raise AssertionError("never called")

    with pytest.raises(ConfigError, match=r"weights \{'constant': nan\} are not finite"):
        RewardComposer({"constant": float("nan")}, [Constant()])
