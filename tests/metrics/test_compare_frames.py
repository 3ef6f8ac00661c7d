"""compare_frames: every requested metric, one (B, V, T) tensor each, equal to the metric alone."""

from __future__ import annotations

import pytest
import torch

from worldalign.errors import ConfigError
from worldalign.metrics import compare_frames, lpips, psnr, ssim


@pytest.fixture(scope="module")
def frames() -> tuple[torch.Tensor, torch.Tensor]:
    generator = torch.Generator().manual_seed(0)
    reference = torch.rand(2, 2, 3, 3, 64, 64, generator=generator) * 2 - 1  # (B, V, T, C, H, W)
    generated = (reference + 0.2 * torch.randn(reference.shape, generator=generator)).clamp(-1, 1)
    return generated, reference


def test_all_metrics_by_default(frames: tuple[torch.Tensor, torch.Tensor]) -> None:
    generated, reference = frames
    scores = compare_frames(generated, reference)
    assert list(scores) == ["psnr", "ssim", "lpips"]
    assert all(score.shape == (2, 2, 3) for score in scores.values())
    assert torch.equal(scores["psnr"], psnr(generated, reference))
    assert torch.equal(scores["ssim"], ssim(generated, reference))
    assert torch.allclose(scores["lpips"], lpips(generated, reference))


def test_a_subset_in_the_order_asked_and_a_finite_psnr_cap(frames: tuple[torch.Tensor, torch.Tensor]) -> None:
    _, reference = frames
    scores = compare_frames(reference, reference, metrics=("ssim", "psnr"), psnr_max_db=100.0)
    assert list(scores) == ["ssim", "psnr"]
    assert torch.equal(scores["psnr"], torch.full((2, 2, 3), 100.0))


def test_an_unknown_metric_is_refused_with_a_suggestion(frames: tuple[torch.Tensor, torch.Tensor]) -> None:
    generated, reference = frames
    with pytest.raises(ConfigError, match=r"'ssmi' \(did you mean 'ssim'\?\).*choose from"):
        compare_frames(generated, reference, metrics=("psnr", "ssmi"))
