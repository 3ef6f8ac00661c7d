"""The FAST tokenizer stage: a dataset in, a fitted action tokenizer folder out, with its quality.

Cuts every window of ``horizon`` actions from the dataset's episodes (parquet only, no video),
normalises them with the dataset's action statistics, fits ``FastActionTokenizer`` on them,
saves it, and measures it on the same chunks: tokens per chunk against the naive ``H * A``
tokens, and the reconstruction error in normalised units and in the robot's units.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from worldalign.data import lerobot_format as fmt
from worldalign.data.action_chunks import dataset_action_chunks
from worldalign.data.fast_tokenizer import DEFAULT_HORIZON, DEFAULT_SCALE, DEFAULT_VOCAB_SIZE, FastActionTokenizer
from worldalign.data.lerobot_reader import LeRobotDataset
from worldalign.runs.side_files import dataset_action_normalizer


@dataclass(frozen=True)
class TokenizerQuality:
    """How well a FAST tokenizer compresses and reconstructs a set of chunks.

    Attributes:
        chunks: number of chunks measured.
        tokens_mean, tokens_max: token ids per chunk.
        naive_tokens: ``H * A``, one token per action value.
        error_mean, error_max: ``|decoded - original|`` over every value, normalised units.
        robot_error_mean, robot_error_max: the same in the robot's units (per dimension, the
            normalised error times the dimension's std).
        clipped: coefficients outside the tokenizer's fitted range, clipped when encoding.
    """

    chunks: int
    tokens_mean: float
    tokens_max: int
    naive_tokens: int
    error_mean: float
    error_max: float
    robot_error_mean: float
    robot_error_max: float
    clipped: int

    @property
    def compression(self) -> float:
        """``naive_tokens / tokens_mean``: how many times fewer tokens than one per value."""
        return self.naive_tokens / self.tokens_mean


@dataclass(frozen=True)
class TokenizerFit:
    """What ``fit_action_tokenizer`` made: the tokenizer, where it is, its quality on the fitting
    chunks and the seconds the fit took (DCT, quantisation and BPE training; not reading)."""

    tokenizer: FastActionTokenizer
    folder: Path
    quality: TokenizerQuality
    fit_seconds: float


def measure_tokenizer(tokenizer: FastActionTokenizer, chunks: np.ndarray) -> TokenizerQuality:
    """Encode and decode every ``(N, H, A)`` normalised chunk and measure tokens and errors."""
    ids = tokenizer.encode_batch(chunks)
    decoded = np.stack([tokenizer.decode(chunk_ids) for chunk_ids in ids])
    error = np.abs(decoded.astype(np.float64) - chunks)
    normalizer = tokenizer.normalizer
    robot_error = np.abs(
        normalizer.unnormalize(fmt.ACTION, decoded.astype(np.float64))
        - normalizer.unnormalize(fmt.ACTION, chunks.astype(np.float64))
    )
    lengths = np.array([len(chunk_ids) for chunk_ids in ids])
    return TokenizerQuality(
        chunks=len(chunks),
        tokens_mean=float(lengths.mean()),
        tokens_max=int(lengths.max()),
        naive_tokens=tokenizer.horizon * tokenizer.action_dim,
        error_mean=float(error.mean()),
        error_max=float(error.max()),
        robot_error_mean=float(robot_error.mean()),
        robot_error_max=float(robot_error.max()),
        clipped=tokenizer.count_clipped(chunks),
    )


def fit_action_tokenizer(
    dataset: LeRobotDataset,
    out: str | os.PathLike[str],
    *,
    horizon: int = DEFAULT_HORIZON,
    scale: float = DEFAULT_SCALE,
    vocab_size: int = DEFAULT_VOCAB_SIZE,
) -> TokenizerFit:
    """Fit a FAST tokenizer on every ``horizon``-step action window of ``dataset``, save it to
    ``out`` and measure it on those windows."""
    normalizer = dataset_action_normalizer(dataset)
    chunks = dataset_action_chunks(dataset, normalizer, horizon)
    start = time.perf_counter()
    tokenizer = FastActionTokenizer.fit(
        chunks, normalizer, scale=scale, vocab_size=vocab_size, source_dataset=str(dataset.root)
    )
    fit_seconds = time.perf_counter() - start
    folder = tokenizer.save(out)
    return TokenizerFit(tokenizer, folder, measure_tokenizer(tokenizer, chunks), fit_seconds)
