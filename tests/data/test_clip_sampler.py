"""ClipSampler: shapes, exact alignment with the episodes, determinism, subsets; the split."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from synthetic_episodes import make_episode

from worldalign.data.clips import ClipSampler, split_episodes
from worldalign.data.lerobot_reader import LeRobotDataset
from worldalign.data.stats import Normalizer, compute_stats
from worldalign.data.types import ClipBatch, Episode
from worldalign.errors import ConfigError


@pytest.fixture(scope="module")
def dataset(written_dataset: Path) -> LeRobotDataset:
    return LeRobotDataset(written_dataset)


def sampler(source: LeRobotDataset | list[Episode], **overrides: object) -> ClipSampler:
    stats = source.stats if isinstance(source, LeRobotDataset) else compute_stats(source)
    options = {"context_frames": 2, "future_frames": 4, "batch_size": 5, "normalizer": Normalizer(stats), "seed": 0}
    return ClipSampler(source, **(options | overrides))


def assert_clips_match(
    batch: ClipBatch, episodes: list[Episode], normalizer: Normalizer, views: tuple[str, ...]
) -> None:
    """Every clip equals its episode's frames and normalised actions at its start frame."""
    length = batch.frames.shape[2]
    for b in range(len(batch.start_frame)):
        episode, start = episodes[int(batch.episode_index[b])], int(batch.start_frame[b])
        order = [episode.views.index(view) for view in views]
        expected = episode.frames[order, start : start + length].transpose(0, 1, 4, 2, 3)
        pixels = ((batch.frames[b].numpy() + 1) * 127.5).round()  # [-1, 1] back to 0..255
        assert np.array_equal(pixels, expected)
        assert np.allclose(batch.frames[b].numpy(), expected / 127.5 - 1, atol=1e-6)
        expected_actions = normalizer.normalize("action", episode.actions[start : start + length - 1])
        assert np.array_equal(batch.actions[b].numpy(), expected_actions)
        assert batch.tasks[b] == episode.task and batch.instructions[b] == episode.instruction


def test_shapes_and_alignment_from_a_dataset(dataset: LeRobotDataset, dataset_episodes: list[Episode]) -> None:
    clips = sampler(dataset)
    batch = next(iter(clips))
    assert batch.frames.shape == (5, 2, 6, 3, 16, 16) and batch.frames.dtype == torch.float32
    assert batch.actions.shape == (5, 5, 4) and batch.context_frames == 2
    assert batch.context.shape == (5, 2, 2, 3, 16, 16) and batch.future.shape == (5, 2, 4, 3, 16, 16)
    assert float(batch.frames.min()) >= -1 and float(batch.frames.max()) <= 1
    assert_clips_match(batch, dataset_episodes, Normalizer(dataset.stats), dataset.views)


def test_first_and_last_windows_of_an_episode(dataset: LeRobotDataset, dataset_episodes: list[Episode]) -> None:
    clips = sampler(dataset)
    batch = clips.gather([3, 3], [0, 13 - 6])  # episode 3 has 13 frames
    assert_clips_match(batch, dataset_episodes, Normalizer(dataset.stats), dataset.views)
    with pytest.raises(ConfigError, match=r"start frames \[8\] for clips of 6 frames; expected 0\.\.\[7\]"):
        clips.gather([3], [8])


def test_in_memory_episodes_and_a_view_subset() -> None:
    episodes = [make_episode(seed, length=9) for seed in range(3)]
    clips = sampler(episodes, views=["wrist"], batch_size=8)
    batch = clips.sample(np.random.default_rng(3))
    assert batch.frames.shape == (8, 1, 6, 3, 16, 16)
    assert_clips_match(batch, episodes, Normalizer(compute_stats(episodes)), ("wrist",))


def test_same_seed_same_batches(dataset: LeRobotDataset) -> None:
    first, second = iter(sampler(dataset, seed=7)), iter(sampler(dataset, seed=7))
    other = iter(sampler(dataset, seed=8))
    for _ in range(3):
        a, b, c = next(first), next(second), next(other)
        assert torch.equal(a.frames, b.frames) and torch.equal(a.episode_index, b.episode_index)
        assert torch.equal(a.start_frame, b.start_frame)
    assert not torch.equal(a.start_frame, c.start_frame) or not torch.equal(a.episode_index, c.episode_index)


