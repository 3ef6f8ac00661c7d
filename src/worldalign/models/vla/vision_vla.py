"""How the VLA policy sees: camera views -> image tokens in the LM's embedding space.

Two encoders, chosen by ``VLAConfig.vision`` (issue 22 asks for both, compared in docs/vla.md):

- ``LatentImageTokens`` (``"autoencoder"``, the default): the shipped frame autoencoder's encoder,
  frozen (it was trained on these scenes), gives 16 x 8 x 8 latents per view; each
  ``patch_size`` x ``patch_size`` block of latent cells is one token through a trainable linear
  projection, plus a learned per-position embedding.
- ``PatchViTTokens`` (``"vit"``): a small Vision Transformer (Dosovitskiy et al. 2021,
  arXiv:2010.11929), randomly initialised and trained with the policy: ``vit_patch`` pixel
  patches, a learned embedding per view and patch, pre-norm encoder layers over the tokens of all
  views together, then a linear projection to the LM's width.

Both map uint8 views ``(B, V, S, S, 3)`` to ``(B, config.image_tokens, width)``.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from worldalign.data.pixels import to_unit_range
from worldalign.errors import ConfigError
from worldalign.models.autoencoder.modeling_autoencoder import Autoencoder
from worldalign.models.vla.configuration_vla import VLAConfig


def _check_frames(config: VLAConfig, frames: Tensor) -> None:
    expected = (len(config.views), config.image_size, config.image_size, 3)
    if frames.ndim != 5 or tuple(frames.shape[1:]) != expected or frames.dtype != torch.uint8:
        raise ConfigError(
            f"frames of shape {tuple(frames.shape)} {frames.dtype}; expected (B, {', '.join(map(str, expected))}) "
            f"uint8 for views {config.views} at {config.image_size} px (VLAConfig.views, autoencoder.image_size)"
        )


class LatentImageTokens(nn.Module):
    """Frozen frame-autoencoder latents, ``patch_size`` x ``patch_size`` cells per token."""

    def __init__(self, config: VLAConfig, width: int) -> None:
        super().__init__()
        self.config = config
        self.autoencoder = Autoencoder(config.autoencoder).requires_grad_(False).eval()
        p = config.patch_size
        self.projection = nn.Linear(config.autoencoder.latent_channels * p * p, width)
        self.position = nn.Parameter(torch.randn(config.image_tokens, width) * 0.02)

    def train(self, mode: bool = True) -> LatentImageTokens:
        super().train(mode)
        self.autoencoder.eval()  # frozen: always in inference mode
        return self

    def forward(self, frames: Tensor) -> Tensor:
        _check_frames(self.config, frames)
        with torch.no_grad():
            latents = self.autoencoder.encode(to_unit_range(frames))  # (B, V, C, s, s)
        batch, views, channels, side, _ = latents.shape
        p, n = self.config.patch_size, side // self.config.patch_size
        patches = latents.reshape(batch, views, channels, n, p, n, p).permute(0, 1, 3, 5, 2, 4, 6)
        tokens = self.projection(patches.reshape(batch, views * n * n, channels * p * p))
        return tokens + self.position


class PatchViTTokens(nn.Module):
    """A small randomly initialised ViT over the pixels of every view, trained with the policy."""

    def __init__(self, config: VLAConfig, width: int) -> None:
        super().__init__()
        self.config = config
        self.patch_embedding = nn.Conv2d(3, config.vit_width, kernel_size=config.vit_patch, stride=config.vit_patch)
        self.position = nn.Parameter(torch.randn(config.image_tokens, config.vit_width) * 0.02)
        layer = nn.TransformerEncoderLayer(
            config.vit_width, config.vit_heads, 4 * config.vit_width, dropout=0.0, activation="gelu",
            batch_first=True, norm_first=True,
        )
        self.encoder = nn.TransformerEncoder(layer, config.vit_layers, enable_nested_tensor=False)
        self.norm = nn.LayerNorm(config.vit_width)
        self.projection = nn.Linear(config.vit_width, width)

    def forward(self, frames: Tensor) -> Tensor:
        _check_frames(self.config, frames)
        batch, views = frames.shape[:2]
        pixels = to_unit_range(frames).flatten(0, 1)  # (B V, 3, S, S) in [-1, 1]
        patches = self.patch_embedding(pixels).flatten(2).transpose(1, 2)  # (B V, n, vit_width)
        tokens = patches.reshape(batch, views * patches.shape[1], -1) + self.position
        return self.projection(self.norm(self.encoder(tokens)))


def image_tokens_module(config: VLAConfig, width: int) -> LatentImageTokens | PatchViTTokens:
    """The encoder ``config.vision`` names, producing embeddings of the LM's ``width``."""
    return PatchViTTokens(config, width) if config.vision == "vit" else LatentImageTokens(config, width)
