"""Fixtures for the metric tests: a private weight cache, devices, the LPIPS example images."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

LPIPS_DATA = Path(__file__).resolve().parent / "testdata" / "lpips"


@pytest.fixture(scope="session", autouse=True)
def private_cache(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """Point $WORLDALIGN_CACHE at a fresh folder so tests neither read nor write ~/.cache."""
    cache = tmp_path_factory.mktemp("worldalign-cache")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("WORLDALIGN_CACHE", str(cache))
        yield cache


@pytest.fixture(
    params=["cpu", pytest.param("cuda", marks=pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA"))]
)
def device(request: pytest.FixtureRequest) -> torch.device:
    """Every device this machine has: the metrics must agree with the reference on each."""
    return torch.device(request.param)


@pytest.fixture(scope="session")
def lpips_images() -> dict[str, torch.Tensor]:
    """The LPIPS example images as its reference code loads them: RGB, x / 127.5 - 1, (1, 3, H, W)."""
    images = {}
    for name in ("ex_ref", "ex_p0", "ex_p1"):
        pixels = np.asarray(Image.open(LPIPS_DATA / f"{name}.png").convert("RGB"), dtype=np.float32)
        images[name] = torch.from_numpy(pixels / 127.5 - 1).permute(2, 0, 1).unsqueeze(0)
    return images
