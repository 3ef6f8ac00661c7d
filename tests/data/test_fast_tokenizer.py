"""The FAST action tokenizer: exact round trip of the integer coefficients through the BPE, the
action error bound that rounding implies, malformed token sequences, files, and bad input."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from synthetic_episodes import VIEWS, make_episode

from worldalign.data import lerobot_format as fmt
from worldalign.data.action_chunks import dataset_action_chunks
from worldalign.data.fast_tokenizer import BPE_FILE, CONFIG_FILE, FastActionTokenizer
from worldalign.data.lerobot_reader import LeRobotDataset
from worldalign.data.lerobot_writer import LeRobotWriter
from worldalign.data.stats import Normalizer
from worldalign.errors import CheckpointError, ConfigError, DatasetError, DecodeError

H, A = 8, 4


def normalizer_of(mean: list[float], std: list[float]) -> Normalizer:
    return Normalizer({fmt.ACTION: {"mean": np.array(mean), "std": np.array(std)}}, features=(fmt.ACTION,))


NORMALIZER = normalizer_of([0.1, -0.2, 0.0, 0.5], [0.5, 0.4, 0.6, 0.7])


def smooth_chunks(count: int, seed: int) -> np.ndarray:
    """Robot-like chunks: slow sinusoids of random phase and amplitude plus a little noise."""
    rng = np.random.default_rng(seed)
    t = np.arange(H)[None, :, None]
    amplitude, frequency, phase = rng.uniform(0.2, 1.5, (3, count, 1, A)) * [[[[1]]], [[[0.3]]], [[[6.0]]]]
    return (amplitude * np.sin(frequency * t + phase) + 0.02 * rng.normal(size=(count, H, A))).astype(np.float32)


def random_chunks(count: int, seed: int) -> np.ndarray:
    return np.random.default_rng(seed).normal(size=(count, H, A)).astype(np.float32)


@pytest.fixture(scope="module")
def tokenizer() -> FastActionTokenizer:
    chunks = np.concatenate([smooth_chunks(400, 0), random_chunks(100, 1)])
    return FastActionTokenizer.fit(chunks, NORMALIZER, scale=10, vocab_size=400)


@pytest.mark.parametrize("make", [smooth_chunks, random_chunks])
def test_integer_coefficients_round_trip_exactly_through_the_bpe(
    tokenizer: FastActionTokenizer, make: Callable[[int, int], np.ndarray]
) -> None:
    chunks = make(50, seed=7)  # not the fitting chunks
    coefficients = tokenizer.quantize(chunks)
    assert coefficients.shape == (50, H * A) and coefficients.dtype == np.int64
    for chunk, expected, ids in zip(chunks, coefficients, tokenizer.encode_batch(chunks), strict=True):
        assert ids == tokenizer.encode(chunk)
        assert all(0 <= i < tokenizer.vocab_size for i in ids)
        np.testing.assert_array_equal(tokenizer.decode_coefficients(ids), expected)


def test_coefficients_outside_the_fitted_range_are_clipped_and_counted(tokenizer: FastActionTokenizer) -> None:
    chunks = smooth_chunks(5, seed=8)
    assert tokenizer.count_clipped(chunks) == 0
    large = chunks * 100
    clipped = tokenizer.count_clipped(large)
    coefficients = tokenizer.quantize(large)
    assert clipped > 0 and coefficients.max() == tokenizer.config.max_coefficient
    assert coefficients.min() == tokenizer.config.min_coefficient
    for expected, ids in zip(coefficients, tokenizer.encode_batch(large), strict=True):
        np.testing.assert_array_equal(tokenizer.decode_coefficients(ids), expected)


def test_smooth_chunks_take_fewer_tokens_than_values(tokenizer: FastActionTokenizer) -> None:
    lengths = [len(ids) for ids in tokenizer.encode_batch(smooth_chunks(100, seed=3))]
    assert np.mean(lengths) < H * A / 2


@pytest.mark.parametrize("scale", [2.0, 10.0, 37.5])
def test_action_error_is_bounded_by_the_rounding(scale: float) -> None:
    """Rounding moves each DCT coefficient by at most e = 0.5 / scale. The orthonormal DCT keeps
    Euclidean length, so per dimension ||decoded - original||_2 over the H steps is at most
    sqrt(H) * e: an RMS error <= e, and a single value off by at most sqrt(H) * e; times the
    dimension's std in the robot's units."""
    chunks = np.concatenate([smooth_chunks(200, 4), random_chunks(50, 5)])
    tokenizer = FastActionTokenizer.fit(chunks, NORMALIZER, scale=scale, vocab_size=2000)
    decoded = np.stack([tokenizer.decode(ids) for ids in tokenizer.encode_batch(chunks)])
    error = decoded.astype(np.float64) - chunks
    bound = 0.5 / scale
    slack = 1e-5  # float32 storage of the chunks
    assert np.sqrt(np.mean(error**2, axis=1)).max() <= bound + slack
    assert np.abs(error).max() <= np.sqrt(H) * bound + slack
    assert np.abs(error).max() > 0.1 * bound  # the rounding does happen
    std = np.array([0.5, 0.4, 0.6, 0.7])
    robot = tokenizer.normalizer.unnormalize(fmt.ACTION, decoded.astype(np.float64)) - NORMALIZER.unnormalize(
        fmt.ACTION, chunks.astype(np.float64)
    )
    assert (np.abs(robot).max(axis=(0, 1)) <= np.sqrt(H) * bound * std + slack).all()


def malformed_cases(tokenizer: FastActionTokenizer) -> dict[str, object]:
    ids = tokenizer.encode(smooth_chunks(1, seed=9)[0])
    one_value = tokenizer.bpe.token_to_id(chr(tokenizer.config.char_offset))  # the token of coefficient 0
    return {
        "empty": [],
        "unknown id": [*ids[:-1], tokenizer.vocab_size],
        "negative id": [-1, *ids],
        "float": [1.5],
        "bool": [True] * (H * A),
        "string": "abc",
        "none": None,
        "nested": [ids],
        "truncated": ids[:-1],
        "extra tokens": ids + ids[:1],
        "too few coefficients": [one_value] * (H * A - 1),
        "too many coefficients": [one_value] * (H * A + 1),
        "numpy ids truncated": np.array(ids[:-1]),
    }


@pytest.mark.parametrize(
    "case",
    ["empty", "unknown id", "negative id", "float", "bool", "string", "none", "nested", "truncated", "extra tokens",
     "too few coefficients", "too many coefficients", "numpy ids truncated"],
)
def test_malformed_ids_are_a_clear_error_or_a_flagged_fallback(tokenizer: FastActionTokenizer, case: str) -> None:
    ids = malformed_cases(tokenizer)[case]
    with pytest.raises(DecodeError, match="FAST decode: "):
        tokenizer.decode(ids)
    result = tokenizer.decode_safe(ids)
    assert not result.ok and result.reason.startswith("FAST decode: ")
    assert result.actions.shape == (H, A) and result.actions.dtype == np.float32
    # The fallback holds still: zero action in the robot's units.
    np.testing.assert_allclose(tokenizer.normalizer.unnormalize(fmt.ACTION, result.actions), 0.0, atol=1e-6)


def test_well_formed_ids_decode_safely(tokenizer: FastActionTokenizer) -> None:
    chunk = smooth_chunks(1, seed=11)[0]
    ids = tokenizer.encode(chunk)
    result = tokenizer.decode_safe(np.array(ids))
    assert result.ok and result.reason == ""
    np.testing.assert_array_equal(result.actions, tokenizer.decode(ids))


def test_save_and_load_give_identical_ids(tokenizer: FastActionTokenizer, tmp_path: Path) -> None:
    folder = tokenizer.save(tmp_path / "fast")
    assert sorted(p.name for p in folder.iterdir()) == sorted([BPE_FILE, CONFIG_FILE])
    loaded = FastActionTokenizer.load(folder, normalizer=NORMALIZER)
    assert loaded.config == tokenizer.config
    chunks = np.concatenate([smooth_chunks(30, 12), random_chunks(30, 13)])
    assert loaded.encode_batch(chunks) == tokenizer.encode_batch(chunks)
    ids = tokenizer.encode(chunks[0])
    np.testing.assert_array_equal(loaded.decode(ids), tokenizer.decode(ids))


def test_chunks_of_the_wrong_shape_or_with_nan_are_clear_errors(tokenizer: FastActionTokenizer) -> None:
    chunk = smooth_chunks(1, seed=14)[0]
    with pytest.raises(ConfigError, match=r"shape \(8, 5\); expected \(8, 4\).*action_dim 4"):
        tokenizer.encode(np.zeros((H, A + 1)))
    with pytest.raises(ConfigError, match=r"expected \(8, 4\)"):
        tokenizer.encode(chunk[None])
    with pytest.raises(ConfigError, match=r"expected \(B, 8, 4\)"):
        tokenizer.encode_batch(chunk)
    chunk[3, 2] = np.nan
    with pytest.raises(DatasetError, match=r"chunk: 1 NaN or infinite value\(s\), the first at index \(3, 2\)"):
        tokenizer.encode(chunk)
    with pytest.raises(DatasetError, match="FAST fit: chunks: 1 NaN or infinite"):
        FastActionTokenizer.fit(chunk[None], NORMALIZER)


def test_fit_refuses_bad_settings() -> None:
    chunks = smooth_chunks(20, 15)
    with pytest.raises(ConfigError, match=r"vocab_size=10 is below the \d+ coefficient values"):
        FastActionTokenizer.fit(chunks, NORMALIZER, vocab_size=10)
    with pytest.raises(ConfigError, match="scale=0"):
        FastActionTokenizer.fit(chunks, NORMALIZER, scale=0)
    with pytest.raises(ConfigError, match="have 4 action dimensions, the statistics"):
        FastActionTokenizer.fit(chunks, normalizer_of([0.0] * 3, [1.0] * 3))
    min_max = Normalizer({fmt.ACTION: {"min": -np.ones(A), "max": np.ones(A)}}, mode="min_max", features=(fmt.ACTION,))
    with pytest.raises(ConfigError, match="expected mean_std statistics"):
        FastActionTokenizer.fit(chunks, min_max)


def test_a_tokenizer_of_another_dataset_is_refused(tokenizer: FastActionTokenizer, tmp_path: Path) -> None:
    folder = tokenizer.save(tmp_path / "fast")
    with pytest.raises(ConfigError, match=rf"{CONFIG_FILE}: action_dim is 4, .* has 5 action dimensions"):
        FastActionTokenizer.load(folder, normalizer=normalizer_of([0.0] * 5, [1.0] * 5))
    other_stats = rf"{CONFIG_FILE}: action_stats_sha256 is [0-9a-f]{{64}}, .* hash to [0-9a-f]{{64}}; expected a FAST"
    with pytest.raises(ConfigError, match=other_stats):
        FastActionTokenizer.load(folder, normalizer=normalizer_of([0.0] * 4, [1.0] * 4))


def test_missing_or_damaged_tokenizer_files_are_clear_errors(tokenizer: FastActionTokenizer, tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="is not a FAST tokenizer folder"):
        FastActionTokenizer.load(tmp_path / "nowhere")
    folder = tokenizer.save(tmp_path / "fast")
    config = json.loads((folder / CONFIG_FILE).read_text())

    def damaged(**changes: object) -> Path:
        copy = Path(shutil.copytree(folder, tmp_path / f"copy{len(list(tmp_path.iterdir()))}"))
        (copy / CONFIG_FILE).write_text(json.dumps({**config, **changes}))
        return copy

    with pytest.raises(CheckpointError, match="field 'horizon' is '8'; expected int"):
        FastActionTokenizer.load(damaged(horizon="8"))
    with pytest.raises(CheckpointError, match="vocab_size is 5, .* has"):
        FastActionTokenizer.load(damaged(vocab_size=5))
    with pytest.raises(CheckpointError, match="action_stats_sha256 is .* hash to"):
        FastActionTokenizer.load(damaged(action_mean=[0.0] * 4))
    with pytest.raises(CheckpointError, match="'format' is 'other'"):
        FastActionTokenizer.load(damaged(format="other"))
    truncated = damaged()
    (truncated / CONFIG_FILE).write_text((folder / CONFIG_FILE).read_text()[:50])
    with pytest.raises(CheckpointError, match="not valid JSON"):
        FastActionTokenizer.load(truncated)
    (truncated / CONFIG_FILE).write_text((folder / CONFIG_FILE).read_text())
    (truncated / BPE_FILE).write_text("{")
    with pytest.raises(CheckpointError, match=f"{BPE_FILE}: cannot read the BPE tokenizer"):
        FastActionTokenizer.load(truncated)


def test_dataset_chunks_are_the_normalised_action_windows(written_dataset: Path, dataset_episodes: list) -> None:
    dataset = LeRobotDataset(written_dataset)
    for actions, episode in zip(dataset.iter_actions(), dataset_episodes, strict=True):
        np.testing.assert_array_equal(actions, episode.actions)
    chunks = dataset_action_chunks(dataset, NORMALIZER, 10, stride=2, episodes=[1, 2])
    expected = [
        episode.actions[s : s + 10] for episode in dataset_episodes[1:3] for s in range(0, len(episode.actions) - 9, 2)
    ]
    np.testing.assert_allclose(chunks, NORMALIZER.normalize(fmt.ACTION, np.stack(expected)), rtol=1e-6)
    with pytest.raises(ConfigError, match="no selected episode has 99 actions"):
        dataset_action_chunks(dataset, NORMALIZER, 99)


def test_nan_actions_in_a_dataset_are_a_clear_error(tmp_path: Path) -> None:
    episodes = [make_episode(seed, length=12) for seed in range(2)]
    episodes[1].actions[5, 2] = np.nan
    root = tmp_path / "nan"
    with LeRobotWriter(root, fps=10, views=VIEWS, image_size=(16, 16), action_dim=4, state_dim=5) as writer:
        for episode in episodes:
            writer.add_episode(episode)
    with pytest.raises(DatasetError, match=r"episode 1 column 'action' is nan at frame 5, dimension 2"):
        dataset_action_chunks(LeRobotDataset(root), NORMALIZER, 4)
