"""The placebo reward: fixed per candidate, spread over [0, 1], blind to what the frames show."""

from __future__ import annotations

import torch

from worldalign.data.types import Rollout
from worldalign.rewards.placebo import PlaceboReward
from worldalign.rewards.registry import available_rewards, build_rewards


def _rollout(frames: torch.Tensor) -> Rollout:
    return Rollout(frames=frames, views=("front",), fps=10)


def test_the_same_candidate_always_gets_the_same_value_and_a_changed_pixel_a_new_one() -> None:
    frames = torch.rand(2, 1, 4, 3, 8, 8, generator=torch.Generator().manual_seed(0)) * 2 - 1
    first = PlaceboReward()(_rollout(frames))["placebo"]
    assert torch.equal(first, PlaceboReward()(_rollout(frames.clone()))["placebo"])
    changed = frames.clone()
    changed[1, 0, 3, 2, 7, 7] += 1e-3
    second = PlaceboReward()(_rollout(changed))["placebo"]
    assert second[0] == first[0]
    assert second[1] != first[1]


def test_values_are_uniform_and_unrelated_to_brightness() -> None:
    levels = torch.linspace(-1, 1, 400)
    frames = levels[:, None, None, None, None, None].expand(-1, 1, 2, 3, 4, 4).clone()
    values = PlaceboReward()(_rollout(frames))["placebo"]
    assert float(values.min()) >= 0.0 and float(values.max()) < 1.0
    histogram = torch.histc(values, bins=4, min=0.0, max=1.0)
    assert histogram.min() >= 70  # 100 expected per quarter
    ranks = levels.argsort().argsort().float()
    value_ranks = values.argsort().argsort().float()
    spearman = torch.corrcoef(torch.stack([ranks, value_ranks]))[0, 1]
    assert abs(float(spearman)) < 0.15  # independent: |rho| < 0.15 with probability ~0.997 at n = 400


def test_the_registry_builds_it() -> None:
    assert "placebo" in available_rewards()
    frames = torch.zeros(3, 1, 2, 3, 4, 4)
    frames[1] += 0.5
    frames[2] -= 0.5
    output = build_rewards("placebo=1.0")(_rollout(frames))
    assert output.total.shape == (3,)
    assert len(set(output.total.tolist())) == 3
