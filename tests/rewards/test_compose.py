"""The reward contract: weights by name, every term kept, NaN samples reported and dropped,
registry errors that name the fix."""

from __future__ import annotations

import logging

import pytest
import torch

from worldalign.data.types import Rollout
from worldalign.errors import ConfigError
from worldalign.rewards import RewardComposer, build_rewards, parse_reward_spec, register_reward


class ConstantReward:
    """A reward returning fixed per-sample values and one component."""

    def __init__(self, name: str, values: list[float]) -> None:
        self.name = name
        self.values = torch.tensor(values, dtype=torch.float32)

    def __call__(self, rollout: Rollout) -> dict[str, torch.Tensor]:
        return {self.name: self.values.clone(), f"{self.name}/double": 2 * self.values}


def _rollout(batch: int = 3) -> Rollout:
    return Rollout(frames=torch.zeros(batch, 1, 2, 3, 8, 8), views=("front",), fps=10)


def test_total_is_the_weighted_sum_and_every_term_is_kept() -> None:
    composer = RewardComposer({"a": 1.0, "b": 0.5}, [ConstantReward("a", [1, 2, 3]), ConstantReward("b", [4, 0, -2])])
    out = composer(_rollout())
    torch.testing.assert_close(out.total, torch.tensor([3.0, 2.0, 2.0]))
    assert out.valid.all()
    assert set(out.terms) == {"a", "a/double", "b", "b/double"}
    torch.testing.assert_close(out.terms["b/double"], torch.tensor([8.0, 0.0, -4.0]))
    assert set(out.seconds) == {"a", "b"} and all(s >= 0 for s in out.seconds.values())


def test_nan_and_inf_samples_are_reported_and_masked_never_averaged(caplog: pytest.LogCaptureFixture) -> None:
    composer = RewardComposer(
        {"a": 1.0, "b": 1.0}, [ConstantReward("a", [1, float("nan"), 3]), ConstantReward("b", [1, 1, float("inf")])]
    )
    with caplog.at_level(logging.WARNING):
        out = composer(_rollout())
    assert out.valid.tolist() == [True, False, False]
    assert out.total[0] == 2.0 and out.total[1:].isnan().all()
    assert out.invalid["a"].tolist() == [False, True, False] and out.invalid["b"].tolist() == [False, False, True]
    assert "'a'" in caplog.text and "'b'" in caplog.text
    scalars = out.log_scalars()
    assert scalars["reward/total"] == 2.0  # the mean over valid samples only
    assert scalars["reward/invalid_samples"] == 2.0 and scalars["reward/a/invalid"] == 1.0


def test_a_zero_weight_reward_is_logged_but_does_not_mask_the_total() -> None:
    composer = RewardComposer(
        {"a": 1.0, "b": 0.0}, [ConstantReward("a", [1, 2, 3]), ConstantReward("b", [float("nan"), 0, 0])]
    )
    out = composer(_rollout())
    assert out.valid.all() and out.total.tolist() == [1.0, 2.0, 3.0]
    assert out.invalid["b"].tolist() == [True, False, False]


def test_a_reward_breaking_the_contract_is_named() -> None:
    class WrongShape:
        name = "wrong"

        def __call__(self, rollout: Rollout) -> dict[str, torch.Tensor]:
            return {"wrong": torch.zeros(rollout.batch_size, 2)}

    with pytest.raises(ConfigError, match="'wrong'.*shape \\(3,\\)"):
        RewardComposer({"wrong": 1.0}, [WrongShape()])(_rollout())
    with pytest.raises(ConfigError, match="rewards without a weight"):
        RewardComposer({}, [ConstantReward("a", [1, 2, 3])])


def test_spec_parsing_and_unknown_names_get_a_suggestion_and_the_list() -> None:
    assert parse_reward_spec("fidelity=1.0, executability=0.5") == {"fidelity": 1.0, "executability": 0.5}
    assert parse_reward_spec("fidelity") == {"fidelity": 1.0}
    with pytest.raises(ConfigError, match="Did you mean 'executability'.*Available rewards: .*fidelity"):
        parse_reward_spec("fidelity=1,executabilty=0.5")
    with pytest.raises(ConfigError, match="not a number"):
        parse_reward_spec("fidelity=high")
    with pytest.raises(ConfigError, match="twice"):
        parse_reward_spec("fidelity=1,fidelity=2")


def test_registered_factories_receive_only_the_options_they_name() -> None:
    received = {}

    def factory(values: list[float]) -> ConstantReward:
        received["values"] = values
        return ConstantReward("constant_for_test", values)

    register_reward("constant_for_test", factory)
    composer = build_rewards("constant_for_test=2", values=[1.0, 0.0, 1.0], idm="ignored by this factory")
    assert received == {"values": [1.0, 0.0, 1.0]}
    assert composer(_rollout()).total.tolist() == [2.0, 0.0, 2.0]
    with pytest.raises(ConfigError, match="already registered"):
        register_reward("constant_for_test", lambda: ConstantReward("constant_for_test", [0.0]))
