"""Peak signal-to-noise ratio (PSNR) of frame pairs, batched over any leading dimensions.

Equal to scikit-image's ``peak_signal_noise_ratio(reference, generated, data_range=1)`` on the
frames mapped to [0, 1], per frame: ``10 * log10(1 / MSE)`` with the MSE over (C, H, W). The
mapping is the one SSIM uses; PSNR itself only depends on the span of the range (scoring [-1, 1]
with a data range of 2 gives the same value), and equals scikit-image on uint8 frames.

Identical frames have MSE 0 and PSNR +inf, as in scikit-image. Rewards and averages need finite
values: pass ``max_db`` (100 dB is a common cap) to clamp.
"""

from __future__ import annotations

import torch
from torch import Tensor

from worldalign.metrics._frames import check_value_range, flatten_frame_pairs, result_dtype


def psnr(
    generated: Tensor,
    reference: Tensor,
    value_range: tuple[float, float] = (-1.0, 1.0),
    max_db: float | None = None,
) -> Tensor:
    """PSNR in dB of each frame pair, one value per frame and per view.

    Args:
        generated: frames ``(..., C, H, W)``, e.g. ``(B, V, T, C, H, W)``, floating point.
        reference: frames of the same shape.
        value_range: the ``(low, high)`` pixel range of the frames; (-1, 1) for worldalign frames.
        max_db: if given, clamp the result to at most this value so that identical frames score
            ``max_db`` instead of +inf.

    Returns:
        PSNR ``(...)``, e.g. ``(B, V, T)``, in float32 (float64 for float64 input).
    """
    x, y, leading = flatten_frame_pairs(generated, reference, metric="PSNR")
    _, span = check_value_range(value_range, metric="PSNR")
    # float64 keeps nearly identical frames (MSE near float32's resolution) exact; it is cheap.
    mse = ((x.double() - y.double()) / span).square().mean(dim=(1, 2, 3))
    # MSE 0 divides to +inf and log10(+inf) is +inf: no special case needed to keep inf.
    value = (10 * torch.log10(1.0 / mse)).to(result_dtype(generated))
    if max_db is not None:
        value = value.clamp(max=float(max_db))
    return value.reshape(leading)
