"""The frame autoencoder: RGB frames in [-1, 1] ⇄ spatial latents of about unit variance.

A deterministic convolutional autoencoder with residual blocks, in the spirit of the latent
diffusion autoencoder (Rombach et al. 2022, arXiv:2112.10752) without the KL term or the
discriminator: the world model works in its latent space, and every view of every frame goes
through the same weights. The latents it hands out are standardised per channel with statistics
measured on data (``calibrate``), so that the flow-matching world model sees ~unit-variance
latents whatever scale the encoder learned.
"""

from __future__ import annotations

from collections.abc import Iterable

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from worldalign.errors import ConfigError
from worldalign.models.autoencoder.configuration_autoencoder import AutoencoderConfig


def channels_last(images: Tensor) -> Tensor:
    """``(N, C, H, W)`` in channels-last memory (same values): PyTorch's CPU convolutions run
    1.4-1.5x faster on it (192 frames of the shipped autoencoder on one core: decoding 4.2 s ->
    2.8 s, encoding 2.7 s -> 1.9 s, outputs equal to 1e-5; ``benchmarks/bench_autoencoder.py``)."""
    return images.contiguous(memory_format=torch.channels_last)


class ResidualBlock(nn.Module):
    """GroupNorm → SiLU → 3x3 conv, twice, plus the input; the second conv starts at zero."""

    def __init__(self, channels: int, groups: int) -> None:
        super().__init__()
        self.norm1 = nn.GroupNorm(groups, channels)
        self.conv1 = nn.Conv2d(channels, channels, 3, padding=1)
        self.norm2 = nn.GroupNorm(groups, channels)
        self.conv2 = nn.Conv2d(channels, channels, 3, padding=1)
        # Zero init makes every block the identity at first: deep stacks train from step one.
        nn.init.zeros_(self.conv2.weight)
        nn.init.zeros_(self.conv2.bias)

    def forward(self, x: Tensor) -> Tensor:
        h = self.conv1(F.silu(self.norm1(x)))
        return x + self.conv2(F.silu(self.norm2(h)))


class Encoder(nn.Module):
    """``(N, 3, S, S)`` → ``(N, latent_channels, S / 2^L, S / 2^L)`` raw (unstandardised) latents."""

    def __init__(self, config: AutoencoderConfig) -> None:
        super().__init__()
        channels = config.channels
        self.stem = nn.Conv2d(3, channels[0], 3, padding=1)
        layers: list[nn.Module] = []
        for level, width in enumerate(channels):
            layers.extend(ResidualBlock(width, config.norm_groups) for _ in range(config.blocks_per_level[level]))
            next_width = channels[min(level + 1, len(channels) - 1)]
            layers.append(nn.Conv2d(width, next_width, 3, stride=2, padding=1))
        layers.extend(ResidualBlock(channels[-1], config.norm_groups) for _ in range(config.bottleneck_blocks))
        self.body = nn.Sequential(*layers)
        self.norm_out = nn.GroupNorm(config.norm_groups, channels[-1])
        self.to_latent = nn.Conv2d(channels[-1], config.latent_channels, 3, padding=1)

    def forward(self, frames: Tensor) -> Tensor:
        return self.to_latent(F.silu(self.norm_out(self.body(self.stem(frames)))))


class Decoder(nn.Module):
    """Raw latents ``(N, latent_channels, s, s)`` → frames ``(N, 3, s 2^L, s 2^L)`` (unclamped)."""

    def __init__(self, config: AutoencoderConfig) -> None:
        super().__init__()
        channels = config.channels
        self.from_latent = nn.Conv2d(config.latent_channels, channels[-1], 3, padding=1)
        layers: list[nn.Module] = [
            ResidualBlock(channels[-1], config.norm_groups) for _ in range(config.bottleneck_blocks)
        ]
        for level in reversed(range(len(channels))):
            width = channels[level]
            previous_width = channels[min(level + 1, len(channels) - 1)]
            layers.append(nn.Upsample(scale_factor=2, mode="nearest"))
            layers.append(nn.Conv2d(previous_width, width, 3, padding=1))
            layers.extend(ResidualBlock(width, config.norm_groups) for _ in range(config.blocks_per_level[level]))
        self.body = nn.Sequential(*layers)
        self.norm_out = nn.GroupNorm(config.norm_groups, channels[0])
        self.to_rgb = nn.Conv2d(channels[0], 3, 3, padding=1)

    def forward(self, latents: Tensor) -> Tensor:
        return self.to_rgb(F.silu(self.norm_out(self.body(self.from_latent(latents)))))


