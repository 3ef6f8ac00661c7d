"""SSIM and PSNR against scikit-image's reference implementation, on frames in [-1, 1].

The reference scores the same frames mapped to [0, 1] with a data range of 1 (the convention
worldalign documents), in float64.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from skimage.metrics import peak_signal_noise_ratio, structural_similarity

from worldalign.metrics import psnr, ssim

TOLERANCE = 1e-5
SIZES = [(64, 64), (11, 11), (48, 80), (33, 17), (96, 128)]


def unit_range_hwc(frame: torch.Tensor) -> np.ndarray:
    """A (C, H, W) frame in [-1, 1] as scikit-image takes it: (H, W, C) float64 in [0, 1]."""
    return ((frame.double() + 1) / 2).permute(1, 2, 0).numpy()


def reference_ssim(generated: torch.Tensor, reference: torch.Tensor) -> float:
    """scikit-image's Gaussian SSIM of one (C, H, W) pair in [-1, 1]."""
    return structural_similarity(
        unit_range_hwc(generated),
        unit_range_hwc(reference),
        gaussian_weights=True,
        sigma=1.5,
        use_sample_covariance=False,
        data_range=1.0,
        channel_axis=-1,
    )


def reference_psnr(generated: torch.Tensor, reference: torch.Tensor) -> float:
    """scikit-image's PSNR of one (C, H, W) pair in [-1, 1]."""
    return peak_signal_noise_ratio(unit_range_hwc(reference), unit_range_hwc(generated), data_range=1.0)


