"""Videos a person can look at: several views (or rows such as real | generated) in one grid.

Frames are upscaled by an integer factor with nearest-neighbour sampling (64 px frames are too
small to judge on a screen) and captioned with PIL's built-in font.
"""

from __future__ import annotations

import importlib.util
import textwrap
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from worldalign.data.types import Episode
from worldalign.utils.atomic import atomic_path

CAPTION_HEIGHT = 14
BACKGROUND = 24
# Frames are upscaled until they are at least this many pixels wide on screen.
VIEWING_SIZE = 192


def viewing_scale(frame_size: int) -> int:
    """The integer upscaling that shows a ``frame_size`` px frame at >= VIEWING_SIZE px (64 -> 3)."""
    return max(1, -(-VIEWING_SIZE // frame_size))


def _text_strip(width: int, text: str) -> np.ndarray:
    """A (CAPTION_HEIGHT, width, 3) uint8 strip with ``text`` written on it."""
    image = Image.new("RGB", (width, CAPTION_HEIGHT), (BACKGROUND,) * 3)
    ImageDraw.Draw(image).text((3, 1), text, fill=(235, 235, 235), font=ImageFont.load_default())
    return np.asarray(image)


def compose_grid(
    rows: Sequence[np.ndarray],
    *,
    column_labels: Sequence[str],
    row_labels: Sequence[str] | None = None,
    title: str = "",
    scale: int = 3,
) -> np.ndarray:
    """Tile videos into one video.

    Args:
        rows: R arrays of shape ``(V, T, H, W, 3)`` uint8, one grid row each (all the same shape).
        column_labels: V labels written under the top of each column (e.g. view names).
        row_labels: R labels prefixed to the column labels of each row (e.g. "real", "generated").
        title: a caption over the whole grid.
        scale: integer nearest-neighbour upscaling.

    Returns:
        ``(T, H_total, W_total, 3)`` uint8.
    """
    if scale < 1:
        raise ValueError(f"scale must be a positive integer, got {scale}")
    shapes = {row.shape for row in rows}
    if len(shapes) != 1:
        raise ValueError(f"all grid rows must share one (V, T, H, W, 3) shape, got {sorted(shapes)}")
    views, steps, height, width, _ = rows[0].shape
    if len(column_labels) != views:
        raise ValueError(f"{len(column_labels)} column labels for {views} columns")
    row_labels = row_labels or [""] * len(rows)
    cell_w = width * scale
    blocks = []
    if title:
        blocks.append(np.broadcast_to(_text_strip(cell_w * views, title), (steps, CAPTION_HEIGHT, cell_w * views, 3)))
    for row, row_label in zip(rows, row_labels):
        big = row.repeat(scale, axis=2).repeat(scale, axis=3)  # (V, T, H*s, W*s, 3)
        labels = np.concatenate(
            [_text_strip(cell_w, f"{row_label} {label}".strip()) for label in column_labels], axis=1
        )
        blocks.append(np.broadcast_to(labels, (steps, CAPTION_HEIGHT, cell_w * views, 3)))
        blocks.append(np.concatenate(list(big), axis=2))  # views side by side
    return np.ascontiguousarray(np.concatenate(blocks, axis=1))


def add_captions(video: np.ndarray, captions: Sequence[str], *, lines: int = 3) -> np.ndarray:
    """``(T, H, W, 3)`` uint8 with each frame's caption (``captions[t]``) written under it, wrapped to
    the frame's width on ``lines`` lines (longer text is cut with "...")."""
    steps, _, width, _ = video.shape
    if len(captions) != steps:
        raise ValueError(f"{len(captions)} captions for {steps} frames")
    columns = max(8, (width - 6) // 6)  # PIL's default font is 6 px wide
    strips: dict[str, np.ndarray] = {}
    for text in dict.fromkeys(captions):
        wrapped = textwrap.wrap(text, columns) or [""]
        if len(wrapped) > lines:
            wrapped = [*wrapped[: lines - 1], wrapped[lines - 1][: columns - 3] + "..."]
        wrapped += [""] * (lines - len(wrapped))
        strips[text] = np.concatenate([_text_strip(width, line) for line in wrapped], axis=0)
    below = np.stack([strips[text] for text in captions])
    return np.ascontiguousarray(np.concatenate([video, below], axis=1))


def filmstrip_frames(length: int, count: int = 7) -> list[int]:
    """Up to ``count`` frame indices spread evenly over ``length`` frames, first and last included."""
    return sorted({round(i * (length - 1) / max(1, count - 1)) for i in range(count)}) if length > 0 else []


def compose_filmstrip(
    rows: Sequence[np.ndarray],
    *,
    frames: Sequence[int],
    row_labels: Sequence[str],
    title: str = "",
    scale: int = 3,
) -> np.ndarray:
    """One still image of several videos at chosen frames: a row per video, a column per frame.

    Args:
        rows: R arrays of shape ``(T, H, W, 3)`` uint8 (e.g. a view's real and generated frames).
        frames: the frame indices shown, as columns labelled ``t+1``, ``t+2``, ... (1-based).
        row_labels: R labels prefixed to each row's column labels.
        title: a caption over the image.
        scale: integer nearest-neighbour upscaling.

    Returns:
        ``(H_total, W_total, 3)`` uint8.
    """
    columns = [row[list(frames)][:, None] for row in rows]  # (K, 1, H, W, 3): K columns of one step
    labels = [f"t+{index + 1}" for index in frames]
    return compose_grid(columns, column_labels=labels, row_labels=row_labels, title=title, scale=scale)[0]


def write_image(image: np.ndarray, out: str | Path) -> Path:
    """Write an ``(H, W, 3)`` uint8 image (PNG, or any format PIL knows by the suffix) atomically."""
    out = Path(out)
    with atomic_path(out) as tmp:
        Image.fromarray(image).save(tmp)  # the temporary keeps the suffix, which picks the format
    return out


def video_suffix() -> str:
    """".mp4" where PyAV can encode it, else ".gif" (written by PIL): previews on a training
    machine without a video library (``stages.pretrain`` on latents) are still videos."""
    try:
        return ".mp4" if importlib.util.find_spec("av") is not None else ".gif"
    except ValueError:  # imported before and then removed from sys.modules
        return ".gif"


def write_video(frames: np.ndarray, out: str | Path, fps: int) -> Path:
    """Write ``(T, H, W, 3)`` uint8 as mp4 (H.264) or GIF, chosen by the suffix, atomically."""
    out = Path(out)
    suffix = out.suffix.lower()
    if suffix == ".gif":
        with atomic_path(out) as tmp:
            images = [Image.fromarray(frame) for frame in frames]
            images[0].save(tmp, format="GIF", save_all=True, append_images=images[1:], duration=int(1000 / fps), loop=0)
    elif suffix == ".mp4":
        # Even sizes keep yuv420p encoders happy; pad by one pixel of background if needed.
        pad_h, pad_w = frames.shape[1] % 2, frames.shape[2] % 2
        frames = np.pad(frames, ((0, 0), (0, pad_h), (0, pad_w), (0, 0)), constant_values=BACKGROUND)
        from worldalign.data.video import encode_video

        with atomic_path(out) as tmp:
            encode_video(tmp, frames, fps=fps, lossless=False)
    else:
        raise ValueError(f"unsupported video format {out.name!r}: use a .mp4 or .gif file name")
    return out


def write_episode_preview(episode: Episode, out: str | Path, *, scale: int = 3) -> Path:
    """An mp4/GIF of every view of ``episode`` side by side, captioned with its instruction."""
    outcome = {True: "success", False: "failure", None: "outcome not recorded"}[episode.success]
    title = f"{episode.task}: {episode.instruction} [{outcome}]"
    grid = compose_grid([episode.frames], column_labels=episode.views, title=title, scale=scale)
    return write_video(grid, out, fps=episode.fps)