class Autoencoder(nn.Module):
    """Frames ``(..., 3, S, S)`` in [-1, 1] ⇄ standardised latents ``(..., C, s, s)``.

    ``encode``/``decode`` accept any leading dimensions (``(N, ...)``, ``(B, V, T, ...)``), so
    every view of every frame shares the weights. ``forward`` is the raw reconstruction used for
    training; ``latent_mean``/``latent_std`` (per channel, saved with the weights) map raw latents
    to the standardised ones the world model sees.
    """

    model_type = "frame_autoencoder"

    def __init__(self, config: AutoencoderConfig) -> None:
        super().__init__()
        self.config = config
        self.encoder = Encoder(config)
        self.decoder = Decoder(config)
        self.register_buffer("latent_mean", torch.zeros(config.latent_channels))
        self.register_buffer("latent_std", torch.ones(config.latent_channels))

    @property
    def latent_shape(self) -> tuple[int, int, int]:
        """``(C, s, s)`` of one frame's latents."""
        return (self.config.latent_channels, self.config.latent_size, self.config.latent_size)

    def forward(self, frames: Tensor) -> tuple[Tensor, Tensor]:
        """``(N, 3, S, S)`` → ``(reconstruction (N, 3, S, S) unclamped, raw latents (N, C, s, s))``."""
        raw = self.encoder(self._check_frames(frames))
        return self.decoder(raw), raw

    def encode(self, frames: Tensor) -> Tensor:
        """Frames ``(..., 3, S, S)`` in [-1, 1] → standardised latents ``(..., C, s, s)``."""
        self._check_frames(frames)
        lead = frames.shape[:-3]
        raw = self.encoder(channels_last(frames.reshape(-1, *frames.shape[-3:])))
        latents = (raw - self.latent_mean[:, None, None]) / self.latent_std[:, None, None]
        return latents.contiguous().reshape(*lead, *latents.shape[1:])

    def decode(self, latents: Tensor) -> Tensor:
        """Standardised latents ``(..., C, s, s)`` → frames ``(..., 3, S, S)`` clamped to [-1, 1]."""
        if tuple(latents.shape[-3:]) != self.latent_shape:
            raise ConfigError(
                f"latents of shape {tuple(latents.shape[-3:])} (C, h, w) do not match this autoencoder's "
                f"latent shape {self.latent_shape} (AutoencoderConfig latent_channels={self.config.latent_channels}, "
                f"image_size={self.config.image_size})"
            )
        lead = latents.shape[:-3]
        flat = latents.reshape(-1, *latents.shape[-3:])
        raw = flat * self.latent_std[:, None, None] + self.latent_mean[:, None, None]
        frames = self.decoder(channels_last(raw)).clamp(-1.0, 1.0)
        return frames.contiguous().reshape(*lead, *frames.shape[1:])

    @torch.no_grad()
    def calibrate(self, frame_batches: Iterable[Tensor]) -> None:
        """Set ``latent_mean``/``latent_std`` per channel from raw latents of ``(N, 3, S, S)`` batches."""
        total = torch.zeros((), dtype=torch.float64)
        sums = torch.zeros(self.config.latent_channels, dtype=torch.float64)
        squares = torch.zeros(self.config.latent_channels, dtype=torch.float64)
        device = self.latent_mean.device
        for frames in frame_batches:
            raw = self.encoder(self._check_frames(frames.to(device))).double()
            sums += raw.sum(dim=(0, 2, 3)).cpu()
            squares += (raw**2).sum(dim=(0, 2, 3)).cpu()
            total += raw.shape[0] * raw.shape[2] * raw.shape[3]
        if total == 0:
            raise ConfigError("Autoencoder.calibrate received no frames")
        mean = sums / total
        std = (squares / total - mean**2).clamp_min(1e-12).sqrt()
        self.latent_mean.copy_(mean.to(self.latent_mean.dtype))
        self.latent_std.copy_(std.to(self.latent_std.dtype))

    def _check_frames(self, frames: Tensor) -> Tensor:
        size = self.config.image_size
        if frames.ndim < 4 or tuple(frames.shape[-3:]) != (3, size, size):
            raise ConfigError(
                f"frames of shape {tuple(frames.shape)} do not fit this autoencoder: expected (..., 3, {size}, {size}) "
                f"(AutoencoderConfig.image_size={size}); resize the data or train an autoencoder for this size"
            )
        return frames
