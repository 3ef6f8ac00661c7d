"""The multi-view fidelity reward on real rendered frames: identical > slightly perturbed > unrelated."""

from __future__ import annotations

import pytest
import torch

from worldalign.data.types import Episode, Rollout
from worldalign.errors import ConfigError
from worldalign.rewards.episode_rollouts import episode_frames
from worldalign.rewards.fidelity import FidelityConfig, FidelityReward


def _future(episode: Episode, start: int = 10, length: int = 8) -> torch.Tensor:
    return episode_frames(episode)[:, start : start + length]  # (V, T, 3, H, W)


def test_identical_beats_slightly_perturbed_beats_unrelated(expert_episodes: list[Episode]) -> None:
    torch.manual_seed(0)
    episode = expert_episodes[0]
    real = _future(episode)
    perturbed = (real + 0.04 * torch.randn_like(real)).clamp(-1, 1)
    unrelated = _future(expert_episodes[-1])  # another task's scene at the same time
    rollout = Rollout(
        frames=torch.stack([real, perturbed, unrelated]),
        views=episode.views,
        fps=episode.fps,
        reference=real[None].expand(3, *real.shape).clone(),
    )
    out = FidelityReward()(rollout)
    identical, slightly, different = out["fidelity"].tolist()
    assert identical == pytest.approx(1.0, abs=1e-5)
    assert identical > slightly > different
    # Each metric agrees on the order (raw values: lower LPIPS, higher SSIM and PSNR are better).
    assert out["fidelity/lpips"][0] < out["fidelity/lpips"][1] < out["fidelity/lpips"][2]
    assert out["fidelity/ssim"][0] > out["fidelity/ssim"][1] > out["fidelity/ssim"][2]
    assert out["fidelity/psnr"][0] > out["fidelity/psnr"][1] > out["fidelity/psnr"][2]


def test_view_weights_select_what_counts(expert_episodes: list[Episode]) -> None:
    episode = expert_episodes[3]
    real = _future(episode)
    broken = real.clone()
    broken[-1] = -real[-1]  # only the last view (the wrist camera) is wrong
    rollout = Rollout(frames=broken[None], views=episode.views, fps=episode.fps, reference=real[None])
    others_only = FidelityReward(FidelityConfig(view_weights={episode.views[-1]: 0.0}))(rollout)
    broken_only = FidelityReward(FidelityConfig(view_weights={v: 0.0 for v in episode.views[:-1]}))(rollout)
    assert others_only["fidelity"].item() == pytest.approx(1.0, abs=1e-5)
    assert broken_only["fidelity"].item() < 0.6
    torch.testing.assert_close(broken_only["fidelity"], broken_only[f"fidelity/view/{episode.views[-1]}"])


def test_discount_weights_early_frames_more(expert_episodes: list[Episode]) -> None:
    episode = expert_episodes[0]
    real = _future(episode)
    late_broken, early_broken = real.clone(), real.clone()
    late_broken[:, -2:] = torch.flip(real[:, -2:], dims=[-1])
    early_broken[:, :2] = torch.flip(real[:, :2], dims=[-1])
    rollout = Rollout(
        frames=torch.stack([late_broken, early_broken]),
        views=episode.views,
        fps=10,
        reference=torch.stack([real, real]),
    )
    late, early = FidelityReward(FidelityConfig(discount=0.7))(rollout)["fidelity"].tolist()
    assert late > early


def test_a_rollout_without_reference_is_a_clear_error() -> None:
    with pytest.raises(ConfigError, match="no reference"):
        FidelityReward()(Rollout(frames=torch.zeros(1, 1, 2, 3, 32, 32), views=("front",), fps=10))
    with pytest.raises(ConfigError, match="lacks"):
        FidelityReward(FidelityConfig(view_weights={"wrist": 1.0}))(
            Rollout(
                frames=torch.zeros(1, 1, 2, 3, 32, 32),
                views=("front",),
                fps=10,
                reference=torch.zeros(1, 1, 2, 3, 32, 32),
            )
        )
    with pytest.raises(ConfigError, match="metric_weights"):
        FidelityConfig(metric_weights={"fvd": 1.0})
