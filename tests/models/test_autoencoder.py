"""The frame autoencoder: shapes for any leading dims, latent standardisation, clear size errors."""

from __future__ import annotations

import pytest
import torch

from worldalign.configs.presets import get_preset
from worldalign.errors import ConfigError
from worldalign.models.autoencoder import Autoencoder
from worldalign.models.autoencoder.configuration_autoencoder import AutoencoderConfig


@pytest.fixture
def autoencoder() -> Autoencoder:
    torch.manual_seed(0)
    return Autoencoder(get_preset("tiny").autoencoder.model)


def test_encode_decode_keep_leading_dims(autoencoder: Autoencoder) -> None:
    frames = torch.rand(2, 3, 5, 3, 16, 16) * 2 - 1  # (B, V, T, 3, H, W)
    latents = autoencoder.encode(frames)
    assert latents.shape == (2, 3, 5, 4, 2, 2)
    decoded = autoencoder.decode(latents)
    assert decoded.shape == frames.shape
    assert decoded.min() >= -1 and decoded.max() <= 1


def test_cpu_preset_maps_64px_to_8x8x16() -> None:
    config = get_preset("cpu").autoencoder.model
    assert (config.latent_channels, config.latent_size) == (16, 8)
    latents = Autoencoder(config).encode(torch.zeros(1, 3, 64, 64))
    assert latents.shape == (1, 16, 8, 8)


def test_every_view_shares_the_weights(autoencoder: Autoencoder) -> None:
    frames = torch.rand(1, 2, 1, 3, 16, 16) * 2 - 1
    together = autoencoder.encode(frames)
    alone = autoencoder.encode(frames[:, 1])
    torch.testing.assert_close(together[:, 1], alone)


def test_calibrate_standardises_latents(autoencoder: Autoencoder) -> None:
    frames = torch.rand(64, 3, 16, 16) * 2 - 1
    autoencoder.calibrate([frames[:32], frames[32:]])
    latents = autoencoder.encode(frames)
    per_channel = latents.transpose(0, 1).reshape(4, -1)
    torch.testing.assert_close(per_channel.mean(dim=1), torch.zeros(4), atol=1e-4, rtol=0)
    torch.testing.assert_close(per_channel.std(dim=1, unbiased=False), torch.ones(4), atol=1e-3, rtol=0)
    # Standardisation is undone by decode: the reconstruction does not depend on the statistics.
    raw_reconstruction, _ = autoencoder(frames[:4])
    torch.testing.assert_close(autoencoder.decode(latents[:4]), raw_reconstruction.clamp(-1, 1), atol=1e-5, rtol=0)


def test_wrong_frame_size_names_both_sizes(autoencoder: Autoencoder) -> None:
    with pytest.raises(ConfigError, match=r"\(1, 3, 32, 32\).*\(\.\.\., 3, 16, 16\).*image_size=16"):
        autoencoder.encode(torch.zeros(1, 3, 32, 32))


def test_wrong_latent_shape_names_both_shapes(autoencoder: Autoencoder) -> None:
    with pytest.raises(ConfigError, match=r"\(8, 2, 2\).*\(4, 2, 2\)"):
        autoencoder.decode(torch.zeros(1, 8, 2, 2))


def test_config_rejects_sizes_that_do_not_divide() -> None:
    with pytest.raises(ConfigError, match=r"image_size=20.*factor 8"):
        AutoencoderConfig(image_size=20, channels=(8, 8, 8), norm_groups=4)
