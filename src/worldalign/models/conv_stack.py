"""The strided convolutional encoder that the small frame models share (IDM, success classifier)."""

from __future__ import annotations

from collections.abc import Sequence

from torch import nn


def strided_conv_layers(in_channels: int, channels: Sequence[int]) -> tuple[list[nn.Module], int]:
    """One block per entry of ``channels``: a 3x3 convolution of stride 2 (halving each side),
    GroupNorm (up to 8 groups) and GELU. Returns the layers and their output channels; a
    ``side``-pixel input leaves ``side / 2**len(channels)``."""
    layers: list[nn.Module] = []
    for out_channels in channels:
        layers += [
            nn.Conv2d(in_channels, out_channels, kernel_size=3, stride=2, padding=1),
            nn.GroupNorm(min(8, out_channels), out_channels),
            nn.GELU(),
        ]
        in_channels = out_channels
    return layers, in_channels
