"""mp4 video files: encode frame sequences with PyAV and read frames back by timestamp.

LeRobot v3 stores many episodes back to back in one mp4 per camera; an episode's frame ``k``
sits at ``from_timestamp + timestamp[k]`` in its file (tolerance ``TIMESTAMP_TOLERANCE_S``).
``Mp4Writer`` appends episodes to one file and forces a keyframe at every episode start, so
an episode can be decoded without its predecessors. ``Mp4Reader`` decodes forward and only
seeks when a read does not continue where the previous one stopped, so reading the episodes
of a file in order decodes the file exactly once.

Two encodings: lossy H.264 (libx264, yuv420p, ``crf``), or lossless H.264 in RGB (libx264rgb,
qp 0, rgb24) whose pixels round-trip bit-exactly. Decoding accepts anything the bundled
FFmpeg reads, in particular H.264 and AV1 (libdav1d), the LeRobot default.
"""

from __future__ import annotations

import contextlib
import fractions
import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Literal

import av
import av.error
import numpy as np
from av.video.reformatter import VideoReformatter

from worldalign.errors import ConfigError, DatasetError
from worldalign.utils.atomic import atomic_path

# LeRobot's tolerance when matching a frame's presentation time to a requested timestamp.
TIMESTAMP_TOLERANCE_S = 1e-4


@dataclass(frozen=True)
class VideoEncoding:
    """How frames become an H.264 stream.

    Attributes:
        lossless: True for libx264rgb at qp 0 in rgb24 (pixels round-trip exactly, files
            ~3x larger); False for libx264 in yuv420p (PSNR ~35-40 dB at crf 23).
        crf: constant rate factor of the lossy mode (lower = better and larger; 0-51).
    """

    lossless: bool = True
    crf: int = 23

    @property
    def encoder(self) -> Literal["libx264rgb", "libx264"]:
        """The FFmpeg encoder name."""
        return "libx264rgb" if self.lossless else "libx264"

    @property
    def pix_fmt(self) -> str:
        """The pixel format stored in the stream."""
        return "rgb24" if self.lossless else "yuv420p"

    def options(self) -> dict[str, str]:
        """Encoder options; ``forced-idr`` makes the keyframes we request at episode starts IDR."""
        quality = {"qp": "0"} if self.lossless else {"crf": str(self.crf)}
        return {**quality, "preset": "medium", "forced-idr": "1"}

    def check_size(self, height: int, width: int) -> None:
        """Raise ``ConfigError`` if the image size cannot be encoded in this mode."""
        if not self.lossless and (height % 2 or width % 2):
            raise ConfigError(
                f"image size ({height}, {width}): lossy yuv420p H.264 needs even height and width; "
                "use even sizes or lossless=True"
            )
        if not 0 <= self.crf <= 51:
            raise ConfigError(f"crf={self.crf}: expected an integer in 0..51")

    def feature_info(self, *, height: int, width: int, fps: int) -> dict[str, object]:
        """The ``info`` dict of a LeRobot video feature."""
        return {
            "video.height": height,
            "video.width": width,
            "video.codec": "h264",
            "video.pix_fmt": self.pix_fmt,
            "video.is_depth_map": False,
            "video.fps": fps,
            "video.channels": 3,
            "has_audio": False,
        }


class _Aborted(Exception):
    """Signals ``atomic_path`` to drop the temporary file of an aborted ``Mp4Writer``."""


class Mp4Writer:
    """Appends frame sequences to one new mp4 file, which appears atomically on ``close()``.

    Frames are numbered from 0 in the file, frame ``n`` at time ``n / fps``.
    """

    def __init__(
        self, path: str | os.PathLike[str], *, fps: int, height: int, width: int, encoding: VideoEncoding
    ) -> None:
        encoding.check_size(height, width)
        self.path = Path(path)
        self.fps = fps
        self.height = height
        self.width = width
        self.num_frames = 0
        self.size_bytes = 0  # bytes of encoded packets muxed so far (lags the encoder's lookahead)
        self._files = contextlib.ExitStack()
        tmp = self._files.enter_context(atomic_path(self.path))
        self._container = av.open(str(tmp), mode="w", format="mp4")
        self._stream = self._container.add_stream(encoding.encoder, rate=fps, options=encoding.options())
        self._stream.width = width
        self._stream.height = height
        self._stream.pix_fmt = encoding.pix_fmt
        self._stream.codec_context.time_base = fractions.Fraction(1, fps)

    def append(self, frames: np.ndarray) -> tuple[float, float]:
        """Encode ``frames`` ``(T, H, W, 3)`` uint8 after the ones already written.

        Returns ``(from_timestamp, to_timestamp)`` in seconds: where the sequence starts in
        the file and where it ends (exclusive, ``from + T / fps``).
        """
        if frames.ndim != 4 or frames.shape[1:] != (self.height, self.width, 3) or frames.dtype != np.uint8:
            raise DatasetError(
                f"{self.path}: frames must be (T, {self.height}, {self.width}, 3) uint8, "
                f"got {frames.shape} {frames.dtype}"
            )
        start = self.num_frames
        for offset, image in enumerate(frames):
            frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(image), format="rgb24")
            frame.pts = start + offset
            if offset == 0:
                frame.pict_type = av.video.frame.PictureType.I
            self._mux(self._stream.encode(frame))
        self.num_frames += len(frames)
        return start / self.fps, self.num_frames / self.fps

    def close(self) -> None:
        """Flush the encoder and move the finished file into place."""
        self._mux(self._stream.encode(None))
        self._container.close()
        self._files.close()

    def abort(self) -> None:
        """Discard the file: nothing appears at ``path``."""
        with contextlib.suppress(av.error.FFmpegError):
            self._container.close()
        # Leaving atomic_path's context through an exception deletes the temporary file.
        self._files.__exit__(_Aborted, _Aborted(), None)

    def _mux(self, packets: Sequence[av.Packet]) -> None:
        for packet in packets:
            self.size_bytes += packet.size
            self._container.mux(packet)


