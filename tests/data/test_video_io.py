"""Video files: exact lossless round trip, lossy quality, timestamps, AV1, damaged files."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from public_lerobot_fixture import _write_av1
from synthetic_episodes import make_episode

from worldalign.data.video import Mp4Reader, Mp4Writer, VideoEncoding, decode_video, encode_video, probe_video
from worldalign.errors import ConfigError, DatasetError


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2)
    return float(10 * np.log10(255.0**2 / mse))


def noise(length: int, size: int = 16, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (length, size, size, 3), dtype=np.uint8)


def test_lossless_round_trip_is_bit_exact(tmp_path: Path) -> None:
    frames = noise(20)  # random pixels: the hardest case for an encoder
    encode_video(tmp_path / "v.mp4", frames, fps=10)
    assert np.array_equal(decode_video(tmp_path / "v.mp4", fps=10, num_frames=20), frames)
    assert probe_video(tmp_path / "v.mp4").codec == "h264"


def test_lossy_mode_is_close(tmp_path: Path) -> None:
    frames = make_episode(0, length=20, size=32).frames[0]
    encode_video(tmp_path / "v.mp4", frames, fps=10, lossless=False)
    decoded = decode_video(tmp_path / "v.mp4", fps=10, num_frames=20)
    assert psnr(decoded, frames) > 30


def test_appended_sequences_are_found_by_timestamp(tmp_path: Path) -> None:
    first, second = noise(7, seed=1), noise(5, seed=2)
    writer = Mp4Writer(tmp_path / "v.mp4", fps=10, height=16, width=16, encoding=VideoEncoding())
    assert writer.append(first) == (0.0, 0.7)
    assert writer.append(second) == (0.7, 1.2)
    writer.close()
    with Mp4Reader(tmp_path / "v.mp4") as reader:
        assert np.array_equal(reader.read(0.7 + np.arange(5) / 10), second)
        assert np.array_equal(reader.read(np.arange(7) / 10), first)  # backwards: seeks


def test_aborted_writer_leaves_no_file(tmp_path: Path) -> None:
    writer = Mp4Writer(tmp_path / "v.mp4", fps=10, height=16, width=16, encoding=VideoEncoding())
    writer.append(noise(3))
    writer.abort()
    assert list(tmp_path.iterdir()) == []


def test_av1_decodes(tmp_path: Path) -> None:
    frames = make_episode(1, length=30, size=32).frames[0]
    _write_av1(tmp_path / "v.mp4", frames, fps=10)
    assert probe_video(tmp_path / "v.mp4").codec == "av1"
    with Mp4Reader(tmp_path / "v.mp4") as reader:
        middle = reader.read(1.3 + np.arange(10) / 10)  # seeks into a group of pictures
    assert psnr(middle, frames[13:23]) > 30


def test_fewer_frames_than_promised_names_file_and_counts(tmp_path: Path) -> None:
    encode_video(tmp_path / "v.mp4", noise(8), fps=10)
    with pytest.raises(DatasetError, match=r"v\.mp4: expected 10 frames from t=0\.0000s, found 8"):
        decode_video(tmp_path / "v.mp4", fps=10, num_frames=10)


def test_truncated_file_names_file(tmp_path: Path) -> None:
    encode_video(tmp_path / "v.mp4", noise(8), fps=10)
    payload = (tmp_path / "v.mp4").read_bytes()
    (tmp_path / "v.mp4").write_bytes(payload[: len(payload) // 2])
    with pytest.raises(DatasetError, match=r"v\.mp4: cannot open the video \(truncated or corrupt\)"):
        decode_video(tmp_path / "v.mp4", fps=10, num_frames=8)


def test_odd_size_needs_lossless(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="even height and width"):
        Mp4Writer(tmp_path / "v.mp4", fps=10, height=15, width=16, encoding=VideoEncoding(lossless=False))
    frames = noise(4, size=15)
    encode_video(tmp_path / "odd.mp4", frames, fps=10)
    assert np.array_equal(decode_video(tmp_path / "odd.mp4", fps=10, num_frames=4), frames)


def test_consecutive_reads_decode_on_without_seeking(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    frames = noise(30)
    encode_video(tmp_path / "v.mp4", frames, fps=10)
    seeks: list[float] = []
    original = Mp4Reader._seek
    monkeypatch.setattr(Mp4Reader, "_seek", lambda self, time_s: (seeks.append(time_s), original(self, time_s))[1])
    with Mp4Reader(tmp_path / "v.mp4") as reader:
        for start in (0, 10, 20):  # episodes back to back: the file is decoded once
            assert np.array_equal(reader.read((start + np.arange(10)) / 10), frames[start : start + 10])
        assert seeks == [0.0]
        reader.read(np.array([0.5]))  # going back needs a seek
    assert seeks == [0.0, 0.5]
