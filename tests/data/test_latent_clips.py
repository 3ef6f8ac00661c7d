"""Latent shards and ``LatentClipSampler``: the same windows, actions and (to the storage
precision) latents as ``ClipSampler`` on the dataset they were encoded from; bad folders refused."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from moving_squares import run_cli, write_dataset

from worldalign.data.clips import ClipSampler
from worldalign.data.latent_clips import LatentClipSampler
from worldalign.data.latent_shards import INDEX_FILE, LatentShards, dequantize, quantize_int8, shard_name
from worldalign.data.lerobot_reader import LeRobotDataset
from worldalign.errors import ConfigError, DatasetError
from worldalign.models.autoencoder.latent_cache import ClipLatentEncoder
from worldalign.runs.loading import load_autoencoder
from worldalign.runs.side_files import dataset_action_normalizer
from worldalign.stages.latents import encode_latents

WINDOWS = {"context_frames": 3, "future_frames": 2, "batch_size": 6, "seed": 7, "pad_start": 2, "episodes": [0, 2]}


@pytest.fixture(scope="module")
def encoded(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A moving-squares dataset, a tiny autoencoder trained 2 steps on it, and the dataset's
    latents stored as int8 (2 episodes per shard: two shards) and as float16."""
    root = tmp_path_factory.mktemp("latents")
    dataset = write_dataset(root / "data")
    argv = ["train", "autoencoder", "--dataset", str(dataset), "--preset", "tiny", "--steps", "2", "--held-out", "0"]
    assert run_cli([*argv, "--out", str(root / "ae")]) == 0
    for dtype in ("int8", "float16"):
        encode_latents(
            LeRobotDataset(dataset), root / "ae", root / dtype, dtype=dtype, episodes_per_shard=2, progress=False
        )
    return {"dataset": dataset, "ae": root / "ae", "int8": root / "int8", "float16": root / "float16"}


def samplers(encoded: dict[str, Path], dtype: str) -> tuple[ClipSampler, LatentClipSampler]:
    dataset = LeRobotDataset(encoded["dataset"])
    normalizer = dataset_action_normalizer(dataset)
    latents = LatentShards(encoded[dtype])
    return ClipSampler(dataset, normalizer=normalizer, **WINDOWS), LatentClipSampler(
        latents, normalizer=latents.action_normalizer(), **WINDOWS
    )


@pytest.mark.parametrize("dtype", ["int8", "float16"])
def test_the_same_seed_draws_the_same_windows_actions_and_latents(encoded: dict[str, Path], dtype: str) -> None:
    clips, latent_clips = samplers(encoded, dtype)
    encoder = ClipLatentEncoder(load_autoencoder(encoded["ae"]), cache=False)
    assert latent_clips.num_windows == clips.num_windows
    padded = 0
    for _, clip, latent_clip in zip(range(8), clips, latent_clips, strict=False):
        assert torch.equal(clip.episode_index, latent_clip.episode_index)
        assert torch.equal(clip.start_frame, latent_clip.start_frame)
        assert torch.equal(clip.actions, latent_clip.actions)  # padding with the still action included
        assert clip.instructions == latent_clip.instructions and clip.tasks == latent_clip.tasks
        expected = encoder.encode(clip)  # what a video-path training step computes
        assert latent_clip.latents.shape == expected.shape and latent_clip.latents.dtype == torch.float32
        # int8: each value within half its (frame, view, channel) scale; float16: its rounding.
        largest = expected.abs().amax(dim=(-2, -1), keepdim=True)
        bound = largest / 254 if dtype == "int8" else largest * 2**-11
        assert ((latent_clip.latents - expected).abs() <= bound * 1.01 + 1e-6).all()
        padded += int((clip.start_frame < 0).sum())
    assert padded > 0, "the draws never exercised the padded windows"


def test_stream_resumes_and_gather_and_all_windows_agree(encoded: dict[str, Path]) -> None:
    clips, latent_clips = samplers(encoded, "int8")
    stream = iter(latent_clips)
    next(stream)
    state = latent_clips.state_dict()
    expected = next(stream)
    _, resumed = samplers(encoded, "int8")
    resumed.load_state_dict(state)
    again = next(iter(resumed))
    assert torch.equal(again.latents, expected.latents) and torch.equal(again.start_frame, expected.start_frame)
    gathered, latent_gathered = clips.gather([2, 0], [-2, 4]), latent_clips.gather([2, 0], [-2, 4])
    assert torch.equal(gathered.actions, latent_gathered.actions)
    assert latent_gathered.start_frame.tolist() == [-2, 4] and latent_gathered.episode_index.tolist() == [2, 0]
    walked = [(b.episode_index.tolist(), b.start_frame.tolist()) for b in clips.all_windows(stride=2)]
    latent_walked = [(b.episode_index.tolist(), b.start_frame.tolist()) for b in latent_clips.all_windows(stride=2)]
    assert walked == latent_walked


def test_int8_storage_error_is_at_most_half_a_scale() -> None:
    latents = torch.randn(5, 2, 3, 4, 4) * torch.tensor([0.1, 1.0, 10.0])[None, None, :, None, None]
    latents[0, 0, 0] = 0.0  # an all-zero plane quantises to zeros, not NaN
    values, scales = quantize_int8(latents)
    assert values.dtype == torch.int8 and scales.shape == (5, 2, 3)
    error = (dequantize(values, scales) - latents).abs()
    assert (error <= scales.float()[..., None, None] * 0.5 + 1e-3 * latents.abs()).all()
    assert torch.equal(dequantize(values, scales)[0, 0, 0], torch.zeros(4, 4))


def test_the_index_records_what_training_needs(encoded: dict[str, Path]) -> None:
    latents = LatentShards(encoded["int8"])
    dataset = LeRobotDataset(encoded["dataset"])
    assert latents.views == dataset.views and latents.action_dim == dataset.action_dim and latents.fps == dataset.fps
    assert latents.task_names == dataset.task_names
    assert np.array_equal(latents.episode_lengths, dataset.episode_lengths)
    assert len(latents.index["shards"]) == 2 and 0 < latents.index["relative_error"] < 0.02
    assert len(latents.autoencoder_sha256) == 64


def test_bad_latent_folders_are_refused_naming_the_file(encoded: dict[str, Path], tmp_path: Path) -> None:
    with pytest.raises(DatasetError, match=f"{INDEX_FILE}: not found.*worldalign data encode"):
        LatentShards(tmp_path)
    (tmp_path / INDEX_FILE).write_text('{"format": "something else"}')
    with pytest.raises(DatasetError, match="format"):
        LatentShards(tmp_path)
    broken = tmp_path / "broken"
    broken.mkdir()
    for item in encoded["int8"].iterdir():
        (broken / item.name).write_bytes(item.read_bytes())
    shard = broken / shard_name(1)
    shard.write_bytes(shard.read_bytes()[:100])
    with pytest.raises(DatasetError, match=f"{shard_name(1)}: cannot read the latent shard"):
        LatentShards(broken).load([2])
    latents = LatentShards(encoded["int8"])
    with pytest.raises(ConfigError, match=r"camera\(s\) \['wrist'\] not in"):
        LatentClipSampler(latents, normalizer=latents.action_normalizer(), views=["wrist"], **WINDOWS)
    with pytest.raises(ConfigError, match="episodes"):
        LatentClipSampler(latents, normalizer=latents.action_normalizer(), **(WINDOWS | {"episodes": [5]}))
