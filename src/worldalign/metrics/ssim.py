"""Structural similarity (SSIM) of frame pairs, batched over any leading dimensions.

Wang, Bovik, Sheikh and Simoncelli, "Image quality assessment: from error visibility to
structural similarity", IEEE Transactions on Image Processing 13(4), 2004.

This is scikit-image's ``structural_similarity(im1, im2, gaussian_weights=True, sigma=1.5,
use_sample_covariance=False, data_range=1, channel_axis=...)`` on the frames mapped to [0, 1], in
plain torch, equal to it within 1e-5 (the tests compare): an 11-tap Gaussian window (sigma 1.5,
truncated at 3.5 sigma as scipy.ndimage does), population covariances, K1 = 0.01, K2 = 0.03, the
SSIM map averaged over every pixel whose window lies inside the image and over channels.

Scale: frames in [-1, 1] are mapped to [0, 1] and scored with a data range of 1. SSIM is
invariant to scaling but not to shifting (its luminance term compares mean intensities, which
Wang et al. take as non-negative), so scoring [-1, 1] directly with a data range of 2 would give
other values; [0, 1] equals scikit-image on the same frames as uint8 (data range 255), the
convention of published SSIM numbers.
"""

from __future__ import annotations

import torch
from torch import Tensor

from worldalign.metrics._frames import check_value_range, flatten_frame_pairs, result_dtype

K1 = 0.01
K2 = 0.03
SIGMA = 1.5
TRUNCATE = 3.5
# scipy.ndimage's radius for a truncated Gaussian: int(3.5 * 1.5 + 0.5) = 5, an 11-tap window.
RADIUS = int(TRUNCATE * SIGMA + 0.5)
WINDOW = 2 * RADIUS + 1


def gaussian_window(dtype: torch.dtype, device: torch.device) -> Tensor:
    """The normalized 1-D Gaussian taps ``(WINDOW,)``, built in float64 as scipy builds them."""
    offsets = torch.arange(-RADIUS, RADIUS + 1, dtype=torch.float64)
    taps = torch.exp(-0.5 * (offsets / SIGMA) ** 2)
    return (taps / taps.sum()).to(device=device, dtype=dtype)


def _band_matrix(size: int, dtype: torch.dtype, device: torch.device) -> Tensor:
    """``(size, size - WINDOW + 1)`` matrix whose column j holds the taps on rows j..j+WINDOW-1.

    ``signal @ band`` is the unpadded ("valid") Gaussian filter of ``signal`` along its last axis.
    """
    taps = gaussian_window(dtype, device)
    rows = torch.arange(size, device=device)[:, None]
    cols = torch.arange(size - WINDOW + 1, device=device)[None, :]
    offset = rows - cols
    inside = (offset >= 0) & (offset < WINDOW)
    return torch.where(inside, taps[offset.clamp(0, WINDOW - 1)], torch.zeros((), dtype=dtype, device=device))


def _valid_gaussian_blur(stack: Tensor) -> Tensor:
    """Gaussian-filter every plane of ``stack (N, K, H, W)`` without padding: ``(N, K, H - 10, W - 10)``.

    scikit-image filters with reflect padding and then crops RADIUS pixels from each border of
    the SSIM map; those are exactly the pixels whose window reaches into the padding, so a valid
    (unpadded) filter gives the same map. The 2-D Gaussian is separable, and each 1-D pass is a
    product with a banded matrix: in float64, matrix products ran 2-10x faster on CPU here than
    depthwise convolutions, for frames of 64 to 256 px.
    """
    height, width = stack.shape[-2:]
    rows = _band_matrix(height, stack.dtype, stack.device)
    cols = _band_matrix(width, stack.dtype, stack.device)
    return rows.T @ (stack @ cols)


def ssim(
    generated: Tensor, reference: Tensor, value_range: tuple[float, float] = (-1.0, 1.0), *, precise: bool = True
) -> Tensor:
    """Mean SSIM of each frame pair, one value per frame and per view.

    Args:
        generated: frames ``(..., C, H, W)``, e.g. ``(B, V, T, C, H, W)``, floating point; H and W
            at least 11 (the Gaussian window).
        reference: frames of the same shape.
        value_range: the ``(low, high)`` pixel range of the frames, mapped to [0, 1] for scoring;
            (-1, 1) for worldalign frames, (0, 1) for frames already there.
        precise: take the local moments in float64 (equal to scikit-image within 1e-5). False
            keeps the input's precision: about 2x faster on CPU, off by up to ~3e-5 on flat
            regions; meant for rewards, where that is far below any signal.

    Returns:
        SSIM ``(...)``, e.g. ``(B, V, T)``, in float32 (float64 for float64 input); 1.0 for
        identical frames.
    """
    x, y, leading = flatten_frame_pairs(generated, reference, metric="SSIM")
    low, span = check_value_range(value_range, metric="SSIM")
    height, width = x.shape[-2:]
    if min(height, width) < WINDOW:
        raise ValueError(
            f"SSIM: frames must be at least {WINDOW}x{WINDOW} pixels (the Gaussian window), "
            f"got {height}x{width}"
        )
    # Local variances are E[x^2] - E[x]^2, which cancels catastrophically in float32 on flat
    # regions (rendered tables and backgrounds): flat frames at two different grey levels are off
    # by 2e-5 in float32. The moments are cheap next to any model, so they are taken in float64.
    if precise:
        x, y = x.double(), y.double()
    x = (x - low) / span
    y = (y - low) / span

    # One batched filter pass for all five local moments.
    moments = _valid_gaussian_blur(torch.cat([x, y, x * x, y * y, x * y], dim=1))
    mean_x, mean_y, mean_xx, mean_yy, mean_xy = moments.chunk(5, dim=1)
    var_x = mean_xx - mean_x * mean_x
    var_y = mean_yy - mean_y * mean_y
    cov_xy = mean_xy - mean_x * mean_y

    # Constants for a data range of 1, the range of the mapped frames.
    c1 = K1**2
    c2 = K2**2
    ssim_map = ((2 * mean_x * mean_y + c1) * (2 * cov_xy + c2)) / (
        (mean_x * mean_x + mean_y * mean_y + c1) * (var_x + var_y + c2)
    )
    # Every channel has the same number of map pixels, so the mean over (C, H, W) equals
    # scikit-image's mean over channels of the per-channel means.
    return ssim_map.mean(dim=(1, 2, 3)).to(result_dtype(generated)).reshape(leading)
