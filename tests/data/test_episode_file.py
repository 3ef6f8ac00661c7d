"""Single-episode safetensors files: exact round trip, atomic, clear errors."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from synthetic_episodes import make_episode

from worldalign.data.episode_file import load_episode, save_episode
from worldalign.errors import DatasetError


@pytest.mark.parametrize("simulated", [True, False])
def test_round_trip_is_exact(tmp_path: Path, simulated: bool) -> None:
    episode = make_episode(5, simulated=simulated)
    save_episode(tmp_path / "ep.safetensors", episode)
    loaded = load_episode(tmp_path / "ep.safetensors")
    assert [p.name for p in tmp_path.iterdir()] == ["ep.safetensors"]  # no temporary left behind
    for name in ("task", "instruction", "views", "success", "fps", "metadata"):
        assert getattr(loaded, name) == getattr(episode, name)
    for name in ("frames", "actions", "state"):
        assert np.array_equal(getattr(loaded, name), getattr(episode, name))
        assert getattr(loaded, name).dtype == getattr(episode, name).dtype
    assert loaded.privileged.keys() == episode.privileged.keys()
    assert all(np.array_equal(loaded.privileged[k], v) for k, v in episode.privileged.items())
    if simulated:
        assert np.array_equal(loaded.snapshots, episode.snapshots) and np.array_equal(loaded.layout, episode.layout)
    else:
        assert loaded.snapshots is None and loaded.layout is None


def test_missing_and_corrupt_files_name_the_file(tmp_path: Path) -> None:
    with pytest.raises(DatasetError, match=r"absent\.safetensors: episode file not found"):
        load_episode(tmp_path / "absent.safetensors")
    save_episode(tmp_path / "ep.safetensors", make_episode(0))
    payload = (tmp_path / "ep.safetensors").read_bytes()
    (tmp_path / "ep.safetensors").write_bytes(payload[: len(payload) // 2])
    with pytest.raises(DatasetError, match=r"ep\.safetensors: not a readable safetensors file"):
        load_episode(tmp_path / "ep.safetensors")


def test_metadata_must_be_json(tmp_path: Path) -> None:
    episode = make_episode(0)
    episode.metadata["array"] = np.zeros(2)
    with pytest.raises(DatasetError, match="JSON-serialisable"):
        save_episode(tmp_path / "ep.safetensors", episode)
    assert not list(tmp_path.iterdir())
