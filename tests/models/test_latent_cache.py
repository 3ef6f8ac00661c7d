"""Clip latents: cached or not, prefilled or not, every frame gets bit-identical latents."""

from __future__ import annotations

import torch

from worldalign.configs.presets import get_preset
from worldalign.data.types import ClipBatch
from worldalign.models.autoencoder import Autoencoder
from worldalign.models.autoencoder.latent_cache import ClipLatentEncoder

EPISODES = torch.rand(3, 2, 10, 3, 16, 16, generator=torch.Generator().manual_seed(0)) * 2 - 1  # (E, V, T, ...)


def clip(episodes: list[int], starts: list[int], length: int = 4) -> ClipBatch:
    frames = torch.stack([EPISODES[e, :, s : s + length] for e, s in zip(episodes, starts, strict=True)])
    return ClipBatch(
        frames=frames,
        actions=torch.zeros(len(episodes), length - 1, 4),
        context_frames=2,
        instructions=[""] * len(episodes),
        tasks=[""] * len(episodes),
        episode_index=torch.tensor(episodes),
        start_frame=torch.tensor(starts),
    )


def make_autoencoder() -> Autoencoder:
    torch.manual_seed(0)
    return Autoencoder(get_preset("tiny").autoencoder.model)


def test_latents_do_not_depend_on_batch_company_or_caching() -> None:
    autoencoder = make_autoencoder()
    uncached = ClipLatentEncoder(autoencoder, cache=False, micro_batch=8)
    cached = ClipLatentEncoder(autoencoder, cache=True, micro_batch=8)
    first = clip([0, 1, 2], [0, 3, 6])
    overlapping = clip([1, 0], [4, 1])  # shares frames with ``first``, in other batch positions
    expected = uncached.encode(overlapping)
    cached.encode(first)
    assert cached.cached_frames == 12
    assert torch.equal(cached.encode(overlapping), expected)
    assert cached.cached_frames == 14
    direct = autoencoder.encode(overlapping.frames)
    torch.testing.assert_close(expected, direct, atol=1e-5, rtol=1e-5)
    assert expected.shape == (2, 2, 4, 4, 2, 2)


def test_prefill_gives_the_same_latents() -> None:
    autoencoder = make_autoencoder()
    prefilled = ClipLatentEncoder(autoencoder, micro_batch=8)
    for index in range(3):
        prefilled.prefill(index, EPISODES[index])
    assert prefilled.cached_frames == 30
    batch = clip([2, 0], [5, 2])
    uncached = ClipLatentEncoder(autoencoder, cache=False, micro_batch=8)
    assert torch.equal(prefilled.encode(batch), uncached.encode(batch))
