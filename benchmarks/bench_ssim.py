"""SSIM: worldalign's torch implementation vs scikit-image vs torchmetrics, side by side.

All three score the same batch of frame pairs in one run; the table gives each one's time per
batch, its time relative to worldalign, and its largest disagreement with scikit-image (the
reference: Wang et al. 2004 with a Gaussian window, as ``worldalign.metrics.ssim`` documents).
torchmetrics is optional (``pip install torchmetrics`` without extras); its row is skipped when
it is absent.

    .venv/bin/python benchmarks/bench_ssim.py [--frames 64] [--size 64] [--repeats 10] [--threads N]
"""

from __future__ import annotations

import argparse
from collections.abc import Callable

import numpy as np
import torch
import torch.nn.functional as F
from _timing import interleaved_medians
from skimage.metrics import structural_similarity

from worldalign.metrics import ssim


def frame_pairs(frames: int, size: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Smooth textured reference frames (N, 3, H, W) in [-1, 1] and noisy, shifted copies.

    A quarter of the pairs are flat frames at different grey levels, the case where float32
    moments lose precision (rendered backgrounds look like this).
    """
    generator = torch.Generator().manual_seed(0)
    reference = F.avg_pool2d(torch.rand(frames, 3, size + 4, size + 4, generator=generator), 5, stride=1) * 2 - 1
    generated = (reference.roll(1, dims=-1) + 0.1 * torch.randn(reference.shape, generator=generator)).clamp(-1, 1)
    flat = frames // 4
    levels = torch.rand(flat, 3, 1, 1, generator=generator) * 2 - 1
    reference[:flat] = levels.expand(flat, 3, size, size)
    generated[:flat] = (levels + 0.2).clamp(-1, 1).expand(flat, 3, size, size)
    return generated, reference


def unit_range_hwc(frame: torch.Tensor) -> np.ndarray:
    """A (C, H, W) frame in [-1, 1] as scikit-image takes it: (H, W, C) float64 in [0, 1]."""
    return ((frame.double() + 1) / 2).permute(1, 2, 0).numpy()


def scikit_image_ssim(generated: torch.Tensor, reference: torch.Tensor) -> torch.Tensor:
    """scikit-image on each frame, mapped to [0, 1] (the convention worldalign documents)."""
    scores = [
        structural_similarity(
            unit_range_hwc(g), unit_range_hwc(r), gaussian_weights=True, sigma=1.5,
            use_sample_covariance=False, data_range=1.0, channel_axis=-1,
        )
        for g, r in zip(generated, reference)
    ]
    return torch.tensor(np.array(scores))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--frames", type=int, default=64, help="frame pairs per batch")
    parser.add_argument("--size", type=int, default=64, help="frame height and width in pixels")
    parser.add_argument("--repeats", type=int, default=10, help="timed calls per implementation (median)")
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's choice)")
    args = parser.parse_args()
    if args.threads is not None:
        torch.set_num_threads(args.threads)

    generated, reference = frame_pairs(args.frames, args.size)
    implementations: dict[str, Callable[[], torch.Tensor]] = {
        "worldalign (torch)": lambda: ssim(generated, reference),
        "scikit-image": lambda: scikit_image_ssim(generated, reference),
    }
    try:
        from torchmetrics.functional.image import structural_similarity_index_measure
    except ImportError:
        print("torchmetrics is not installed: its row is skipped")
    else:
        implementations["torchmetrics"] = lambda: structural_similarity_index_measure(
            (generated + 1) / 2, (reference + 1) / 2, gaussian_kernel=True, sigma=1.5, kernel_size=11,
            data_range=1.0, reduction="none",
        )

    expected = scikit_image_ssim(generated, reference)
    timings = interleaved_medians(implementations, args.repeats)
    baseline = timings["worldalign (torch)"]
    print(
        f"SSIM on {args.frames} frame pairs of {args.size}x{args.size}x3 (float32, {torch.get_num_threads()} torch "
        f"threads, median of {args.repeats})"
    )
    print(f"{'implementation':<20} {'ms/batch':>10} {'x worldalign':>13} {'max |diff| vs skimage':>22}")
    for name, run in implementations.items():
        disagreement = (run().double() - expected).abs().max().item()
        print(f"{name:<20} {timings[name] * 1e3:>10.2f} {timings[name] / baseline:>13.2f} {disagreement:>22.2e}")


if __name__ == "__main__":
    main()