def frame_pairs(height: int, width: int, seed: int) -> list[tuple[str, torch.Tensor, torch.Tensor]]:
    """Random and structured (C, H, W) pairs in [-1, 1]: the cases a world model's frames span."""
    generator = torch.Generator().manual_seed(seed)
    noise = torch.rand(3, height, width, generator=generator) * 2 - 1
    rows = torch.linspace(-1, 1, height).view(1, height, 1)
    cols = torch.linspace(-1, 1, width).view(1, 1, width)
    gradient = (0.6 * rows + 0.4 * cols * torch.tensor([1.0, -0.5, 0.2]).view(3, 1, 1)).clamp(-1, 1)
    checker = ((torch.arange(height).view(-1, 1) // 4 + torch.arange(width).view(1, -1) // 4) % 2).float()
    checker = (checker * 1.6 - 0.8).expand(3, height, width)
    left = torch.arange(width) < width // 2
    halves = torch.where(left, -1.0, 1.0).expand(3, height, width)
    return [
        ("independent noise", noise, torch.rand(3, height, width, generator=generator) * 2 - 1),
        ("noisy copy", noise, (noise + 0.2 * torch.randn(3, height, width, generator=generator)).clamp(-1, 1)),
        ("smooth gradient, shifted", gradient, (gradient + 0.1).clamp(-1, 1)),
        ("checkerboard vs blurred", checker, torch.nn.functional.avg_pool2d(checker[None], 3, 1, 1)[0]),
        # Flat regions at different grey levels (rendered tables, backgrounds) are where float32
        # moments lose 1e-5: E[x^2] - E[x]^2 cancels.
        ("flat vs flat", torch.full((3, height, width), -0.3), torch.full((3, height, width), 0.4)),
        ("two flat halves", halves, torch.where(left, -0.9, 0.95).expand(3, height, width)),
    ]


@pytest.mark.parametrize("size", SIZES, ids=lambda size: f"{size[0]}x{size[1]}")
def test_ssim_and_psnr_match_scikit_image(size: tuple[int, int], device: torch.device) -> None:
    for case, generated, reference in frame_pairs(*size, seed=size[0] * 1000 + size[1]):
        ours_ssim = ssim(generated.to(device), reference.to(device)).item()
        ours_psnr = psnr(generated.to(device), reference.to(device)).item()
        assert ours_ssim == pytest.approx(reference_ssim(generated, reference), abs=TOLERANCE), case
        assert ours_psnr == pytest.approx(reference_psnr(generated, reference), abs=TOLERANCE), case


def test_fast_ssim_for_rewards_stays_within_1e_4_of_the_reference() -> None:
    """precise=False (float32 moments, for rewards) trades at most a few 1e-5 for ~2x speed,
    flat regions included, where float32 moments cancel worst."""
    for name, generated, reference in frame_pairs(64, 64, seed=3):
        exact = ssim(generated, reference)
        fast = ssim(generated, reference, precise=False)
        assert fast.dtype == torch.float32
        assert abs(float(fast) - float(exact)) < 1e-4, name


def test_batched_frames_give_one_value_per_frame_and_view(device: torch.device) -> None:
    generator = torch.Generator().manual_seed(0)
    generated = torch.rand(2, 3, 2, 3, 32, 40, generator=generator) * 2 - 1  # (B, V, T, C, H, W)
    reference = (generated + 0.3 * torch.randn(generated.shape, generator=generator)).clamp(-1, 1)
    batched_ssim = ssim(generated.to(device), reference.to(device)).cpu()
    batched_psnr = psnr(generated.to(device), reference.to(device)).cpu()
    assert batched_ssim.shape == batched_psnr.shape == (2, 3, 2)
    for index in np.ndindex(2, 3, 2):
        expected_ssim = reference_ssim(generated[index], reference[index])
        expected_psnr = reference_psnr(generated[index], reference[index])
        assert batched_ssim[index].item() == pytest.approx(expected_ssim, abs=TOLERANCE)
        assert batched_psnr[index].item() == pytest.approx(expected_psnr, abs=TOLERANCE)


def test_any_leading_dims_including_none() -> None:
    frame = torch.rand(3, 20, 20) * 2 - 1
    assert ssim(frame, frame * 0.5).shape == ()
    assert psnr(frame.expand(5, 3, 20, 20), (frame * 0.5).expand(5, 3, 20, 20)).shape == (5,)


def test_grayscale_frames_match_scikit_image() -> None:
    generated, reference = torch.rand(2, 1, 40, 40, generator=torch.Generator().manual_seed(3)) * 2 - 1
    assert ssim(generated, reference).item() == pytest.approx(reference_ssim(generated, reference), abs=TOLERANCE)


def test_unit_range_input_with_its_value_range_scores_the_same() -> None:
    generated, reference = torch.rand(2, 3, 32, 32, generator=torch.Generator().manual_seed(4)) * 2 - 1
    assert ssim((generated + 1) / 2, (reference + 1) / 2, value_range=(0.0, 1.0)).item() == pytest.approx(
        ssim(generated, reference).item(), abs=1e-6
    )
    assert psnr((generated + 1) / 2, (reference + 1) / 2, value_range=(0.0, 1.0)).item() == pytest.approx(
        psnr(generated, reference).item(), abs=1e-4
    )


def test_equals_scikit_image_on_uint8_frames() -> None:
    """Published SSIM/PSNR numbers are mostly computed on uint8 frames (data range 255)."""
    generator = torch.Generator().manual_seed(5)
    generated_u8 = torch.randint(0, 256, (3, 40, 40), generator=generator, dtype=torch.uint8)
    noise = torch.randint(-30, 31, (3, 40, 40), generator=generator)
    reference_u8 = (generated_u8.int() + noise).clamp(0, 255).to(torch.uint8)
    generated, reference = generated_u8.float() / 127.5 - 1, reference_u8.float() / 127.5 - 1
    expected_ssim = structural_similarity(
        generated_u8.permute(1, 2, 0).numpy(),
        reference_u8.permute(1, 2, 0).numpy(),
        gaussian_weights=True,
        sigma=1.5,
        use_sample_covariance=False,
        data_range=255,
        channel_axis=-1,
    )
    expected_psnr = peak_signal_noise_ratio(reference_u8.numpy(), generated_u8.numpy(), data_range=255)
    assert ssim(generated, reference).item() == pytest.approx(expected_ssim, abs=TOLERANCE)
    assert psnr(generated, reference).item() == pytest.approx(expected_psnr, abs=TOLERANCE)


def test_identical_frames_score_ssim_one_and_psnr_inf_unless_clamped() -> None:
    frames = torch.rand(2, 2, 3, 3, 24, 24) * 2 - 1
    assert torch.allclose(ssim(frames, frames), torch.ones(2, 2, 3), atol=1e-6)
    assert torch.isinf(psnr(frames, frames)).all()
    clamped = psnr(frames, frames, max_db=100.0)
    assert torch.equal(clamped, torch.full((2, 2, 3), 100.0))
    different = frames.clone()
    different[0, 0, 0] = -different[0, 0, 0]
    assert psnr(different, frames, max_db=100.0)[0, 0, 0] < 100.0  # a cap, not a constant


def test_float64_input_is_computed_in_float64() -> None:
    generated, reference = torch.rand(2, 3, 16, 16, dtype=torch.float64) * 2 - 1
    assert ssim(generated, reference).dtype == torch.float64
    assert ssim(generated, reference).item() == pytest.approx(reference_ssim(generated, reference), abs=1e-12)
    assert psnr(generated, reference).item() == pytest.approx(reference_psnr(generated, reference), abs=1e-10)


@pytest.mark.parametrize(
    ("generated", "reference", "message"),
    [
        (torch.zeros(3, 16, 16), torch.zeros(3, 16, 17), "same shape"),
        (torch.zeros(16, 16), torch.zeros(16, 16), r"\(\.\.\., C, H, W\)"),
        (torch.zeros(3, 16, 16, dtype=torch.uint8), torch.zeros(3, 16, 16, dtype=torch.uint8), "127.5"),
    ],
    ids=["shape mismatch", "too few dims", "uint8"],
)
def test_bad_frames_are_refused_with_the_expected_form(
    generated: torch.Tensor, reference: torch.Tensor, message: str
) -> None:
    for metric in (ssim, psnr):
        with pytest.raises(ValueError, match=message):
            metric(generated, reference)


def test_ssim_refuses_frames_smaller_than_its_window() -> None:
    with pytest.raises(ValueError, match=r"at least 11x11 pixels.*got 10x32"):
        ssim(torch.zeros(3, 10, 32), torch.zeros(3, 10, 32))


@pytest.mark.parametrize("value_range", [(1.0, 1.0), (1.0, -1.0), (-math.inf, 1.0)])
def test_bad_value_range_is_refused(value_range: tuple[float, float]) -> None:
    for metric in (ssim, psnr):
        with pytest.raises(ValueError, match="value_range"):
            metric(torch.zeros(3, 16, 16), torch.zeros(3, 16, 16), value_range=value_range)
