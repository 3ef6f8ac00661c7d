"""The frame autoencoder shared by every view: frames ⇄ spatial latents."""

from worldalign.models.autoencoder.configuration_autoencoder import AutoencoderConfig
from worldalign.models.autoencoder.modeling_autoencoder import Autoencoder

__all__ = ["Autoencoder", "AutoencoderConfig"]
