"""Normalisation statistics: exact incremental merging, stats.json round trip, Normalizer."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from synthetic_episodes import make_episode

from worldalign.data.stats import Normalizer, RunningStats, StatsAccumulator, compute_stats, load_stats, save_stats
from worldalign.errors import DatasetError


def test_running_stats_over_batches_equal_numpy_on_all() -> None:
    values = np.random.default_rng(0).normal(size=(500, 3)) * [1.0, 10.0, 0.1] + [0.0, 5.0, -3.0]
    stats = RunningStats(quantiles=(0.01, 0.99))
    for batch in np.array_split(values, 7):
        stats.update(batch)
    result = stats.result()
    assert np.allclose(result["mean"], values.mean(0)) and np.allclose(result["std"], values.std(0))
    assert np.array_equal(result["min"], values.min(0)) and np.array_equal(result["max"], values.max(0))
    assert np.allclose(result["q01"], np.quantile(values, 0.01, axis=0))
    assert result["count"].tolist() == [500]


def test_image_stats_are_per_channel_in_unit_range() -> None:
    frames = np.zeros((4, 8, 8, 3), np.uint8)
    frames[..., 0] = 255
    frames[..., 2] = np.arange(8)[None, :, None] * 32
    accumulator = StatsAccumulator()
    accumulator.add_images("observation.images.front", frames)
    stats = accumulator.result()["observation.images.front"]
    assert stats["mean"].shape == (3, 1, 1) and "q01" not in stats
    assert stats["mean"].ravel() == pytest.approx([1.0, 0.0, np.arange(8).mean() * 32 / 255])
    assert stats["count"].tolist() == [4]


def test_stats_json_round_trip(tmp_path: Path) -> None:
    episodes = [make_episode(seed) for seed in range(3)]
    stats = compute_stats(episodes)
    save_stats(tmp_path / "stats.json", stats)
    loaded = load_stats(tmp_path / "stats.json")
    assert loaded.keys() == stats.keys()
    for feature in stats:
        for name, value in stats[feature].items():
            assert np.allclose(loaded[feature][name], value) and loaded[feature][name].shape == value.shape
    assert np.allclose(loaded["action"]["mean"], np.concatenate([ep.actions for ep in episodes]).mean(0))


@pytest.mark.parametrize("mode", ["mean_std", "min_max"])
def test_normalizer_round_trip_numpy_and_torch(mode: str) -> None:
    actions = np.random.default_rng(1).normal(size=(50, 4)).astype(np.float32) * 3 + 1
    state = np.random.default_rng(2).normal(size=(50, 2)).astype(np.float32)
    accumulator = StatsAccumulator()
    accumulator.add("action", actions)
    accumulator.add("observation.state", state)
    normalizer = Normalizer(accumulator.result(), mode=mode)
    normalized = normalizer.normalize("action", actions)
    assert normalized.dtype == np.float32
    if mode == "mean_std":
        assert np.allclose(normalized.mean(0), 0, atol=1e-5) and np.allclose(normalized.std(0), 1, atol=1e-4)
    else:
        assert np.allclose(normalized.min(0), -1, atol=1e-6) and np.allclose(normalized.max(0), 1, atol=1e-6)
    tensor = torch.from_numpy(actions)
    assert torch.allclose(normalizer.unnormalize("action", normalizer.normalize("action", tensor)), tensor, atol=1e-5)


def test_normalizer_missing_feature_or_stat_is_an_error(tmp_path: Path) -> None:
    save_stats(tmp_path / "stats.json", {"action": {"mean": np.zeros(2), "std": np.ones(2)}})
    with pytest.raises(
        DatasetError,
        match=r"stats\.json: no statistics for feature 'observation\.state'; features with statistics: \['action'\]",
    ):
        Normalizer.from_file(tmp_path / "stats.json")
    with pytest.raises(
        DatasetError, match=r"feature 'action' lacks statistic\(s\) \['min', 'max'\] needed by min_max normalization"
    ):
        Normalizer.from_file(tmp_path / "stats.json", mode="min_max", features=["action"])
    normalizer = Normalizer.from_file(tmp_path / "stats.json", features=["action"])
    with pytest.raises(DatasetError, match=r"no statistics for 'observation\.state'; it maps \['action'\]"):
        normalizer.normalize("observation.state", np.zeros((1, 2), np.float32))
    with pytest.raises(DatasetError, match=r"'action' has 2 dimensions in the statistics, the values have 3"):
        normalizer.normalize("action", np.zeros((1, 3), np.float32))


def test_normalizer_saves_what_it_uses(tmp_path: Path) -> None:
    stats = compute_stats([make_episode(0)])
    normalizer = Normalizer(stats, mode="min_max")
    normalizer.save(tmp_path / "normalizer.json")
    reloaded = Normalizer.from_file(tmp_path / "normalizer.json", mode="min_max")
    actions = make_episode(1).actions
    assert np.array_equal(reloaded.normalize("action", actions), normalizer.normalize("action", actions))


def test_image_stats_equal_float_reductions() -> None:
    frames = np.random.default_rng(3).integers(0, 200, (6, 5, 7, 3), dtype=np.uint8)
    accumulator = StatsAccumulator()
    accumulator.add_images("camera", frames[:4])
    accumulator.add_images("camera", frames[4:])
    stats = accumulator.result()["camera"]
    pixels = frames.reshape(-1, 3) / 255.0
    for name, expected in (
        ("min", pixels.min(0)),
        ("max", pixels.max(0)),
        ("mean", pixels.mean(0)),
        ("std", pixels.std(0)),
    ):
        assert np.allclose(stats[name].ravel(), expected), name
    assert stats["count"].tolist() == [6]