def encode_video(
    path: str | os.PathLike[str], frames: np.ndarray, *, fps: int, lossless: bool = True, crf: int = 23
) -> None:
    """Write ``frames`` ``(T, H, W, 3)`` uint8 to a new mp4 at ``path``, atomically
    (``VideoEncoding`` explains ``lossless`` and ``crf``)."""
    encoding = VideoEncoding(lossless=lossless, crf=crf)
    writer = Mp4Writer(path, fps=fps, height=frames.shape[1], width=frames.shape[2], encoding=encoding)
    try:
        writer.append(frames)
    except BaseException:
        writer.abort()
        raise
    writer.close()


@dataclass(frozen=True)
class VideoProbe:
    """What an mp4's container header says, without decoding.

    Attributes:
        height, width: frame size.
        codec: the stream's codec name (``h264``, ``av1``, ...).
        pix_fmt: the decoded pixel format (``yuv420p``; lossless RGB H.264 is ``gbrp``, which not
            every browser plays).
        end_s: presentation time where the stream ends, in seconds (None if unknown).
    """

    height: int
    width: int
    codec: str
    pix_fmt: str
    end_s: float | None


def _open_video(path: str | os.PathLike[str]) -> av.container.InputContainer:
    """``path`` opened for reading; ``DatasetError`` if it cannot be (truncated or not a video).
    Text metadata that is not UTF-8 is read with replacement characters: it is never used, and
    foreign files may carry other encodings."""
    try:
        return av.open(str(path), metadata_errors="replace")
    except av.error.FFmpegError as error:
        raise DatasetError(f"{path}: cannot open the video (truncated or corrupt): {error}") from error


def _video_stream(container: av.container.InputContainer, path: str | os.PathLike[str]) -> av.video.stream.VideoStream:
    """The first video stream of ``container``; ``DatasetError`` when there is none it can decode."""
    if not container.streams.video:
        raise DatasetError(f"{path}: no video stream in the file")
    stream = container.streams.video[0]
    if stream.codec_context is None:
        raise DatasetError(f"{path}: the video stream has no decoder parameters (truncated or corrupt file)")
    return stream


def probe_video(path: str | os.PathLike[str]) -> VideoProbe:
    """Read an mp4's header; ``DatasetError`` if it cannot be opened (truncated or not a video)."""
    try:
        with _open_video(path) as container:
            stream = _video_stream(container, path)
            end_s = None
            if stream.duration is not None and stream.time_base is not None:
                end_s = float((stream.duration + (stream.start_time or 0)) * stream.time_base)
            return VideoProbe(
                stream.codec_context.height,
                stream.codec_context.width,
                stream.codec_context.codec.canonical_name,
                str(stream.codec_context.pix_fmt),
                end_s,
            )
    except av.error.FFmpegError as error:
        raise DatasetError(f"{path}: cannot open the video (truncated or corrupt): {error}") from error


