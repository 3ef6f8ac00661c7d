"""Score generated frames against reference frames with several metrics at once.

The multi-view fidelity reward (PersistWorld) and the evaluation suites compare rollouts to the
real future with PSNR, SSIM (Wang et al. 2004) and LPIPS (Zhang et al. 2018, arXiv:1801.03924);
this is the one place that maps metric names to those functions.
"""

from __future__ import annotations

import difflib
from collections.abc import Sequence

from torch import Tensor

from worldalign.errors import ConfigError
from worldalign.metrics.lpips import lpips
from worldalign.metrics.psnr import psnr
from worldalign.metrics.ssim import ssim

METRIC_NAMES = ("psnr", "ssim", "lpips")


def _describe_unknown(name: str) -> str:
    """The unknown name, with the closest known name when one is close (a likely typo)."""
    close = difflib.get_close_matches(name, METRIC_NAMES, n=1)
    return f"{name!r} (did you mean {close[0]!r}?)" if close else repr(name)


def compare_frames(
    generated: Tensor,
    reference: Tensor,
    metrics: Sequence[str] = METRIC_NAMES,
    *,
    psnr_max_db: float | None = None,
    precise: bool = True,
) -> dict[str, Tensor]:
    """Per-frame, per-view scores of ``generated`` against ``reference``.

    Args:
        generated: frames ``(B, V, T, C, H, W)`` (or any ``(..., C, H, W)``) in [-1, 1].
        reference: frames of the same shape.
        metrics: names from ``METRIC_NAMES``; higher is better for psnr and ssim, lower for lpips.
        psnr_max_db: clamp PSNR to this value so identical frames score it instead of +inf.
        precise: SSIM equal to scikit-image (float64 moments); False is ~2x faster, for rewards.

    Returns:
        ``{name: Tensor (B, V, T)}`` for each requested name, in the order given.

    Raises:
        ConfigError: a name is not one of ``METRIC_NAMES``.
    """
    unknown = [_describe_unknown(name) for name in metrics if name not in METRIC_NAMES]
    if unknown:
        raise ConfigError(f"unknown frame metric {', '.join(unknown)}; choose from {list(METRIC_NAMES)}")
    scores: dict[str, Tensor] = {}
    for name in metrics:
        if name == "psnr":
            scores[name] = psnr(generated, reference, max_db=psnr_max_db)
        elif name == "ssim":
            scores[name] = ssim(generated, reference, precise=precise)
        else:
            scores[name] = lpips(generated, reference)
    return scores
