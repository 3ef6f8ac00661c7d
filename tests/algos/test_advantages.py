"""Group-relative advantages and DiffusionNFT's optimality probability, checked by hand."""

from __future__ import annotations

import math

import pytest
import torch

from worldalign.algos.advantages import group_advantages, optimality_probability, within_group_std
from worldalign.errors import ConfigError


def test_two_groups_by_hand() -> None:
    rewards = torch.tensor([1.0, 3.0, 0.0, 0.0, 2.0, 4.0])  # groups of 3: [1, 3, 0] and [0, 2, 4]
    advantages = group_advantages(rewards, 3, eps=0.0)
    first_std = math.sqrt(((1 - 4 / 3) ** 2 + (3 - 4 / 3) ** 2 + (4 / 3) ** 2) / 3)
    second_std = math.sqrt(8 / 3)
    expected = [(1 - 4 / 3) / first_std, (3 - 4 / 3) / first_std, (-4 / 3) / first_std]
    expected += [-2 / second_std, 0.0, 2 / second_std]
    torch.testing.assert_close(advantages, torch.tensor(expected), rtol=0, atol=1e-6)
    with_eps = group_advantages(rewards, 3, eps=0.5)
    torch.testing.assert_close(with_eps[3:], torch.tensor([-2, 0, 2]) / (second_std + 0.5), rtol=0, atol=1e-6)


def test_nan_rewards_get_zero_and_leave_the_statistics() -> None:
    rewards = torch.tensor([1.0, float("nan"), 3.0, 5.0, float("nan"), float("nan"), 2.0, float("nan")])
    advantages = group_advantages(rewards, 4, eps=0.0)
    assert not torch.isnan(advantages).any()
    std = math.sqrt(8 / 3)  # of [1, 3, 5], mean 3
    torch.testing.assert_close(advantages[:4], torch.tensor([-2 / std, 0.0, 0.0, 2 / std]), rtol=0, atol=1e-6)
    assert advantages[4:].eq(0).all()  # one scored sample: no signal


def test_uninformative_groups_give_zeros() -> None:
    rewards = torch.tensor([0.1, 0.1, 0.1, 7.0, -1.0, 1.0])
    advantages = group_advantages(rewards, 3)
    assert advantages[:3].eq(0).all()
    assert advantages[3:].ne(0).all()
    assert group_advantages(torch.tensor([2.0, 5.0]), 1).eq(0).all()  # groups of one
    assert group_advantages(torch.full((4,), float("nan")), 2).eq(0).all()


def test_within_group_std_is_the_mean_spread_of_the_groups_it_can_measure() -> None:
    rewards = torch.tensor([1.0, 3.0, 0.0, 0.0, 2.0, 4.0, 5.0, float("nan"), float("nan")])
    first, second = math.sqrt(14 / 9), math.sqrt(8 / 3)  # [1, 3, 0] and [0, 2, 4]; [5] has no spread
    assert within_group_std(rewards, 3) == pytest.approx((first + second) / 2)
    assert within_group_std(rewards * 100 + 7, 3) == pytest.approx(100 * (first + second) / 2)
    assert math.isnan(within_group_std(torch.tensor([1.0, float("nan")]), 2))
    with pytest.raises(ConfigError, match="groups of group_size=4"):
        within_group_std(torch.zeros(6), 4)


def test_bad_batch_raises() -> None:
    with pytest.raises(ConfigError, match="groups of group_size=4"):
        group_advantages(torch.zeros(6), 4)
    with pytest.raises(ConfigError, match="group_size=0"):
        group_advantages(torch.zeros(6), 0)


def test_optimality_probability() -> None:
    advantages = torch.tensor([-10.0, -2.5, 0.0, 1.0, 5.0, 9.0])
    expected = torch.tensor([0.0, 0.25, 0.5, 0.6, 1.0, 1.0])
    torch.testing.assert_close(optimality_probability(advantages, 5.0), expected)
    with pytest.raises(ConfigError):
        optimality_probability(advantages, 0.0)