class Mp4Reader:
    """Reads frames at given timestamps from one mp4, decoding each part of the file once.

    Reads that continue where the previous read stopped keep decoding forward; any other read
    seeks to the keyframe before its first timestamp. Use as a context manager or ``close()``.
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        self._container = _open_video(self.path)
        try:
            self._stream = _video_stream(self._container, self.path)
        except DatasetError:
            self._container.close()
            raise
        # One reformatter for the whole file: it caches the swscale context (3x faster than a
        # fresh conversion per frame).
        self._reformatter = VideoReformatter()
        # The decode iterator (empty until the first seek) and its next frame, once decoded.
        self._frames: Iterator[av.VideoFrame] = iter(())
        self._pending: av.VideoFrame | None = None

    def __enter__(self) -> Mp4Reader:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def close(self) -> None:
        """Release the file."""
        self._container.close()

    def read(self, timestamps: np.ndarray) -> np.ndarray:
        """The frames at ``timestamps`` (seconds, increasing) as ``(N, H, W, 3)`` uint8 RGB.

        Raises ``DatasetError`` naming the file and the expected and found frame counts if the
        video ends early or is corrupt, or naming the timestamp if no frame lies within
        ``TIMESTAMP_TOLERANCE_S`` of it.
        """
        timestamps = np.asarray(timestamps, dtype=np.float64)
        height, width = self._stream.codec_context.height, self._stream.codec_context.width
        out = np.empty((len(timestamps), height, width, 3), np.uint8)
        if len(timestamps) == 0:
            return out
        first = float(timestamps[0])
        if not self._continues_at(first):
            self._seek(first)
        for k, target in enumerate(timestamps):
            frame = self._frame_at_or_after(
                target - TIMESTAMP_TOLERANCE_S, expected=len(timestamps), found=k, first=first
            )
            if frame.time > target + TIMESTAMP_TOLERANCE_S:
                raise DatasetError(
                    f"{self.path}: expected a frame at t={target:.4f}s (frame {k} of {len(timestamps)} from "
                    f"t={first:.4f}s), the next frame is at t={frame.time:.4f}s"
                )
            if (frame.height, frame.width) != (height, width):
                raise DatasetError(
                    f"{self.path}: frame at t={frame.time:.4f}s is {frame.height}x{frame.width}, "
                    f"the stream header says {height}x{width}"
                )
            out[k] = self._reformatter.reformat(frame, format="rgb24").to_ndarray()
            self._pending = None
        return out

    def _continues_at(self, time_s: float) -> bool:
        """Whether the decoder's next frame is the one at ``time_s`` (then no seek is needed)."""
        try:
            frame = self._next_frame()
        except av.error.FFmpegError:
            self._frames = iter(())  # a seek will retry, and report the error if it persists
            return False
        return frame is not None and abs(frame.time - time_s) <= TIMESTAMP_TOLERANCE_S

    def _seek(self, time_s: float) -> None:
        if self._stream.time_base is None:
            raise DatasetError(f"{self.path}: the video stream has no time base; cannot locate t={time_s:.4f}s")
        offset = int(np.floor((time_s - TIMESTAMP_TOLERANCE_S) / float(self._stream.time_base)))
        try:
            self._container.seek(max(offset, 0), stream=self._stream, backward=True, any_frame=False)
        except av.error.FFmpegError as error:
            raise DatasetError(
                f"{self.path}: cannot seek to t={time_s:.4f}s (truncated or corrupt): {error}"
            ) from error
        self._frames = self._container.decode(self._stream)
        self._pending = None

    def _next_frame(self) -> av.VideoFrame | None:
        """The next decoded frame, kept pending until consumed; None at the end of the stream."""
        if self._pending is None:
            try:
                self._pending = next(self._frames)
            except StopIteration:
                return None
            if self._pending.pts is None:
                raise DatasetError(f"{self.path}: a frame has no presentation timestamp")
        return self._pending

    def _frame_at_or_after(self, time_s: float, *, expected: int, found: int, first: float) -> av.VideoFrame:
        """The first frame at or after ``time_s``, dropping earlier ones."""
        while True:
            try:
                frame = self._next_frame()
            except av.error.FFmpegError as error:
                self._frames = iter(())  # the decoder is unusable after an error
                raise DatasetError(
                    f"{self.path}: expected {expected} frames from t={first:.4f}s, found {found} "
                    f"before a decoding error (truncated or corrupt file): {error}"
                ) from error
            if frame is None:
                raise DatasetError(
                    f"{self.path}: expected {expected} frames from t={first:.4f}s, found {found} "
                    "(the video ends early: truncated file or metadata promising too many frames)"
                )
            if frame.time >= time_s:
                return frame
            self._pending = None


def decode_video(path: str | os.PathLike[str], *, fps: int, num_frames: int, from_timestamp: float = 0.0) -> np.ndarray:
    """``num_frames`` frames ``(N, H, W, 3)`` uint8 starting at ``from_timestamp``, ``1 / fps`` apart."""
    with Mp4Reader(path) as reader:
        return reader.read(from_timestamp + np.arange(num_frames) / fps)


def read_tiled_video(path: Path, views: int) -> np.ndarray:
    """``(V, T, H, W, 3)`` uint8 from an mp4 whose frames are ``views`` square views side by side."""
    if not path.is_file():
        raise DatasetError(f"{path}: no such video file")
    try:
        with av.open(str(path)) as container:
            frames = np.stack([frame.to_ndarray(format="rgb24") for frame in container.decode(video=0)])
    except (av.error.FFmpegError, ValueError) as error:
        raise DatasetError(f"{path}: cannot decode the video ({error})") from error
    _, height, width, _ = frames.shape
    if width != views * height:
        raise DatasetError(
            f"{path}: frames are {height}x{width}; this judge expects {views} square views side by side, i.e. {height}x{views * height}"
        )
    return np.stack(np.split(frames, views, axis=2))
