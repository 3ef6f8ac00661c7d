"""LPIPS (AlexNet v0.1): the published reference distances and the properties of a distance."""

from __future__ import annotations

import pytest
import torch

from worldalign.metrics import LPIPS, lpips
from worldalign.metrics.lpips import AlexNetTrunk


@pytest.fixture(scope="module")
def metric() -> LPIPS:
    return LPIPS()


def test_reproduces_the_published_distances(metric: LPIPS, lpips_images: dict[str, torch.Tensor]) -> None:
    """richzhang/PerceptualSimilarity's README: ref-p0 0.722, ref-p1 0.138 with net='alex'."""
    reference = lpips_images["ex_ref"]
    assert round(metric(reference, lpips_images["ex_p0"]).item(), 3) == 0.722
    assert round(metric(reference, lpips_images["ex_p1"]).item(), 3) == 0.138


def test_same_values_on_every_device(device: torch.device, lpips_images: dict[str, torch.Tensor]) -> None:
    reference, distorted = lpips_images["ex_ref"].to(device), lpips_images["ex_p0"].to(device)
    assert lpips(reference, distorted).item() == pytest.approx(0.7219, abs=5e-4)


def test_batched_frames_give_one_value_per_frame_and_view(metric: LPIPS) -> None:
    generator = torch.Generator().manual_seed(0)
    generated = torch.rand(2, 2, 3, 3, 64, 64, generator=generator) * 2 - 1  # (B, V, T, C, H, W)
    reference = (generated + 0.4 * torch.randn(generated.shape, generator=generator)).clamp(-1, 1)
    batched = metric(generated, reference)
    assert batched.shape == (2, 2, 3)
    pairs = zip(generated.flatten(0, 2), reference.flatten(0, 2))
    one_by_one = torch.stack([metric(g[None], r[None])[0] for g, r in pairs])
    assert torch.allclose(batched.flatten(), one_by_one, atol=1e-5)


def test_identical_frames_are_at_distance_zero_and_distance_is_symmetric(
    metric: LPIPS, lpips_images: dict[str, torch.Tensor]
) -> None:
    reference, distorted = lpips_images["ex_ref"], lpips_images["ex_p1"]
    assert metric(reference, reference).item() == 0.0
    assert metric(distorted, reference).item() == pytest.approx(metric(reference, distorted).item(), abs=1e-6)


def test_non_square_and_larger_frames_work(metric: LPIPS) -> None:
    frames = torch.rand(2, 3, 48, 128) * 2 - 1
    assert metric(frames[:1], frames[1:]).shape == (1,)


def test_alexnet_feature_maps_at_64_pixels() -> None:
    shapes = [tuple(tap.shape) for tap in AlexNetTrunk()(torch.zeros(1, 3, 64, 64))]
    assert shapes == [(1, 64, 15, 15), (1, 192, 7, 7), (1, 384, 3, 3), (1, 256, 3, 3), (1, 256, 3, 3)]


def test_weights_are_frozen_but_inputs_get_gradients(metric: LPIPS, lpips_images: dict[str, torch.Tensor]) -> None:
    assert not any(parameter.requires_grad for parameter in metric.parameters())
    generated = lpips_images["ex_p0"].clone().requires_grad_(True)
    metric(generated, lpips_images["ex_ref"]).sum().backward()
    assert generated.grad is not None and generated.grad.abs().sum() > 0


@pytest.mark.parametrize(
    ("shape", "message"),
    [((1, 1, 64, 64), "expected RGB frames"), ((1, 3, 30, 64), "at least 31x31 pixels, got 30x64")],
    ids=["grayscale", "too small"],
)
def test_bad_frames_are_refused(metric: LPIPS, shape: tuple[int, ...], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        metric(torch.zeros(shape), torch.zeros(shape))
