"""Architecture of the frame autoencoder (frames ⇄ spatial latents); see ``models.autoencoder``."""

from __future__ import annotations

from dataclasses import dataclass

from worldalign.errors import ConfigError


@dataclass(frozen=True)
class AutoencoderConfig:
    """A convolutional autoencoder: ``(N, 3, S, S)`` frames ⇄ ``(N, latent_channels, s, s)`` latents.

    ``s = S / 2 ** len(channels)``: every entry of ``channels`` is one resolution level ending
    in a stride-2 downsampling (mirrored by an upsampling in the decoder).
    """

    image_size: int = 64
    """Height and width S of the frames, in pixels."""
    latent_channels: int = 16
    """Channels of the latent grid. 8x8x16 keeps the gripper fingers and small objects that
    8x8x8 lost in the prototype, for the same number of world-model tokens."""
    channels: tuple[int, ...] = (32, 64, 128)
    """Feature channels per resolution level, finest first; its length sets the downsampling."""
    blocks_per_level: tuple[int, ...] = (1, 1, 1)
    """Residual blocks at each resolution level (finest first), in the encoder and in the decoder;
    one entry per entry of ``channels``."""
    bottleneck_blocks: int = 1
    """Residual blocks at the latent resolution, before the latent projection and after."""
    norm_groups: int = 8
    """GroupNorm groups in the residual blocks (must divide every entry of ``channels``)."""

    def __post_init__(self) -> None:
        if not self.channels:
            raise ConfigError("AutoencoderConfig.channels must list at least one level")
        factor = 2 ** len(self.channels)
        if self.image_size % factor:
            raise ConfigError(
                f"AutoencoderConfig.image_size={self.image_size} is not divisible by the downsampling "
                f"factor {factor} of channels={self.channels}"
            )
        if len(self.blocks_per_level) != len(self.channels):
            raise ConfigError(
                f"AutoencoderConfig.blocks_per_level={self.blocks_per_level} needs one entry per level of "
                f"channels={self.channels}"
            )
        bad = [c for c in self.channels if c % self.norm_groups]
        if bad:
            raise ConfigError(f"AutoencoderConfig.norm_groups={self.norm_groups} does not divide channels {bad}")

    @property
    def downsampling(self) -> int:
        """Pixels per latent cell along each side."""
        return 2 ** len(self.channels)

    @property
    def latent_size(self) -> int:
        """Height and width of the latent grid."""
        return self.image_size // self.downsampling