def test_a_saved_stream_position_resumes_exactly(dataset: LeRobotDataset) -> None:
    """What training resume relies on: after load_state_dict, the next batches are the ones the
    uninterrupted stream would have drawn (and the state survives a JSON round trip)."""
    uninterrupted = iter(original := sampler(dataset, seed=3))
    for _ in range(3):
        next(uninterrupted)
    saved = json.loads(json.dumps(original.state_dict()))
    expected = [next(uninterrupted) for _ in range(2)]

    resumed = sampler(dataset, seed=3)
    resumed.load_state_dict(saved)
    stream = iter(resumed)
    for want in expected:
        got = next(stream)
        assert torch.equal(got.episode_index, want.episode_index) and torch.equal(got.start_frame, want.start_frame)
    with pytest.raises(ConfigError, match="seeded 3"):
        sampler(dataset, seed=4).load_state_dict(saved)


def test_subset_restriction(dataset: LeRobotDataset) -> None:
    clips = sampler(dataset, episodes=[1, 4], batch_size=64)
    seen = {int(e) for e in next(iter(clips)).episode_index}
    assert seen == {1, 4}
    assert clips.num_windows == (11 - 5) + (14 - 5)


def test_all_windows_walks_each_window_once(dataset: LeRobotDataset) -> None:
    clips = sampler(dataset, batch_size=7)
    pairs = [
        (int(e), int(s))
        for batch in clips.all_windows()
        for e, s in zip(batch.episode_index, batch.start_frame, strict=True)
    ]
    expected = [(e, s) for e, length in enumerate(dataset.episode_lengths) for s in range(length - 6 + 1)]
    assert pairs == expected
    strided = [int(s) for batch in clips.all_windows(stride=6) for s in batch.start_frame]
    assert set(strided) == {0, 6}


def test_a_held_batch_is_never_overwritten(dataset: LeRobotDataset) -> None:
    stream = iter(sampler(dataset))
    held = next(stream)
    snapshot = held.frames.clone()
    for _ in range(6):  # released batches are recycled; the held one must not be
        next(stream)
    assert torch.equal(held.frames, snapshot)


def test_clips_longer_than_every_episode_are_an_error(dataset: LeRobotDataset) -> None:
    with pytest.raises(
        ConfigError, match=r"no episode has 20 frames \(context 4 \+ future 16\); the longest of the 6 selected has 15"
    ):
        sampler(dataset, context_frames=4, future_frames=16)


def test_split_holds_out_the_last_episodes_of_each_task() -> None:
    names = ["reach", "push", "reach", "reach", "push", "reach", "push", "pick"]
    train, held_out = split_episodes(names, held_out_fraction=0.25)
    assert held_out == [5, 6]  # last of reach (4 episodes) and of push (3); pick keeps its only one
    assert train == [0, 1, 2, 3, 4, 7]
    assert split_episodes(names, held_out_fraction=0.25) == (train, held_out)


def test_padded_start_repeats_frame_zero_and_holds_still(
    dataset: LeRobotDataset, dataset_episodes: list[Episode]
) -> None:
    normalizer = Normalizer(dataset.stats)
    clips = sampler(dataset, context_frames=3, pad_start=2)
    unpadded = sampler(dataset, context_frames=3)
    assert clips.num_windows == unpadded.num_windows + 2 * dataset.num_episodes
    batch = clips.gather([3, 3], [-2, 0])
    episode = dataset_episodes[3]
    pixels = ((batch.frames[0].numpy() + 1) * 127.5).round()  # (V, T, 3, H, W)
    first = episode.frames[:, 0].transpose(0, 3, 1, 2)
    assert np.array_equal(pixels[:, 0], first) and np.array_equal(pixels[:, 1], first)
    assert np.array_equal(pixels[:, 2:], episode.frames[:, : 7 - 2].transpose(0, 1, 4, 2, 3))
    still = normalizer.normalize("action", np.zeros((2, 4), np.float32))
    assert np.array_equal(batch.actions[0, :2].numpy(), still)
    assert np.array_equal(batch.actions[0, 2:].numpy(), normalizer.normalize("action", episode.actions[:4]))
    assert batch.start_frame.tolist() == [-2, 0]
    with pytest.raises(ConfigError, match="-2"):
        clips.gather([3], [-3])
    with pytest.raises(ConfigError, match="pad_start"):
        sampler(dataset, context_frames=3, pad_start=3)
